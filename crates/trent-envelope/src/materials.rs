//! Materials, keyrings and cryptographic materials managers (CMMs).

use crate::context::{self, EncryptionContext, PUBLIC_KEY_FIELD};
use crate::error::{Error, Result};
use crate::suite::{AlgorithmSuite, CommitmentPolicy};
use base64::Engine;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A plaintext data key: zeroized on drop, never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    pub fn new(bytes: Vec<u8>) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }
    /// A fresh random key of `len` bytes.
    pub fn random(len: usize) -> Result<DataKey> {
        let mut k = Zeroizing::new(vec![0u8; len]);
        aws_lc_rs::rand::fill(&mut k).map_err(|_| Error::Crypto("random number generator"))?;
        Ok(DataKey(k))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey(<{} bytes redacted>)", self.0.len())
    }
}

/// One encrypted data key as it travels in the header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptedDataKey {
    /// Provider id: `aws-kms` for KMS, the key namespace for raw keyrings.
    pub provider_id: String,
    /// Provider info: the key ARN for KMS, the key name (plus IV layout for raw AES).
    pub provider_info: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A PKCS#8 ECDSA private key for the footer signature (zeroized, redacted).
#[derive(Clone)]
pub struct SigningKey(pub(crate) Zeroizing<Vec<u8>>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// What encryption needs: the suite, the full context, a data key and its encrypted copies.
#[derive(Clone, Debug)]
pub struct EncryptionMaterials {
    pub suite: &'static AlgorithmSuite,
    pub encryption_context: EncryptionContext,
    pub plaintext_data_key: Option<DataKey>,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    pub signing_key: Option<SigningKey>,
}

/// What decryption needs: the suite, the context, the data key and the signature verification key.
#[derive(Clone, Debug)]
pub struct DecryptionMaterials {
    pub suite: &'static AlgorithmSuite,
    pub encryption_context: EncryptionContext,
    pub plaintext_data_key: Option<DataKey>,
    /// The compressed EC public key from `aws-crypto-public-key`, for signed suites.
    pub verification_key: Option<Vec<u8>>,
}

/// A keyring generates, wraps and unwraps data keys.
pub trait Keyring: Send + Sync {
    /// Adds a data key (if none yet and this keyring can generate one) and an encrypted copy of it.
    fn on_encrypt(&self, materials: EncryptionMaterials) -> Result<EncryptionMaterials>;
    /// Sets the data key from the first EDK this keyring can decrypt. Returns the materials unchanged
    /// (without a data key) when it decrypts none; errors only for failures worth reporting.
    fn on_decrypt(&self, materials: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials>;
}

impl<K: Keyring + ?Sized> Keyring for Arc<K> {
    fn on_encrypt(&self, m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        (**self).on_encrypt(m)
    }
    fn on_decrypt(&self, m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        (**self).on_decrypt(m, edks)
    }
}

impl<K: Keyring + ?Sized> Keyring for Box<K> {
    fn on_encrypt(&self, m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        (**self).on_encrypt(m)
    }
    fn on_decrypt(&self, m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        (**self).on_decrypt(m, edks)
    }
}

/// The request for encryption materials.
#[derive(Clone, Debug)]
pub struct EncryptionRequest {
    pub encryption_context: EncryptionContext,
    /// The suite the caller asked for, if any.
    pub suite: Option<&'static AlgorithmSuite>,
    /// The plaintext length when known (the caching CMM caches only then).
    pub plaintext_length: Option<u64>,
    pub commitment_policy: CommitmentPolicy,
}

/// The request for decryption materials.
#[derive(Clone, Debug)]
pub struct DecryptionRequest {
    pub suite: &'static AlgorithmSuite,
    pub encryption_context: EncryptionContext,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    pub commitment_policy: CommitmentPolicy,
}

/// A cryptographic materials manager assembles materials from keyrings (and may cache them).
pub trait MaterialsManager: Send + Sync {
    fn encryption_materials(&self, request: &EncryptionRequest) -> Result<EncryptionMaterials>;
    fn decryption_materials(&self, request: &DecryptionRequest) -> Result<DecryptionMaterials>;
}

impl<M: MaterialsManager + ?Sized> MaterialsManager for Arc<M> {
    fn encryption_materials(&self, r: &EncryptionRequest) -> Result<EncryptionMaterials> {
        (**self).encryption_materials(r)
    }
    fn decryption_materials(&self, r: &DecryptionRequest) -> Result<DecryptionMaterials> {
        (**self).decryption_materials(r)
    }
}

impl<M: MaterialsManager + ?Sized> MaterialsManager for Box<M> {
    fn encryption_materials(&self, r: &EncryptionRequest) -> Result<EncryptionMaterials> {
        (**self).encryption_materials(r)
    }
    fn decryption_materials(&self, r: &DecryptionRequest) -> Result<DecryptionMaterials> {
        (**self).decryption_materials(r)
    }
}

/// The default CMM: one keyring; adds the signing key for signed suites.
pub struct DefaultCmm<K> {
    keyring: K,
}

impl<K: Keyring> DefaultCmm<K> {
    pub fn new(keyring: K) -> Self {
        DefaultCmm { keyring }
    }
}

impl<K: Keyring> MaterialsManager for DefaultCmm<K> {
    fn encryption_materials(&self, r: &EncryptionRequest) -> Result<EncryptionMaterials> {
        context::check_no_reserved_keys(&r.encryption_context)?;
        let suite = r.suite.unwrap_or_else(|| r.commitment_policy.default_suite());
        r.commitment_policy.check_encrypt(suite)?;
        let mut ec = r.encryption_context.clone();
        let signing_key = match suite.signing_alg() {
            Some(alg) => {
                use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
                use aws_lc_rs::signature::KeyPair;
                let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(alg)
                    .map_err(|_| Error::Crypto("ECDSA key generation"))?;
                let compressed: EcPublicKeyCompressedBin =
                    pair.public_key().as_be_bytes().map_err(|_| Error::Crypto("ECDSA public key encoding"))?;
                ec.insert(
                    PUBLIC_KEY_FIELD.to_string(),
                    base64::engine::general_purpose::STANDARD.encode(compressed.as_ref()),
                );
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| Error::Crypto("ECDSA key export"))?;
                Some(SigningKey(Zeroizing::new(pkcs8.as_ref().to_vec())))
            }
            None => None,
        };
        let m = EncryptionMaterials {
            suite,
            encryption_context: ec,
            plaintext_data_key: None,
            encrypted_data_keys: Vec::new(),
            signing_key,
        };
        let m = self.keyring.on_encrypt(m)?;
        match &m.plaintext_data_key {
            None => return Err(Error::Keyring("no keyring generated a data key".into())),
            Some(k) if k.len() != suite.key_len => {
                return Err(Error::Keyring(format!("data key is {} bytes; the suite needs {}", k.len(), suite.key_len)))
            }
            Some(_) => {}
        }
        if m.encrypted_data_keys.is_empty() {
            return Err(Error::Keyring("no keyring encrypted the data key".into()));
        }
        Ok(m)
    }

    fn decryption_materials(&self, r: &DecryptionRequest) -> Result<DecryptionMaterials> {
        r.commitment_policy.check_decrypt(r.suite)?;
        let verification_key = match r.suite.signing {
            Some(_) => {
                let b64 = r.encryption_context.get(PUBLIC_KEY_FIELD).ok_or_else(|| {
                    Error::Malformed(format!("signed suite without {PUBLIC_KEY_FIELD} in the encryption context"))
                })?;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|_| Error::Malformed(format!("{PUBLIC_KEY_FIELD} is not base64")))?,
                )
            }
            None => None,
        };
        let m = DecryptionMaterials {
            suite: r.suite,
            encryption_context: r.encryption_context.clone(),
            plaintext_data_key: None,
            verification_key,
        };
        let m = match self.keyring.on_decrypt(m, &r.encrypted_data_keys) {
            Err(Error::NoDecryptableDataKey(mut reasons)) => {
                reasons.push(describe_edks(&r.encrypted_data_keys));
                return Err(Error::NoDecryptableDataKey(reasons));
            }
            other => other?,
        };
        match &m.plaintext_data_key {
            None => Err(Error::NoDecryptableDataKey(vec![describe_edks(&r.encrypted_data_keys)])),
            Some(k) if k.len() != r.suite.key_len => {
                Err(Error::Keyring("decrypted data key has the wrong length".into()))
            }
            Some(_) => Ok(m),
        }
    }
}

/// Names the keys a message was encrypted under (KMS ARNs, raw `namespace/name`), for errors.
pub fn describe_edks(edks: &[EncryptedDataKey]) -> String {
    let names: Vec<String> = edks
        .iter()
        .take(10)
        .map(|e| {
            let info = &e.provider_info;
            let n = info.len();
            // A raw AES provider info ends with tag bits (128), IV length (12) and the 12-byte IV.
            let name = if n >= 20
                && info[n - 20..n - 16] == 128u32.to_be_bytes()
                && info[n - 16..n - 12] == 12u32.to_be_bytes()
            {
                &info[..n - 20]
            } else {
                &info[..]
            };
            let name = String::from_utf8_lossy(name);
            if e.provider_id == crate::kms::PROVIDER_ID {
                name.into_owned()
            } else {
                format!("{}/{}", e.provider_id, name)
            }
        })
        .collect();
    let more = if edks.len() > 10 { format!(" and {} more", edks.len() - 10) } else { String::new() };
    format!("the message's data key is encrypted under: {}{more}", names.join(", "))
}

/// Tries keyrings in order: the generator first on encrypt, then every child wraps the same key;
/// on decrypt the first child that yields a data key wins.
pub struct MultiKeyring {
    generator: Option<Box<dyn Keyring>>,
    children: Vec<Box<dyn Keyring>>,
}

impl MultiKeyring {
    pub fn new(generator: Option<Box<dyn Keyring>>, children: Vec<Box<dyn Keyring>>) -> Result<Self> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::InvalidArgument("a multi-keyring needs a generator or at least one child".into()));
        }
        Ok(MultiKeyring { generator, children })
    }
}

impl Keyring for MultiKeyring {
    fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        match &self.generator {
            Some(g) => m = g.on_encrypt(m)?,
            None if m.plaintext_data_key.is_none() => {
                return Err(Error::Keyring("multi-keyring without generator received no data key".into()))
            }
            None => {}
        }
        for c in &self.children {
            m = c.on_encrypt(m)?;
        }
        Ok(m)
    }

    fn on_decrypt(&self, m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        if m.plaintext_data_key.is_some() {
            return Ok(m);
        }
        let mut reasons = Vec::new();
        for k in self.generator.iter().chain(self.children.iter()) {
            match k.on_decrypt(m.clone(), edks) {
                Ok(out) if out.plaintext_data_key.is_some() => return Ok(out),
                Ok(_) => {}
                Err(Error::NoDecryptableDataKey(r)) => reasons.extend(r),
                Err(e) => reasons.push(e.to_string()),
            }
        }
        if reasons.is_empty() {
            Ok(m)
        } else {
            Err(Error::NoDecryptableDataKey(reasons))
        }
    }
}
