//! Workload identity: the key sets of OpenID Connect issuers for `AssumeRoleWithWebIdentity`
//! (trent-iam verifies tokens; this fetches and caches what it verifies them with).
//!
//! An issuer's key set is the document at the `jwks_uri` of
//! `<issuer>/.well-known/openid-configuration`, fetched over `https://` (Mozilla's roots,
//! the system bundle and `--oidc-ca-file`), or `http://` only when the issuer is a loopback
//! address (tests). It is cached for its `Cache-Control: max-age` (at least 1 minute, at most
//! 1 day; 1 hour when the issuer gives none), and fetched again when a token names a key id
//! the cached set lacks (at most once every 5 seconds per issuer, so tokens with invented
//! key ids cannot make trentd hammer the issuer).

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trent_iam::oidc::{Jwks, OidcKeys};

/// The largest discovery document or key set read.
const MAX_DOCUMENT: usize = 256 * 1024;
/// How long one fetch (connect, TLS, headers and body) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TTL: Duration = Duration::from_secs(3600);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(86_400);
/// The shortest time between two fetches of one issuer's keys forced by an unknown key id.
const MIN_REFRESH: Duration = Duration::from_secs(5);
/// The most issuers whose key sets are cached.
const MAX_ISSUERS: usize = 1000;

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

struct Cached {
    jwks: Arc<Jwks>,
    fetched: Instant,
    expires: Instant,
}

/// Fetches and caches issuers' key sets.
pub struct KeyFetcher {
    client: HttpClient,
    cache: Mutex<HashMap<String, Cached>>,
}

impl KeyFetcher {
    /// `ca_file`: `--oidc-ca-file`, CA certificates issuers' HTTPS certificates may also chain to.
    pub fn new(ca_file: Option<&Path>) -> Result<KeyFetcher, String> {
        let tls = crate::rotators::Trust::load(ca_file, "--oidc-ca-file")?.webhook_config()?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .build();
        Ok(KeyFetcher { client: Client::builder(TokioExecutor::new()).build(https), cache: Mutex::new(HashMap::new()) })
    }

    /// GET `url` (http only on loopback): the body and its cache lifetime.
    async fn get(&self, url: &str) -> Result<(Vec<u8>, Duration), String> {
        let uri: hyper::Uri = url.parse().map_err(|_| format!("{url} is not a URL"))?;
        let host = uri.host().ok_or_else(|| format!("{url} has no host"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if trent_iam::model::is_loopback_host(host) => {}
            _ => return Err(format!("{url}: only https:// is fetched (http:// only from a loopback address)")),
        }
        let req = hyper::Request::get(uri)
            .header("accept", "application/json")
            .header("user-agent", concat!("trentd/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let fetch = async {
            let resp = self.client.request(req).await.map_err(|e| format!("{url}: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("{url} answered HTTP {}", resp.status().as_u16()));
            }
            let ttl = max_age(resp.headers().get("cache-control").and_then(|v| v.to_str().ok()));
            let body = Limited::new(resp.into_body(), MAX_DOCUMENT)
                .collect()
                .await
                .map_err(|_| format!("{url}: the document is larger than {MAX_DOCUMENT} bytes or was cut off"))?;
            Ok((body.to_bytes().to_vec(), ttl))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch).await.map_err(|_| format!("{url} did not answer in time"))?
    }

    /// The discovery document, then the key set it names.
    async fn fetch(&self, issuer: &str) -> Result<(Jwks, Duration), String> {
        let (doc, _) = self.get(&format!("{issuer}/.well-known/openid-configuration")).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&doc).map_err(|_| "the discovery document is not JSON".to_string())?;
        if doc.get("issuer").and_then(|v| v.as_str()).map(|s| s.trim_end_matches('/')) != Some(issuer) {
            return Err("the discovery document names another issuer".into());
        }
        let jwks_uri = doc.get("jwks_uri").and_then(|v| v.as_str()).ok_or("the discovery document has no jwks_uri")?;
        if issuer.starts_with("https://") && !jwks_uri.starts_with("https://") {
            return Err("the jwks_uri of an https:// issuer must be https://".into());
        }
        let (keys, ttl) = self.get(jwks_uri).await?;
        Ok((Jwks::parse(&keys)?, ttl))
    }
}

/// The `max-age` of a Cache-Control header, clamped; the default without one.
fn max_age(cache_control: Option<&str>) -> Duration {
    let Some(cc) = cache_control else { return DEFAULT_TTL };
    if cc.split(',').any(|d| matches!(d.trim().to_ascii_lowercase().as_str(), "no-store" | "no-cache")) {
        return MIN_TTL;
    }
    cc.split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age=")?.trim_matches('"').parse::<u64>().ok())
        .next()
        .map(|s| Duration::from_secs(s).clamp(MIN_TTL, MAX_TTL))
        .unwrap_or(DEFAULT_TTL)
}

impl OidcKeys for KeyFetcher {
    fn jwks(&self, issuer: &str, refresh: bool) -> Result<Arc<Jwks>, String> {
        let now = Instant::now();
        {
            let cache = self.cache.lock().map_err(|_| "the key cache is unusable".to_string())?;
            if let Some(c) = cache.get(issuer) {
                let fresh = now < c.expires;
                let recently = now.duration_since(c.fetched) < MIN_REFRESH;
                if (fresh && !refresh) || recently {
                    return Ok(c.jwks.clone());
                }
            }
        }
        // Called from the blocking thread a request runs on, inside the runtime.
        let handle = tokio::runtime::Handle::try_current().map_err(|_| "no I/O runtime".to_string())?;
        let (jwks, ttl) = handle.block_on(self.fetch(issuer))?;
        let jwks = Arc::new(jwks);
        let mut cache = self.cache.lock().map_err(|_| "the key cache is unusable".to_string())?;
        if cache.len() >= MAX_ISSUERS && !cache.contains_key(issuer) {
            if let Some(oldest) = cache.iter().min_by_key(|(_, c)| c.fetched).map(|(k, _)| k.clone()) {
                cache.remove(&oldest);
            }
        }
        cache.insert(issuer.to_string(), Cached { jwks: jwks.clone(), fetched: now, expires: now + ttl });
        Ok(jwks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetime_comes_from_max_age_within_bounds() {
        assert_eq!(max_age(None), DEFAULT_TTL);
        assert_eq!(max_age(Some("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(max_age(Some("max-age=1")), MIN_TTL);
        assert_eq!(max_age(Some("max-age=99999999")), MAX_TTL);
        assert_eq!(max_age(Some("no-store")), MIN_TTL);
        assert_eq!(max_age(Some("private")), DEFAULT_TTL);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn plain_http_is_refused_unless_the_issuer_is_loopback() {
        let f = KeyFetcher::new(None).unwrap();
        let e = f.get("http://issuer.example.com/.well-known/openid-configuration").await.unwrap_err();
        assert!(e.contains("only https://"), "{e}");
        let e = f.get("ftp://127.0.0.1/x").await.unwrap_err();
        assert!(e.contains("only https://"), "{e}");
    }
}
