//! The rotation functions trentd runs for Secrets Manager (the `trent_secrets::rotation::Rotator`
//! it gives the service).
//!
//! - **Built-in**, chosen by the function name in RotationLambdaARN or, when the secret names
//!   none, by the secret's JSON `engine` (`postgres`/`postgresql`, `mysql`/`mariadb`; anything
//!   else, or a value that is not JSON: the generic rotator, a new random password). The
//!   strategy follows AWS's published rotation functions: **single user** changes the
//!   secret's own user's password, logging in with it; **alternating users** (when the secret
//!   has `masterarn`, or the function name says MultiUser) logs in with the admin secret
//!   `masterarn` names and sets the password of the other of `username` / `username_clone`,
//!   creating the clone (with the first user's privileges) on first use. Every database
//!   rotator tests a login with the new password before finishSecret moves AWSCURRENT.
//!   Connections use TLS by the secret's `sslmode` (libpq's names) or AWS's `ssl` field,
//!   `prefer` by default (docs/ROTATION.md, "TLS to the database").
//! - **Custom**, registered with `--rotation-function NAME=exec:/path` (the event JSON
//!   `{"SecretId","ClientRequestToken","Step"}` on stdin; exit 0 = success) or
//!   `NAME=http(s)://host/path` (the event POSTed as JSON, signed with
//!   `X-Trent-Signature: sha256=<hex HMAC-SHA256>` under TRENT_ROTATION_WEBHOOK_SECRET; 2xx =
//!   success; https through rustls/aws-lc-rs, trusting Mozilla's roots, the system bundle and
//!   `--rotation-ca-file`). Like a Lambda rotation function, a custom function does all four steps itself
//!   through the Secrets Manager API.
//!
//! All of it runs on blocking threads (RotateSecret's handler and the scheduler's sweep).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trent_kms::Caller;
use trent_secrets::model::{AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use trent_secrets::rotation::{self, RotationEvent, Rotator, SecretJson, Step};
use trent_secrets::SecretsManager;
use zeroize::Zeroizing;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A custom rotation function from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Function {
    Exec(PathBuf),
    Http(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Postgres,
    Mysql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    /// By the secret's `engine` (and `masterarn` for the strategy).
    Auto,
    Generic,
    Database(Engine, Option<bool>),
}

/// The built-in function names: AWS's rotation templates and Trent's own.
fn builtin(name: &str) -> Option<Builtin> {
    use Engine::*;
    let b = match name.to_ascii_lowercase().as_str() {
        "trent-builtin" => Builtin::Auto,
        "trent-generic" => Builtin::Generic,
        "secretsmanagerrdspostgresqlrotationsingleuser" | "trent-postgres-single-user" => {
            Builtin::Database(Postgres, Some(false))
        }
        "secretsmanagerrdspostgresqlrotationmultiuser" | "trent-postgres-multi-user" => {
            Builtin::Database(Postgres, Some(true))
        }
        "secretsmanagerrdsmysqlrotationsingleuser"
        | "secretsmanagerrdsmariadbrotationsingleuser"
        | "trent-mysql-single-user"
        | "trent-mariadb-single-user" => Builtin::Database(Mysql, Some(false)),
        "secretsmanagerrdsmysqlrotationmultiuser"
        | "secretsmanagerrdsmariadbrotationmultiuser"
        | "trent-mysql-multi-user"
        | "trent-mariadb-multi-user" => Builtin::Database(Mysql, Some(true)),
        _ => return None,
    };
    Some(b)
}

/// Parses `NAME=exec:/path` and `NAME=http://…` (the --rotation-function values).
pub fn parse_functions(specs: &[String]) -> Result<BTreeMap<String, Function>, String> {
    let mut out = BTreeMap::new();
    for spec in specs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let what = || format!("--rotation-function {spec}");
        let (name, target) =
            spec.split_once('=').ok_or_else(|| format!("{}: expected NAME=exec:/path or NAME=http://…", what()))?;
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("{}: a function name is 1–64 letters, digits, - and _", what()));
        }
        if builtin(name).is_some() {
            return Err(format!("{}: {name} is the name of a built-in rotator", what()));
        }
        let f = if let Some(path) = target.strip_prefix("exec:") {
            let path = PathBuf::from(path);
            if !path.is_absolute() || !path.is_file() {
                return Err(format!("{}: {} is not an absolute path to a file", what(), path.display()));
            }
            Function::Exec(path)
        } else if target.starts_with("http://") || target.starts_with("https://") {
            let uri: hyper::Uri = target.parse().map_err(|_| format!("{}: not a URL", what()))?;
            if uri.host().is_none() {
                return Err(format!("{}: not a URL", what()));
            }
            Function::Http(target.to_string())
        } else {
            return Err(format!("{}: expected exec:/path, http://… or https://…", what()));
        };
        if out.insert(name.to_string(), f).is_some() {
            return Err(format!("{}: {name} is registered twice", what()));
        }
    }
    Ok(out)
}

pub struct Rotators {
    custom: BTreeMap<String, Function>,
    webhook_secret: Option<Zeroizing<String>>,
    /// For https:// webhooks: the system roots plus `--rotation-ca-file`.
    tls: Arc<rustls::ClientConfig>,
    /// For the database connections of the built-in rotators.
    trust: Trust,
}

/// The operating system's CA bundle (Debian, Ubuntu, Alpine, Arch…), trusted when readable.
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

impl Rotators {
    pub fn new(specs: &[String], ca_file: Option<&std::path::Path>) -> Result<Rotators, String> {
        let webhook_secret =
            std::env::var("TRENT_ROTATION_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(Zeroizing::new);
        let custom = parse_functions(specs)?;
        let trust = Trust::load(ca_file, "--rotation-ca-file")?;
        let tls = trust.webhook_config()?;
        Ok(Rotators { custom, webhook_secret, tls, trust })
    }
}

/// The CA certificates TLS clients of trentd trust: Mozilla's roots (compiled in), the system
/// bundle when readable, and a CA file given on the command line.
#[derive(Clone)]
pub(crate) struct Trust {
    roots: Arc<rustls::RootCertStore>,
    /// The certificates of the system bundle and the CA file that `roots` accepted (the MySQL
    /// driver reads its extra roots from a file).
    extra: Arc<Vec<rustls::pki_types::CertificateDer<'static>>>,
}

impl Trust {
    /// `flag` names the option `ca_file` came from, for the error messages.
    pub(crate) fn load(ca_file: Option<&std::path::Path>, flag: &str) -> Result<Trust, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut extra = Vec::new();
        if let Ok(certs) = read_pem_certs(std::path::Path::new(SYSTEM_CA_FILE)) {
            // A bundle may hold certificates this TLS library cannot use; the others still count.
            extra.extend(certs.into_iter().filter(|c| roots.add(c.clone()).is_ok()));
        }
        if let Some(path) = ca_file {
            let what = || format!("{flag} {}", path.display());
            let certs = read_pem_certs(path).map_err(|e| format!("{}: {e}", what()))?;
            let usable: Vec<_> = certs.into_iter().filter(|c| roots.add(c.clone()).is_ok()).collect();
            if usable.is_empty() {
                return Err(format!("{}: no usable CA certificate", what()));
            }
            extra.extend(usable);
        }
        Ok(Trust { roots: Arc::new(roots), extra: Arc::new(extra) })
    }

    /// A TLS client (aws-lc-rs) that verifies the server's certificate chain and name.
    pub(crate) fn webhook_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The certificates of a PEM file (an error when it cannot be read or holds none).
/// The largest CA file read (the system bundle is about 200 KiB).
const MAX_CA_FILE: u64 = 4 << 20;

/// The certificates of a PEM file (an error when it cannot be read or holds none). Only a
/// regular file of at most 4 MiB is read (a secret's `sslrootcert` names a path on this host:
/// no device or FIFO is read), and the errors never quote the file's content.
fn read_pem_certs(path: &std::path::Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot be read ({})", e.kind()))?;
    let meta = f.metadata().map_err(|e| format!("cannot be read ({})", e.kind()))?;
    if !meta.is_file() || meta.len() > MAX_CA_FILE {
        return Err("is not a PEM file of at most 4 MiB".into());
    }
    let mut text = Vec::new();
    f.take(MAX_CA_FILE).read_to_end(&mut text).map_err(|e| format!("cannot be read ({})", e.kind()))?;
    pem_certs(&text)
}

fn pem_certs(pem: &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "holds a malformed PEM section".to_string())?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(certs)
}

/// AWS's answer to RotateSecret for a secret with no rotation function.
pub const NO_FUNCTION: &str = "No Lambda rotation function ARN is associated with this secret.";

impl Rotator for Rotators {
    fn check(&self, function: Option<&str>) -> Result<(), String> {
        match function {
            // As on AWS: RotateSecret needs a function. Trent's own rotators are named ones
            // (`trent-builtin`, `trent-generic`, …; docs/ROTATION.md).
            None => Err(NO_FUNCTION.into()),
            Some(f) if self.custom.contains_key(f) || builtin(f).is_some() => Ok(()),
            Some(f) => Err(format!(
                "Secrets Manager cannot invoke the rotation function {f}: it is neither built in nor registered with --rotation-function."
            )),
        }
    }

    fn invoke(
        &self,
        sm: &SecretsManager,
        caller: &Caller,
        function: Option<&str>,
        ev: &RotationEvent,
    ) -> Result<(), String> {
        match function {
            Some(f) => match self.custom.get(f) {
                Some(Function::Exec(path)) => run_exec(f, path, caller, ev),
                Some(Function::Http(url)) => {
                    run_http(f, url, self.webhook_secret.as_deref().map(|s| s.as_str()), Some(self.tls.clone()), ev)
                }
                None => run_builtin(builtin(f).ok_or("unknown rotation function")?, &self.trust, sm, caller, ev),
            },
            None => run_builtin(Builtin::Auto, &self.trust, sm, caller, ev),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Built-in rotators
// ---------------------------------------------------------------------------------------------

fn value(
    sm: &SecretsManager,
    caller: &Caller,
    id: &str,
    version: Option<&str>,
    stage: &str,
) -> Result<Option<SecretJson>, String> {
    let text = sm.rotation_value(caller, id, version, Some(stage)).map_err(rotation::step_error)?;
    Ok(text.and_then(|t| SecretJson::parse(&t)))
}

fn engine_of(json: &SecretJson) -> Option<Engine> {
    match json.str("engine")?.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "aurora-postgresql" => Some(Engine::Postgres),
        "mysql" | "mariadb" | "aurora" | "aurora-mysql" => Some(Engine::Mysql),
        _ => None,
    }
}

/// A database's error message may quote the statement it failed on: the passwords of the
/// secret's versions are masked out of every message.
fn scrub(mut msg: String, sm: &SecretsManager, caller: &Caller, ev: &RotationEvent) -> String {
    let versions = [(None, AWSCURRENT), (None, AWSPREVIOUS), (Some(ev.client_request_token.as_str()), AWSPENDING)];
    for (version, stage) in versions {
        if let Ok(Some(j)) = value(sm, caller, &ev.secret_id, version, stage) {
            if let Some(p) = j.str("password").filter(|p| p.len() >= 4) {
                msg = msg.replace(p, "********");
            }
        }
    }
    msg
}

fn run_builtin(
    kind: Builtin,
    trust: &Trust,
    sm: &SecretsManager,
    caller: &Caller,
    ev: &RotationEvent,
) -> Result<(), String> {
    run_database_step(kind, trust, sm, caller, ev).map_err(|m| scrub(m, sm, caller, ev))
}

fn run_database_step(
    kind: Builtin,
    trust: &Trust,
    sm: &SecretsManager,
    caller: &Caller,
    ev: &RotationEvent,
) -> Result<(), String> {
    let current = value(sm, caller, &ev.secret_id, None, AWSCURRENT)?;
    let (engine, multi) = match (kind, &current) {
        (Builtin::Generic, _) | (Builtin::Auto, None) => return rotation::generic_step(sm, caller, ev),
        (Builtin::Auto, Some(c)) => match (engine_of(c), c.str("engine")) {
            (Some(e), _) => (e, c.str("masterarn").is_some()),
            (None, None) => return rotation::generic_step(sm, caller, ev),
            // A database Trent cannot change: rotating only the stored password would break it.
            (None, Some(other)) => {
                return Err(format!(
                    "there is no built-in rotator for engine {other}; register a rotation function with --rotation-function"
                ))
            }
        },
        (Builtin::Database(e, strategy), c) => {
            (e, strategy.unwrap_or_else(|| c.as_ref().is_some_and(|c| c.str("masterarn").is_some())))
        }
    };
    let current = current.ok_or("the AWSCURRENT value is not a JSON object with host, username and password")?;
    match ev.step {
        Step::CreateSecret => rotation::create_pending(sm, caller, ev, multi),
        Step::FinishSecret => rotation::finish(sm, caller, ev),
        Step::SetSecret => {
            let pending = value(sm, caller, &ev.secret_id, Some(&ev.client_request_token), AWSPENDING)?
                .ok_or("the AWSPENDING version is missing or is not a JSON object")?;
            let pending = Creds::of(&pending, trust)?;
            let cur = Creds::of(&current, trust)?;
            if multi {
                let master_arn = current.str("masterarn").ok_or("the secret has no masterarn (alternating users)")?;
                let master = value(sm, caller, master_arn, None, AWSCURRENT)
                    .map_err(|e| format!("reading the master secret {master_arn}: {e}"))?
                    .ok_or_else(|| format!("the master secret {master_arn} has no JSON AWSCURRENT value"))?;
                let master = Creds::of(&master, trust)?;
                match engine {
                    Engine::Postgres => pg::set_multi(&master, &cur, &pending),
                    Engine::Mysql => my::set_multi(&master, &cur, &pending),
                }
            } else {
                if pending.user != cur.user {
                    return Err("the AWSPENDING username differs from AWSCURRENT's (single-user rotation)".into());
                }
                let previous =
                    value(sm, caller, &ev.secret_id, None, AWSPREVIOUS)?.and_then(|p| Creds::of(&p, trust).ok());
                let logins: Vec<&Creds> =
                    [Some(&pending), Some(&cur), previous.as_ref()].into_iter().flatten().collect();
                match engine {
                    Engine::Postgres => pg::set_single(&logins, &pending),
                    Engine::Mysql => my::set_single(&logins, &pending),
                }
            }
        }
        Step::TestSecret => {
            let pending = value(sm, caller, &ev.secret_id, Some(&ev.client_request_token), AWSPENDING)?
                .ok_or("the AWSPENDING version is missing or is not a JSON object")?;
            let pending = Creds::of(&pending, trust)?;
            match engine {
                Engine::Postgres => pg::test(&pending),
                Engine::Mysql => my::test(&pending),
            }
        }
    }
}

/// How a built-in rotator secures its connection to the database: libpq's `sslmode` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it (certificate not verified), else plain TCP.
    Prefer,
    /// TLS or no connection (certificate not verified).
    Require,
    /// TLS with a certificate that chains to a trusted CA (any name).
    VerifyCa,
    /// TLS with a certificate that chains to a trusted CA and names the secret's host.
    VerifyFull,
}

impl SslMode {
    /// From the secret: Trent's `sslmode` (libpq's names) if present, else AWS's `ssl`
    /// (`true` → verify-full, `false` → disable; absent or another value → prefer).
    fn of(j: &SecretJson) -> Result<SslMode, String> {
        if let Some(v) = j.0.get("sslmode") {
            return match v.as_str().map(|s| s.to_ascii_lowercase()).as_deref() {
                Some("disable") => Ok(SslMode::Disable),
                Some("prefer") => Ok(SslMode::Prefer),
                Some("require") => Ok(SslMode::Require),
                Some("verify-ca") => Ok(SslMode::VerifyCa),
                Some("verify-full") => Ok(SslMode::VerifyFull),
                _ => Err("the secret's sslmode is not one of disable, prefer, require, verify-ca, verify-full".into()),
            };
        }
        Ok(match j.0.get("ssl") {
            Some(serde_json::Value::Bool(true)) => SslMode::VerifyFull,
            Some(serde_json::Value::Bool(false)) => SslMode::Disable,
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => SslMode::VerifyFull,
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => SslMode::Disable,
            _ => SslMode::Prefer,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Connection fields of a database secret.
struct Creds {
    host: String,
    port: Option<u16>,
    user: String,
    password: Zeroizing<String>,
    dbname: Option<String>,
    ssl: SslMode,
    /// The CA certificates a verifying TLS mode trusts: the system's, `--rotation-ca-file`'s
    /// and the secret's `sslrootcert`.
    trust: Trust,
    rootcert: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Creds {
    fn of(j: &SecretJson, trust: &Trust) -> Result<Creds, String> {
        let need = |f: &str| j.str(f).map(str::to_string).ok_or_else(|| format!("the secret has no {f} field"));
        let port = match j.text("port") {
            Some(p) => Some(p.parse::<u16>().map_err(|_| "the secret's port is not a port number".to_string())?),
            None => None,
        };
        Ok(Creds {
            host: need("host")?,
            port,
            user: need("username")?,
            password: Zeroizing::new(need("password")?),
            dbname: j.str("dbname").map(str::to_string),
            ssl: SslMode::of(j)?,
            trust: trust.clone(),
            rootcert: match j.str("sslrootcert") {
                None | Some("") => Vec::new(),
                // The PEM text itself, or the path of a PEM file on trentd's host (as libpq's).
                Some(pem) if pem.contains("-----BEGIN") => {
                    pem_certs(pem.as_bytes()).map_err(|e| format!("the secret's sslrootcert: {e}"))?
                }
                Some(path) => read_pem_certs(std::path::Path::new(path))
                    .map_err(|e| format!("the secret's sslrootcert {path}: {e}"))?,
            },
        })
    }

    /// The roots a verifying mode trusts.
    fn roots(&self) -> Result<Arc<rustls::RootCertStore>, String> {
        if self.rootcert.is_empty() {
            return Ok(self.trust.roots.clone());
        }
        let mut roots = (*self.trust.roots).clone();
        for c in &self.rootcert {
            roots.add(c.clone()).map_err(|e| format!("the secret's sslrootcert: {e}"))?;
        }
        Ok(Arc::new(roots))
    }

    /// A TLS client for the database connection: a verifying mode checks the chain (and, for
    /// verify-full, the host name); prefer and require only encrypt (handshake signatures are
    /// still checked).
    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let webpki = || {
            rustls::client::WebPkiServerVerifier::builder_with_provider(self.roots()?, provider())
                .build()
                .map_err(|e| e.to_string())
        };
        let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match self.ssl {
            SslMode::VerifyFull => webpki()?,
            SslMode::VerifyCa => Arc::new(tlsverify::AnyName(webpki()?)),
            _ => Arc::new(tlsverify::AnyCert(provider())),
        };
        Ok(Arc::new(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()))
    }

    fn place(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

/// SQL string literal for a value the database receives as text: refuses what could escape it.
fn sql_literal(s: &str) -> Result<Zeroizing<String>, String> {
    if s.contains(['\'', '\\', '\0']) {
        return Err("a password or user name with ', \\ or NUL cannot be set safely".into());
    }
    Ok(Zeroizing::new(format!("'{s}'")))
}

/// Certificate verifiers for the database modes that verify less than webpki does.
mod tlsverify {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
    use std::sync::Arc;

    /// prefer / require: any certificate (the connection is encrypted, the peer not
    /// authenticated, as libpq's modes of those names); the handshake signature is still checked.
    #[derive(Debug)]
    pub(super) struct AnyCert(pub(super) Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// verify-ca: the chain must reach a trusted CA; the name in the certificate is not checked.
    #[derive(Debug)]
    pub(super) struct AnyName(pub(super) Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for AnyName {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                // webpki checks the name last: this error means the chain itself is good.
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}

/// A rustls (aws-lc-rs) TLS connector for the `postgres` crate.
mod pgtls {
    use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
    use postgres::Socket;
    use rustls::pki_types::ServerName;
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    pub(super) struct MakeRustls(pub(super) Arc<rustls::ClientConfig>);

    impl MakeTlsConnect<Socket> for MakeRustls {
        type Stream = Stream;
        type TlsConnect = Connect;
        type Error = rustls::pki_types::InvalidDnsNameError;

        fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, Self::Error> {
            let name = ServerName::try_from(domain.trim_matches(['[', ']']).to_string())?;
            Ok(Connect { config: self.0.clone(), name })
        }
    }

    pub(super) struct Connect {
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    }

    impl TlsConnect<Socket> for Connect {
        type Stream = Stream;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

        fn connect(self, socket: Socket) -> Self::Future {
            Box::pin(async move {
                // A server that stalls the handshake fails the step instead of hanging it.
                let handshake = tokio_rustls::TlsConnector::from(self.config).connect(self.name, socket);
                let tls = tokio::time::timeout(super::CONNECT_TIMEOUT, handshake)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out"))??;
                Ok(Stream(Box::new(tls)))
            })
        }
    }

    pub(super) struct Stream(Box<tokio_rustls::client::TlsStream<Socket>>);

    impl TlsStream for Stream {
        fn channel_binding(&self) -> ChannelBinding {
            // SCRAM without channel binding (SCRAM-SHA-256, not -PLUS).
            ChannelBinding::none()
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut *self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut *self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut *self.0).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut *self.0).poll_shutdown(cx)
        }
    }
}

mod pg {
    use super::*;
    use postgres::config::SslMode as PgSslMode;

    pub(super) fn connect(c: &Creds) -> Result<postgres::Client, String> {
        let mut cfg = postgres::Config::new();
        cfg.host(&c.host)
            .port(c.port.unwrap_or(5432))
            .user(&c.user)
            .password(c.password.as_bytes())
            .dbname(c.dbname.as_deref().unwrap_or("postgres"))
            .connect_timeout(CONNECT_TIMEOUT);
        let fail = |e: postgres::Error| {
            format!("cannot log in to PostgreSQL as {} (sslmode {}): {}", c.place(), c.ssl.name(), why(e))
        };
        if c.ssl == SslMode::Disable {
            return cfg.ssl_mode(PgSslMode::Disable).connect(postgres::NoTls).map_err(fail);
        }
        // prefer: TLS when the server answers the SSLRequest with S, plain TCP when it declines;
        // the other modes refuse a server without TLS.
        cfg.ssl_mode(if c.ssl == SslMode::Prefer { PgSslMode::Prefer } else { PgSslMode::Require });
        cfg.connect(pgtls::MakeRustls(c.tls_config()?)).map_err(fail)
    }

    fn ident(s: &str) -> String {
        format!("\"{}\"", s.replace('"', "\"\""))
    }

    /// `ALTER ROLE … PASSWORD` with a SCRAM-SHA-256 verifier made here, so the plaintext never
    /// reaches the server (or its statement log).
    fn set_password_sql(verb: &str, user: &str, password: &str) -> Zeroizing<String> {
        let verifier = Zeroizing::new(postgres_protocol::password::scram_sha_256(password.as_bytes()));
        // A role may change its own password, but not its LOGIN attribute.
        let login = if verb == "CREATE ROLE" { "LOGIN " } else { "" };
        Zeroizing::new(format!("{verb} {} WITH {login}PASSWORD '{}'", ident(user), verifier.as_str()))
    }

    /// The server's own message (postgres::Error's Display is only "db error").
    fn why(e: postgres::Error) -> String {
        match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => {
                // "error performing TLS handshake" says why only in its source.
                let mut msg = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg = format!("{msg}: {s}");
                    source = s.source();
                }
                msg
            }
        }
    }

    pub(super) fn set_single(logins: &[&Creds], pending: &Creds) -> Result<(), String> {
        let mut last = String::new();
        for c in logins {
            match connect(c) {
                Ok(mut client) => {
                    let sql = set_password_sql("ALTER ROLE", &pending.user, &pending.password);
                    return client
                        .batch_execute(&sql)
                        .map_err(|e| format!("setting the new password failed: {}", why(e)));
                }
                Err(e) => last = e,
            }
        }
        Err(format!("cannot log in with the AWSPENDING, AWSCURRENT or AWSPREVIOUS password: {last}"))
    }

    pub(super) fn set_multi(master: &Creds, current: &Creds, pending: &Creds) -> Result<(), String> {
        let mut client = connect(master)?;
        let exists = client
            .query("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&pending.user])
            .map_err(|e| format!("looking up role {}: {}", pending.user, why(e)))?;
        if exists.is_empty() {
            let sql = set_password_sql("CREATE ROLE", &pending.user, &pending.password);
            client.batch_execute(&sql).map_err(|e| format!("creating role {}: {}", pending.user, why(e)))?;
            client
                .batch_execute(&format!("GRANT {} TO {}", ident(&current.user), ident(&pending.user)))
                .map_err(|e| format!("granting {} to {}: {}", current.user, pending.user, why(e)))?;
        } else {
            let sql = set_password_sql("ALTER ROLE", &pending.user, &pending.password);
            client.batch_execute(&sql).map_err(|e| format!("setting the password of {}: {}", pending.user, why(e)))?;
        }
        Ok(())
    }

    pub(super) fn test(pending: &Creds) -> Result<(), String> {
        let mut client = connect(pending)?;
        client.simple_query("SELECT NOW()").map_err(|e| format!("the new login cannot run a query: {}", why(e)))?;
        Ok(())
    }
}

mod my {
    use super::*;
    use mysql::prelude::Queryable;

    /// The server's message without the driver's wrapping.
    fn why(e: mysql::Error) -> String {
        match e {
            mysql::Error::MySqlError(m) => format!("ERROR {}: {}", m.code, m.message),
            other => other.to_string(),
        }
    }

    pub(super) fn connect(c: &Creds) -> Result<mysql::Conn, String> {
        let opts = mysql::OptsBuilder::new()
            .ip_or_hostname(Some(c.host.clone()))
            .tcp_port(c.port.unwrap_or(3306))
            .user(Some(c.user.clone()))
            .pass(Some(c.password.to_string()))
            .db_name(c.dbname.clone())
            .prefer_socket(false)
            .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
            // Bounds the TLS handshake and every statement too: a stalled server fails the step.
            .read_timeout(Some(FUNCTION_TIMEOUT))
            .write_timeout(Some(FUNCTION_TIMEOUT));
        let fail = |e: mysql::Error| {
            let e = match e {
                mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => {
                    "the server does not offer TLS".to_string()
                }
                e => why(e),
            };
            format!("cannot log in to MySQL as {} (sslmode {}): {e}", c.place(), c.ssl.name())
        };
        if c.ssl == SslMode::Disable {
            return mysql::Conn::new(opts).map_err(fail);
        }
        // The driver (rustls over aws-lc-rs) trusts Mozilla's roots plus one PEM file: the other
        // roots are written to a private temporary file for the handshake.
        let extra: Vec<_> = c.trust.extra.iter().chain(&c.rootcert).collect();
        let bundle = match c.ssl.verifies() && !extra.is_empty() {
            true => Some(CaBundle::write(&extra)?),
            false => None,
        };
        let ssl = mysql::SslOpts::default()
            .with_root_cert_path(bundle.as_ref().map(|b| b.0.clone()))
            .with_danger_accept_invalid_certs(!c.ssl.verifies())
            .with_danger_skip_domain_validation(c.ssl != SslMode::VerifyFull);
        match mysql::Conn::new(opts.clone().ssl_opts(Some(ssl))) {
            // prefer: plain TCP only when the server does not offer TLS at all.
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) if c.ssl == SslMode::Prefer => {
                mysql::Conn::new(opts).map_err(fail)
            }
            other => other.map_err(fail),
        }
    }

    /// A PEM file of CA certificates, removed when dropped.
    struct CaBundle(std::path::PathBuf);

    impl CaBundle {
        fn write(certs: &[&rustls::pki_types::CertificateDer<'static>]) -> Result<CaBundle, String> {
            use base64::Engine;
            let mut pem = String::new();
            for c in certs {
                let b64 = base64::engine::general_purpose::STANDARD.encode(c.as_ref());
                pem.push_str("-----BEGIN CERTIFICATE-----\n");
                for line in b64.as_bytes().chunks(64) {
                    pem.push_str(std::str::from_utf8(line).unwrap_or_default());
                    pem.push('\n');
                }
                pem.push_str("-----END CERTIFICATE-----\n");
            }
            let mut nonce = [0u8; 12];
            aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "no randomness for a temporary file name")?;
            let path = std::env::temp_dir().join(format!("trentd-mysql-ca-{}.pem", hex::encode(nonce)));
            let bundle = CaBundle(path);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&bundle.0)
                .map_err(|e| format!("writing the CA bundle for MySQL's TLS: {e}"))?;
            f.write_all(pem.as_bytes()).map_err(|e| format!("writing the CA bundle for MySQL's TLS: {e}"))?;
            Ok(bundle)
        }
    }

    impl Drop for CaBundle {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    pub(super) fn set_single(logins: &[&Creds], pending: &Creds) -> Result<(), String> {
        let pw = sql_literal(&pending.password)?;
        let mut last = String::new();
        for c in logins {
            match connect(c) {
                Ok(mut conn) => {
                    // MariaDB lets a user set its own password only with SET PASSWORD; MySQL 5.7+
                    // (where PASSWORD() is gone) with ALTER USER CURRENT_USER().
                    let version: Option<String> = conn.query_first("SELECT VERSION()").map_err(why)?;
                    let sql = if version.is_some_and(|v| v.contains("MariaDB")) {
                        Zeroizing::new(format!("SET PASSWORD = PASSWORD({})", pw.as_str()))
                    } else {
                        Zeroizing::new(format!("ALTER USER CURRENT_USER() IDENTIFIED BY {}", pw.as_str()))
                    };
                    return conn
                        .query_drop(sql.as_str())
                        .map_err(|e| format!("setting the new password failed: {}", why(e)));
                }
                Err(e) => last = e,
            }
        }
        Err(format!("cannot log in with the AWSPENDING, AWSCURRENT or AWSPREVIOUS password: {last}"))
    }

    fn hosts(conn: &mut mysql::Conn, user: &str) -> Result<Vec<String>, String> {
        conn.exec("SELECT Host FROM mysql.user WHERE User = ?", (user,))
            .map_err(|e| format!("looking up user {user}: {}", why(e)))
    }

    pub(super) fn set_multi(master: &Creds, current: &Creds, pending: &Creds) -> Result<(), String> {
        let pw = sql_literal(&pending.password)?;
        let new_user = sql_literal(&pending.user)?;
        let mut conn = connect(master)?;
        let existing = hosts(&mut conn, &pending.user)?;
        if let Some(host) = existing.first() {
            let sql = Zeroizing::new(format!(
                "ALTER USER {}@{} IDENTIFIED BY {}",
                new_user.as_str(),
                sql_literal(host)?.as_str(),
                pw.as_str()
            ));
            return conn
                .query_drop(sql.as_str())
                .map_err(|e| format!("setting the password of {}: {}", pending.user, why(e)));
        }
        let host = hosts(&mut conn, &current.user)?.into_iter().next().unwrap_or_else(|| "%".into());
        let host_lit = sql_literal(&host)?;
        let cur_user = sql_literal(&current.user)?;
        let sql = Zeroizing::new(format!(
            "CREATE USER {}@{} IDENTIFIED BY {}",
            new_user.as_str(),
            host_lit.as_str(),
            pw.as_str()
        ));
        conn.query_drop(sql.as_str()).map_err(|e| format!("creating user {}: {}", pending.user, why(e)))?;
        let grants: Vec<String> = conn
            .query(format!("SHOW GRANTS FOR {}@{}", cur_user.as_str(), host_lit.as_str()))
            .map_err(|e| format!("reading the grants of {}: {}", current.user, why(e)))?;
        for g in grants {
            // "GRANT … ON … TO `user`@`host` [IDENTIFIED BY PASSWORD …]": the same privileges for the clone.
            let Some((privileges, _)) = g.split_once(" TO ") else { continue };
            if privileges.starts_with("GRANT PROXY") {
                continue;
            }
            conn.query_drop(format!("{privileges} TO {}@{}", new_user.as_str(), host_lit.as_str()))
                .map_err(|e| format!("copying a grant to {}: {}", pending.user, why(e)))?;
        }
        Ok(())
    }

    pub(super) fn test(pending: &Creds) -> Result<(), String> {
        let mut conn = connect(pending)?;
        conn.query_drop("SELECT NOW()").map_err(|e| format!("the new login cannot run a query: {}", why(e)))
    }
}

// ---------------------------------------------------------------------------------------------
// Custom rotators
// ---------------------------------------------------------------------------------------------

/// Variables trentd's own secrets live in: never passed to a rotation executable.
const SECRET_ENV: &[&str] =
    &["TRENT_ROOT_KEY", "TRENT_ADMIN_SECRET_ACCESS_KEY", "TRENT_EVENT_WEBHOOK_SECRET", "TRENT_ROTATION_WEBHOOK_SECRET"];

fn run_exec(name: &str, path: &std::path::Path, caller: &Caller, ev: &RotationEvent) -> Result<(), String> {
    let body = serde_json::to_vec(ev).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(path);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    for v in SECRET_ENV {
        cmd.env_remove(v);
    }
    cmd.env("AWS_REGION", &caller.region).env("AWS_DEFAULT_REGION", &caller.region);
    let mut child = cmd.spawn().map_err(|e| format!("the rotation function {name} could not be started: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A function that exits without reading its input is judged by its exit status alone.
        let _ = stdin.write_all(&body);
    }
    let deadline = Instant::now() + FUNCTION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!("the rotation function {name} failed at {}: {status}", ev.step.name()))
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the rotation function {name} timed out at {}", ev.step.name()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for the rotation function {name}: {e}")),
        }
    }
}

fn run_http(
    name: &str,
    url: &str,
    secret: Option<&str>,
    tls: Option<Arc<rustls::ClientConfig>>,
    ev: &RotationEvent,
) -> Result<(), String> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let uri: hyper::Uri = url.parse().map_err(|_| format!("the rotation function {name} has no valid URL"))?;
    let host = uri.host().ok_or_else(|| format!("the rotation function {name} has no host"))?.to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let body = Bytes::from(serde_json::to_vec(ev).map_err(|e| e.to_string())?);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    let mut req = hyper::Request::post(path)
        .header("host", uri.authority().map(|a| a.as_str()).unwrap_or(&host))
        .header("content-type", "application/json")
        .header("user-agent", concat!("trentd/", env!("CARGO_PKG_VERSION")))
        .header("x-trent-rotation-step", ev.step.name());
    if let Some(s) = secret {
        let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, s.as_bytes()), &body);
        req = req.header("x-trent-signature", format!("sha256={}", hex::encode(tag.as_ref())));
    }
    let req = req.body(Full::new(body)).map_err(|e| format!("the rotation function {name}: {e}"))?;
    let call = async move {
        let tcp =
            tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await.map_err(|e| e.to_string())?;
        let status = if https {
            let config = tls.ok_or("no TLS configuration")?;
            let server = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| e.to_string())?;
            let stream =
                tokio_rustls::TlsConnector::from(config).connect(server, tcp).await.map_err(|e| e.to_string())?;
            send(stream, req).await?
        } else {
            send(tcp, req).await?
        };
        Ok::<_, String>(status)
    };
    let timed = async move { tokio::time::timeout(FUNCTION_TIMEOUT, call).await };
    let outcome = match tokio::runtime::Handle::try_current() {
        Ok(h) => h.block_on(timed),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(timed),
    };
    match outcome {
        Ok(Ok(status)) if status.is_success() => Ok(()),
        Ok(Ok(status)) => Err(format!("the rotation function {name} answered {status} at {}", ev.step.name())),
        Ok(Err(e)) => Err(format!("the rotation function {name} could not be reached: {e}")),
        Err(_) => Err(format!("the rotation function {name} timed out at {}", ev.step.name())),
    }
}

/// One HTTP/1.1 request over `io`; the answer's status.
async fn send<IO>(
    io: IO,
    req: hyper::Request<http_body_util::Full<hyper::body::Bytes>>,
) -> Result<hyper::StatusCode, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(resp.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_parsed_and_bad_ones_refused() {
        let f = parse_functions(&["mine=exec:/bin/true".into(), "hook=http://127.0.0.1:9/rotate".into()]).unwrap();
        assert_eq!(f["mine"], Function::Exec("/bin/true".into()));
        assert_eq!(f["hook"], Function::Http("http://127.0.0.1:9/rotate".into()));
        for bad in [
            "noequals",
            "=exec:/bin/true",
            "bad name=exec:/bin/true",
            "rel=exec:bin/true",
            "missing=exec:/nonexistent/rotator",
            "ftp=ftp://x/",
            "trent-generic=exec:/bin/true",
        ] {
            assert!(parse_functions(&[bad.into()]).is_err(), "{bad} was accepted");
        }
        assert!(parse_functions(&["a=exec:/bin/true".into(), "a=exec:/bin/true".into()]).is_err());
    }

    #[test]
    fn aws_template_names_pick_the_engine_and_strategy() {
        assert_eq!(
            builtin("SecretsManagerRDSPostgreSQLRotationMultiUser"),
            Some(Builtin::Database(Engine::Postgres, Some(true)))
        );
        assert_eq!(
            builtin("SecretsManagerRDSMariaDBRotationSingleUser"),
            Some(Builtin::Database(Engine::Mysql, Some(false)))
        );
        assert_eq!(builtin("trent-generic"), Some(Builtin::Generic));
        assert_eq!(builtin("somebody-elses-lambda"), None);
    }

    #[test]
    fn unknown_functions_are_refused_with_a_reason() {
        let r = Rotators::new(&["mine=exec:/bin/true".into()], None).unwrap();
        assert_eq!(r.check(None).unwrap_err(), NO_FUNCTION);
        assert!(r.check(Some("trent-builtin")).is_ok());
        assert!(r.check(Some("mine")).is_ok());
        assert!(r.check(Some("trent-postgres-single-user")).is_ok());
        assert!(r.check(Some("other")).unwrap_err().contains("--rotation-function"));
    }

    fn event(step: Step) -> RotationEvent {
        RotationEvent { secret_id: "arn".into(), client_request_token: "t".into(), step }
    }

    #[test]
    fn an_executable_succeeds_by_exit_status_zero_only() {
        let caller = Caller::new(trent_policy::Principal::root("000000000000"), "us-east-1".into());
        assert!(run_exec("ok", std::path::Path::new("/bin/true"), &caller, &event(Step::SetSecret)).is_ok());
        let err = run_exec("bad", std::path::Path::new("/bin/false"), &caller, &event(Step::TestSecret)).unwrap_err();
        assert!(err.contains("bad") && err.contains("testSecret"), "{err}");
    }

    #[test]
    fn an_unreachable_webhook_is_a_step_failure() {
        let err = run_http("hook", "http://127.0.0.1:9/rotate", None, None, &event(Step::CreateSecret)).unwrap_err();
        assert!(err.contains("could not be reached"), "{err}");
    }

    #[test]
    fn https_webhooks_need_a_readable_ca_file() {
        let err = Rotators::new(&["h=https://127.0.0.1:9/".into()], Some(std::path::Path::new("/nonexistent.pem")));
        assert!(err.is_err());
        assert!(Rotators::new(&["h=https://127.0.0.1:9/".into()], None).is_ok(), "the system bundle is used");
    }

    fn creds(j: serde_json::Value) -> Result<Creds, String> {
        Creds::of(&SecretJson(j), &Trust::load(None, "--rotation-ca-file").unwrap())
    }

    fn db_secret(port: u16, user: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut j = serde_json::json!({"host": "127.0.0.1", "port": port, "username": user, "password": "unused"});
        j.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        j
    }

    #[test]
    fn the_tls_mode_comes_from_sslmode_else_from_awss_ssl_field() {
        use serde_json::json;
        let mode = |extra| creds(db_secret(5432, "u", extra)).map(|c| c.ssl);
        assert_eq!(mode(json!({})), Ok(SslMode::Prefer), "no field: try TLS, plain only if the server has none");
        assert_eq!(mode(json!({"ssl": true})), Ok(SslMode::VerifyFull));
        assert_eq!(mode(json!({"ssl": "TRUE"})), Ok(SslMode::VerifyFull));
        assert_eq!(mode(json!({"ssl": false})), Ok(SslMode::Disable));
        assert_eq!(mode(json!({"ssl": "false"})), Ok(SslMode::Disable));
        assert_eq!(mode(json!({"ssl": "maybe"})), Ok(SslMode::Prefer), "AWS: an invalid value is the default");
        for (m, want) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("Verify-Full", SslMode::VerifyFull),
        ] {
            assert_eq!(mode(json!({"sslmode": m, "ssl": false})), Ok(want), "sslmode wins over ssl");
        }
        let err = mode(json!({"sslmode": "allow"})).unwrap_err();
        assert!(err.contains("sslmode"), "{err}");
        let err = mode(json!({"sslrootcert": "/nonexistent/ca.pem"})).map(|_| ()).unwrap_err();
        assert!(err.contains("sslrootcert") && err.contains("cannot be read"), "{err}");
        // A path in a secret never makes trentd read a device, a FIFO or a directory.
        for path in ["/dev/zero", "/etc"] {
            let err = mode(json!({"sslrootcert": path})).map(|_| ()).unwrap_err();
            assert!(err.contains("is not a PEM file"), "{path}: {err}");
        }
        let err = mode(json!({"sslrootcert": "/etc/hostname"})).map(|_| ()).unwrap_err();
        assert!(err.ends_with("holds no PEM certificate"), "a file's content is never quoted: {err}");
        let err = mode(json!({"sslrootcert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}))
            .map(|_| ())
            .unwrap_err();
        assert!(err.contains("sslrootcert"), "{err}");
    }

    #[test]
    fn a_missing_rotation_ca_file_is_refused_and_none_means_the_system_roots() {
        let err = Rotators::new(&[], Some(std::path::Path::new("/nonexistent/ca.pem"))).map(|_| ()).unwrap_err();
        assert!(err.contains("--rotation-ca-file"), "{err}");
        let t = Trust::load(None, "--rotation-ca-file").unwrap();
        assert!(t.roots.len() >= webpki_roots::TLS_SERVER_ROOTS.len(), "Mozilla's roots are trusted");
    }

    /// The local PostgreSQL has SSL on with Debian's snake-oil certificate (CN and SAN localhost).
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

    fn pg_session_is_tls(c: &Creds) -> Result<bool, String> {
        let mut client = pg::connect(c)?;
        let row = client
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .map_err(|e| e.to_string())?;
        Ok(row.get(0))
    }

    #[test]
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
    fn postgres_sessions_use_tls_unless_sslmode_is_disable() {
        use serde_json::json;
        let on = |extra| pg_session_is_tls(&creds(db_secret(5432, "postgres", extra)).unwrap());
        assert_eq!(on(json!({})), Ok(true), "prefer: the server offers TLS, so it is used");
        assert_eq!(on(json!({"sslmode": "require"})), Ok(true));
        assert_eq!(on(json!({"ssl": false})), Ok(false));
        assert_eq!(on(json!({"sslmode": "disable"})), Ok(false));
    }

    #[test]
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
    fn postgres_verify_modes_check_the_ca_and_the_name() {
        use serde_json::json;
        if !std::path::Path::new(SNAKEOIL).exists() {
            eprintln!("{SNAKEOIL} is missing: skipping");
            return;
        }
        let at = |host: &str, extra| {
            let mut j = db_secret(5432, "postgres", extra);
            j["host"] = json!(host);
            pg_session_is_tls(&creds(j).unwrap())
        };
        // AWS's `ssl: true` is verify-full: a self-signed certificate no trusted CA issued fails.
        let err = at("localhost", json!({"ssl": true})).unwrap_err();
        assert!(err.contains("sslmode verify-full") && err.contains("UnknownIssuer"), "{err}");
        let err = at("127.0.0.1", json!({"sslmode": "verify-ca"})).unwrap_err();
        assert!(err.contains("UnknownIssuer"), "{err}");
        // With the certificate as the CA: its name is localhost, so 127.0.0.1 only passes verify-ca.
        assert_eq!(at("localhost", json!({"sslmode": "verify-full", "sslrootcert": SNAKEOIL})), Ok(true));
        let err = at("127.0.0.1", json!({"sslmode": "verify-full", "sslrootcert": SNAKEOIL})).unwrap_err();
        assert!(err.contains("not valid for name"), "{err}");
        assert_eq!(at("127.0.0.1", json!({"sslmode": "verify-ca", "sslrootcert": SNAKEOIL})), Ok(true));
        let pem = std::fs::read_to_string(SNAKEOIL).unwrap();
        assert_eq!(at("localhost", json!({"sslmode": "verify-full", "sslrootcert": pem})), Ok(true), "inline PEM");
    }

    #[test]
    fn a_postgres_server_that_stalls_the_tls_handshake_fails_in_bounded_time() {
        use std::io::Read;
        // Answers the SSLRequest with S ("go ahead with TLS"), then never speaks again.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = [0u8; 8];
            conn.read_exact(&mut request).unwrap();
            conn.write_all(b"S").unwrap();
            std::thread::sleep(Duration::from_secs(20));
        });
        let started = Instant::now();
        let c = creds(db_secret(port, "u", serde_json::json!({"sslmode": "require"}))).unwrap();
        let err = pg::connect(&c).map(|_| ()).unwrap_err();
        assert!(err.contains("TLS handshake timed out"), "{err}");
        assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(3), "{:?}", started.elapsed());
    }

    #[test]
    #[cfg_attr(trent_skip_mysql, ignore = "TRENT_SKIP_MYSQL=1")]
    fn mysql_require_fails_without_server_tls_and_prefer_falls_back_to_plain() {
        use serde_json::json;
        // The local MariaDB has SSL disabled.
        let secret = |extra| {
            let mut j = db_secret(3306, "root", extra);
            j["password"] = json!("");
            creds(j).unwrap()
        };
        let err = my::connect(&secret(json!({"sslmode": "require"}))).map(|_| ()).unwrap_err();
        assert!(err.contains("sslmode require") && err.contains("does not offer TLS"), "{err}");
        let err = my::connect(&secret(json!({"ssl": true}))).map(|_| ()).unwrap_err();
        assert!(err.contains("sslmode verify-full") && err.contains("does not offer TLS"), "{err}");
        for extra in [json!({}), json!({"sslmode": "prefer"}), json!({"ssl": false})] {
            let mut conn = my::connect(&secret(extra.clone())).unwrap_or_else(|e| panic!("{extra}: {e}"));
            let cipher: Option<(String, String)> =
                mysql::prelude::Queryable::query_first(&mut conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").unwrap();
            assert_eq!(cipher.map(|c| c.1).unwrap_or_default(), "", "{extra}: a plain session");
        }
    }

    #[test]
    fn sql_literals_refuse_quotes_and_backslashes() {
        assert_eq!(sql_literal("abc").unwrap().as_str(), "'abc'");
        assert!(sql_literal("a'b").is_err());
        assert!(sql_literal("a\\b").is_err());
    }
}
