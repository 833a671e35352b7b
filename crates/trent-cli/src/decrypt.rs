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
    /// KMS key ARN (or key id) allowed to decrypt; only encrypted data keys of these keys are tried.
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

pub fn run(a: Args) -> Result<(), String> {
    let opts = DecryptOptions {
        commitment_policy: CommitmentPolicy::parse(&a.commitment_policy).map_err(|e| e.to_string())?,
        max_encrypted_data_keys: a.max_encrypted_data_keys,
        required_encryption_context: parse_context(&a.context)?,
        ..DecryptOptions::default()
    };
    let jobs = plan(&a.input, &a.output, a.recursive, decrypted_name)?;
    let cmm = DefaultCmm::new(keyring(&a)?);
    let failures = for_each_file(&jobs, false, |(src, sink)| {
        let result = (|| -> Result<_, trent_envelope::Error> {
            let (input, _) = src.open()?;
            write_all_or_nothing(sink, |w| decrypt_stream(&cmm, &opts, input, w))
        })();
        match result {
            Ok(s) => {
                if a.verbose {
                    let sig = if s.signature_verified { ", signature verified" } else { "" };
                    eprintln!(
                        "decrypted {} -> {} ({}{sig}, {} bytes)",
                        src.describe(),
                        sink.describe(),
                        s.suite.name,
                        s.plaintext_bytes
                    );
                }
                true
            }
            Err(e) => {
                eprintln!("trent: decrypting {} failed: {e}", src.describe());
                false
            }
        }
    });
    if failures > 0 {
        return Err(format!("{failures} of {} inputs failed; their outputs were not written", jobs.len()));
    }
    Ok(())
}
