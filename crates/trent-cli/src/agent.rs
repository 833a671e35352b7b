//! `trent agent --config agent.toml`: secrets to workloads without code changes.
//!
//! * **Templates** (`[[template]]`: `source`, `destination`, `mode`, `command`): the source's
//!   dynamic references (`{{resolve:…}}`, see [`crate::resolve`]) are rendered into the
//!   destination with an atomic write (a temporary file in the same directory, then a rename),
//!   again whenever a referenced value changes (every `poll_interval`; a rotation's new
//!   AWSCURRENT included), and `command` runs after each change. A value that cannot be read
//!   fails that template loudly (standard error) and leaves the previous file in place.
//! * **A local HTTP endpoint** compatible with AWS's agents (the Secrets Manager Agent, the
//!   Parameters and Secrets Lambda extension), when the file has a `[listener]` table:
//!   `GET /secretsmanager/get?secretId=…[&versionId=…|&versionStage=…]` and
//!   `GET /systemsmanager/parameters/get?name=…[&withDecryption=true][&version=…|&label=…]`
//!   answer what GetSecretValue / GetParameter answer; each request needs the header
//!   `X-Aws-Parameters-Secrets-Token` equal to the token of `token_file` (or of the
//!   `AWS_TOKEN` environment variable), and a request with `X-Forwarded-For` is refused (SSRF
//!   protection, as AWS's agent does). Answers are cached (`[cache]`: `ttl`, `max_entries`);
//!   `GET /ping` answers `healthy`, `GET /stats` (token needed) the cache's hits and misses.

use crate::aws_client::{AwsClient, CallError, Service};
use crate::resolve::{self, Piece};
use clap::Args;
use http_body_util::Full;
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

pub const TOKEN_HEADER: &str = "x-aws-parameters-secrets-token";
const DEFAULT_ADDRESS: &str = "127.0.0.1:2773";

/// `trent agent`.
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The agent's configuration (TOML; see docs/AGENT.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Render every template once and exit (non-zero if one failed); serve nothing.
    #[arg(long)]
    pub once: bool,
    /// Endpoint URL (else AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL,
    /// the profile's endpoint_url, AWS's).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    #[arg(long)]
    pub region: Option<String>,
    /// Profile of the shared credentials and config files (else AWS_PROFILE, else default).
    #[arg(long)]
    pub profile: Option<String>,
    /// PEM file of CA certificates to trust for an https endpoint (else AWS_CA_BUNDLE, else Mozilla's roots).
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
}

// -- configuration ----------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    poll_interval: Option<String>,
    token_file: Option<PathBuf>,
    listener: Option<ListenerConfig>,
    cache: Option<CacheConfig>,
    #[serde(default, rename = "template")]
    templates: Vec<TemplateConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerConfig {
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheConfig {
    ttl: Option<String>,
    max_entries: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandConfig {
    Path(String),
    Argv(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateConfig {
    source: PathBuf,
    destination: PathBuf,
    mode: Option<String>,
    command: Option<CommandConfig>,
}

/// A checked configuration.
#[derive(Debug)]
pub struct Config {
    pub poll_interval: Duration,
    pub token: Option<Zeroizing<String>>,
    pub listener: Option<String>,
    pub cache_ttl: Duration,
    pub cache_max: usize,
    pub templates: Vec<Template>,
}

#[derive(Debug)]
pub struct Template {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub mode: u32,
    pub command: Vec<String>,
    pieces: Vec<Piece>,
}

/// `"500ms"`, `"1s"`, `"30s"`, `"5m"`, `"1h"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration such as \"30s\""))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{s:?} is not a duration such as \"30s\" (units: ms, s, m, h)")),
    };
    if d.is_zero() {
        return Err(format!("{s:?}: a duration must be more than zero"));
    }
    Ok(d)
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(format!("mode {s:?} is not an octal mode such as \"0640\"")),
    }
}

/// The endpoint's token: `token_file`'s content (surrounding whitespace trimmed), else `AWS_TOKEN`.
fn read_token(file: Option<&Path>) -> Result<Option<Zeroizing<String>>, String> {
    let token = match file {
        Some(f) => Some(Zeroizing::new(
            std::fs::read_to_string(f).map_err(|e| format!("token_file {}: {e}", f.display()))?.trim().to_string(),
        )),
        None => std::env::var("AWS_TOKEN").ok().map(|t| Zeroizing::new(t.trim().to_string())),
    };
    match token {
        Some(t) if t.is_empty() => Err("the endpoint's token is empty".into()),
        t => Ok(t),
    }
}

pub fn load_config(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let f: FileConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    let mut templates = Vec::new();
    for t in f.templates {
        let source = rel(&t.source);
        let text =
            std::fs::read_to_string(&source).map_err(|e| format!("template source {}: {e}", source.display()))?;
        let pieces = resolve::parse(&text).map_err(|e| format!("template source {}: {e}", source.display()))?;
        let command = match t.command {
            None => Vec::new(),
            Some(CommandConfig::Path(p)) => vec![p],
            Some(CommandConfig::Argv(v)) if !v.is_empty() => v,
            Some(CommandConfig::Argv(_)) => return Err("a template's command is an empty list".into()),
        };
        templates.push(Template {
            source,
            destination: rel(&t.destination),
            mode: parse_mode(t.mode.as_deref().unwrap_or("0600"))?,
            command,
            pieces,
        });
    }
    let listener = f.listener.map(|l| l.address.unwrap_or_else(|| DEFAULT_ADDRESS.to_string()));
    let token = read_token(f.token_file.as_deref().map(rel).as_deref())?;
    if listener.is_some() && token.is_none() {
        return Err(
            "the [listener] endpoint needs a token: set token_file, or the AWS_TOKEN environment variable".into()
        );
    }
    if listener.is_none() && templates.is_empty() {
        return Err(format!("{}: nothing to do (no [[template]] and no [listener])", path.display()));
    }
    let cache = f.cache.unwrap_or(CacheConfig { ttl: None, max_entries: None });
    let cache_max = cache.max_entries.unwrap_or(1000);
    if cache_max == 0 {
        return Err("cache.max_entries must be at least 1".into());
    }
    Ok(Config {
        poll_interval: parse_duration(f.poll_interval.as_deref().unwrap_or("30s"))?,
        token,
        listener,
        cache_ttl: parse_duration(cache.ttl.as_deref().unwrap_or("300s"))?,
        cache_max,
        templates,
    })
}

// -- templates ----------------------------------------------------------------------------

/// Writes `content` to `dest` atomically with `mode`: a temporary file beside it, synced,
/// then renamed over it.
fn write_atomic(dest: &Path, content: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dest.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("creating a temporary file in {}: {e}", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("setting the mode of {}: {e}", dest.display()))?;
    tmp.write_all(content)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("writing {}: {e}", dest.display()))?;
    tmp.persist(dest).map_err(|e| format!("renaming into {}: {}", dest.display(), e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn digest(b: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref().to_vec()
}

struct TemplateState {
    last: Option<Vec<u8>>,
}

/// Renders one template; writes it and runs its command when the content changed.
/// `Ok(true)`: changed.
async fn render_template(client: &AwsClient, t: &Template, state: &mut TemplateState) -> Result<bool, String> {
    let out = resolve::render(client, &t.pieces).await?;
    let d = digest(out.as_bytes());
    if state.last.is_none() {
        // The file from an earlier run, if identical, needs no rewrite (nor the command).
        if let Ok(existing) = std::fs::read(&t.destination) {
            let existing = Zeroizing::new(existing);
            if digest(&existing) == d {
                state.last = Some(d);
                return Ok(false);
            }
        }
    }
    if state.last.as_ref() == Some(&d) {
        return Ok(false);
    }
    write_atomic(&t.destination, out.as_bytes(), t.mode)?;
    state.last = Some(d);
    eprintln!("trent agent: rendered {}", t.destination.display());
    if let Some((exe, args)) = t.command.split_first() {
        let status = tokio::process::Command::new(exe)
            .args(args)
            .env("TRENT_TEMPLATE_DESTINATION", &t.destination)
            .stdin(std::process::Stdio::null())
            .status()
            .await;
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("trent agent: command {exe} for {} exited with {s}", t.destination.display()),
            Err(e) => eprintln!("trent agent: command {exe} for {} could not run: {e}", t.destination.display()),
        }
    }
    Ok(true)
}

/// One pass over every template; how many failed.
async fn render_all(client: &AwsClient, templates: &[Template], states: &mut [TemplateState]) -> usize {
    let mut failed = 0;
    for (t, s) in templates.iter().zip(states.iter_mut()) {
        if let Err(e) = render_template(client, t, s).await {
            failed += 1;
            eprintln!(
                "trent agent: error: template {} → {}: {e} (the previous file is left in place)",
                t.source.display(),
                t.destination.display()
            );
        }
    }
    failed
}

// -- the endpoint -------------------------------------------------------------------------

/// A cached answer: when it was fetched, and its bytes (zeroized when dropped).
type Entry = (Instant, Arc<Zeroizing<Vec<u8>>>);

/// The endpoint's cache: answers by request, each for `ttl`, at most `max` (the oldest goes).
pub struct Cache {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<String, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Cache {
    pub fn new(ttl: Duration, max: usize) -> Cache {
        Cache { ttl, max, entries: Mutex::new(HashMap::new()), hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    fn get(&self, key: &str) -> Option<Arc<Zeroizing<Vec<u8>>>> {
        let mut m = self.entries.lock().ok()?;
        let found = m.get(key).map(|(at, v)| (at.elapsed() < self.ttl, v.clone()));
        match found {
            Some((true, v)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(v)
            }
            Some((false, _)) => {
                m.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: String, value: Arc<Zeroizing<Vec<u8>>>) {
        let Ok(mut m) = self.entries.lock() else { return };
        if m.len() >= self.max && !m.contains_key(&key) {
            let ttl = self.ttl;
            m.retain(|_, (at, _)| at.elapsed() < ttl);
            if m.len() >= self.max {
                if let Some(oldest) = m.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) {
                    m.remove(&oldest);
                }
            }
        }
        m.insert(key, (Instant::now(), value));
    }

    fn stats(&self) -> Value {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        let entries = self.entries.lock().map(|m| m.len()).unwrap_or(0);
        let rate = if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 };
        json!({"hits": hits, "misses": misses, "hitRate": rate, "entries": entries,
               "maxEntries": self.max, "ttlSeconds": self.ttl.as_secs_f64()})
    }
}

struct Endpoint {
    client: Arc<AwsClient>,
    token: Zeroizing<String>,
    cache: Cache,
}

type Resp = hyper::Response<Full<Bytes>>;

fn respond(status: u16, content_type: &'static str, body: Vec<u8>) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    r
}

fn error(status: u16, code: &str, message: &str) -> Resp {
    respond(status, "application/json", json!({"__type": code, "message": message}).to_string().into_bytes())
}

/// Decodes a query string (`%XX`; `+` stays `+`, as secret names may hold it).
fn query(q: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(pct_decode(k)?, pct_decode(v)?);
    }
    Ok(out)
}

fn pct_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("a malformed %-escape in the query")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the query is not UTF-8".to_string())
}

impl Endpoint {
    fn token_ok(&self, req: &hyper::Request<hyper::body::Incoming>) -> Result<(), Box<Resp>> {
        let Some(given) = req.headers().get(TOKEN_HEADER) else {
            return Err(Box::new(error(
                401,
                "UnauthorizedException",
                "The X-Aws-Parameters-Secrets-Token header is missing.",
            )));
        };
        let ok = aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), self.token.as_bytes()).is_ok();
        if !ok {
            return Err(Box::new(error(
                403,
                "ForbiddenException",
                "The X-Aws-Parameters-Secrets-Token header is not valid.",
            )));
        }
        Ok(())
    }

    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<Resp, std::convert::Infallible> {
        if req.method() != hyper::Method::GET {
            return Ok(error(405, "MethodNotAllowed", "Only GET is served."));
        }
        let path = req.uri().path().to_string();
        if path == "/ping" {
            return Ok(respond(200, "text/plain", b"healthy".to_vec()));
        }
        if req.headers().contains_key("x-forwarded-for") {
            return Ok(error(400, "BadRequest", "Requests with X-Forwarded-For are refused."));
        }
        if let Err(r) = self.token_ok(&req) {
            return Ok(*r);
        }
        let q = match query(req.uri().query().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => return Ok(error(400, "BadRequest", &e)),
        };
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
        let (service, op, body) = match path.as_str() {
            "/stats" => return Ok(respond(200, "application/json", self.cache.stats().to_string().into_bytes())),
            "/secretsmanager/get" => {
                let Some(id) = get("secretId") else {
                    return Ok(error(400, "BadRequest", "The secretId query parameter is required."));
                };
                let mut b = json!({"SecretId": id});
                if let Some(v) = get("versionId") {
                    b["VersionId"] = json!(v);
                }
                if let Some(s) = get("versionStage") {
                    b["VersionStage"] = json!(s);
                }
                (Service::SecretsManager, "GetSecretValue", b)
            }
            "/systemsmanager/parameters/get" => {
                let Some(mut name) = get("name") else {
                    return Ok(error(400, "BadRequest", "The name query parameter is required."));
                };
                if let Some(v) = get("version").or_else(|| get("label")) {
                    name = format!("{name}:{v}");
                }
                let decrypt = match get("withDecryption").as_deref() {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(_) => return Ok(error(400, "BadRequest", "withDecryption must be true or false.")),
                };
                (Service::Ssm, "GetParameter", json!({"Name": name, "WithDecryption": decrypt}))
            }
            _ => return Ok(error(404, "NotFound", "No such path.")),
        };
        let key = format!("{op}\u{0}{body}");
        if let Some(hit) = self.cache.get(&key) {
            return Ok(respond(200, "application/json", hit.to_vec()));
        }
        self.cache.misses.fetch_add(1, Ordering::Relaxed);
        match self.client.call(service, op, &body).await {
            Ok(answer) => {
                let answer = Arc::new(answer);
                self.cache.put(key, answer.clone());
                Ok(respond(200, "application/json", answer.to_vec()))
            }
            Err(CallError { status, code, message }) => {
                let status = if status == 0 { 502 } else { status };
                Ok(error(status, &code, &message))
            }
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, endpoint: Arc<Endpoint>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("trent agent: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ep = endpoint.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| ep.clone().handle(req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            let _ = conn.await;
        });
    }
}

pub fn run(a: AgentArgs) -> Result<(), String> {
    let config = load_config(&a.config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the I/O runtime: {e}"))?;
    rt.block_on(async move {
        let client = Arc::new(AwsClient::from_env(
            a.profile.as_deref(),
            a.region.as_deref(),
            a.endpoint_url.as_deref(),
            a.ca_bundle.as_deref(),
        )?);
        let mut states: Vec<TemplateState> = config.templates.iter().map(|_| TemplateState { last: None }).collect();
        if a.once {
            let failed = render_all(&client, &config.templates, &mut states).await;
            return if failed == 0 { Ok(()) } else { Err(format!("{failed} template(s) could not be rendered")) };
        }
        if let (Some(addr), Some(token)) = (&config.listener, &config.token) {
            let listener =
                tokio::net::TcpListener::bind(addr.as_str()).await.map_err(|e| format!("listening on {addr}: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            if !bound.ip().is_loopback() {
                eprintln!("trent agent: warning: the endpoint listens on {bound}, not a loopback address");
            }
            eprintln!("trent agent: listening on http://{bound}");
            let endpoint = Arc::new(Endpoint {
                client: client.clone(),
                token: token.clone(),
                cache: Cache::new(config.cache_ttl, config.cache_max),
            });
            tokio::spawn(serve(listener, endpoint));
        }
        let mut tick = tokio::time::interval(config.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    render_all(&client, &config.templates, &mut states).await;
                }
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = terminate() => return Ok(()),
            }
        }
    })
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_modes_parse() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        for bad in ["", "s", "10", "1d", "0s", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_mode("0640").unwrap(), 0o640);
        assert_eq!(parse_mode("600").unwrap(), 0o600);
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("rw").is_err());
    }

    #[test]
    fn config_reads_the_documented_keys_and_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.tpl"), "url={{resolve:ssm:/app/url}}\n").unwrap();
        std::fs::write(dir.path().join("token"), "  s3cret \n").unwrap();
        let cfg = dir.path().join("agent.toml");
        std::fs::write(
            &cfg,
            "poll_interval = \"1s\"\ntoken_file = \"token\"\n[listener]\n[cache]\nttl = \"2s\"\nmax_entries = 5\n\
             [[template]]\nsource = \"app.tpl\"\ndestination = \"out/app.conf\"\nmode = \"0640\"\ncommand = [\"/bin/true\", \"x\"]\n",
        )
        .unwrap();
        let c = load_config(&cfg).unwrap();
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        assert_eq!(c.token.as_deref().map(|t| t.as_str()), Some("s3cret"));
        assert_eq!(c.listener.as_deref(), Some(DEFAULT_ADDRESS));
        assert_eq!((c.cache_ttl, c.cache_max), (Duration::from_secs(2), 5));
        assert_eq!(c.templates[0].mode, 0o640);
        assert_eq!(c.templates[0].command, ["/bin/true", "x"]);
        assert_eq!(c.templates[0].destination, dir.path().join("out/app.conf"));
        std::fs::write(&cfg, "pol_interval = \"1s\"\n").unwrap();
        assert!(load_config(&cfg).is_err(), "an unknown key is refused");
        std::fs::write(&cfg, "[listener]\naddress = \"127.0.0.1:0\"\n").unwrap();
        if std::env::var_os("AWS_TOKEN").is_none() {
            assert!(load_config(&cfg).unwrap_err().contains("token"));
        }
    }

    #[test]
    fn atomic_writes_replace_the_file_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        write_atomic(&dest, b"one", 0o640).unwrap();
        write_atomic(&dest, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn cache_expires_counts_and_stays_bounded() {
        let c = Cache::new(Duration::from_millis(200), 2);
        c.put("a".into(), Arc::new(Zeroizing::new(b"1".to_vec())));
        assert!(c.get("a").is_some());
        c.put("b".into(), Arc::new(Zeroizing::new(b"2".to_vec())));
        c.put("c".into(), Arc::new(Zeroizing::new(b"3".to_vec())));
        assert_eq!(c.entries.lock().unwrap().len(), 2);
        assert!(c.get("a").is_none(), "the oldest went");
        std::thread::sleep(Duration::from_millis(250));
        assert!(c.get("c").is_none(), "expired");
        assert_eq!(c.stats()["hits"], 1);
    }

    #[test]
    fn queries_decode() {
        let q = query("secretId=arn%3Aaws%3Asecretsmanager%3Ax&versionStage=AWSCURRENT&n=a+b").unwrap();
        assert_eq!(q["secretId"], "arn:aws:secretsmanager:x");
        assert_eq!(q["n"], "a+b");
        assert!(query("a=%zz").is_err());
    }
}
