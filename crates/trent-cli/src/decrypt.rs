//! `trent decrypt`: AWS Encryption SDK messages back into files.

use crate::common::{parse_context, raw_keyring, KmsArgs};
use crate::files::{decrypted_name, for_each_file, plan, write_all_or_nothing};
use clap::Args as ClapArgs;
use trent_envelope::{
    decrypt_stream, CommitmentPolicy, DecryptOptions, DefaultCmm, DiscoveryFilter, Keyring, KmsDiscoveryKeyring,
    KmsKeyring, MultiKeyring, RsaPadding,
};

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Message to decrypt, a directory (with --recursive), or - for stdin.
    pub input: String,
    /// Output file, directory (a .encrypted suffix is dropped, else .decrypted added), or - for stdout.
    #[arg(short, long)]
    pub output: String,
    /// KMS key ARN allowed to decrypt; only encrypted data keys of these keys are tried. A message
    /// names its keys by ARN, so an alias or bare key id matches none (see --discovery).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Try any KMS key named in the message (optionally limited by --discovery-account).
    #[arg(long)]
    pub discovery: bool,
    /// With --discovery: only keys of these accounts (repeatable).
    #[arg(long = "discovery-account", requires = "discovery", value_name = "ACCOUNT")]
    pub discovery_accounts: Vec<String>,
    /// With --discovery-account: the partition of those accounts.
    #[arg(long, default_value = "aws")]
    pub discovery_partition: String,
    /// Raw wrapping key NAMESPACE:NAME:PATH: a file of 16/24/32 bytes (AES-GCM) or an RSA PEM private key.
    #[arg(long = "raw-key", value_name = "NAMESPACE:NAME:PATH")]
    pub raw_keys: Vec<String>,
    /// RSA padding for raw RSA keys (pkcs1 is accepted for decryption).
    #[arg(long, default_value = "oaep-sha256", value_name = "pkcs1|oaep-sha1|oaep-sha256|oaep-sha384|oaep-sha512")]
    pub rsa_padding: String,
    /// Encryption context pair the message must contain (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// REQUIRE_ENCRYPT_REQUIRE_DECRYPT (default), REQUIRE_ENCRYPT_ALLOW_DECRYPT or FORBID_ENCRYPT_ALLOW_DECRYPT.
    #[arg(long, default_value = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT")]
    pub commitment_policy: String,
    /// Refuse messages with more encrypted data keys than this.
    #[arg(long)]
    pub max_encrypted_data_keys: Option<usize>,
    /// Decrypt every file under the input directory.
    #[arg(short, long)]
    pub recursive: bool,
    /// Print one line per file to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub kms: KmsArgs,
}

fn keyring(a: &Args) -> Result<Box<dyn Keyring>, String> {
    let padding = RsaPadding::parse(&a.rsa_padding).map_err(|e| e.to_string())?;
    let mut rings: Vec<Box<dyn Keyring>> = Vec::new();
    if !a.keys.is_empty() || a.discovery {
        let client = a.kms.client()?;
        if !a.keys.is_empty() {
            rings.push(Box::new(KmsKeyring::new(client.clone(), None, a.keys.clone()).map_err(|e| e.to_string())?));
        }
        if a.discovery {
            let filter = if a.discovery_accounts.is_empty() {
                None
            } else {
                Some(DiscoveryFilter {
                    partition: a.discovery_partition.clone(),
                    accounts: a.discovery_accounts.clone(),
                })
            };
            rings.push(Box::new(KmsDiscoveryKeyring::new(client, filter).map_err(|e| e.to_string())?));
        }
    }
    for spec in &a.raw_keys {
        rings.push(raw_keyring(spec, padding)?);
    }
    match rings.len() {
        0 => Err("name the keys that may decrypt: --key, --discovery or --raw-key".into()),
        1 => Ok(rings.remove(0)),
        _ => Ok(Box::new(MultiKeyring::new(None, rings).map_err(|e| e.to_string())?)),
    }
}

/// True for a KMS key ARN (`arn:…:kms:…:key/…`), the only way a message names its KMS keys.
fn is_key_arn(k: &str) -> bool {
    k.starts_with("arn:") && k.split(':').nth(5).is_some_and(|r| r.starts_with("key/"))
}

/// When `--key` named an alias or bare key id, why it matched nothing: a message names its KMS
/// keys by key ARN only. Lists the key ARNs this message holds (read from its header).
fn key_hint(keys: &[String], src: &crate::files::Source) -> String {
    let Some(given) = keys.iter().find(|k| !is_key_arn(k)) else { return String::new() };
    let arns = match src {
        crate::files::Source::File(_) => src
            .open()
            .ok()
            .and_then(|(mut r, _)| trent_envelope::read_header(&mut r, None).ok())
            .map(|(h, _)| {
                h.encrypted_data_keys
                    .iter()
                    .filter(|k| k.provider_id == "aws-kms")
                    .map(|k| String::from_utf8_lossy(&k.provider_info).into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
        crate::files::Source::Stdin => Vec::new(),
    };
    let found = if arns.is_empty() {
        String::new()
    } else {
        format!(" This message's data keys are encrypted under: {}.", arns.join(", "))
    };
    let example = arns.first().map(String::as_str).unwrap_or("arn:aws:kms:REGION:ACCOUNT:key/KEY-ID");
    format!(
        "\n  --key {given}: an encrypted message names its KMS keys by key ARN, never by alias or bare key id, \
         so --key must be a key ARN.{found} Use --key {example}, or --discovery to try any KMS key the message names."
    )
}

pub fn run(a: Args) -> Result<(), String> {
    let opts = DecryptOptions {
        commitment_policy: CommitmentPolicy::parse(&a.commitment_policy).map_err(|e| e.to_string())?,
        max_encrypted_data_keys: a.max_encrypted_data_keys,
        required_encryption_context: parse_context(&a.context)?,
        ..DecryptOptions::default()
    };
    let jobs = plan(&a.input, &a.output, a.recursive, decrypted_name)?;
    let cmm = DefaultCmm::new(keyring(&a)?);
    let progress = crate::files::FilesProgress::new(a.recursive, jobs.len());
    let failures = for_each_file(&jobs, false, |(src, sink)| {
        let result = (|| -> Result<_, trent_envelope::Error> {
            let (input, _) = src.open()?;
            write_all_or_nothing(sink, |w| decrypt_stream(&cmm, &opts, input, w))
        })();
        let ok = match result {
            Ok(s) => {
                if a.verbose {
                    let sig = if s.signature_verified { ", signature verified" } else { "" };
                    progress.say(&format!(
                        "decrypted {} -> {} ({}{sig}, {} bytes)",
                        src.describe(),
                        sink.describe(),
                        s.suite.name,
                        s.plaintext_bytes
                    ));
                }
                true
            }
            Err(e) => {
                let hint = key_hint(&a.keys, src);
                progress.say(&format!("trent: decrypting {} failed: {e}{hint}", src.describe()));
                false
            }
        };
        progress.done_one();
        ok
    });
    if failures > 0 {
        return Err(format!("{failures} of {} inputs failed; their outputs were not written", jobs.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_envelope::{AlgorithmSuite, ContentType, EncryptedDataKey, EncryptionContext, Header};

    const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn an_alias_key_is_explained_with_the_arns_the_message_names() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("m.encrypted");
        let suite = AlgorithmSuite::parse("0x0478").unwrap();
        let header = Header {
            version: suite.message_version(),
            suite,
            message_id: vec![7; suite.message_id_len()],
            encryption_context: EncryptionContext::new(),
            encrypted_data_keys: vec![EncryptedDataKey {
                provider_id: "aws-kms".into(),
                provider_info: ARN.as_bytes().to_vec(),
                ciphertext: vec![1, 2, 3],
            }],
            content_type: ContentType::Framed,
            frame_length: 4096,
            commitment: Some([0; 32]),
        };
        std::fs::write(&path, header.serialize().unwrap()).unwrap();
        let src = crate::files::Source::File(path);
        let hint = key_hint(&["alias/app".to_string()], &src);
        assert!(hint.contains("--key alias/app: an encrypted message names its KMS keys by key ARN"), "{hint}");
        assert!(hint.contains(&format!("encrypted under: {ARN}.")), "{hint}");
        assert!(hint.contains(&format!("Use --key {ARN}, or --discovery")), "{hint}");
        assert_eq!(key_hint(&[ARN.to_string()], &src), "", "a key ARN needs no explanation");
        let stdin_hint = key_hint(&["1234abcd-12ab-34cd-56ef-1234567890ab".to_string()], &crate::files::Source::Stdin);
        assert!(stdin_hint.contains("never by alias or bare key id") && stdin_hint.contains("--discovery"));
    }
}
