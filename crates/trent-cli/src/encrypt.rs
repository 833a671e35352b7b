//! `trent encrypt`: files into AWS Encryption SDK messages.

use crate::common::{parse_context, raw_keyring, KmsArgs};
use crate::files::{encrypted_name, for_each_file, plan, write_all_or_nothing};
use clap::Args as ClapArgs;
use std::time::Duration;
use trent_envelope::{
    encrypt_stream, AlgorithmSuite, CacheLimits, CachingCmm, CommitmentPolicy, DefaultCmm, EncryptOptions, Keyring,
    KmsKeyring, MaterialsManager, MultiKeyring, RsaPadding, DEFAULT_FRAME_LENGTH,
};

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// File to encrypt, a directory (with --recursive), or - for stdin.
    pub input: String,
    /// Output file, directory (outputs are named <input>.encrypted), or - for stdout.
    #[arg(short, long)]
    pub output: String,
    /// KMS key (id, ARN, alias name or alias ARN). The first generates the data key; each further key
    /// adds an encrypted copy.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Raw wrapping key NAMESPACE:NAME:PATH: a file of 16/24/32 bytes (AES-GCM) or an RSA PEM key.
    #[arg(long = "raw-key", value_name = "NAMESPACE:NAME:PATH")]
    pub raw_keys: Vec<String>,
    /// RSA padding for raw RSA keys.
    #[arg(long, default_value = "oaep-sha256", value_name = "oaep-sha1|oaep-sha256|oaep-sha384|oaep-sha512")]
    pub rsa_padding: String,
    /// Encryption context pair bound to the message (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Plaintext bytes per frame.
    #[arg(long, default_value_t = DEFAULT_FRAME_LENGTH)]
    pub frame_size: u32,
    /// Algorithm suite: hex id (0x0478) or the SDK's name. Default 0x0578.
    #[arg(long)]
    pub suite: Option<String>,
    /// REQUIRE_ENCRYPT_REQUIRE_DECRYPT (default), REQUIRE_ENCRYPT_ALLOW_DECRYPT or FORBID_ENCRYPT_ALLOW_DECRYPT.
    #[arg(long, default_value = "REQUIRE_ENCRYPT_REQUIRE_DECRYPT")]
    pub commitment_policy: String,
    /// Refuse to write messages with more encrypted data keys than this.
    #[arg(long)]
    pub max_encrypted_data_keys: Option<usize>,
    /// Reuse a data key across files for up to this many seconds (enables the caching CMM).
    #[arg(long, value_name = "SECONDS")]
    pub cache_max_age: Option<u64>,
    /// With --cache-max-age: messages per cached data key.
    #[arg(long, requires = "cache_max_age")]
    pub cache_max_messages: Option<u64>,
    /// With --cache-max-age: plaintext bytes per cached data key.
    #[arg(long, requires = "cache_max_age")]
    pub cache_max_bytes: Option<u64>,
    /// Encrypt every file under the input directory.
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
    if !a.keys.is_empty() {
        let client = a.kms.client()?;
        let kr = KmsKeyring::new(client, Some(a.keys[0].clone()), a.keys[1..].to_vec()).map_err(|e| e.to_string())?;
        rings.push(Box::new(kr));
    }
    for spec in &a.raw_keys {
        rings.push(raw_keyring(spec, padding)?);
    }
    if rings.is_empty() {
        return Err("name at least one wrapping key: --key (KMS) or --raw-key".into());
    }
    let generator = rings.remove(0);
    if rings.is_empty() {
        return Ok(generator);
    }
    Ok(Box::new(MultiKeyring::new(Some(generator), rings).map_err(|e| e.to_string())?))
}

pub fn run(a: Args) -> Result<(), String> {
    let policy = CommitmentPolicy::parse(&a.commitment_policy).map_err(|e| e.to_string())?;
    let suite = match &a.suite {
        Some(s) => Some(AlgorithmSuite::parse(s).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Some(s) = suite {
        policy.check_encrypt(s).map_err(|e| e.to_string())?;
    }
    let ec = parse_context(&a.context)?;
    trent_envelope::context::check_no_reserved_keys(&ec).map_err(|e| e.to_string())?;
    let jobs = plan(&a.input, &a.output, a.recursive, encrypted_name)?;
    let default_cmm = DefaultCmm::new(keyring(&a)?);
    let cmm: Box<dyn MaterialsManager> = match a.cache_max_age {
        Some(age) => {
            let limits = CacheLimits {
                max_age: Duration::from_secs(age),
                max_messages: a.cache_max_messages.unwrap_or(CacheLimits::default().max_messages),
                max_bytes: a.cache_max_bytes.unwrap_or(u64::MAX),
                ..CacheLimits::default()
            };
            Box::new(CachingCmm::new(default_cmm, limits).map_err(|e| e.to_string())?)
        }
        None => Box::new(default_cmm),
    };
    let progress = crate::files::FilesProgress::new(a.recursive, jobs.len());
    let failures = for_each_file(&jobs, a.cache_max_age.is_some(), |(src, sink)| {
        let result = (|| -> Result<_, trent_envelope::Error> {
            let (input, len) = src.open()?;
            let opts = EncryptOptions {
                encryption_context: ec.clone(),
                suite,
                frame_length: a.frame_size,
                commitment_policy: policy,
                max_encrypted_data_keys: a.max_encrypted_data_keys,
                plaintext_length: len,
            };
            write_all_or_nothing(sink, |w| encrypt_stream(&*cmm, &opts, input, w))
        })();
        let ok = match result {
            Ok(s) => {
                if a.verbose {
                    progress.say(&format!(
                        "encrypted {} -> {} ({}, {} bytes)",
                        src.describe(),
                        sink.describe(),
                        s.suite.name,
                        s.plaintext_bytes
                    ));
                }
                true
            }
            Err(e) => {
                progress.say(&format!("trent: encrypting {} failed: {e}", src.describe()));
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
