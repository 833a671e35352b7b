//! `trentd admin …`: offline maintenance of a data directory, run while trentd is stopped.
//!
//! * `reset-key-policy --key-id KEY [--region R] [--account-id A]`: the break-glass for a key
//!   whose policy locks everyone out. On AWS (and in Trent) the key policy is the primary
//!   authority: the account root cannot use or manage a key whose policy denies it or does not
//!   allow the account. This replaces the policy with the default key policy (the account root
//!   gets `kms:*`, which delegates to IAM) and writes a `PutKeyPolicy` event to the audit trail
//!   (`userAgent` `trentd-admin/reset-key-policy`, `additionalEventData.trentdAdmin`).
//!
//! It opens the same store, root key and audit trail as trentd (`--data-dir`, `--store`,
//! `TRENT_ROOT_KEY`, `--audit-dir`). Stop trentd first: the trail has one writer per node, and the
//! command takes the data dir's lock (`trentd.lock`), so it refuses while trentd runs there.

use crate::config::Config;
use crate::{audit, bootstrap};
use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use trent_kms::{Caller, Clock, Kms, Operation};
use trent_policy::Principal;
use trent_store::Store;

/// trentd admin: offline maintenance of a data directory (stop trentd first).
#[derive(Debug, Parser)]
#[command(name = "trentd admin")]
pub struct AdminCli {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Break-glass: replace a KMS key's policy with the default key policy (the account root
    /// gets kms:*, and through it the account's IAM policies), recorded in the audit trail.
    /// Needs the data directory and the root key trentd uses; stop trentd first.
    ResetKeyPolicy {
        /// The key: key id, key ARN or alias name (an ARN also gives the region and account).
        #[arg(long)]
        key_id: String,
        /// The key's region (ignored when --key-id is an ARN).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// trentd's settings (--data-dir, --store, --account-id, --audit-dir, …).
        #[command(flatten)]
        config: Config,
    },
    /// Move the root key to another seal (file, shamir:N/K, kms:KEY_ARN; docs/SEAL.md), offline
    /// and atomically. The current seal is unlocked as trentd would (root.key or TRENT_ROOT_KEY;
    /// K unseal shares on standard input, one per line; the KMS). New shares are printed once.
    MigrateSeal {
        /// The new seal.
        #[arg(long, value_name = "SEAL")]
        to: String,
        /// trentd's settings (--data-dir, --store, --audit-dir, …).
        #[command(flatten)]
        config: Config,
    },
}

/// `trentd admin …` (argv[1] is `admin`).
pub fn main() -> ExitCode {
    // Usage lines read `trentd admin …`.
    let args = std::iter::once(std::ffi::OsString::from("trentd admin")).chain(std::env::args_os().skip(2));
    let cli = AdminCli::parse_from(args);
    let result = match cli.command {
        AdminCommand::ResetKeyPolicy { key_id, region, config } => reset_key_policy(&config, &key_id, &region),
        AdminCommand::MigrateSeal { to, config } => {
            crate::seal_migrate::migrate(&config, &to, &mut std::io::stdin().lock())
        }
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trentd admin: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Replaces the key's policy with the default one and records it. Returns what was done.
pub fn reset_key_policy(config: &Config, key_id: &str, region: &str) -> Result<String, String> {
    let sqlite = !config.store.0.starts_with("postgres");
    if sqlite && !config.data_dir.join("trent.db").exists() {
        return Err(format!(
            "{} holds no trentd database (trent.db); give the --data-dir trentd uses",
            config.data_dir.display()
        ));
    }
    // The lock a running trentd holds on its data dir: the audit trail has one writer.
    let _lock = bootstrap::lock_data_dir(&config.data_dir).map_err(|e| format!("{e} (trentd admin runs offline)"))?;
    let store: Arc<dyn Store> = trent_store::open(&config.store.0, &config.data_dir).map_err(|e| e.to_string())?;
    // Never create a root key here: an existing store must have one.
    let initialized = store.read().and_then(|mut t| t.get("meta", "root_check")).map_err(|e| e.to_string())?;
    if initialized.is_none() {
        return Err("this store was never initialized by trentd (no root key check); nothing to reset".into());
    }
    let root = Arc::new(bootstrap::root_key(&config.data_dir, &*store)?);
    let (account, region) = match trent_policy::Arn::parse(key_id) {
        Some(arn) if arn.service == "kms" => (arn.account, arn.region),
        _ => (config.account_id.clone(), region.to_string()),
    };
    if !trent_wire::sigv4::valid_region(&region) {
        return Err(format!("{region:?} is not a region name"));
    }
    let caller = Caller::new(Principal::root(&account), region.clone());
    let kms = Kms::new(store.clone(), root.clone(), Arc::new(Clock::default()));
    let described = kms
        .dispatch(Operation::DescribeKey, &caller, serde_json::json!({ "KeyId": key_id }).to_string().as_bytes())
        .map_err(|e| format!("key {key_id} in account {account}, region {region}: {}", describe_error(&e)))?;
    let arn = serde_json::from_slice::<serde_json::Value>(&described)
        .ok()
        .and_then(|v| v["KeyMetadata"]["Arn"].as_str().map(str::to_string))
        .ok_or_else(|| "DescribeKey answered without the key's ARN".to_string())?;

    let audit_key = audit::signing_key(&*store, &root)?;
    let node_id = bootstrap::node_id(&config.data_dir)?;
    let trail = audit::AuditLog::open(crate::audit_settings(config, &store, &node_id), audit_key)?;
    let result = write_reset(&kms, &trail, &caller, &arn);
    trail.close();
    result?;
    Ok(format!("the key policy of {arn} is now the default key policy (recorded in the audit trail)"))
}

fn describe_error(e: &trent_kms::KmsError) -> String {
    use trent_wire::AwsError;
    format!("{}: {}", e.code(), e.internal_detail().unwrap_or_else(|| e.message()))
}

/// Intent record, PutKeyPolicy with the default policy, then the event with its outcome.
fn write_reset(kms: &Kms, trail: &audit::AuditLog, caller: &Caller, arn: &str) -> Result<(), String> {
    use trent_crypto::audit::RecordKind;
    let policy = trent_policy::default_key_policy(caller.partition(), caller.account());
    let request = serde_json::json!({
        "KeyId": arn,
        "PolicyName": "default",
        "Policy": policy,
        "BypassPolicyLockoutSafetyCheck": false,
    })
    .to_string();
    let draft = audit::Draft {
        event_source: "kms.amazonaws.com",
        event_name: "PutKeyPolicy".into(),
        region: caller.region.clone(),
        request_id: crate::http::uuid_v4(),
        event_id: crate::http::uuid_v4(),
        event_time: time::OffsetDateTime::now_utc(),
        source_ip: "127.0.0.1".into(),
        user_agent: "trentd-admin/reset-key-policy".into(),
        tls: false,
        read_only: false,
        identity: Some((caller.principal.clone(), String::new())),
        claimed_key_id: None,
        default_account: caller.account().to_string(),
    };
    trail
        .append(RecordKind::Intent, &draft.intent())
        .map_err(|e| format!("the audit trail cannot be written ({e}); nothing was changed"))?;
    let outcome = kms.dispatch(Operation::PutKeyPolicy, caller, request.as_bytes());
    let mut event = match &outcome {
        Ok(resp) => draft.event(request.as_bytes(), Some(resp), None),
        Err(e) => {
            use trent_wire::AwsError;
            draft.event(request.as_bytes(), None, Some((e.code(), e.message())))
        }
    };
    event.insert("additionalEventData".into(), serde_json::json!({ "trentdAdmin": "reset-key-policy" }));
    trail.append(RecordKind::Event, &event).map_err(|e| format!("the audit event cannot be written: {e}"))?;
    outcome.map(|_| ()).map_err(|e| format!("PutKeyPolicy on {arn}: {}", describe_error(&e)))
}
