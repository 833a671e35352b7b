//! The web console at `/console/`: server-rendered HTML (maud, which escapes every value it
//! interpolates), one small script and one stylesheet of our own, on trentd's own listener.
//!
//! Security model (docs/CONSOLE.md):
//! * Sign-in verifies the access key pair with SigV4 through the request path ([`api::sign_in`]);
//!   the secret is then forgotten. The session ([`session`]) is an opaque random token in an
//!   `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS), with idle and absolute expiry.
//! * Every page's data comes from AWS API calls as the signed-in principal through the same
//!   stages as a signed request ([`api::Ctx`]): authorization, quotas, audit (userAgent
//!   `trent-console`). Nothing reads the store directly.
//! * A session ends when its access key is no longer active (deactivated or deleted).
//! * Every POST carries the session's CSRF token (the sign-in form a double-submit token);
//!   one without it is refused with 403.
//! * Every response: a strict Content-Security-Policy (`default-src 'self'`, no inline script
//!   or style), `X-Frame-Options: DENY`, `nosniff`, `no-referrer`, `Cache-Control: no-store`.
//! * Secret values are only ever in the body of a POST's answer, never in a URL.

pub mod api;
mod pages;
pub mod session;

use crate::App;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Instant;

/// The session cookie.
const COOKIE: &str = "trent_console";
/// The sign-in form's double-submit CSRF cookie.
const PRE_COOKIE: &str = "trent_console_pre";
/// The largest form the console reads.
const MAX_FORM_BYTES: usize = 256 * 1024;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static CSS: &str = include_str!("static/console.css");
static JS: &str = include_str!("static/console.js");

pub fn is_console_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// A decoded form or query string. Values are wiped when it is dropped (a sign-in form holds
/// a secret access key, a secret's form its value).
#[derive(Default)]
pub struct Form(Vec<(String, String)>);

impl Drop for Form {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (_, v) in self.0.iter_mut() {
            v.zeroize();
        }
    }
}

impl Form {
    pub fn parse(s: &[u8]) -> Form {
        let mut out = Vec::new();
        for pair in s.split(|b| *b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = decode(it.next().unwrap_or_default());
            let v = decode(it.next().unwrap_or_default());
            out.push((k, v));
        }
        Form(out)
    }

    /// The first value named `k`, or "".
    pub fn get(&self, k: &str) -> &str {
        self.0.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str())
    }

    pub fn opt(&self, k: &str) -> Option<&str> {
        Some(self.get(k)).filter(|v| !v.is_empty())
    }
}

fn decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hexval(s[i + 1]), hexval(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// One console request, as the (blocking) page code sees it.
pub struct Req {
    pub method: axum::http::Method,
    pub path: String,
    pub query: Form,
    pub form: Form,
    pub session_cookie: Option<String>,
    pub pre_cookie: Option<String>,
    pub source_ip: String,
}

/// What a page answers.
pub struct Out {
    pub status: StatusCode,
    pub body: String,
    pub location: Option<String>,
    pub cookies: Vec<String>,
}

impl Out {
    pub fn html(body: maud::Markup) -> Out {
        Out { status: StatusCode::OK, body: body.into_string(), location: None, cookies: Vec::new() }
    }
    pub fn status(mut self, s: StatusCode) -> Out {
        self.status = s;
        self
    }
    pub fn redirect(to: &str) -> Out {
        Out { status: StatusCode::SEE_OTHER, body: String::new(), location: Some(to.to_string()), cookies: Vec::new() }
    }
}

fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    for h in headers.get_all("cookie") {
        let Ok(s) = h.to_str() else { continue };
        for part in s.split(';') {
            if let Some((k, v)) = part.trim().split_once('=') {
                if k == name && !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// The console's entry point (called by `http::handle` for `/console` paths).
pub async fn handle(app: Arc<App>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_string();
    // HEAD is answered as GET (hyper sends no body for it).
    let method = match req.method() {
        &axum::http::Method::HEAD => axum::http::Method::GET,
        m => m.clone(),
    };
    if method == axum::http::Method::GET {
        match path.as_str() {
            "/console/static/console.css" => return asset("text/css; charset=utf-8", CSS),
            "/console/static/console.js" => return asset("text/javascript; charset=utf-8", JS),
            _ => {}
        }
    }
    if method != axum::http::Method::GET && method != axum::http::Method::POST {
        return finish(
            &app,
            Out::html(pages::message("Not allowed", "Use GET or POST.")).status(StatusCode::METHOD_NOT_ALLOWED),
        );
    }
    let query = Form::parse(req.uri().query().unwrap_or("").as_bytes());
    let session_cookie = cookie_value(req.headers(), COOKIE);
    let pre_cookie = cookie_value(req.headers(), PRE_COOKIE);
    let source_ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let form = if method == axum::http::Method::POST {
        let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return finish(
                &app,
                Out::html(pages::message(
                    "Unsupported form",
                    "Forms must be sent as application/x-www-form-urlencoded.",
                ))
                .status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            );
        }
        match axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES).await {
            Ok(b) => Form::parse(&b),
            Err(_) => {
                return finish(
                    &app,
                    Out::html(pages::message("Form too large", "The form was larger than the console accepts."))
                        .status(StatusCode::PAYLOAD_TOO_LARGE),
                )
            }
        }
    } else {
        Form::default()
    };
    let r = Req { method, path, query, form, session_cookie, pre_cookie, source_ip };
    let a = app.clone();
    let out = match tokio::task::spawn_blocking(move || route(&a, &r)).await {
        Ok(out) => out,
        Err(e) => {
            tracing::error!(error = %e, "console page panicked");
            Out::html(pages::message("Internal error", "An internal error occurred. Try again later."))
                .status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    finish(&app, out)
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type));
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    security_headers(h);
    resp
}

fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
}

fn finish(app: &App, out: Out) -> Response<Body> {
    let mut resp = Response::new(Body::from(out.body));
    *resp.status_mut() = out.status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    security_headers(h);
    if let Some(loc) = out.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert("location", loc);
    }
    let secure = if tls(app) { "; Secure" } else { "" };
    for c in out.cookies {
        if let Ok(v) = HeaderValue::from_str(&format!("{c}; Path=/console; HttpOnly; SameSite=Strict{secure}")) {
            h.append("set-cookie", v);
        }
    }
    resp
}

fn tls(app: &App) -> bool {
    app.config.tls_cert.is_some() || app.config.tls_self_signed
}

/// The regions the selector offers: AWS's and the operator's `--extra-region`s.
pub fn regions(app: &App) -> Vec<String> {
    let mut v: Vec<String> = trent_wire::regions::AWS_REGIONS.iter().map(|(n, _)| n.to_string()).collect();
    v.extend(app.config.extra_regions.iter().cloned());
    v
}

fn csrf_refused() -> Out {
    Out::html(pages::message(
        "Request refused",
        "The form's security token (CSRF) is missing or does not match your session. Reload the page and try again.",
    ))
    .status(StatusCode::FORBIDDEN)
}

fn route(app: &App, r: &Req) -> Out {
    let post = r.method == axum::http::Method::POST;
    match r.path.as_str() {
        "/console" => return Out::redirect("/console/"),
        "/console/signin" => return pages::signin::handle(app, r),
        _ => {}
    }
    // Everything else needs a live session whose access key is still active.
    let now = Instant::now();
    let session = r.session_cookie.as_deref().and_then(|t| app.console_sessions.get(t, now));
    let Some(session) = session else {
        if post {
            return Out::html(pages::message("Signed out", "Your console session has ended. Sign in again."))
                .status(StatusCode::FORBIDDEN);
        }
        return Out::redirect("/console/signin?ended=1");
    };
    if key_inactive(app, &session.access_key_id) {
        app.console_sessions.remove_for_key(&session.access_key_id);
        return Out::redirect("/console/signin?ended=key");
    }
    if post && !session::tokens_match(r.form.get("csrf"), &session.csrf) {
        return csrf_refused();
    }
    let token = r.session_cookie.clone().unwrap_or_default();
    let ctx = api::Ctx { app, session: &session, source_ip: &r.source_ip };
    let page = pages::Page { app, r, ctx, token: &token };
    pages::route(&page, post)
}

/// A session's access key is checked on every request: deactivated or deleted ends it.
fn key_inactive(app: &App, access_key_id: &str) -> bool {
    use trent_wire::sigv4::CredentialLookup;
    app.identity.lookup_checked(access_key_id, None).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_percent_and_bad_escapes() {
        let f = Form::parse(b"a=1+2&b=%3Cscript%3E&c=%zz&d=%4&e&=x&a=second");
        assert_eq!(f.get("a"), "1 2");
        assert_eq!(f.get("b"), "<script>");
        assert_eq!(f.get("c"), "%zz");
        assert_eq!(f.get("d"), "%4");
        assert_eq!(f.get("e"), "");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.opt("e"), None);
    }

    #[test]
    fn only_hex_cookies_are_read() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("x=1; trent_console=abc123; trent_console_pre=<bad>"));
        assert_eq!(cookie_value(&h, COOKIE).as_deref(), Some("abc123"));
        assert_eq!(cookie_value(&h, PRE_COOKIE), None);
    }

    #[test]
    fn console_paths_are_only_under_console() {
        assert!(is_console_path("/console") && is_console_path("/console/keys"));
        assert!(!is_console_path("/consoles") && !is_console_path("/"));
    }
}
