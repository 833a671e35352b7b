//! What `encrypt` and `decrypt` share: KMS connection flags, raw key files, encryption context
//! pairs, and building keyrings from them.

use crate::aws_config::Profile;
use crate::kms_http::HttpKms;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use trent_envelope::{EncryptionContext, Keyring, KmsClient, RawAesKeyring, RawRsaKeyring, RsaPadding};
use zeroize::Zeroizing;

/// How to reach KMS.
#[derive(Args, Debug, Clone)]
pub struct KmsArgs {
    /// KMS endpoint URL (else AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, the profile's endpoint_url, AWS's).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region for key ids that are not ARNs (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    #[arg(long)]
    pub region: Option<String>,
    /// Profile of the shared credentials and config files (else AWS_PROFILE, else default).
    #[arg(long)]
    pub profile: Option<String>,
    /// PEM file of CA certificates to trust for an https endpoint (else AWS_CA_BUNDLE, else Mozilla's roots).
    // AWS_CA_BUNDLE is read in `client`, not by clap: a clap env value shows the flag in the
    // usage line of every error, as if it were required.
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
}

impl KmsArgs {
    pub fn client(&self) -> Result<Arc<dyn KmsClient>, String> {
        let profile = Profile::load(self.profile.as_deref());
        let creds = profile.credentials()?;
        let region = profile.region(self.region.as_deref());
        let endpoint = profile.endpoint(self.endpoint_url.as_deref());
        Ok(Arc::new(HttpKms::new(endpoint.as_deref(), region, creds, self.ca_bundle_path().as_deref())?))
    }

    /// `--ca-bundle`, else AWS_CA_BUNDLE (as the AWS CLI reads it).
    pub fn ca_bundle_path(&self) -> Option<PathBuf> {
        self.ca_bundle
            .clone()
            .or_else(|| std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()).map(PathBuf::from))
    }
}

/// Parses `k=v` pairs (split at the first `=`); a key given twice is an error.
pub fn parse_context(pairs: &[String]) -> Result<EncryptionContext, String> {
    let mut ec = EncryptionContext::new();
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or_else(|| format!("--context {p:?} is not key=value"))?;
        if k.is_empty() {
            return Err(format!("--context {p:?} has an empty key"));
        }
        if ec.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("--context key {k:?} is given twice"));
        }
    }
    Ok(ec)
}

/// DER length octets.
fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

/// Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (pure DER framing, no cryptography).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    const ALG: [u8; 15] = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut inner = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    inner.extend_from_slice(&ALG);
    inner.push(0x04);
    der_len(pkcs1.len(), &mut inner);
    inner.extend_from_slice(pkcs1);
    let mut out = Zeroizing::new(vec![0x30]);
    der_len(inner.len(), &mut out);
    out.extend_from_slice(&inner);
    out
}

/// A raw wrapping key from `NAMESPACE:NAME:PATH`: 16/24/32 raw bytes → AES; PEM → RSA
/// (PKCS#8 or PKCS#1 private key, or a SubjectPublicKeyInfo public key for encrypt-only use).
pub fn raw_keyring(spec: &str, padding: RsaPadding) -> Result<Box<dyn Keyring>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
    let mut parts = spec.splitn(3, ':');
    let (Some(ns), Some(name), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("--raw-key {spec:?} is not NAMESPACE:NAME:PATH"));
    };
    if ns.is_empty() || name.is_empty() || path.is_empty() {
        return Err(format!("--raw-key {spec:?} has an empty namespace, name or path"));
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| format!("reading raw key {path}: {e}"))?);
    let err = |e: trent_envelope::Error| e.to_string();
    if bytes.starts_with(b"-----BEGIN") {
        if let Ok(k) = PrivatePkcs8KeyDer::from_pem_slice(&bytes) {
            return Ok(Box::new(
                RawRsaKeyring::from_private_pkcs8(ns, name, k.secret_pkcs8_der(), padding).map_err(err)?,
            ));
        }
        if let Ok(k) = PrivatePkcs1KeyDer::from_pem_slice(&bytes) {
            let pkcs8 = pkcs1_to_pkcs8(k.secret_pkcs1_der());
            return Ok(Box::new(RawRsaKeyring::from_private_pkcs8(ns, name, &pkcs8, padding).map_err(err)?));
        }
        if let Ok(k) = SubjectPublicKeyInfoDer::from_pem_slice(&bytes) {
            return Ok(Box::new(RawRsaKeyring::from_public_der(ns, name, k.as_ref(), padding).map_err(err)?));
        }
        return Err(format!("raw key {path}: PEM holds no PRIVATE KEY, RSA PRIVATE KEY or PUBLIC KEY block"));
    }
    match bytes.len() {
        16 | 24 | 32 => Ok(Box::new(RawAesKeyring::new(ns, name, &bytes).map_err(err)?)),
        n => Err(format!(
            "raw key {path} is {n} bytes: an AES wrapping key file holds exactly 16, 24 or 32 raw bytes \
             (an RSA key is a PEM file)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_pairs_split_at_the_first_equals_and_refuse_duplicates() {
        let ec = parse_context(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap();
        assert_eq!(ec["b"], "x=y");
        assert_eq!(ec["c"], "");
        assert!(parse_context(&["a=1".into(), "a=2".into()]).is_err());
        assert!(parse_context(&["novalue".into()]).is_err());
        assert!(parse_context(&["=v".into()]).is_err());
    }

    #[test]
    fn raw_key_spec_needs_three_parts_and_a_valid_aes_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, [7u8; 32]).unwrap();
        assert!(raw_keyring(&format!("ns:name:{}", p.display()), RsaPadding::OaepSha256).is_ok());
        std::fs::write(&p, [7u8; 33]).unwrap();
        let e = raw_keyring(&format!("ns:name:{}", p.display()), RsaPadding::OaepSha256).err().unwrap();
        assert!(e.contains("33 bytes"), "{e}");
        assert!(raw_keyring("ns:name", RsaPadding::OaepSha256).is_err());
        assert!(raw_keyring("ns::/x", RsaPadding::OaepSha256).is_err());
    }

    #[test]
    fn pkcs1_wrapping_produces_a_key_aws_lc_accepts() {
        // Generate an RSA key, take its PKCS#1 form out of the PKCS#8 one, and wrap it back.
        let k = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        use aws_lc_rs::encoding::AsDer;
        let pkcs8 = k.as_der().unwrap();
        let der = pkcs8.as_ref();
        // PKCS#8: SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING <pkcs1> }: find the OCTET STRING.
        let pos = der.windows(ALG_PREFIX.len()).position(|w| w == ALG_PREFIX).unwrap() + ALG_PREFIX.len();
        assert_eq!(der[pos], 0x04);
        let (len, hdr) = match der[pos + 1] {
            n if n < 0x80 => (n as usize, 2),
            0x82 => (((der[pos + 2] as usize) << 8) | der[pos + 3] as usize, 4),
            _ => panic!("unexpected length form"),
        };
        let pkcs1 = &der[pos + hdr..pos + hdr + len];
        let wrapped = pkcs1_to_pkcs8(pkcs1);
        assert!(aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&wrapped).is_ok());
    }

    const ALG_PREFIX: [u8; 15] =
        [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
}
