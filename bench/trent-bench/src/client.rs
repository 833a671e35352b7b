//! The client: hyper's pooled HTTP/1.1 client with keep-alive, and a fresh SigV4 signature
//! on every request (as the AWS SDKs do), made with `trent_wire::sigv4::sign`.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

pub struct Client {
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
    /// Each endpoint (several for a deployment of several nodes) and its Host header; calls go
    /// to them in turn.
    endpoints: Vec<(Uri, HeaderValue)>,
    next: std::sync::atomic::AtomicUsize,
    creds: Credentials,
}

/// A whole answer.
pub struct Reply {
    pub status: u16,
    pub error_type: Option<String>,
    pub body: Bytes,
}

impl Reply {
    /// The AWS error code of a failed answer: `__type` of the awsJson body (after any `#`),
    /// else the `x-amzn-ErrorType` header, else `HTTP <status>`.
    pub fn error_code(&self) -> String {
        let from_body = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("__type").or_else(|| v.get("code")).and_then(|t| t.as_str().map(str::to_string)));
        let raw = from_body.or_else(|| self.error_type.clone()).unwrap_or_else(|| format!("HTTP {}", self.status));
        let raw = raw.split(':').next().unwrap_or(&raw);
        raw.rsplit('#').next().unwrap_or(raw).to_string()
    }
}

impl Client {
    /// `endpoints`: `http://127.0.0.1:PORT` (loopback only), or several separated by `,` (the
    /// nodes of one deployment: calls are spread over them round-robin).
    pub fn new(endpoints: &str, creds: Credentials, pool: usize) -> Result<Client, String> {
        let endpoints = endpoints.split(',').map(parse_endpoint).collect::<Result<Vec<_>, _>>()?;
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(conn);
        Ok(Client { http, endpoints, next: std::sync::atomic::AtomicUsize::new(0), creds })
    }

    /// Signs and sends one awsJson1.1 call, and reads the whole answer.
    pub async fn call(&self, target: &'static str, service: &str, body: Bytes) -> Result<Reply, String> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.endpoints.len();
        let (uri, host) = &self.endpoints[i];
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(http::header::HOST, host.clone());
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert("x-amz-target", HeaderValue::from_static(target));
        trent_wire::sigv4::sign(
            "POST",
            "/",
            "",
            &mut headers,
            &body,
            &self.creds.access_key_id,
            &self.creds.secret_access_key,
            None,
            &self.creds.region,
            service,
            time::OffsetDateTime::now_utc(),
        );
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = headers;
        let resp = self.http.request(req).await.map_err(|e| {
            // The source chain says what happened (refused, reset, closed).
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        })?;
        let status = resp.status().as_u16();
        let error_type = if status == 200 {
            None
        } else {
            resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let body = resp.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
        Ok(Reply { status, error_type, body })
    }
}

/// One `http://127.0.0.1:PORT` endpoint: its URI and Host header.
fn parse_endpoint(endpoint: &str) -> Result<(Uri, HeaderValue), String> {
    let uri: Uri =
        format!("{}/", endpoint.trim_end_matches('/')).parse().map_err(|e| format!("bad endpoint {endpoint}: {e}"))?;
    let host = uri.authority().ok_or_else(|| format!("endpoint {endpoint} has no host"))?;
    let ip: std::net::IpAddr = host
        .host()
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| format!("endpoint {endpoint}: give a loopback IP address"))?;
    if !ip.is_loopback() || uri.scheme_str() != Some("http") {
        return Err(format!("endpoint {endpoint}: only http:// on loopback is allowed"));
    }
    let host = HeaderValue::from_str(host.as_str()).map_err(|e| e.to_string())?;
    Ok((uri, host))
}
