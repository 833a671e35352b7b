//! The client: hyper's pooled HTTP/1.1 client with keep-alive, and a fresh SigV4 signature
//! on every request (as the AWS SDKs do), made with `trent_wire::sigv4::sign`. awsJson1.1
//! calls ([`Client::call`]) for the loads, awsQuery calls ([`Client::call_query`]) for IAM setup.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

#[derive(Clone)]
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
    /// or `<Code>` of an awsQuery XML error, else the `x-amzn-ErrorType` header, else
    /// `HTTP <status>`.
    pub fn error_code(&self) -> String {
        let from_body = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("__type").or_else(|| v.get("code")).and_then(|t| t.as_str().map(str::to_string)))
            .or_else(|| xml_text(&String::from_utf8_lossy(&self.body), "Code"));
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

    /// The same endpoints and connection pool, signing with other credentials.
    pub fn with_credentials(&self, creds: Credentials) -> Client {
        Client {
            http: self.http.clone(),
            endpoints: self.endpoints.clone(),
            next: std::sync::atomic::AtomicUsize::new(0),
            creds,
        }
    }

    /// Signs and sends one awsJson1.1 call, and reads the whole answer.
    pub async fn call(&self, target: &'static str, service: &str, body: Bytes) -> Result<Reply, String> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert("x-amz-target", HeaderValue::from_static(target));
        self.send(headers, service, body).await
    }

    /// Signs and sends one awsQuery call (IAM, STS): `Action`, `Version` and `params` as a form
    /// body. The answer is XML.
    pub async fn call_query(
        &self,
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let mut body = format!("Action={}&Version={}", form_encode(action), form_encode(version));
        for (k, v) in params {
            body.push('&');
            body.push_str(&form_encode(k));
            body.push('=');
            body.push_str(&form_encode(v));
        }
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        self.send(headers, service, Bytes::from(body)).await
    }

    async fn send(&self, mut headers: HeaderMap, service: &str, body: Bytes) -> Result<Reply, String> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.endpoints.len();
        let (uri, host) = &self.endpoints[i];
        headers.insert(http::header::HOST, host.clone());
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

/// `application/x-www-form-urlencoded` value: every byte but the unreserved ones as `%XX`.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in an awsQuery XML answer, with the five XML entities
/// decoded (what IAM escapes in these answers).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let raw = &xml[start..end];
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_all_but_unreserved() {
        assert_eq!(form_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(form_encode("{\"A\": \"kms:*\"}/+="), "%7B%22A%22%3A%20%22kms%3A%2A%22%7D%2F%2B%3D");
    }

    #[test]
    fn xml_text_finds_and_decodes() {
        let x = "<R><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>a/b&amp;c</SecretAccessKey></R>";
        assert_eq!(xml_text(x, "AccessKeyId").as_deref(), Some("AKIA1"));
        assert_eq!(xml_text(x, "SecretAccessKey").as_deref(), Some("a/b&c"));
        assert_eq!(xml_text(x, "Arn"), None);
        let err = Reply {
            status: 409,
            error_type: None,
            body: Bytes::from_static(b"<ErrorResponse><Error><Code>EntityAlreadyExists</Code></Error></ErrorResponse>"),
        };
        assert_eq!(err.error_code(), "EntityAlreadyExists");
    }
}
