//! `trent operator …`: a running trentd's seal (docs/SEAL.md).
//!
//! * `unseal --endpoint URL`: reads one unseal share from standard input (never from the
//!   command line, so it stays out of shell history and `ps`) and submits it; no credentials.
//! * `seal --endpoint URL`: seals the server again; signed (SigV4) with the account's root
//!   (admin) credentials from the usual AWS sources.
//! * `status --endpoint URL`: sealed or not, and the unseal progress.

use crate::aws_config::Profile;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Submit one unseal share, read from standard input (paste it, then Enter / Ctrl-D).
    Unseal(Target),
    /// Seal a running server (it drops its root key); needs the account's root credentials.
    Seal {
        #[command(flatten)]
        target: Target,
        /// Profile of the shared credentials and config files (else AWS_PROFILE, else default).
        #[arg(long)]
        profile: Option<String>,
        /// Region to sign with (else AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1).
        #[arg(long)]
        region: Option<String>,
    },
    /// Show whether the server is sealed and how many shares it has.
    Status(Target),
}

#[derive(Args, Debug)]
pub struct Target {
    /// The server, e.g. http://127.0.0.1:4599 (else AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// PEM file of CA certificates to trust for an https endpoint (else AWS_CA_BUNDLE, else Mozilla's roots).
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
}

impl Target {
    fn endpoint(&self) -> Result<String, String> {
        self.endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()))
            .map(|e| e.trim_end_matches('/').to_string())
            .ok_or_else(|| "give --endpoint URL (or set AWS_ENDPOINT_URL)".to_string())
    }

    fn ca_bundle(&self) -> Option<PathBuf> {
        self.ca_bundle
            .clone()
            .or_else(|| std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()).map(PathBuf::from))
    }
}

/// Longest share text accepted on standard input.
const MAX_SHARE_INPUT: u64 = 4096;

pub fn run(cmd: OperatorCommand) -> Result<(), String> {
    match cmd {
        OperatorCommand::Unseal(t) => {
            let mut input = Zeroizing::new(String::new());
            std::io::stdin()
                .take(MAX_SHARE_INPUT + 1)
                .read_to_string(&mut input)
                .map_err(|e| format!("reading the share from standard input: {e}"))?;
            if input.len() as u64 > MAX_SHARE_INPUT {
                return Err("standard input is too long for an unseal share".into());
            }
            let share = input.trim();
            if share.is_empty() {
                return Err("no share on standard input: paste one unseal share (trent-share-…)".into());
            }
            if share.lines().count() > 1 {
                return Err("give one share per call: standard input holds more than one line".into());
            }
            let body =
                Zeroizing::new(serde_json::to_vec(&serde_json::json!({ "share": share })).map_err(|e| e.to_string())?);
            let v = send(&t, "POST", "/_trent/unseal", body, None)?;
            print_status(&v);
            Ok(())
        }
        OperatorCommand::Seal { target, profile, region } => {
            let p = Profile::load(profile.as_deref());
            let creds = p.credentials()?;
            let region = p.region(region.as_deref()).unwrap_or_else(|| "us-east-1".into());
            let v = send(&target, "POST", "/_trent/seal", Zeroizing::new(b"{}".to_vec()), Some((&creds, &region)))?;
            print_status(&v);
            Ok(())
        }
        OperatorCommand::Status(t) => {
            let v = send(&t, "GET", "/_trent/seal-status", Zeroizing::new(Vec::new()), None)?;
            print_status(&v);
            Ok(())
        }
    }
}

fn print_status(v: &Value) {
    let sealed = v["sealed"].as_bool().unwrap_or(true);
    let progress = v["progress"].as_str().unwrap_or("?");
    if sealed {
        println!("sealed: true (unseal progress {progress})");
    } else {
        println!("sealed: false");
    }
}

fn send(
    t: &Target,
    method: &str,
    path: &str,
    body: Zeroizing<Vec<u8>>,
    sign: Option<(&crate::aws_config::Credentials, &str)>,
) -> Result<Value, String> {
    let endpoint = t.endpoint()?;
    let uri: http::Uri =
        format!("{endpoint}{path}").parse().map_err(|_| format!("invalid endpoint URL {endpoint:?}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!("endpoint URL {endpoint:?} must be http://host[:port] or https://host[:port]"));
    }
    let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, http::HeaderValue::from_str(&authority).map_err(|_| "bad host")?);
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("trent-cli/", env!("CARGO_PKG_VERSION"))),
    );
    if let Some((creds, region)) = sign {
        trent_wire::sigv4::sign(
            method,
            path,
            "",
            &mut headers,
            &body,
            &creds.access_key_id,
            &creds.secret_access_key,
            creds.session_token.as_ref().map(|t| t.as_str()),
            region,
            "kms",
            time::OffsetDateTime::now_utc(),
        );
    }
    let mut req = http::Request::new(Full::new(Bytes::from(body.to_vec())));
    *req.method_mut() = method.parse().map_err(|_| "bad method")?;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(crate::kms_http::tls_config(t.ca_bundle().as_deref())?)
        .https_or_http()
        .enable_http1()
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the I/O runtime: {e}"))?;
    let (status, bytes) = rt.block_on(async move {
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        let work = async {
            let resp = client.request(req).await.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = format!("{msg}: {s}");
                    src = s.source();
                }
                format!("cannot reach {endpoint}: {msg}")
            })?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?;
            Ok::<_, String>((status, body.to_bytes().to_vec()))
        };
        tokio::time::timeout(Duration::from_secs(30), work)
            .await
            .map_err(|_| "the server did not answer within 30 s".to_string())?
    })?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(v);
    }
    let code = v["__type"].as_str().unwrap_or("Error");
    let message = v["message"].as_str().unwrap_or("");
    Err(format!("{code}: {message} (HTTP {status})"))
}
