use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// trentd: a self-hosted key-management and secrets service that speaks the AWS KMS, SSM
/// Parameter Store and Secrets Manager APIs.
///
/// Point the AWS CLI or any AWS SDK at it with `--endpoint-url http://127.0.0.1:4599`
/// (https:// with --tls-cert/--tls-key or --tls-self-signed).
/// Every request must be signed (SigV4) with an access key trentd knows; on first start it
/// prints a generated admin key, or takes the one in TRENT_ADMIN_ACCESS_KEY_ID /
/// TRENT_ADMIN_SECRET_ACCESS_KEY. Any AWS region named in the request's signature is served
/// (and those added with --extra-region), and each region has its own keys.
///
/// Secrets are read from the environment only, never from flags:
///   TRENT_ROOT_KEY                  base64 of the 32-byte root key that wraps all key material
///                                   (default: <data-dir>/root.key, created on first start, mode 0600)
///   TRENT_ROOT_KEY_FILE             a file holding it (e.g. systemd LoadCredential=), instead
///   TRENT_ADMIN_ACCESS_KEY_ID       admin access key id (letters and digits) for --account-id
///   TRENT_ADMIN_SECRET_ACCESS_KEY   its secret
///   TRENT_EXTRA_ADMIN_KEYS          more accounts: comma-separated ACCOUNT_ID:ACCESS_KEY_ID:SECRET,
///                                   each that account's root (admin) key
///   TRENT_EVENT_WEBHOOK_SECRET      HMAC-SHA256 key that signs webhook bodies
///   TRENT_ROTATION_WEBHOOK_SECRET   HMAC-SHA256 key that signs rotation webhook bodies
///   TRENT_LOG                       log filter, e.g. `info` (default) or `trent=debug`
///
/// Every flag can also be set in a TOML file named by --config (or TRENT_CONFIG), whose keys are
/// the long flag names: `listen = "0.0.0.0:4599"`, `data-dir = "/var/lib/trent"`,
/// `quota = ["kms:symmetric=1000"]`. A flag beats its environment variable, which beats the file,
/// which beats the default. `trentd --print-config` shows the result (secrets masked).
///
/// Local development: `trentd --dev` (throwaway data, admin key `test` / `test`).
/// Also: `trentd completions bash|zsh|fish`, `trentd man`.
///
/// Offline maintenance (trentd stopped): `trentd admin reset-key-policy --key-id KEY …` puts
/// back the default policy of a key whose policy locks everyone out (see `trentd admin --help`).
#[derive(Debug, Clone, Parser)]
#[command(name = "trentd", version = VERSION, verbatim_doc_comment)]
pub struct Config {
    /// Where to listen:
    ///   IP:PORT      that address, e.g. 127.0.0.1:4599 or [::1]:4599
    ///   HOST:PORT    every address the host name resolves to, e.g. localhost:4599
    ///   :PORT        all interfaces (IPv6 and IPv4), e.g. :4599
    ///   PORT         loopback only (127.0.0.1), e.g. 4599
    /// Port 0 picks a free port (see --ready-file).
    #[arg(long, env = "TRENT_LISTEN", default_value = "127.0.0.1:4599", value_parser = parse_listen, verbatim_doc_comment)]
    pub listen: Listen,

    /// Development mode: a throwaway server. Data goes to a new temporary directory removed at
    /// exit (unless --data-dir is given), the admin access key is `test` with secret `test`,
    /// and the ready-to-paste AWS environment is
    /// printed. Refuses to listen on anything but loopback: its credentials are well known.
    #[arg(long, env = "TRENT_DEV")]
    pub dev: bool,

    /// Read settings from this TOML file (keys are the long flag names; see above).
    #[arg(long, env = "TRENT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration (as TOML, secrets masked, each value's source in a
    /// comment) and exit.
    #[arg(long)]
    pub print_config: bool,

    /// The access log, one line per request (time, request id, principal or refused access key
    /// id, source address, service, operation, HTTP status, AWS error code, latency): `stderr`
    /// (the default, through the log at level info), `off`, or a file path (appended to).
    /// JSON lines with --log-format json.
    #[arg(long, env = "TRENT_ACCESS_LOG", default_value = "stderr", value_name = "stderr|off|FILE")]
    pub access_log: String,

    /// Directory for the database (trent.db), the root key file and other node-local state.
    #[arg(long, env = "TRENT_DATA_DIR", default_value = "./trent-data")]
    pub data_dir: PathBuf,

    /// Where the root key comes from (docs/SEAL.md):
    ///   file           <data-dir>/root.key, TRENT_ROOT_KEY or TRENT_ROOT_KEY_FILE (the default)
    ///   shamir:N/K     split into N shares printed once, any K of which unseal (2 <= K <= N <= 16);
    ///                  every later start is sealed until `trent operator unseal` gets K shares
    ///   kms:KEY_ARN    encrypted by a KMS key (AWS KMS or another trentd), decrypted at start
    ///                  (AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL and the AWS credential chain)
    ///   pkcs11:MODULE_PATH:TOKEN_LABEL:KEY_LABEL
    ///                  wrapped by an AES key inside a PKCS#11 token (an HSM), PIN in TRENT_PKCS11_PIN
    #[arg(long, env = "TRENT_SEAL", default_value = "file", value_parser = crate::seal::parse_seal_flag, verbatim_doc_comment)]
    pub seal: String,

    /// The 12-digit account id that the admin key belongs to and that ARNs carry.
    #[arg(long, env = "TRENT_ACCOUNT_ID", default_value = "000000000000", value_parser = parse_account_id)]
    pub account_id: String,

    /// Largest request body accepted; larger requests get HTTP 413 without being read whole.
    #[arg(long, env = "TRENT_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// How far X-Amz-Date may be from the server clock before a signature counts as expired.
    #[arg(long, env = "TRENT_MAX_CLOCK_SKEW_SECS", default_value_t = 300)]
    pub max_clock_skew_secs: i64,

    /// How often the background tasks run (and once at start): destroying keys and secrets whose
    /// waiting period has ended, rotating keys and secrets that are due, deleting expired
    /// imported key material, and applying parameter policies (expiration, notifications).
    #[arg(long, env = "TRENT_SWEEP_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub sweep_interval_secs: u64,

    /// Web console (`/console/`): seconds a signed-in session may stay unused before it ends.
    #[arg(long, env = "TRENT_CONSOLE_SESSION_IDLE_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub console_session_idle_secs: u64,

    /// Web console: seconds after sign-in a session ends however much it is used.
    #[arg(long, env = "TRENT_CONSOLE_SESSION_MAX_SECS", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub console_session_max_secs: u64,

    /// Once listening, write the base URL (e.g. http://127.0.0.1:41234) to this file.
    #[arg(long, env = "TRENT_READY_FILE")]
    pub ready_file: Option<PathBuf>,

    /// Serve HTTPS with this certificate chain (PEM). Needs --tls-key. Reloaded on SIGHUP and
    /// when the file changes, without dropping connections.
    #[arg(long, env = "TRENT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) for --tls-cert.
    #[arg(long, env = "TRENT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate for localhost/127.0.0.1 (development only),
    /// kept in <data-dir>/tls/ and made on first use; its SHA-256 fingerprint is printed.
    #[arg(long, env = "TRENT_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,

    /// Append every Parameter Store event (EventBridge-shaped JSON, one per line) to this file.
    #[arg(long, env = "TRENT_EVENTS_FILE")]
    pub events_file: Option<PathBuf>,

    /// POST every Parameter Store event to this http:// or https:// URL (repeatable; env:
    /// comma-separated). With TRENT_EVENT_WEBHOOK_SECRET set, the body is signed:
    /// X-Trent-Signature: sha256=<hex HMAC>.
    /// Failed deliveries are retried with backoff; they never slow an API call.
    #[arg(long = "event-webhook", env = "TRENT_EVENT_WEBHOOKS", value_delimiter = ',')]
    pub event_webhooks: Vec<String>,

    /// CA certificates (PEM) that https:// event webhooks may also chain to, besides Mozilla's
    /// roots and the system bundle (/etc/ssl/certs/ca-certificates.crt when readable).
    #[arg(long, env = "TRENT_EVENT_WEBHOOK_CA_FILE")]
    pub event_webhook_ca_file: Option<PathBuf>,

    /// Most Standard-tier parameters per account and region (AWS: 10,000).
    #[arg(long, env = "TRENT_SSM_MAX_STANDARD_PARAMETERS", default_value_t = 10_000)]
    pub ssm_max_standard_parameters: u64,

    /// Most Advanced-tier parameters per account and region (AWS: 100,000).
    #[arg(long, env = "TRENT_SSM_MAX_ADVANCED_PARAMETERS", default_value_t = 100_000)]
    pub ssm_max_advanced_parameters: u64,

    /// Directory of the audit trail (hash-chained JSON-lines files of CloudTrail-shaped events,
    /// one per request, with signed digests; check it with `trent audit verify DIR`).
    /// Default: <data-dir>/audit. If a record cannot be written, the request is refused.
    #[arg(long, env = "TRENT_AUDIT_DIR")]
    pub audit_dir: Option<PathBuf>,

    /// Start a new audit file once the current one is this large.
    #[arg(long, env = "TRENT_AUDIT_MAX_FILE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub audit_max_file_bytes: u64,

    /// How often a signed digest is added to the audit trail while there are new records
    /// (and always at shutdown).
    #[arg(long, env = "TRENT_AUDIT_DIGEST_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_digest_interval_secs: u64,

    /// Start even if the audit trail ends before the signed head kept in the store (records
    /// were deleted, or the trail was replaced). trentd logs it loudly and writes a record of the
    /// gap into the trail. Without it, trentd refuses to start on a cut trail.
    #[arg(long, env = "TRENT_ACCEPT_AUDIT_TRUNCATION")]
    pub accept_audit_truncation: bool,

    /// Request quotas: `off` (the default) applies none; `aws` applies AWS's default per-second
    /// quotas per account and region (past them a request gets ThrottlingException, which the
    /// SDKs retry): to test retry logic, or to keep tenants fair.
    #[arg(long, env = "TRENT_QUOTAS", default_value = "off", value_parser = ["aws", "off"])]
    pub quotas: String,

    /// Override one quota of `--quotas aws`, in requests per second: NAME=RATE (repeatable; env:
    /// comma-separated). Names: every operation of every served service as <service>:<Operation>
    /// (kms:, ssm:, secretsmanager:, cloudtrail:, iam:, sts:; an operation that shares a quota by
    /// default then gets a bucket of its own), and the shared quotas kms:symmetric, kms:rsa,
    /// kms:ecc, kms:GenerateDataKeyPair/<KeyPairSpec>, ssm:GetParameter (GetParameter,
    /// GetParameters, GetParametersByPath), secretsmanager:GetSecretValue (with DescribeSecret),
    /// iam:all, sts:all. Example: --quotas aws --quota kms:symmetric=1000
    #[arg(long = "quota", env = "TRENT_QUOTA_OVERRIDES", value_delimiter = ',', value_parser = crate::quota::parse_override)]
    pub quota_overrides: Vec<(String, f64)>,

    /// Log format on stderr: `text` (default) or `json` (one JSON object per line).
    #[arg(long, env = "TRENT_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// TESTS ONLY: serve POST /_trent/test/advance-clock {"seconds": N}, which moves the clock
    /// that deletion, rotation and policy dates are read from (the offset is kept in
    /// <data-dir>/test-clock-offset-ms across restarts); and make the handler of a request with
    /// header `x-trent-test-panic` panic. Never enable this in production.
    #[arg(long, env = "TRENT_UNSAFE_TEST_CLOCK")]
    pub unsafe_test_clock: bool,

    /// Where keys, parameters and secrets are stored:
    ///   sqlite                 a database file in the data dir (<data-dir>/trent.db); one node
    ///   sqlite:PATH            a SQLite database file at PATH
    ///   postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|verify-full]
    ///                          PostgreSQL (also postgresql://): any number of trentd nodes may
    ///                          share one database; give every node the same root key
    ///                          (TRENT_ROOT_KEY). A password belongs in TRENT_STORE rather than
    ///                          on the command line, where other users can read it. A Unix
    ///                          socket: postgres://USER@%2Fvar%2Frun%2Fpostgresql/DATABASE.
    ///                          TLS: sslmode=verify-full (or require) checks the server's
    ///                          certificate and host name against sslrootcert=PATH (PEM) or the
    ///                          system CAs; disable or prefer (the default) connect without TLS.
    /// The data dir still holds node-local files (root.key if used, TLS material).
    #[arg(long, env = "TRENT_STORE", hide_env_values = true, default_value = "sqlite", verbatim_doc_comment)]
    pub store: StoreUrl,

    /// A Secrets Manager rotation function that RotationLambdaARN can name (repeatable; env:
    /// comma-separated): NAME=exec:/absolute/path (the event JSON {"SecretId",
    /// "ClientRequestToken","Step"} on stdin, exit 0 = success) or NAME=http(s)://host/path (the
    /// event POSTed; with TRENT_ROTATION_WEBHOOK_SECRET set, signed: X-Trent-Signature:
    /// sha256=<hex HMAC>). Built in without configuration: PostgreSQL and MySQL/MariaDB
    /// rotators (chosen by the secret's `engine`) and a generic new-random-password rotator.
    #[arg(long = "rotation-function", env = "TRENT_ROTATION_FUNCTIONS", value_delimiter = ',')]
    pub rotation_functions: Vec<String>,

    /// CA certificates (PEM) that https:// rotation webhooks and the built-in rotators' verifying
    /// TLS modes (verify-ca, verify-full) may also chain to, besides Mozilla's roots and the system
    /// bundle (/etc/ssl/certs/ca-certificates.crt when readable).
    #[arg(long, env = "TRENT_ROTATION_CA_FILE")]
    pub rotation_ca_file: Option<PathBuf>,

    /// CA certificates (PEM) that OpenID Connect issuers' https:// certificates may also chain
    /// to (AssumeRoleWithWebIdentity fetches their key sets), besides Mozilla's roots and the
    /// system bundle.
    #[arg(long, env = "TRENT_OIDC_CA_FILE")]
    pub oidc_ca_file: Option<PathBuf>,

    /// Seconds a client has for the TLS handshake and for each request's headers (counted from
    /// when trentd starts waiting for them: at connect, and after each response on a kept-alive
    /// HTTP/1.1 connection, which is closed if no new request arrives in that time).
    #[arg(long, env = "TRENT_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub header_read_timeout_secs: u64,

    /// Seconds a request body has to arrive whole once its headers have; past that the request
    /// fails and the connection is closed.
    #[arg(long, env = "TRENT_BODY_READ_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub body_read_timeout_secs: u64,

    /// Seconds a connection (HTTP/1.1 or HTTP/2) may move no data, with no request being
    /// handled, before trentd closes it.
    #[arg(long, env = "TRENT_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_secs: u64,

    /// Most connections open at once; past it trentd accepts no more until one closes.
    /// Default: 4096, or the open-file limit less 128 if that is lower (trentd raises its soft
    /// open-file limit to the hard limit at start).
    #[arg(long, env = "TRENT_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,

    /// Also accept this region name (repeatable; env: comma-separated), besides the AWS
    /// regions trentd knows. Requests signed for, and replicas in, any other region are refused.
    #[arg(long = "extra-region", env = "TRENT_EXTRA_REGIONS", value_delimiter = ',', value_parser = parse_extra_region)]
    pub extra_regions: Vec<String>,

    /// Serve the AWS KMS External Key Store (XKS) proxy API under
    /// /URI_PREFIX/kms/xks/v1/ with this SigV4 credential (repeatable: several prefixes, or
    /// two credentials for one prefix while rotating; env: comma-separated). Prefer the
    /// environment variable: a flag is visible to other local users. See docs/CUSTOM_KEY_STORES.md.
    #[arg(long = "xks-proxy", env = "TRENT_XKS_PROXY", value_delimiter = ',', value_name = "URI_PREFIX=ACCESS_KEY_ID:SECRET", value_parser = crate::xks_proxy::parse_spec)]
    pub xks_proxy: Vec<crate::xks_proxy::Spec>,

    /// A PKCS#11 token that custom key stores of type AWS_CLOUDHSM may use, as a CloudHSM
    /// cluster (repeatable; env: comma-separated): ID=MODULE_PATH:TOKEN_LABEL, ID of AWS's form
    /// (cluster- and 11-16 of 2-7, a-z, A-Z), e.g.
    /// cluster-1a23b4cdefg=/usr/lib/softhsm/libsofthsm2.so:trent. See docs/CUSTOM_KEY_STORES.md.
    #[arg(long = "pkcs11-cluster", env = "TRENT_PKCS11_CLUSTERS", value_delimiter = ',', value_name = "ID=MODULE:TOKEN_LABEL", value_parser = trent_kms::hsm::parse_cluster)]
    pub pkcs11_clusters: Vec<trent_kms::hsm::ClusterSpec>,
}

/// The version `--version` prints: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TRENT_GIT_COMMIT"), ")");

/// The git commit trentd was built from, or "unknown".
pub const GIT_COMMIT: &str = env!("TRENT_GIT_COMMIT");

/// A `--listen` value: what was written, and the addresses it stands for (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub text: String,
    pub addrs: Vec<SocketAddr>,
    /// `:PORT`: every interface, IPv6 and IPv4 (falls back to IPv4 alone without IPv6).
    pub all_interfaces: bool,
}

impl Listen {
    /// The first address's IP (for the self-signed certificate's names).
    pub fn ip(&self) -> IpAddr {
        self.addrs[0].ip()
    }

    /// True when every address is a loopback one.
    pub fn is_loopback_only(&self) -> bool {
        !self.all_interfaces && self.addrs.iter().all(|a| a.ip().is_loopback())
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse::<u16>().map_err(|_| format!("`{s}` is not a port number (0-65535)"))
}

fn parse_listen(s: &str) -> Result<Listen, String> {
    let text = s.to_string();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let port = parse_port(s)?;
        return Ok(Listen { text, addrs: vec![SocketAddr::from(([127, 0, 0, 1], port))], all_interfaces: false });
    }
    if let Some(port) = s.strip_prefix(':') {
        let port = parse_port(port)?;
        let addrs = vec![SocketAddr::from(([0u16; 8], port)), SocketAddr::from(([0, 0, 0, 0], port))];
        return Ok(Listen { text, addrs, all_interfaces: true });
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(Listen { text, addrs: vec![a], all_interfaces: false });
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err("expected HOST:PORT, IP:PORT, :PORT or PORT (e.g. 127.0.0.1:4599, localhost:4599, :4599)".into());
    };
    let port = parse_port(port)?;
    if host.is_empty() || host.contains(':') {
        return Err(format!("`{s}`: write an IPv6 address in brackets, e.g. [::1]:{port}"));
    }
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let resolved = (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve host name `{host}`: {e}"))?;
    for a in resolved {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    if addrs.is_empty() {
        return Err(format!("host name `{host}` resolves to no address"));
    }
    Ok(Listen { text, addrs, all_interfaces: false })
}

/// Where a setting's value came from, for `--print-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

/// The parsed configuration, with what `--print-config` needs.
pub struct Loaded {
    pub config: Config,
    matches: ArgMatches,
    file_keys: Vec<String>,
}

/// Settings that are never read from a file or printed.
const NOT_SETTINGS: &[&str] = &["help", "version", "config", "print-config"];

/// The `--config` file named in `args` (`--config F`, `--config=F`), else by TRENT_CONFIG.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("TRENT_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// One TOML value as the strings a flag would take.
fn toml_values(key: &str, path: &Path, v: &toml::Value) -> Result<Vec<String>, String> {
    let scalar = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            toml::Value::Boolean(b) => Ok(b.to_string()),
            _ => Err(format!("{}: `{key}` must be a string, number, boolean or an array of them", path.display())),
        }
    };
    match v {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        v => Ok(vec![scalar(v)?]),
    }
}

/// Parses trentd's command line (`args`, with the program name first) together with the
/// environment and the `--config` file. A clap error (including --help and --version) comes
/// back as `Err(Ok(e))`, a configuration file error as `Err(Err(message))`.
pub fn load(args: Vec<OsString>) -> Result<Loaded, Result<clap::Error, String>> {
    let mut cmd = Config::command();
    let mut file_keys = Vec::new();
    if let Some(path) = config_path(&args) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Err(format!("reading the configuration file {}: {e}", path.display())))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| Err(format!("{} is not valid TOML: {e}", path.display())))?;
        for (key, value) in &table {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()) && !NOT_SETTINGS.contains(&key.as_str()))
                .ok_or_else(|| {
                    Err(format!(
                        "{}: unknown key `{key}` (the keys are trentd's long flag names, e.g. listen, data-dir; see trentd --help)",
                        path.display()
                    ))
                })?;
            let id = arg.get_id().clone();
            let multiple = matches!(arg.get_action(), clap::ArgAction::Append);
            let values = toml_values(key, &path, value).map_err(Err)?;
            if values.len() != 1 && !multiple {
                return Err(Err(format!("{}: `{key}` takes one value, not an array", path.display())));
            }
            // Leaked once per key at start: clap's defaults are 'static.
            let values: Vec<&'static str> = values.into_iter().map(|v| &*Box::leak(v.into_boxed_str())).collect();
            cmd = cmd.mut_arg(id, |a| a.default_values(values));
            file_keys.push(key.clone());
        }
    }
    let matches = cmd.try_get_matches_from(args).map_err(Ok)?;
    let config = Config::from_arg_matches(&matches).map_err(Ok)?;
    Ok(Loaded { config, matches, file_keys })
}

impl Loaded {
    /// Where a setting (by its long flag name) came from.
    pub fn source(&self, long: &str) -> Source {
        let cmd = Config::command();
        let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(long)) else { return Source::Default };
        match self.matches.value_source(arg.get_id().as_str()) {
            Some(clap::parser::ValueSource::CommandLine) => Source::Flag,
            Some(clap::parser::ValueSource::EnvVariable) => Source::Env,
            _ if self.file_keys.iter().any(|k| k == long) => Source::File,
            _ => Source::Default,
        }
    }

    /// The effective configuration as TOML that `--config` reads back, each value's source in a
    /// comment. Passwords in URLs are masked; secrets set only in the environment never show.
    pub fn render(&self) -> String {
        let mut out = String::from("# trentd effective configuration\n");
        let cmd = Config::command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if NOT_SETTINGS.contains(&long) {
                continue;
            }
            let source = match self.source(long) {
                Source::Flag => "flag",
                Source::Env => "environment",
                Source::File => "config file",
                Source::Default => "default",
            };
            let values: Vec<String> = match self.matches.get_raw(arg.get_id().as_str()) {
                Some(v) => v.map(|v| toml_literal(&mask_secret(long, &v.to_string_lossy()))).collect(),
                None => Vec::new(),
            };
            let multiple = matches!(arg.get_action(), clap::ArgAction::Append);
            if values.is_empty() && !multiple {
                out.push_str(&format!("# {long} is not set\n"));
            } else if multiple {
                out.push_str(&format!("{long} = [{}]  # {source}\n", values.join(", ")));
            } else {
                out.push_str(&format!("{long} = {}  # {source}\n", values[0]));
            }
        }
        out
    }
}

/// A setting's value as `--print-config` shows it: URL passwords and XKS proxy secrets masked.
fn mask_secret(long: &str, v: &str) -> String {
    if long == "xks-proxy" {
        return v
            .split(',')
            .map(|one| match one.rsplit_once(':') {
                Some((head, _)) => format!("{head}:****"),
                None => one.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
    }
    trent_store::redact_url(v)
}

/// A value as a TOML literal: booleans and plain numbers bare, anything else a quoted string.
fn toml_literal(v: &str) -> String {
    let number =
        !v.is_empty() && v.len() < 16 && v.bytes().all(|b| b.is_ascii_digit()) && (v == "0" || !v.starts_with('0'));
    if v == "true" || v == "false" || number {
        v.to_string()
    } else {
        serde_json::to_string(v).unwrap_or_default()
    }
}

/// A `--store` URL. It may hold a database password, so its `Debug` hides that.
#[derive(Clone)]
pub struct StoreUrl(pub String);

impl std::str::FromStr for StoreUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(StoreUrl(s.to_string()))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", trent_store::redact_url(&self.0))
    }
}

fn parse_extra_region(s: &str) -> Result<String, String> {
    if trent_wire::regions::well_formed(s) {
        Ok(s.to_string())
    } else {
        Err("a region name is 1-32 lowercase letters, digits and hyphens (e.g. eu-central-3)".into())
    }
}

fn parse_account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err("an account id is exactly 12 digits".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_have_sane_defaults_and_refuse_absurd_values() {
        let c = Config::try_parse_from(["trentd"]).unwrap();
        if std::env::vars().all(|(k, _)| !k.ends_with("_TIMEOUT_SECS") && k != "TRENT_MAX_CONNECTIONS") {
            assert_eq!((c.header_read_timeout_secs, c.body_read_timeout_secs, c.idle_timeout_secs), (10, 30, 60));
            assert_eq!(c.max_connections, None);
        }
        for bad in [
            ["--header-read-timeout-secs", "0"],
            ["--idle-timeout-secs", "18446744073709551615"],
            ["--max-connections", "0"],
            ["--max-connections", "18446744073709551615"],
            ["--extra-region", "Not A Region"],
        ] {
            assert!(Config::try_parse_from(["trentd", bad[0], bad[1]]).is_err(), "{bad:?}");
        }
        let c = Config::try_parse_from(["trentd", "--extra-region", "lab-1", "--extra-region", "lab-2"]).unwrap();
        assert_eq!(c.extra_regions, ["lab-1", "lab-2"]);
    }

    #[test]
    fn store_defaults_to_sqlite_and_its_password_never_shows_in_debug() {
        if std::env::var_os("TRENT_STORE").is_none() {
            assert_eq!(Config::try_parse_from(["trentd"]).unwrap().store.0, "sqlite");
        }
        let c = Config::try_parse_from(["trentd", "--store", "postgres://trent:hunter2@db:5432/trent"]).unwrap();
        assert_eq!(c.store.0, "postgres://trent:hunter2@db:5432/trent");
        let shown = format!("{c:?}");
        assert!(shown.contains("postgres://trent:***@db:5432/trent") && !shown.contains("hunter2"), "{shown}");
        // `--help` must not print TRENT_STORE's value either.
        let cmd = <Config as clap::CommandFactory>::command();
        let arg = cmd.get_arguments().find(|a| a.get_id() == "store").unwrap();
        assert!(arg.is_hide_env_values_set());
    }
}
