//! `--seal pkcs11:MODULE_PATH:TOKEN_LABEL:KEY_LABEL`: the root key wrapped (AES-256-GCM, done
//! inside the token) by an AES key that never leaves a PKCS#11 token: an HSM, or SoftHSMv2 in
//! the tests. The PIN is `TRENT_PKCS11_PIN`. On a new store trentd generates the AES key in the
//! token under KEY_LABEL (token object, private, sensitive, not extractable) unless one with that
//! label exists; at every start it logs in and has the token decrypt the stored root key.
//!
//! Stored: `iv (12) || ciphertext || tag (16)`, with AAD [`AAD`].

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use trent_crypto::SecretBytes;
use zeroize::Zeroizing;

/// Bound to the wrapped root key, so the token's key cannot be made to open something else as it.
const AAD: &[u8] = b"trent root key (pkcs11 seal) v1";
const IV_LEN: usize = 12;

/// Where the wrapping key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Spec {
    pub module: String,
    pub token: String,
    pub key_label: String,
}

impl Pkcs11Spec {
    /// `MODULE_PATH:TOKEN_LABEL:KEY_LABEL` (the module path may itself hold `:`).
    pub fn parse(rest: &str) -> Result<Pkcs11Spec, String> {
        let mut it = rest.rsplitn(3, ':');
        let (key_label, token, module) = (it.next(), it.next(), it.next());
        match (module, token, key_label) {
            (Some(m), Some(t), Some(k)) if !m.is_empty() && !t.is_empty() && !k.is_empty() && t.len() <= 32 => {
                Ok(Pkcs11Spec { module: m.into(), token: t.into(), key_label: k.into() })
            }
            _ => Err(format!(
                "--seal pkcs11:{rest:?}: write pkcs11:MODULE_PATH:TOKEN_LABEL:KEY_LABEL, e.g. \
                 pkcs11:/usr/lib/softhsm/libsofthsm2.so:trent:trent-root"
            )),
        }
    }

    pub fn describe(&self) -> String {
        format!("pkcs11:{}:{}:{}", self.module, self.token, self.key_label)
    }
}

fn e(what: &str) -> impl Fn(cryptoki::error::Error) -> String + '_ {
    move |err| format!("--seal pkcs11: {what}: {err}")
}

/// Logs in to the token and runs `f` with the wrapping key (generated first if `create` and missing).
fn with_key<T>(
    spec: &Pkcs11Spec,
    create: bool,
    f: impl FnOnce(&Session, ObjectHandle) -> Result<T, String>,
) -> Result<T, String> {
    let pin = Zeroizing::new(
        std::env::var("TRENT_PKCS11_PIN")
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or("--seal pkcs11: set TRENT_PKCS11_PIN to the token's user PIN")?,
    );
    if !std::path::Path::new(&spec.module).is_file() {
        return Err(format!("--seal pkcs11: the PKCS#11 module {} does not exist", spec.module));
    }
    let ctx = Pkcs11::new(&spec.module).map_err(e("loading the PKCS#11 module"))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).map_err(e("initialising the module"))?;
    let result = (|| {
        let mut slot = None;
        for s in ctx.get_slots_with_token().map_err(e("listing the slots"))? {
            let info = ctx.get_token_info(s).map_err(e("reading a token's label"))?;
            if info.label().trim_end() == spec.token {
                slot = Some(s);
                break;
            }
        }
        let slot =
            slot.ok_or_else(|| format!("--seal pkcs11: no token labelled {:?} in {}", spec.token, spec.module))?;
        let session = ctx.open_rw_session(slot).map_err(e("opening a session"))?;
        session
            .login(UserType::User, Some(&AuthPin::from(pin.to_string())))
            .map_err(e("logging in to the token (TRENT_PKCS11_PIN)"))?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(spec.key_label.as_bytes().to_vec()),
        ];
        let found = session.find_objects(&template).map_err(e("looking for the wrapping key"))?;
        let key = match found.as_slice() {
            [k] => *k,
            [] if create => {
                let attrs = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Label(spec.key_label.as_bytes().to_vec()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                ];
                let k =
                    session.generate_key(&Mechanism::AesKeyGen, &attrs).map_err(e("generating the wrapping key"))?;
                tracing::info!(token = %spec.token, key_label = %spec.key_label, "generated the AES wrapping key in the token (not extractable)");
                k
            }
            [] => {
                return Err(format!(
                "--seal pkcs11: the token {:?} has no AES key labelled {:?} (was the HSM replaced? see docs/SEAL.md)",
                spec.token, spec.key_label
            ))
            }
            _ => {
                return Err(format!(
                    "--seal pkcs11: the token {:?} has several AES keys labelled {:?}; keep one",
                    spec.token, spec.key_label
                ))
            }
        };
        let out = f(&session, key);
        let _ = session.logout();
        out
    })();
    let _ = ctx.finalize();
    result
}

/// Wraps the root key with the token's key (creating that key if the token lacks it).
pub fn wrap(spec: &Pkcs11Spec, root: &SecretBytes) -> Result<Vec<u8>, String> {
    with_key(spec, true, |session, key| {
        let mut iv = [0u8; IV_LEN];
        trent_crypto::fill_random(&mut iv).map_err(|e| e.to_string())?;
        let mut iv_param = iv;
        let params = GcmParams::new(&mut iv_param, AAD, 128.into()).map_err(e("GCM parameters"))?;
        let ct = session.encrypt(&Mechanism::AesGcm(params), key, root.expose()).map_err(e("wrapping the root key"))?;
        let mut out = Vec::with_capacity(IV_LEN + ct.len());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ct);
        Ok(out)
    })
}

/// Unwraps the stored root key with the token's key.
pub fn unwrap(spec: &Pkcs11Spec, wrapped: &[u8]) -> Result<SecretBytes, String> {
    if wrapped.len() < IV_LEN + 16 {
        return Err("--seal pkcs11: the stored wrapped root key is too short".into());
    }
    with_key(spec, false, |session, key| {
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&wrapped[..IV_LEN]);
        let params = GcmParams::new(&mut iv, AAD, 128.into()).map_err(e("GCM parameters"))?;
        let pt = session
            .decrypt(&Mechanism::AesGcm(params), key, &wrapped[IV_LEN..])
            .map_err(e("unwrapping the root key (is this the token's key it was wrapped with?)"))?;
        Ok(SecretBytes::new(pt))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_from_the_right() {
        let s = Pkcs11Spec::parse("/usr/lib/softhsm/libsofthsm2.so:trent:root").unwrap();
        assert_eq!(
            (s.module.as_str(), s.token.as_str(), s.key_label.as_str()),
            ("/usr/lib/softhsm/libsofthsm2.so", "trent", "root")
        );
        let s = Pkcs11Spec::parse("C:/hsm/p11.dll:tok:k").unwrap();
        assert_eq!(s.module, "C:/hsm/p11.dll");
        for bad in ["", "a:b", ":t:k", "m::k", "m:t:", &format!("m:{}:k", "x".repeat(33))] {
            assert!(Pkcs11Spec::parse(bad).is_err(), "{bad}");
        }
    }
}
