//! Root-key protection: where the root key comes from at start (`--seal`, docs/SEAL.md).
//!
//! * `file` (default): `<data-dir>/root.key`, `TRENT_ROOT_KEY` or `TRENT_ROOT_KEY_FILE`
//!   ([`crate::bootstrap::root_key`]), unchanged.
//! * `shamir:N/K`: on a new store the root key is generated, split with Shamir's secret sharing
//!   over GF(256) (the `blahaj` crate) into N shares of which any K rebuild it, the shares are
//!   printed once and the key itself is never written. Every later start comes up sealed
//!   ([`Gate`]): `/health` 200, `/ready` 503, AWS requests 503, until K shares are submitted to
//!   `POST /_trent/unseal`. `POST /_trent/seal` (the account's root credentials) seals again.
//! * `kms:KEY_ARN`: the root key is stored in the store encrypted under a key of an
//!   AWS-compatible KMS ([`crate::seal_kms`]) and decrypted at every start.
//!
//! What is stored (table `meta`, key `seal`, JSON): `{"type":"shamir","n","k","deployment"}` or
//! `{"type":"kms","key_arn","wrapped"}`; no record means `file`.

use crate::config::Config;
use crate::App;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use trent_crypto::{RootKey, SecretBytes};
use trent_store::Store;
use trent_wire::{AwsError, ErrorBody};
use zeroize::Zeroizing;

pub const META: &str = "meta";
/// The seal record's key in `meta`.
pub const SEAL_KEY: &str = "seal";
const ROOT_CHECK: &str = "root_check";
/// Most shares a split may have (the issue's bound; GF(256) would allow 255).
pub const MAX_SHARES: u8 = 16;
/// The KMS encryption context bound to the wrapped root key.
pub const KMS_CONTEXT: (&str, &str) = ("trent-purpose", "root-key");

/// What `--seal` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealSpec {
    File,
    Shamir { n: u8, k: u8 },
    Kms { key_arn: String },
    Pkcs11(crate::seal_pkcs11::Pkcs11Spec),
}

impl SealSpec {
    pub fn parse(s: &str) -> Result<SealSpec, String> {
        let s = s.trim();
        if s == "file" {
            return Ok(SealSpec::File);
        }
        if let Some(rest) = s.strip_prefix("shamir:") {
            let bad = || format!("--seal {s:?}: write shamir:N/K with 2 <= K <= N <= {MAX_SHARES}, e.g. shamir:5/3");
            let (n, k) = rest.split_once('/').ok_or_else(bad)?;
            let n: u8 = n.trim().parse().map_err(|_| bad())?;
            let k: u8 = k.trim().parse().map_err(|_| bad())?;
            if k < 2 || k > n || n > MAX_SHARES {
                return Err(bad());
            }
            return Ok(SealSpec::Shamir { n, k });
        }
        if let Some(arn) = s.strip_prefix("kms:") {
            kms_key_region(arn)?;
            return Ok(SealSpec::Kms { key_arn: arn.to_string() });
        }
        if let Some(rest) = s.strip_prefix("pkcs11:") {
            return crate::seal_pkcs11::Pkcs11Spec::parse(rest).map(SealSpec::Pkcs11);
        }
        Err(format!(
            "--seal {s:?}: use file, shamir:N/K (e.g. shamir:5/3), kms:KEY_ARN or pkcs11:MODULE_PATH:TOKEN_LABEL:KEY_LABEL"
        ))
    }

    fn describe(&self) -> String {
        match self {
            SealSpec::File => "file".into(),
            SealSpec::Shamir { n, k } => format!("shamir:{n}/{k}"),
            SealSpec::Kms { key_arn } => format!("kms:{key_arn}"),
            SealSpec::Pkcs11(p) => p.describe(),
        }
    }
}

/// clap's check of `--seal` (the value stays text in [`Config`]).
pub fn parse_seal_flag(s: &str) -> Result<String, String> {
    SealSpec::parse(s).map(|_| s.trim().to_string())
}

/// The region of a KMS key ARN or alias ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`).
pub fn kms_key_region(arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "kms"
        && trent_wire::sigv4::valid_region(parts[3])
        && !parts[4].is_empty()
        && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"))
        && parts[5].len() > 4;
    if !ok {
        return Err(format!(
            "--seal kms:{arn:?}: name the KMS key by its ARN, arn:aws:kms:REGION:ACCOUNT:key/KEY_ID (or an alias ARN)"
        ));
    }
    Ok(parts[3].to_string())
}

/// The seal a store was created with, kept in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SealRecord {
    Shamir {
        n: u8,
        k: u8,
        /// 8 random bytes (hex) that every share of this deployment carries.
        deployment: String,
    },
    Kms {
        key_arn: String,
        /// The KMS ciphertext blob of the root key (base64).
        wrapped: String,
    },
    Pkcs11 {
        /// The module the store was created with (the flag's is used: a module may move).
        module: String,
        token: String,
        key_label: String,
        /// iv || AES-GCM(root key) || tag, done by the token (base64).
        wrapped: String,
    },
}

impl SealRecord {
    fn describe(&self) -> String {
        match self {
            SealRecord::Shamir { n, k, .. } => format!("shamir:{n}/{k}"),
            SealRecord::Kms { key_arn, .. } => format!("kms:{key_arn}"),
            SealRecord::Pkcs11 { module, token, key_label, .. } => format!("pkcs11:{module}:{token}:{key_label}"),
        }
    }
}

/// Reads the store's seal record (`None`: the store uses `--seal file`, or is new).
pub fn read_record(store: &dyn Store) -> Result<Option<SealRecord>, String> {
    let raw = store.read().and_then(|mut t| t.get(META, SEAL_KEY)).map_err(|e| e.to_string())?;
    raw.map(|r| serde_json::from_slice(&r).map_err(|e| format!("the store's seal record is unreadable: {e}")))
        .transpose()
}

fn read_check(store: &dyn Store) -> Result<Option<Vec<u8>>, String> {
    store.read().and_then(|mut t| t.get(META, ROOT_CHECK)).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Shares
// ---------------------------------------------------------------------------------------------

const SHARE_PREFIX: &str = "trent-share-";
const SHARE_VERSION: u8 = 1;
const SECRET_LEN: usize = 32;
/// version, deployment (8), n, k, x, y (32), checksum (4).
const SHARE_LEN: usize = 1 + 8 + 1 + 1 + 1 + SECRET_LEN + 4;

/// One decoded share: which deployment and split it belongs to, its index (x) and its value.
pub struct Share {
    pub deployment: [u8; 8],
    pub n: u8,
    pub k: u8,
    pub index: u8,
    value: Zeroizing<Vec<u8>>,
}

/// Why a share text was refused. The messages never say which byte was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareError {
    /// Not a share, or its checksum does not match (corrupted or mistyped).
    Malformed,
}

fn checksum(body: &[u8]) -> [u8; 4] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let mut out = [0u8; 4];
    out.copy_from_slice(&d.as_ref()[..4]);
    out
}

fn encode_share(deployment: &[u8; 8], n: u8, k: u8, index: u8, value: &[u8]) -> Zeroizing<String> {
    let mut b = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
    b.push(SHARE_VERSION);
    b.extend_from_slice(deployment);
    b.extend_from_slice(&[n, k, index]);
    b.extend_from_slice(value);
    let sum = checksum(&b);
    b.extend_from_slice(&sum);
    Zeroizing::new(format!("{SHARE_PREFIX}{}", Zeroizing::new(hex::encode(&*b)).as_str()))
}

/// Decodes a share as printed (surrounding white space ignored).
pub fn decode_share(text: &str) -> Result<Share, ShareError> {
    let hex_part = text.trim().strip_prefix(SHARE_PREFIX).ok_or(ShareError::Malformed)?;
    if hex_part.len() != SHARE_LEN * 2 {
        return Err(ShareError::Malformed);
    }
    let b = Zeroizing::new(hex::decode(hex_part).map_err(|_| ShareError::Malformed)?);
    let (body, sum) = b.split_at(SHARE_LEN - 4);
    let expected = checksum(body);
    if !trent_crypto::SecretBytes::from_slice(sum).ct_eq(&expected) || body[0] != SHARE_VERSION {
        return Err(ShareError::Malformed);
    }
    let mut deployment = [0u8; 8];
    deployment.copy_from_slice(&body[1..9]);
    let (n, k, index) = (body[9], body[10], body[11]);
    if k < 2 || k > n || n > MAX_SHARES || index == 0 || index > n {
        return Err(ShareError::Malformed);
    }
    Ok(Share { deployment, n, k, index, value: Zeroizing::new(body[12..].to_vec()) })
}

/// Splits a 32-byte secret into `n` shares, any `k` of which rebuild it.
pub fn split(secret: &SecretBytes, n: u8, k: u8, deployment: &[u8; 8]) -> Result<Vec<Zeroizing<String>>, String> {
    if secret.len() != SECRET_LEN || k < 2 || k > n || n > MAX_SHARES {
        return Err("cannot split: bad parameters".into());
    }
    let dealer = blahaj::Sharks(k).dealer(secret.expose());
    let mut out = Vec::with_capacity(n as usize);
    for share in dealer.take(n as usize) {
        let bytes = Zeroizing::new(Vec::from(&share));
        // blahaj's share bytes: x, then one y per secret byte; x runs 1, 2, … n.
        out.push(encode_share(deployment, n, k, bytes[0], &bytes[1..]));
    }
    Ok(out)
}

/// Rebuilds the secret from `k` or more distinct shares of one split.
pub fn combine(shares: &[&Share]) -> Result<SecretBytes, String> {
    let k = shares.first().map(|s| s.k).ok_or("no shares")?;
    let mut parts = Vec::with_capacity(shares.len());
    for s in shares {
        let mut bytes = Zeroizing::new(Vec::with_capacity(1 + s.value.len()));
        bytes.push(s.index);
        bytes.extend_from_slice(&s.value);
        parts.push(blahaj::Share::try_from(bytes.as_slice()).map_err(|_| "bad share".to_string())?);
    }
    blahaj::Sharks(k).recover(parts.iter()).map(SecretBytes::new).map_err(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

/// What a start found: the root key, or a store sealed with Shamir shares.
pub enum Opened {
    Open(Arc<RootKey>),
    Sealed(ShamirSeal),
}

/// A Shamir seal's parameters, from the store's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShamirSeal {
    pub n: u8,
    pub k: u8,
    pub deployment: [u8; 8],
}

fn parse_deployment(hex_id: &str) -> Result<[u8; 8], String> {
    let v = hex::decode(hex_id).map_err(|_| "the store's seal record has a bad deployment id".to_string())?;
    v.try_into().map_err(|_| "the store's seal record has a bad deployment id".to_string())
}

fn refuse_root_key_env(spec: &SealSpec) -> Result<(), String> {
    for var in ["TRENT_ROOT_KEY", "TRENT_ROOT_KEY_FILE"] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            return Err(format!(
                "{var} is set, but --seal {} keeps the root key elsewhere; unset {var} (it is only for --seal file)",
                spec.describe()
            ));
        }
    }
    Ok(())
}

/// Finds the root key the way `--seal` says, creating it on a new store.
pub fn open_root(config: &Config, store: &dyn Store) -> Result<Opened, String> {
    let spec = SealSpec::parse(&config.seal)?;
    let record = read_record(store)?;
    let check = read_check(store)?;
    if spec != SealSpec::File {
        refuse_root_key_env(&spec)?;
    }
    match (&spec, record) {
        (SealSpec::File, None) => Ok(Opened::Open(Arc::new(crate::bootstrap::root_key(&config.data_dir, store)?))),
        (_, Some(r)) if !record_matches(&spec, &r) => Err(format!(
            "this store is sealed with {}, not --seal {}; start trentd with --seal {} (or change it offline with \
             `trentd admin migrate-seal --to SEAL`)",
            r.describe(),
            spec.describe(),
            r.describe()
        )),
        (SealSpec::Shamir { .. }, Some(SealRecord::Shamir { n, k, deployment })) => {
            Ok(Opened::Sealed(ShamirSeal { n, k, deployment: parse_deployment(&deployment)? }))
        }
        (SealSpec::Kms { .. }, Some(SealRecord::Kms { key_arn, wrapped })) => {
            let blob =
                STANDARD.decode(wrapped).map_err(|_| "the store's wrapped root key is not base64".to_string())?;
            let bytes = crate::seal_kms::decrypt(&key_arn, &blob)?;
            let key = RootKey::from_bytes(&bytes).map_err(|e| format!("the KMS returned a bad root key: {e}"))?;
            let check = check.ok_or("the store has a seal record but no root-key check value")?;
            key.verify_check_value(&check)
                .map_err(|_| "the root key the KMS decrypted does not match this store's check value".to_string())?;
            tracing::info!(key_arn = %key_arn, "root key decrypted by the KMS (auto-unseal)");
            Ok(Opened::Open(Arc::new(key)))
        }
        (SealSpec::Pkcs11(p), Some(SealRecord::Pkcs11 { wrapped, .. })) => {
            let blob =
                STANDARD.decode(wrapped).map_err(|_| "the store's wrapped root key is not base64".to_string())?;
            let bytes = crate::seal_pkcs11::unwrap(p, &blob)?;
            let key = RootKey::from_bytes(&bytes).map_err(|e| format!("the token returned a bad root key: {e}"))?;
            let check = check.ok_or("the store has a seal record but no root-key check value")?;
            key.verify_check_value(&check)
                .map_err(|_| "the root key the token unwrapped does not match this store's check value".to_string())?;
            tracing::info!(token = %p.token, key_label = %p.key_label, "root key unwrapped by the PKCS#11 token (auto-unseal)");
            Ok(Opened::Open(Arc::new(key)))
        }
        (_, Some(_)) => Err("the store's seal record does not match --seal".into()),
        (_, None) if check.is_some() => Err(format!(
            "this store was created with --seal file (its root key is root.key or TRENT_ROOT_KEY); start trentd \
             without --seal, or move it to --seal {} offline with `trentd admin migrate-seal --to {}`",
            spec.describe(),
            spec.describe()
        )),
        (SealSpec::Shamir { n, k }, None) => init_shamir(store, *n, *k).map(Opened::Open),
        (SealSpec::Kms { key_arn }, None) => init_kms(store, key_arn).map(Opened::Open),
        (SealSpec::Pkcs11(p), None) => init_pkcs11(store, p).map(Opened::Open),
    }
}

fn record_matches(spec: &SealSpec, r: &SealRecord) -> bool {
    match (spec, r) {
        (SealSpec::Shamir { n, k }, SealRecord::Shamir { n: n2, k: k2, .. }) => n == n2 && k == k2,
        (SealSpec::Kms { key_arn }, SealRecord::Kms { key_arn: a2, .. }) => key_arn == a2,
        (SealSpec::Pkcs11(p), SealRecord::Pkcs11 { token, key_label, .. }) => {
            &p.token == token && &p.key_label == key_label
        }
        _ => false,
    }
}

/// Writes the check value and the seal record of a new store, or fails if another node did.
fn write_new(store: &dyn Store, key: &RootKey, record: &SealRecord) -> Result<(), String> {
    let check = key.check_value().map_err(|e| e.to_string())?;
    let rec = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    let mut t = store.write().map_err(|e| e.to_string())?;
    let fresh = t.insert_new(META, ROOT_CHECK, &check).map_err(|e| e.to_string())?
        && t.insert_new(META, SEAL_KEY, &rec).map_err(|e| e.to_string())?;
    if !fresh {
        return Err("another trentd initialised this store at the same moment; start this one again".into());
    }
    t.commit().map_err(|e| e.to_string())
}

/// A new store under `shamir:N/K`: a root key split into shares, printed once, never written.
fn init_shamir(store: &dyn Store, n: u8, k: u8) -> Result<Arc<RootKey>, String> {
    let (key, bytes) = RootKey::generate().map_err(|e| e.to_string())?;
    let mut deployment = [0u8; 8];
    trent_crypto::fill_random(&mut deployment).map_err(|e| e.to_string())?;
    let shares = split(&bytes, n, k, &deployment)?;
    drop(bytes);
    write_new(store, &key, &SealRecord::Shamir { n, k, deployment: hex::encode(deployment) })?;
    // Printed once, to stdout only (never to the log).
    let mut text = Zeroizing::new(format!(
        "\nThe root key is split into {n} unseal shares; any {k} of them rebuild it. They are shown only this \
         once:\ngive each to a different person and keep none of them on this host.\n\n"
    ));
    for (i, s) in shares.iter().enumerate() {
        text.push_str(&format!("  Unseal share {}: {}\n", i + 1, s.as_str()));
    }
    text.push_str(&format!(
        "\ntrentd runs unsealed now. Every later start comes up sealed: {k} share holders each run\n  \
         trent operator unseal --endpoint <this server's URL>\nand paste their share on its standard input.\n"
    ));
    print!("{}", text.as_str());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    tracing::info!(shares = n, threshold = k, "new store sealed with Shamir shares (printed once on stdout)");
    Ok(Arc::new(key))
}

/// A new store under `kms:KEY_ARN`: a root key encrypted by the KMS, stored in the store.
fn init_kms(store: &dyn Store, key_arn: &str) -> Result<Arc<RootKey>, String> {
    let (key, bytes) = RootKey::generate().map_err(|e| e.to_string())?;
    let blob = crate::seal_kms::encrypt(key_arn, &bytes)?;
    drop(bytes);
    write_new(store, &key, &SealRecord::Kms { key_arn: key_arn.to_string(), wrapped: STANDARD.encode(blob) })?;
    tracing::info!(key_arn, "new store: root key generated and encrypted by the KMS");
    Ok(Arc::new(key))
}

/// A new store under `pkcs11:…`: a root key wrapped by the token's AES key.
fn init_pkcs11(store: &dyn Store, p: &crate::seal_pkcs11::Pkcs11Spec) -> Result<Arc<RootKey>, String> {
    let (key, bytes) = RootKey::generate().map_err(|e| e.to_string())?;
    let blob = crate::seal_pkcs11::wrap(p, &bytes)?;
    drop(bytes);
    let record = SealRecord::Pkcs11 {
        module: p.module.clone(),
        token: p.token.clone(),
        key_label: p.key_label.clone(),
        wrapped: STANDARD.encode(blob),
    };
    write_new(store, &key, &record)?;
    tracing::info!(token = %p.token, key_label = %p.key_label, "new store: root key generated and wrapped by the PKCS#11 token");
    Ok(Arc::new(key))
}

// ---------------------------------------------------------------------------------------------
// Running: the gate in front of the request path (shamir)
// ---------------------------------------------------------------------------------------------

/// How trentd started: an app that is always unsealed, or one behind a [`Gate`].
pub enum Started {
    Plain(Arc<App>),
    Gated(Arc<Gate>),
}

impl Started {
    /// The app serving now (none while sealed).
    pub fn app(&self) -> Option<Arc<App>> {
        match self {
            Started::Plain(a) => Some(a.clone()),
            Started::Gated(g) => g.app(),
        }
    }

    pub fn router(&self) -> axum::Router {
        match self {
            Started::Plain(a) => crate::http::router(a.clone()),
            Started::Gated(g) => router(g.clone()),
        }
    }
}

/// Opens the store and the root key per `--seal`; builds the app unless the store is sealed.
pub fn start(config: Config) -> Result<Started, String> {
    let store = crate::open_store(&config)?;
    let gated = matches!(SealSpec::parse(&config.seal)?, SealSpec::Shamir { .. });
    match open_root(&config, &*store)? {
        Opened::Open(root) if !gated => Ok(Started::Plain(crate::build_with(config, store, root)?)),
        Opened::Open(root) => {
            let Some(SealRecord::Shamir { n, k, deployment }) = read_record(&*store)? else {
                return Err("the store's seal record is missing".into());
            };
            let seal = ShamirSeal { n, k, deployment: parse_deployment(&deployment)? };
            let app = crate::build_with(config.clone(), store.clone(), root)?;
            Ok(Started::Gated(Arc::new(Gate::new(config, store, seal, Some(app)))))
        }
        Opened::Sealed(seal) => {
            tracing::warn!(
                threshold = seal.k,
                "trentd is SEALED: submit {} unseal shares with `trent operator unseal --endpoint URL`",
                seal.k
            );
            Ok(Started::Gated(Arc::new(Gate::new(config, store, seal, None))))
        }
    }
}

/// The shares submitted so far, and the audit records waiting for the trail to open.
struct Pending {
    shares: BTreeMap<u8, Share>,
    events: Vec<Map<String, Value>>,
    dropped_events: u64,
}

/// Most audit records kept while sealed (the trail needs the root key to open).
const MAX_PENDING_EVENTS: usize = 1000;

/// A token bucket for the unseal endpoint (one for the whole server).
struct Bucket {
    tokens: f64,
    last: std::time::Instant,
}

/// Unseal submissions admitted per second, and the burst.
const UNSEAL_RATE: f64 = 5.0;
const UNSEAL_BURST: f64 = 20.0;

impl Bucket {
    fn take(&mut self, now: std::time::Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * UNSEAL_RATE).min(UNSEAL_BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Holds the app of a `shamir` store: absent while sealed.
pub struct Gate {
    config: Config,
    store: Arc<dyn Store>,
    seal: ShamirSeal,
    app: RwLock<Option<Arc<App>>>,
    pending: Mutex<Pending>,
    bucket: Mutex<Bucket>,
}

impl Gate {
    fn new(config: Config, store: Arc<dyn Store>, seal: ShamirSeal, app: Option<Arc<App>>) -> Gate {
        Gate {
            config,
            store,
            seal,
            app: RwLock::new(app),
            pending: Mutex::new(Pending { shares: BTreeMap::new(), events: Vec::new(), dropped_events: 0 }),
            bucket: Mutex::new(Bucket { tokens: UNSEAL_BURST, last: std::time::Instant::now() }),
        }
    }

    pub fn app(&self) -> Option<Arc<App>> {
        self.app.read().ok().and_then(|a| a.clone())
    }

    pub fn is_sealed(&self) -> bool {
        self.app().is_none()
    }

    fn progress(&self) -> String {
        let have = self.pending.lock().map(|p| p.shares.len()).unwrap_or(0);
        format!("{have}/{}", self.seal.k)
    }

    fn admit(&self) -> bool {
        self.bucket.lock().map(|mut b| b.take(std::time::Instant::now())).unwrap_or(false)
    }

    /// Records an audit event: into the trail when it is open, else kept until it opens.
    fn record(&self, event: Map<String, Value>) {
        if let Some(app) = self.app() {
            if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Event, &event) {
                tracing::error!(error = %e, "a seal event could not be written to the audit trail");
            }
            return;
        }
        if let Ok(mut p) = self.pending.lock() {
            if p.events.len() < MAX_PENDING_EVENTS {
                p.events.push(event);
            } else {
                p.dropped_events += 1;
            }
        }
    }

    /// Takes one share. Returns whether the server is still sealed, and the progress.
    pub fn submit(&self, text: &str, who: &Who) -> Result<(bool, String), UnsealError> {
        if !self.is_sealed() {
            return Ok((false, format!("{}/{}", self.seal.k, self.seal.k)));
        }
        let mut guard = self.pending.lock().map_err(|_| UnsealError::Internal)?;
        let pending: &mut Pending = &mut guard;
        // Another submission may have unsealed it while this one waited.
        if !self.is_sealed() {
            return Ok((false, format!("{}/{}", self.seal.k, self.seal.k)));
        }
        let refuse = |pending: &mut Pending, err: UnsealError, index: Option<u8>| {
            let progress = format!("{}/{}", pending.shares.len(), self.seal.k);
            tracing::warn!(reason = %err.message(), %progress, source_ip = %who.source_ip, "unseal share refused");
            let ev = event(
                "Unseal",
                who,
                None,
                json!({"outcome": "refused", "shareIndex": index, "progress": progress}),
                Some(&err),
            );
            push_event(pending, ev);
            Err(err)
        };
        let share = match decode_share(text) {
            Ok(s) => s,
            Err(ShareError::Malformed) => return refuse(pending, UnsealError::Malformed, None),
        };
        if share.deployment != self.seal.deployment || share.n != self.seal.n || share.k != self.seal.k {
            return refuse(pending, UnsealError::Foreign, None);
        }
        if pending.shares.contains_key(&share.index) {
            return refuse(pending, UnsealError::Duplicate, Some(share.index));
        }
        let index = share.index;
        pending.shares.insert(index, share);
        let progress = format!("{}/{}", pending.shares.len(), self.seal.k);
        tracing::info!(share_index = index, %progress, source_ip = %who.source_ip, "unseal share accepted");
        push_event(
            pending,
            event("Unseal", who, None, json!({"outcome": "accepted", "shareIndex": index, "progress": progress}), None),
        );
        if pending.shares.len() < self.seal.k as usize {
            return Ok((true, progress));
        }
        // K shares: rebuild, check against the store, and open everything.
        let shares: Vec<&Share> = pending.shares.values().collect();
        let root = combine(&shares).ok().and_then(|b| RootKey::from_bytes(&b).ok());
        let check = read_check(&*self.store).map_err(|_| UnsealError::Internal)?.unwrap_or_default();
        let Some(root) = root.filter(|r| r.verify_check_value(&check).is_ok()) else {
            pending.shares.clear();
            return refuse(pending, UnsealError::NoMatch, None);
        };
        pending.shares.clear();
        let app = match crate::build_with(self.config.clone(), self.store.clone(), Arc::new(root)) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "the root key was rebuilt but trentd could not open its store and trail");
                return Err(UnsealError::Internal);
            }
        };
        let mut events = std::mem::take(&mut pending.events);
        if pending.dropped_events > 0 {
            let mut m = event("Unseal", who, None, json!({"outcome": "records-dropped"}), None);
            m.insert("droppedRecords".into(), json!(pending.dropped_events));
            events.push(m);
            pending.dropped_events = 0;
        }
        events.push(event("Unseal", who, None, json!({"outcome": "unsealed"}), None));
        for ev in &events {
            if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Event, ev) {
                tracing::error!(error = %e, "a seal event could not be written to the audit trail");
            }
        }
        crate::spawn_scheduler(app.clone());
        if let Ok(mut slot) = self.app.write() {
            *slot = Some(app);
        }
        tracing::info!("trentd is UNSEALED");
        Ok((false, format!("{}/{}", self.seal.k, self.seal.k)))
    }

    /// Seals a running server: the app (and with it the root key) is dropped once the requests
    /// in flight finish; background jobs stop; the trail is closed after recording the seal.
    pub fn seal(&self, who: &Who, identity: Value) -> Result<(), UnsealError> {
        let _pending = self.pending.lock().map_err(|_| UnsealError::Internal)?;
        let app = match self.app.write() {
            Ok(mut slot) => slot.take(),
            Err(_) => return Err(UnsealError::Internal),
        };
        let Some(app) = app else { return Ok(()) };
        app.sealed.store(true, std::sync::atomic::Ordering::SeqCst);
        let ev = event("Seal", who, Some(identity), json!({"outcome": "sealed"}), None);
        if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Event, &ev) {
            tracing::error!(error = %e, "the seal event could not be written to the audit trail");
        }
        app.audit.close();
        if let Err(e) = crate::nodes::leave(&*app.store, &app.node_id) {
            tracing::warn!(error = %e, "could not remove this node's heartbeat");
        }
        tracing::warn!("trentd is SEALED (by an operator); submit unseal shares to open it again");
        Ok(())
    }
}

fn push_event(p: &mut Pending, ev: Map<String, Value>) {
    if p.events.len() < MAX_PENDING_EVENTS {
        p.events.push(ev);
    } else {
        p.dropped_events += 1;
    }
}

/// Who submitted a share or sealed: for the audit trail and the log.
pub struct Who {
    pub source_ip: String,
    pub user_agent: String,
    pub request_id: String,
    pub account: String,
}

fn event(
    name: &str,
    who: &Who,
    identity: Option<Value>,
    data: Value,
    error: Option<&UnsealError>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("eventVersion".into(), json!("1.08"));
    m.insert("userIdentity".into(), identity.unwrap_or_else(|| json!({"type": "Unknown"})));
    m.insert("eventTime".into(), json!(crate::audit::rfc3339(time::OffsetDateTime::now_utc())));
    m.insert("eventSource".into(), json!("trentd"));
    m.insert("eventName".into(), json!(name));
    m.insert("eventType".into(), json!("TrentSeal"));
    m.insert("awsRegion".into(), json!("us-east-1"));
    m.insert("sourceIPAddress".into(), json!(who.source_ip));
    m.insert("userAgent".into(), json!(who.user_agent));
    if let Some(e) = error {
        m.insert("errorCode".into(), json!(e.code()));
        m.insert("errorMessage".into(), json!(e.message()));
    }
    m.insert("requestID".into(), json!(who.request_id));
    m.insert("eventID".into(), json!(crate::http::uuid_v4()));
    m.insert("readOnly".into(), json!(false));
    m.insert("additionalEventData".into(), data);
    m.insert("recipientAccountId".into(), json!(who.account));
    m
}

/// Why an unseal (or seal) request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsealError {
    Malformed,
    Foreign,
    Duplicate,
    NoMatch,
    Throttled,
    BadRequest(&'static str),
    NotAdmin,
    Auth(String, &'static str, u16),
    Internal,
}

impl AwsError for UnsealError {
    fn code(&self) -> &'static str {
        match self {
            UnsealError::Malformed | UnsealError::Foreign | UnsealError::Duplicate | UnsealError::NoMatch => {
                "InvalidUnsealShareException"
            }
            UnsealError::Throttled => "ThrottlingException",
            UnsealError::BadRequest(_) => "ValidationException",
            UnsealError::NotAdmin => "AccessDeniedException",
            UnsealError::Auth(_, code, _) => code,
            UnsealError::Internal => "InternalFailure",
        }
    }
    fn message(&self) -> String {
        match self {
            UnsealError::Malformed => {
                "The unseal share is malformed or corrupted (its checksum does not match).".into()
            }
            UnsealError::Foreign => "The unseal share belongs to another trentd deployment or split.".into(),
            UnsealError::Duplicate => "This unseal share was already submitted; a different share is needed.".into(),
            UnsealError::NoMatch => {
                "The submitted shares do not rebuild this server's root key; unseal progress was reset.".into()
            }
            UnsealError::Throttled => "Too many unseal attempts; slow down.".into(),
            UnsealError::BadRequest(m) => (*m).into(),
            UnsealError::NotAdmin => "Only the account's root (admin) credentials may seal trentd.".into(),
            UnsealError::Auth(m, _, _) => m.clone(),
            UnsealError::Internal => "An internal error occurred. Try again later.".into(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            UnsealError::Throttled => 429,
            UnsealError::NotAdmin => 403,
            UnsealError::Auth(_, _, s) => *s,
            UnsealError::Internal => 500,
            _ => 400,
        }
    }
}

/// What every AWS request gets while sealed.
struct Sealed;

impl AwsError for Sealed {
    fn code(&self) -> &'static str {
        "ServiceUnavailableException"
    }
    fn message(&self) -> String {
        "trentd is sealed: it cannot serve requests until operators unseal it (trent operator unseal).".into()
    }
    fn status(&self) -> u16 {
        503
    }
}

pub fn router(gate: Arc<Gate>) -> axum::Router {
    axum::Router::new().fallback(gated).with_state(gate)
}

fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: Option<&str>,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
    if let Some(v) = request_id.and_then(|r| HeaderValue::from_str(r).ok()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

fn error(err: &UnsealError, request_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, "application/x-amz-json-1.1", ErrorBody::json_of(err), Some(request_id))
}

fn who(req: &Request<Body>, request_id: &str, account: &str) -> Who {
    let source_ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|u| u.chars().take(1024).collect())
        .unwrap_or_default();
    Who { source_ip, user_agent, request_id: request_id.to_string(), account: account.to_string() }
}

/// Largest body the seal endpoints read.
const MAX_SEAL_BODY: usize = 8 * 1024;

async fn gated(axum::extract::State(gate): axum::extract::State<Arc<Gate>>, req: Request<Body>) -> Response<Body> {
    let route = format!("{} {}", req.method(), req.uri().path());
    match route.as_str() {
        "POST /_trent/unseal" => return unseal(gate, req).await,
        "POST /_trent/seal" => return seal(gate, req).await,
        "GET /_trent/seal-status" => {
            let body = json!({"sealed": gate.is_sealed(), "progress": gate.progress(), "threshold": gate.seal.k, "shares": gate.seal.n});
            return json_response(StatusCode::OK, "application/json", body.to_string().into_bytes(), None);
        }
        _ => {}
    }
    if let Some(app) = gate.app() {
        return crate::http::handle(axum::extract::State(app), req).await;
    }
    match route.as_str() {
        "GET /health" => {
            json_response(StatusCode::OK, "application/json", br#"{"status":"ok","sealed":true}"#.to_vec(), None)
        }
        "GET /ready" => {
            let body = json!({"status": "sealed", "sealed": true, "progress": gate.progress()});
            json_response(StatusCode::SERVICE_UNAVAILABLE, "application/json", body.to_string().into_bytes(), None)
        }
        "GET /metrics" => json_response(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            b"# HELP trent_sealed 1 while trentd is sealed.\n# TYPE trent_sealed gauge\ntrent_sealed 1\n".to_vec(),
            None,
        ),
        _ => {
            let request_id = crate::http::uuid_v4();
            if let Some(ns) = crate::http::query_xmlns(req.headers()) {
                let body = trent_wire::query::error_response(&Sealed, Some(ns), &request_id);
                let mut r = json_response(StatusCode::SERVICE_UNAVAILABLE, trent_wire::query::CONTENT_TYPE, body, None);
                if let Ok(v) = HeaderValue::from_str(&request_id) {
                    r.headers_mut().insert("x-amzn-requestid", v);
                }
                return r;
            }
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "application/x-amz-json-1.1",
                ErrorBody::json_of(&Sealed),
                Some(&request_id),
            )
        }
    }
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, UnsealError> {
    axum::body::to_bytes(body, MAX_SEAL_BODY)
        .await
        .map_err(|_| UnsealError::BadRequest("The request body is too large."))
}

/// `POST /_trent/unseal` `{"share": "trent-share-…"}`: no credentials (the share is one).
async fn unseal(gate: Arc<Gate>, req: Request<Body>) -> Response<Body> {
    let request_id = crate::http::uuid_v4();
    let who = who(&req, &request_id, &gate.config.account_id);
    if !gate.admit() {
        tracing::warn!(source_ip = %who.source_ip, "unseal attempt throttled");
        return error(&UnsealError::Throttled, &request_id);
    }
    let body = match read_body(req.into_body()).await {
        Ok(b) => Zeroizing::new(b.to_vec()),
        Err(e) => return error(&e, &request_id),
    };
    #[derive(Deserialize)]
    struct Submit {
        share: String,
    }
    let Ok(submit) = serde_json::from_slice::<Submit>(&body) else {
        return error(
            &UnsealError::BadRequest("The body must be JSON: {\"share\": \"trent-share-...\"}."),
            &request_id,
        );
    };
    let share = Zeroizing::new(submit.share);
    let g = gate.clone();
    let done = tokio::task::spawn_blocking(move || g.submit(&share, &who)).await;
    match done {
        Ok(Ok((sealed, progress))) => {
            let body = json!({"sealed": sealed, "progress": progress});
            json_response(StatusCode::OK, "application/json", body.to_string().into_bytes(), Some(&request_id))
        }
        Ok(Err(e)) => error(&e, &request_id),
        Err(_) => error(&UnsealError::Internal, &request_id),
    }
}

/// `POST /_trent/seal`, signed (SigV4, service `kms`) with the account's root credentials.
async fn seal(gate: Arc<Gate>, req: Request<Body>) -> Response<Body> {
    let request_id = crate::http::uuid_v4();
    let Some(app) = gate.app() else {
        let body = json!({"sealed": true, "progress": gate.progress()});
        return json_response(StatusCode::OK, "application/json", body.to_string().into_bytes(), Some(&request_id));
    };
    let who = who(&req, &request_id, &gate.config.account_id);
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return error(&e, &request_id),
    };
    let g = gate.clone();
    let done = tokio::task::spawn_blocking(move || -> Result<(), UnsealError> {
        let rp = trent_wire::sigv4::RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
            body: &body,
        };
        let verified = app
            .verifier
            .verify(&rp, "kms", time::OffsetDateTime::now_utc(), &*app.identity)
            .map_err(|e| UnsealError::Auth(e.message(), e.code(), e.status()))?;
        let p = verified.principal();
        let identity = json!({
            "type": if p.kind == trent_policy::PrincipalKind::Root { "Root" } else { "IAMUser" },
            "arn": p.arn("aws"), "accountId": p.account_id, "accessKeyId": verified.access_key_id(),
        });
        if p.kind != trent_policy::PrincipalKind::Root || p.account_id != g.config.account_id {
            let ev = event("Seal", &who, Some(identity), json!({"outcome": "refused"}), Some(&UnsealError::NotAdmin));
            g.record(ev);
            return Err(UnsealError::NotAdmin);
        }
        drop(app);
        g.seal(&who, identity)
    })
    .await;
    match done {
        Ok(Ok(())) => {
            let body = json!({"sealed": true, "progress": gate.progress()});
            json_response(StatusCode::OK, "application/json", body.to_string().into_bytes(), Some(&request_id))
        }
        Ok(Err(e)) => error(&e, &request_id),
        Err(_) => error(&UnsealError::Internal, &request_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretBytes {
        SecretBytes::from_slice(&(0u8..32).collect::<Vec<_>>())
    }

    #[test]
    fn specs_parse_and_bad_ones_are_refused() {
        assert_eq!(SealSpec::parse("file").unwrap(), SealSpec::File);
        assert_eq!(SealSpec::parse("shamir:5/3").unwrap(), SealSpec::Shamir { n: 5, k: 3 });
        assert_eq!(SealSpec::parse("shamir:16/16").unwrap(), SealSpec::Shamir { n: 16, k: 16 });
        for bad in ["shamir:5/1", "shamir:3/5", "shamir:17/3", "shamir:5", "shamir:a/b", "vault", "kms:", "kms:key/1"] {
            assert!(SealSpec::parse(bad).is_err(), "{bad}");
        }
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(SealSpec::parse(&format!("kms:{arn}")).unwrap(), SealSpec::Kms { key_arn: arn.into() });
        assert_eq!(kms_key_region(arn).unwrap(), "us-east-1");
    }

    #[test]
    fn every_k_subset_rebuilds_and_fewer_do_not() {
        let dep = [7u8; 8];
        let texts = split(&key(), 5, 3, &dep).unwrap();
        let shares: Vec<Share> = texts.iter().map(|t| decode_share(t).unwrap()).collect();
        assert_eq!(shares.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        for a in 0..5 {
            for b in a + 1..5 {
                for c in b + 1..5 {
                    let got = combine(&[&shares[a], &shares[b], &shares[c]]).unwrap();
                    assert!(got.ct_eq(key().expose()), "{a}{b}{c}");
                }
                assert!(combine(&[&shares[a], &shares[b]]).is_err());
            }
        }
    }

    #[test]
    fn a_corrupted_share_is_refused_whatever_byte_changed() {
        let texts = split(&key(), 3, 2, &[1u8; 8]).unwrap();
        let t = texts[0].as_str();
        let prefix = SHARE_PREFIX.len();
        for i in prefix..t.len() {
            let mut b = t.as_bytes().to_vec();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let s = String::from_utf8(b).unwrap();
            assert_eq!(decode_share(&s).err(), Some(ShareError::Malformed), "byte {i}");
        }
        assert!(decode_share("").is_err() && decode_share("trent-share-zz").is_err());
        assert!(decode_share(&format!(" {t}\n")).is_ok());
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let t0 = std::time::Instant::now();
        let mut b = Bucket { tokens: UNSEAL_BURST, last: t0 };
        let admitted = (0..100).filter(|_| b.take(t0)).count();
        assert_eq!(admitted, UNSEAL_BURST as usize);
        assert!(b.take(t0 + std::time::Duration::from_millis(300)));
    }

    #[test]
    fn errors_say_nothing_of_the_share() {
        for e in [UnsealError::Malformed, UnsealError::Foreign, UnsealError::Duplicate, UnsealError::NoMatch] {
            assert_eq!((e.code(), e.status()), ("InvalidUnsealShareException", 400));
            assert!(!e.message().contains("trent-share-"));
        }
    }
}
