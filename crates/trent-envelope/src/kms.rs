//! AWS KMS keyrings over a [`KmsClient`] trait, so this crate needs no HTTP: the `trent` CLI implements
//! the trait with a SigV4-signed HTTP client; tests implement it in memory.

use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::materials::{DataKey, DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Keyring};
use std::fmt;
use std::sync::Arc;

/// The provider id of every KMS-encrypted data key.
pub const PROVIDER_ID: &str = "aws-kms";

/// An error returned by KMS (its `__type` and message) or by the transport.
#[derive(Clone, Debug)]
pub struct KmsError {
    /// The AWS error code (`NotFoundException`, `AccessDeniedException`, ...) or `Transport`.
    pub code: String,
    pub message: String,
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// GenerateDataKey's answer.
pub struct GeneratedDataKey {
    /// The ARN of the key that encrypted the data key.
    pub key_id: String,
    pub plaintext: DataKey,
    pub ciphertext_blob: Vec<u8>,
}

/// The three KMS calls the keyrings make. `key_id` may be an ARN; the implementation picks the
/// region (and endpoint) from it.
pub trait KmsClient: Send + Sync {
    fn generate_data_key(
        &self,
        key_id: &str,
        number_of_bytes: usize,
        encryption_context: &EncryptionContext,
        grant_tokens: &[String],
    ) -> std::result::Result<GeneratedDataKey, KmsError>;

    /// Returns (key ARN, ciphertext blob).
    fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        encryption_context: &EncryptionContext,
        grant_tokens: &[String],
    ) -> std::result::Result<(String, Vec<u8>), KmsError>;

    /// Returns (key ARN, plaintext).
    fn decrypt(
        &self,
        key_id: &str,
        ciphertext_blob: &[u8],
        encryption_context: &EncryptionContext,
        grant_tokens: &[String],
    ) -> std::result::Result<(String, DataKey), KmsError>;
}

/// The parts of a KMS key ARN the keyrings check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// `key/<id>` or `alias/<name>`.
    pub resource: String,
}

impl KeyArn {
    pub fn parse(arn: &str) -> Option<KeyArn> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?.to_string();
        if parts.next()? != "kms" {
            return None;
        }
        let region = parts.next()?.to_string();
        let account = parts.next()?.to_string();
        let resource = parts.next()?.to_string();
        if partition.is_empty() || region.is_empty() || account.is_empty() {
            return None;
        }
        if !(resource.starts_with("key/") || resource.starts_with("alias/")) || resource.len() < 5 {
            return None;
        }
        Some(KeyArn { partition, region, account, resource })
    }
}

/// Does the configured identifier name the key of this EDK's ARN?
fn identifier_matches(configured: &str, edk_arn: &str) -> bool {
    if configured == edk_arn {
        return true;
    }
    match KeyArn::parse(edk_arn) {
        // A bare key id matches the ARN's `key/<id>`.
        Some(a) => !configured.contains(':') && a.resource.strip_prefix("key/") == Some(configured),
        None => false,
    }
}

/// A keyring over KMS keys: the generator makes the data key (GenerateDataKey), every additional key
/// encrypts it (Encrypt). On decrypt it tries only EDKs whose key ARN is one of its keys.
pub struct KmsKeyring {
    client: Arc<dyn KmsClient>,
    generator: Option<String>,
    additional: Vec<String>,
    grant_tokens: Vec<String>,
}

impl KmsKeyring {
    pub fn new(client: Arc<dyn KmsClient>, generator: Option<String>, additional: Vec<String>) -> Result<Self> {
        if generator.is_none() && additional.is_empty() {
            return Err(Error::InvalidArgument("a KMS keyring needs at least one key".into()));
        }
        for k in generator.iter().chain(additional.iter()) {
            if k.is_empty() {
                return Err(Error::InvalidArgument("empty KMS key identifier".into()));
            }
        }
        Ok(KmsKeyring { client, generator, additional, grant_tokens: Vec::new() })
    }

    pub fn with_grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }
}

fn check_returned_arn(arn: &str) -> Result<()> {
    KeyArn::parse(arn)
        .filter(|a| a.resource.starts_with("key/"))
        .map(|_| ())
        .ok_or_else(|| Error::Keyring(format!("KMS answered with {arn:?}, which is not a key ARN")))
}

impl Keyring for KmsKeyring {
    fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        let mut others: Vec<&String> = self.additional.iter().collect();
        match (&self.generator, &m.plaintext_data_key) {
            (Some(g), None) => {
                let out =
                    self.client.generate_data_key(g, m.suite.key_len, &m.encryption_context, &self.grant_tokens)?;
                check_returned_arn(&out.key_id)?;
                if out.plaintext.len() != m.suite.key_len {
                    return Err(Error::Keyring("KMS returned a data key of the wrong length".into()));
                }
                m.plaintext_data_key = Some(out.plaintext);
                m.encrypted_data_keys.push(EncryptedDataKey {
                    provider_id: PROVIDER_ID.into(),
                    provider_info: out.key_id.into_bytes(),
                    ciphertext: out.ciphertext_blob,
                });
            }
            (Some(g), Some(_)) => others.insert(0, g),
            (None, None) => return Err(Error::Keyring("KMS keyring without generator received no data key".into())),
            (None, Some(_)) => {}
        }
        let key = m.plaintext_data_key.clone().expect("set above");
        for k in others {
            let (arn, blob) = self.client.encrypt(k, key.as_bytes(), &m.encryption_context, &self.grant_tokens)?;
            check_returned_arn(&arn)?;
            m.encrypted_data_keys.push(EncryptedDataKey {
                provider_id: PROVIDER_ID.into(),
                provider_info: arn.into_bytes(),
                ciphertext: blob,
            });
        }
        Ok(m)
    }

    fn on_decrypt(&self, m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        let keys: Vec<&String> = self.generator.iter().chain(self.additional.iter()).collect();
        decrypt_kms_edks(&*self.client, m, edks, &self.grant_tokens, |arn| {
            keys.iter().any(|k| identifier_matches(k, arn))
        })
    }
}

fn decrypt_kms_edks(
    client: &dyn KmsClient,
    mut m: DecryptionMaterials,
    edks: &[EncryptedDataKey],
    grant_tokens: &[String],
    accept: impl Fn(&str) -> bool,
) -> Result<DecryptionMaterials> {
    if m.plaintext_data_key.is_some() {
        return Ok(m);
    }
    let mut reasons = Vec::new();
    for edk in edks.iter().filter(|e| e.provider_id == PROVIDER_ID) {
        let Ok(arn) = std::str::from_utf8(&edk.provider_info) else { continue };
        if KeyArn::parse(arn).is_none() || !accept(arn) {
            continue;
        }
        match client.decrypt(arn, &edk.ciphertext, &m.encryption_context, grant_tokens) {
            Ok((key_id, key)) if key_id == arn && key.len() == m.suite.key_len => {
                m.plaintext_data_key = Some(key);
                return Ok(m);
            }
            Ok((key_id, _)) if key_id != arn => {
                reasons.push(format!("KMS decrypted {arn} with another key ({key_id})"));
            }
            Ok(_) => reasons.push(format!("KMS returned a data key of the wrong length for {arn}")),
            Err(e) => reasons.push(format!("{arn}: {e}")),
        }
    }
    if reasons.is_empty() {
        Ok(m)
    } else {
        Err(Error::NoDecryptableDataKey(reasons))
    }
}

/// Which accounts (in one partition) a discovery keyring trusts.
#[derive(Clone, Debug)]
pub struct DiscoveryFilter {
    pub partition: String,
    pub accounts: Vec<String>,
}

/// Decrypts any KMS EDK (optionally only from the filter's accounts and partition). Cannot encrypt.
pub struct KmsDiscoveryKeyring {
    client: Arc<dyn KmsClient>,
    filter: Option<DiscoveryFilter>,
    grant_tokens: Vec<String>,
}

impl KmsDiscoveryKeyring {
    pub fn new(client: Arc<dyn KmsClient>, filter: Option<DiscoveryFilter>) -> Result<Self> {
        if let Some(f) = &filter {
            if f.partition.is_empty() || f.accounts.is_empty() || f.accounts.iter().any(|a| a.is_empty()) {
                return Err(Error::InvalidArgument("a discovery filter needs a partition and account ids".into()));
            }
        }
        Ok(KmsDiscoveryKeyring { client, filter, grant_tokens: Vec::new() })
    }
}

impl Keyring for KmsDiscoveryKeyring {
    fn on_encrypt(&self, _m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        Err(Error::InvalidArgument("a KMS discovery keyring cannot encrypt; name the keys to encrypt with".into()))
    }

    fn on_decrypt(&self, m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        decrypt_kms_edks(&*self.client, m, edks, &self.grant_tokens, |arn| match (&self.filter, KeyArn::parse(arn)) {
            (None, Some(a)) => a.resource.starts_with("key/"),
            (Some(f), Some(a)) => {
                a.resource.starts_with("key/") && a.partition == f.partition && f.accounts.contains(&a.account)
            }
            (_, None) => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arn_parses_keys_and_aliases_and_rejects_others() {
        let a = KeyArn::parse("arn:aws:kms:us-east-1:111122223333:key/abc").unwrap();
        assert_eq!((a.partition.as_str(), a.region.as_str(), a.account.as_str()), ("aws", "us-east-1", "111122223333"));
        assert!(KeyArn::parse("arn:aws:kms:us-east-1:1:alias/x").is_some());
        assert!(KeyArn::parse("arn:aws:s3:us-east-1:1:key/x").is_none());
        assert!(KeyArn::parse("abc").is_none());
        assert!(KeyArn::parse("arn:aws:kms:us-east-1:1:thing/x").is_none());
    }

    #[test]
    fn bare_key_id_matches_its_arn_but_not_another() {
        let arn = "arn:aws:kms:us-east-1:1:key/abc";
        assert!(identifier_matches("abc", arn));
        assert!(identifier_matches(arn, arn));
        assert!(!identifier_matches("abd", arn));
        assert!(!identifier_matches("arn:aws:kms:us-west-2:1:key/abc", arn));
    }
}
