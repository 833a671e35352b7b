//! trentd: the one crate that knows HTTP, configuration and background tasks.
//!
//! The request path (built once, in [`http`]): cap the body → frame (`X-Amz-Target` → service
//! and operation, from [`service::Service`] and the services' `operations!` tables; a form body without it is awsQuery, IAM or STS by
//! the SigV4 scope's service) → SigV4 (the verifier returns the capability the handlers need;
//! access keys and session credentials come from `trent-iam`) → quota ([`quota`]) → policy
//! evaluation ([`identity`]: key policies, identity policies, grants) → durable audit intent
//! for state changes ([`audit`]) → the operation, run off the async threads → durable audit
//! event → one place that maps every error to `__type`, message and status (XML for awsQuery).
#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod audit;
pub mod audit_event;
#[rustfmt::skip]
pub mod audit_model;
pub mod audit_index;
pub mod bootstrap;
pub mod cloudtrail;
pub mod config;
pub mod console;
pub mod events;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod nodes;
pub mod quota;
pub mod rotators;
pub mod seal;
pub mod seal_kms;
pub mod seal_migrate;
pub mod seal_pkcs11;
pub mod serve;
pub mod service;
pub mod tls;
pub mod web_identity;
pub mod xks_proxy;

use config::Config;
use std::sync::Arc;
use trent_kms::{Clock, Kms};
use trent_store::Store;

/// Everything a request needs.
pub struct App {
    pub config: Config,
    pub kms: Arc<Kms>,
    pub ssm: trent_ssm::Ssm,
    pub secrets: Arc<trent_secrets::SecretsManager>,
    pub identity: Arc<identity::Identity>,
    pub iam: Arc<trent_iam::Iam>,
    pub verifier: trent_wire::sigv4::Verifier,
    pub clock: Arc<Clock>,
    pub metrics: metrics::Metrics,
    pub audit: audit::AuditLog,
    pub quotas: quota::Quotas,
    /// The check of SSM's and Secrets Manager's key uses for their caller (`kms:ViaService`),
    /// passed with each request they serve (`Caller::through`).
    pub service_authorizer: Arc<trent_kms::authz::ServiceAuthorizer>,
    /// The store every service uses (background jobs claim their runs in it).
    pub store: Arc<dyn Store>,
    /// This process's id among the nodes sharing the store (see [`nodes`]).
    pub node_id: String,
    /// One line per request (`--access-log`).
    pub access_log: access_log::AccessLog,
    /// Set when an operator seals this app (`--seal shamir`): its background tasks stop.
    pub sealed: std::sync::atomic::AtomicBool,
    /// The XKS proxy's URI prefixes and credentials (`--xks-proxy`; none: not served).
    pub xks: xks_proxy::XksProxy,
    /// The web console's signed-in sessions ([`console`]).
    pub console_sessions: console::session::Sessions,
}

/// Opens the store, checks the root key, makes sure there is an admin key, and returns the app.
pub fn build(config: Config) -> Result<Arc<App>, String> {
    let store = open_store(&config)?;
    let root = Arc::new(bootstrap::root_key(&config.data_dir, &*store)?);
    build_with(config, store, root)
}

/// Makes the data and audit directories and opens the store.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    bootstrap::create_private_dir(&config.data_dir)?;
    bootstrap::create_private_dir(&config.audit_dir.clone().unwrap_or_else(|| config.data_dir.join("audit")))?;
    trent_wire::regions::add_extra(&config.extra_regions);
    let store = trent_store::open(&config.store.0, &config.data_dir)
        .map_err(|e| format!("opening the store {}: {e}", trent_store::redact_url(&config.store.0)))?;
    // SQLite is written by this process alone (the data dir is locked): reads are served from a
    // cache that every commit invalidates (trent-store/src/cached.rs).
    Ok(if store.backend() == "sqlite" { Arc::new(trent_store::cached::CachedStore::new(store)) } else { store })
}

/// The app over an open store and its root key (from `--seal`, [`seal::start`]).
pub fn build_with(config: Config, store: Arc<dyn Store>, root: Arc<trent_crypto::RootKey>) -> Result<Arc<App>, String> {
    let identity = Arc::new(identity::Identity::new(store.clone(), root.clone()));
    let oidc_keys = Arc::new(web_identity::KeyFetcher::new(config.oidc_ca_file.as_deref())?);
    let iam = Arc::new(trent_iam::Iam::new(store.clone(), identity.clone()).with_oidc_keys(oidc_keys));
    let audit_key = audit::signing_key(&*store, &root)?;
    // One id per data dir, kept across restarts: it names this node's audit chain and heartbeat.
    let node_id = bootstrap::node_id(&config.data_dir)?;
    let audit = audit::AuditLog::open(audit_settings(&config, &store, &node_id), audit_key)?;
    let quotas = quota::Quotas::new(config.quotas == "aws", &config.quota_overrides);
    if config.quotas != "aws" && !config.quota_overrides.is_empty() {
        tracing::warn!("--quota overrides are ignored: quotas are off (give --quotas aws to apply them)");
    }
    bootstrap::admin_credentials(&identity, &config.account_id, config.dev)?;
    bootstrap::extra_admin_credentials(&identity)?;
    let clock = Arc::new(Clock::default());
    if config.unsafe_test_clock {
        // The test clock's offset survives restarts, so tests can move time while trentd is down.
        if let Ok(text) = std::fs::read_to_string(test_clock_file(&config)) {
            clock.set_offset_ms(
                text.trim().parse().map_err(|_| "the test clock offset file is not a number".to_string())?,
            );
        }
    }
    // Session credentials expire by the business clock, so tests can move them past expiry.
    let session_clock = clock.clone();
    identity.set_clock(move || session_clock.now_ms());
    let kms =
        Arc::new(Kms::new(store.clone(), root, clock.clone()).with_pkcs11_clusters(config.pkcs11_clusters.clone()));
    events::check_webhooks(&config.event_webhooks)?;
    let sinks =
        events::start(config.events_file.clone(), &config.event_webhooks, config.event_webhook_ca_file.as_deref())?;
    let limits = trent_ssm::Limits {
        max_standard: config.ssm_max_standard_parameters,
        max_advanced: config.ssm_max_advanced_parameters,
    };
    let rotators = Arc::new(rotators::Rotators::new(&config.rotation_functions, config.rotation_ca_file.as_deref())?);
    let secrets =
        Arc::new(trent_secrets::SecretsManager::new(store.clone(), kms.clone(), clock.clone()).with_rotator(rotators));
    let ssm = trent_ssm::Ssm::new(store.clone(), kms.clone(), clock.clone())
        .with_events(Arc::new(sinks))
        .with_limits(limits)
        .with_secret_references(Arc::new(SecretsBridge(secrets.clone())));
    let access_log = access_log::AccessLog::open(&config.access_log, config.log_format == "json")?;
    let verifier = trent_wire::sigv4::Verifier { max_skew: time::Duration::seconds(config.max_clock_skew_secs) };
    let service_authorizer = identity::service_authorizer(iam.clone());
    let xks = xks_proxy::XksProxy::new(&config.xks_proxy)?;
    let console_sessions = console::session::Sessions::new(
        std::time::Duration::from_secs(config.console_session_idle_secs),
        std::time::Duration::from_secs(config.console_session_max_secs),
    );
    Ok(Arc::new(App {
        config,
        kms,
        ssm,
        secrets,
        identity,
        iam,
        verifier,
        clock,
        metrics: metrics::Metrics::default(),
        audit,
        quotas,
        service_authorizer,
        store,
        node_id,
        access_log,
        sealed: std::sync::atomic::AtomicBool::new(false),
        xks,
        console_sessions,
    }))
}

/// Where and how this node keeps its audit trail (trentd and `trentd admin` write the same one).
pub fn audit_settings(config: &Config, store: &Arc<dyn Store>, node_id: &str) -> audit::Settings {
    audit::Settings {
        dir: config.audit_dir.clone().unwrap_or_else(|| config.data_dir.join("audit")),
        max_file_bytes: config.audit_max_file_bytes,
        digest_interval: std::time::Duration::from_secs(config.audit_digest_interval_secs),
        // Several nodes share a PostgreSQL store: the trail goes there too, one chain per node,
        // so LookupEvents sees every node's events.
        shared: if store.backend() == "postgres" { Some((store.clone(), node_id.to_string())) } else { None },
        store: store.clone(),
        accept_truncation: config.accept_audit_truncation,
    }
}

/// Lets Parameter Store read Secrets Manager secrets (`/aws/reference/secretsmanager/…`).
/// `secretsmanager:GetSecretValue` on the secret was checked by `identity::authorize_ssm`
/// before the request ran; the secret's key is checked as Secrets Manager decrypts it
/// (`kms:Decrypt` with `kms:ViaService` = `secretsmanager.<region>.amazonaws.com`).
struct SecretsBridge(Arc<trent_secrets::SecretsManager>);

impl trent_ssm::references::SecretReferences for SecretsBridge {
    fn resolve(
        &self,
        caller: &trent_kms::Caller,
        secret_id: &str,
        selector: Option<&str>,
    ) -> Result<Option<trent_ssm::references::SecretVersion>, trent_ssm::SsmError> {
        use trent_wire::AwsError;
        let via = format!("secretsmanager.{}.amazonaws.com", caller.region);
        match self.0.reference(&caller.through_service(via), secret_id, selector) {
            Ok(Some((value, version_id, arn, created_ms, source))) => {
                Ok(Some(trent_ssm::references::SecretVersion { value, version_id, arn, created_ms, source }))
            }
            Ok(None) => Ok(None),
            Err(trent_secrets::SmError::Internal(d)) => Err(trent_ssm::SsmError::Internal(d)),
            Err(trent_secrets::SmError::Wire(w @ trent_wire::WireError::AccessDenied(_))) => {
                Err(trent_ssm::SsmError::Wire(w))
            }
            Err(e) => Err(trent_ssm::SsmError::InvalidKeyId(e.message())),
        }
    }
}

/// Where `--unsafe-test-clock` keeps the clock offset.
pub fn test_clock_file(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("test-clock-offset-ms")
}

/// A background sweep: its job name (one node at a time runs it), what it does (for logs), and
/// the sweep.
type Sweep = (&'static str, &'static str, fn(&App) -> Result<usize, String>);

/// Every sweep the scheduler runs, in order.
const SWEEPS: [Sweep; 7] = [
    ("kms-deletions", "key deletion", |a| a.kms.sweep_deletions().map_err(|e| format!("{e:?}"))),
    ("kms-material-expiry", "imported key material expiry", |a| {
        a.kms.sweep_material_expiry().map_err(|e| format!("{e:?}"))
    }),
    ("kms-rotations", "key rotation", |a| a.kms.sweep_rotations().map_err(|e| format!("{e:?}"))),
    ("sm-deletions", "secret deletion", |a| a.secrets.sweep_deletions().map_err(|e| format!("{e:?}"))),
    ("sm-rotations", "secret rotation", |a| a.secrets.sweep_rotations().map_err(|e| format!("{e:?}"))),
    ("ssm-policies", "parameter policy", |a| a.ssm.sweep_policies().map_err(|e| format!("{e:?}"))),
    ("iam-sessions", "expired session", |a| a.identity.sweep_expired_sessions().map_err(|e| e.to_string())),
];

/// Runs each sweep whose job this node can claim ([`Store::try_exclusive`]); a sweep another
/// node is running is skipped this tick (that node does it). With several nodes on one
/// database each job therefore runs on one node at a time; a node that dies mid-job loses its
/// claim with its database session, and the next node to tick takes the job over. The sweeps
/// are written to resume: each re-checks its row inside its write transaction, and a secret
/// rotation a dead node left half done (AWSPENDING on its version) is run again with the same
/// version id, which the rotation contract requires every step to tolerate.
pub fn run_sweeps(app: &App) {
    for (job, what, sweep) in SWEEPS {
        match app.store.try_exclusive(job) {
            Ok(Some(_claim)) => {
                if let Err(e) = sweep(app) {
                    tracing::error!(error = %e, job, "{what} sweep failed");
                }
            }
            Ok(None) => tracing::debug!(job, "another node is running this sweep; skipped"),
            Err(e) => tracing::error!(error = %e, job, "could not claim the {what} sweep; skipped this tick"),
        }
    }
}

/// Starts the node heartbeat ([`nodes`]), then runs the sweeps ([`run_sweeps`]: destroys keys
/// past their deletion date, rotates what is due, applies parameter policies …) now and every
/// `--sweep-interval-secs`.
pub fn spawn_scheduler(app: Arc<App>) {
    nodes::spawn_heartbeat(app.clone());
    // Between ticks only a weak reference: an app sealed by an operator (`--seal shamir`) is
    // dropped, with its root key, without waiting for the next tick.
    let every = std::time::Duration::from_secs(app.config.sweep_interval_secs);
    let app = Arc::downgrade(&app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(a) = app.upgrade().filter(|a| !a.sealed.load(std::sync::atomic::Ordering::SeqCst)) else {
                break;
            };
            if let Err(e) = tokio::task::spawn_blocking(move || run_sweeps(&a)).await {
                tracing::error!(error = %e, "a scheduled sweep panicked");
            }
        }
    });
}
