//! `--seal kms:KEY_ARN`: the root key encrypted by a key of an AWS-compatible KMS (AWS KMS, or
//! another trentd). Encrypt on a new store, Decrypt at every start, awsJson 1.1 signed with SigV4.
//!
//! Reached the way AWS SDKs do: the endpoint is `AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`,
//! else `https://kms.<the key's region>.amazonaws.com`; credentials are `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else the profile (`AWS_PROFILE`, else
//! `default`) of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//! `~/.aws/credentials`); TLS roots are `AWS_CA_BUNDLE`, else Mozilla's.

use axum::http;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use trent_crypto::SecretBytes;
use zeroize::Zeroizing;

const TIMEOUT: Duration = Duration::from_secs(30);

struct Creds {
    access_key_id: String,
    secret: Zeroizing<String>,
    token: Option<Zeroizing<String>>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The INI section `[name]` of a shared credentials file: key → value.
fn ini_section(text: &str, name: &str) -> std::collections::HashMap<String, Zeroizing<String>> {
    let mut out = std::collections::HashMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == name;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), Zeroizing::new(v.trim().to_string()));
            }
        }
    }
    out
}

fn credentials() -> Result<Creds, String> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Creds {
            access_key_id: id,
            secret: Zeroizing::new(secret),
            token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
        });
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let path = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".aws").join("credentials")));
    if let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()).map(Zeroizing::new) {
        let mut s = ini_section(&text, &profile);
        if let (Some(id), Some(secret)) = (s.remove("aws_access_key_id"), s.remove("aws_secret_access_key")) {
            return Ok(Creds { access_key_id: id.to_string(), secret, token: s.remove("aws_session_token") });
        }
    }
    Err(format!(
        "--seal kms: no AWS credentials to reach the KMS: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give \
         profile {profile:?} keys in the shared credentials file"
    ))
}

fn tls_config() -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    match env("AWS_CA_BUNDLE") {
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| format!("reading AWS_CA_BUNDLE {path}: {e}"))?;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("AWS_CA_BUNDLE {path}: {e}"))?;
                roots.add(cert).map_err(|e| format!("AWS_CA_BUNDLE {path}: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// One KMS call; the answer's JSON, or the KMS's error as `Code: message`.
fn call(key_arn: &str, operation: &str, body: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, String> {
    let region = crate::seal::kms_key_region(key_arn)?;
    let endpoint = env("AWS_ENDPOINT_URL_KMS")
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com/"));
    let uri: hyper::Uri = endpoint.parse().map_err(|_| format!("the KMS endpoint {endpoint:?} is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!("the KMS endpoint {endpoint:?} must be http(s)://host[:port]"));
    }
    let creds = credentials()?;
    let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
    let path = if uri.path().is_empty() { "/".to_string() } else { uri.path().to_string() };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, http::HeaderValue::from_str(&authority).map_err(|_| "bad KMS host")?);
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-amz-json-1.1"));
    headers.insert(
        "x-amz-target",
        http::HeaderValue::from_str(&format!("TrentService.{operation}")).map_err(|_| "bad operation")?,
    );
    trent_wire::sigv4::sign(
        "POST",
        &path,
        "",
        &mut headers,
        &body,
        &creds.access_key_id,
        &creds.secret,
        creds.token.as_ref().map(|t| t.as_str()),
        &region,
        "kms",
        time::OffsetDateTime::now_utc(),
    );
    let mut req = http::Request::new(Full::new(Bytes::from(body.to_vec())));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config()?)
        .https_or_http()
        .enable_http1()
        .build();
    let fut = async move {
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        let work = async {
            let resp = client.request(req).await.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = format!("{msg}: {s}");
                    src = s.source();
                }
                msg
            })?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?;
            Ok::<_, String>((status, Zeroizing::new(body.to_bytes().to_vec())))
        };
        tokio::time::timeout(TIMEOUT, work).await.map_err(|_| "the KMS did not answer within 30 s".to_string())?
    };
    let (status, bytes) = match tokio::runtime::Handle::try_current() {
        Ok(h) => h.block_on(fut),
        Err(_) => {
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?.block_on(fut)
        }
    }
    .map_err(|e| format!("--seal kms: the KMS at {endpoint} could not be reached: {e}"))?;
    if status.is_success() {
        return Ok(bytes);
    }
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = v["__type"].as_str().unwrap_or("UnknownError");
    let code = code.rsplit('#').next().unwrap_or(code);
    let message = v["message"].as_str().or_else(|| v["Message"].as_str()).unwrap_or("");
    Err(format!("--seal kms: the KMS refused {operation} with {key_arn}: {code}: {message} (HTTP {status})"))
}

fn context() -> Value {
    let (k, v) = crate::seal::KMS_CONTEXT;
    json!({ k: v })
}

/// Encrypts the root key under `key_arn`; returns the ciphertext blob.
pub fn encrypt(key_arn: &str, root: &SecretBytes) -> Result<Vec<u8>, String> {
    let req = json!({"KeyId": key_arn, "Plaintext": STANDARD.encode(root.expose()), "EncryptionContext": context()});
    let body = Zeroizing::new(serde_json::to_vec(&req).map_err(|e| e.to_string())?);
    drop(req);
    let out = call(key_arn, "Encrypt", body)?;
    let v: Value = serde_json::from_slice(&out).map_err(|_| "the KMS's Encrypt answer is not JSON".to_string())?;
    let blob = v["CiphertextBlob"].as_str().ok_or("the KMS's Encrypt answer has no CiphertextBlob")?;
    STANDARD.decode(blob).map_err(|_| "the KMS's CiphertextBlob is not base64".into())
}

/// Decrypts the stored root key with `key_arn`.
pub fn decrypt(key_arn: &str, blob: &[u8]) -> Result<SecretBytes, String> {
    let req = json!({"KeyId": key_arn, "CiphertextBlob": STANDARD.encode(blob), "EncryptionContext": context()});
    let body = Zeroizing::new(serde_json::to_vec(&req).map_err(|e| e.to_string())?);
    let out = call(key_arn, "Decrypt", body)?;
    let mut v: Value = serde_json::from_slice(&out).map_err(|_| "the KMS's Decrypt answer is not JSON".to_string())?;
    let plain = {
        let p = v["Plaintext"].as_str().ok_or("the KMS's Decrypt answer has no Plaintext")?;
        SecretBytes::new(STANDARD.decode(p).map_err(|_| "the KMS's Plaintext is not base64".to_string())?)
    };
    if let Some(Value::String(s)) = v.get_mut("Plaintext") {
        zeroize::Zeroize::zeroize(s);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_section_is_read_alone() {
        let ini = "[default]\naws_access_key_id = A\naws_secret_access_key=S\n# c\n[other]\naws_access_key_id = B\n";
        let s = ini_section(ini, "default");
        assert_eq!(s["aws_access_key_id"].as_str(), "A");
        assert_eq!(s["aws_secret_access_key"].as_str(), "S");
        assert_eq!(ini_section(ini, "other")["aws_access_key_id"].as_str(), "B");
        assert!(ini_section(ini, "none").is_empty());
    }
}
