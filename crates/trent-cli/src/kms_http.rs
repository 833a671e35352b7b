//! A KMS client over HTTP(S) for `trent-envelope`'s `KmsClient` trait: awsJson1.1 requests signed
//! with SigV4 (`trent_wire::sigv4::sign`), sent with hyper; HTTPS through rustls on aws-lc-rs.

use crate::aws_config::Credentials;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use trent_envelope::kms::{GeneratedDataKey, KeyArn, KmsClient, KmsError};
use trent_envelope::{DataKey, EncryptionContext};
use zeroize::Zeroizing;

const TIMEOUT: Duration = Duration::from_secs(30);

pub struct HttpKms {
    rt: tokio::runtime::Runtime,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// One endpoint for every region (Trent serves all regions at one URL), or AWS's per-region endpoints.
    endpoint: Option<http::Uri>,
    default_region: Option<String>,
    creds: Credentials,
}

fn transport(msg: impl Into<String>) -> KmsError {
    KmsError { code: "Transport".into(), message: msg.into() }
}

/// Root certificates: the PEM bundle if given (`--ca-bundle` / `AWS_CA_BUNDLE`), else Mozilla's roots.
pub(crate) fn tls_config(ca_bundle: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    match ca_bundle {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("reading CA bundle {}: {e}", path.display()))?;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("CA bundle {}: {e}", path.display()))?;
                roots.add(cert).map_err(|e| format!("CA bundle {}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("CA bundle {} holds no certificate", path.display()));
            }
        }
        None => roots.extend(webpki_roots_list()),
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn webpki_roots_list() -> impl Iterator<Item = rustls_pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}

impl HttpKms {
    pub fn new(
        endpoint: Option<&str>,
        default_region: Option<String>,
        creds: Credentials,
        ca_bundle: Option<&std::path::Path>,
    ) -> Result<HttpKms, String> {
        let endpoint = match endpoint {
            Some(e) => {
                let uri: http::Uri = e.parse().map_err(|_| format!("invalid endpoint URL {e:?}"))?;
                match uri.scheme_str() {
                    Some("http") | Some("https") if uri.authority().is_some() => Some(uri),
                    _ => return Err(format!("endpoint URL {e:?} must be http://host[:port] or https://host[:port]")),
                }
            }
            None => None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the I/O runtime: {e}"))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_bundle)?)
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Ok(HttpKms { rt, http, endpoint, default_region, creds })
    }

    fn region_for(&self, key_id: &str) -> Result<String, KmsError> {
        if let Some(a) = KeyArn::parse(key_id) {
            return Ok(a.region);
        }
        self.default_region.clone().ok_or_else(|| {
            transport(format!("no region for key {key_id:?}: use a key ARN, --region, AWS_REGION or a profile region"))
        })
    }

    fn call(&self, region: &str, operation: &str, body: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let uri = match &self.endpoint {
            Some(u) => u.clone(),
            None => format!("https://kms.{region}.amazonaws.com/").parse().map_err(|_| transport("bad region"))?,
        };
        let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, http::HeaderValue::from_str(&authority).map_err(|_| transport("bad host"))?);
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert(
            "x-amz-target",
            http::HeaderValue::from_str(&format!("TrentService.{operation}")).map_err(|_| transport("bad target"))?,
        );
        trent_wire::sigv4::sign(
            "POST",
            &path,
            "",
            &mut headers,
            &body,
            &self.creds.access_key_id,
            &self.creds.secret_access_key,
            self.creds.session_token.as_ref().map(|t| t.as_str()),
            region,
            "kms",
            time::OffsetDateTime::now_utc(),
        );
        let mut req = http::Request::new(Full::new(Bytes::from(body.to_vec())));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let http = self.http.clone();
        let (status, bytes) = self.rt.block_on(async move {
            let fut = async {
                let resp = http.request(req).await.map_err(|e| {
                    let mut msg = e.to_string();
                    let mut src = std::error::Error::source(&e);
                    while let Some(s) = src {
                        msg = format!("{msg}: {s}");
                        src = s.source();
                    }
                    transport(msg)
                })?;
                let status = resp.status();
                let body = resp.into_body().collect().await.map_err(|e| transport(format!("reading answer: {e}")))?;
                Ok::<_, KmsError>((status, Zeroizing::new(body.to_bytes().to_vec())))
            };
            tokio::time::timeout(TIMEOUT, fut).await.map_err(|_| transport("KMS did not answer within 30 s"))?
        })?;
        if status.is_success() {
            return Ok(bytes);
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = v["__type"].as_str().unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code).to_string();
        let message = v["message"].as_str().or_else(|| v["Message"].as_str()).unwrap_or("").to_string();
        Err(KmsError { code, message: if message.is_empty() { format!("HTTP {status}") } else { message } })
    }
}

fn request_body(v: Value) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(serde_json::to_vec(&v).expect("JSON of strings serializes"))
}

fn field_str(v: &Value, name: &str) -> Result<String, KmsError> {
    v[name].as_str().map(str::to_string).ok_or_else(|| transport(format!("KMS answer lacks {name}")))
}

fn field_b64(v: &Value, name: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let s = v[name].as_str().ok_or_else(|| transport(format!("KMS answer lacks {name}")))?;
    B64.decode(s).map(Zeroizing::new).map_err(|_| transport(format!("KMS answer's {name} is not base64")))
}

fn parse(bytes: &[u8]) -> Result<Value, KmsError> {
    serde_json::from_slice(bytes).map_err(|_| transport("KMS answer is not JSON"))
}

impl KmsClient for HttpKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        number_of_bytes: usize,
        ec: &EncryptionContext,
        grant_tokens: &[String],
    ) -> Result<GeneratedDataKey, KmsError> {
        let mut req = json!({"KeyId": key_id, "NumberOfBytes": number_of_bytes, "EncryptionContext": ec});
        if !grant_tokens.is_empty() {
            req["GrantTokens"] = json!(grant_tokens);
        }
        let out = self.call(&self.region_for(key_id)?, "GenerateDataKey", request_body(req))?;
        let mut v = parse(&out)?;
        let plaintext = field_b64(&v, "Plaintext")?;
        if let Some(Value::String(s)) = v.get_mut("Plaintext") {
            zeroize::Zeroize::zeroize(s);
        }
        Ok(GeneratedDataKey {
            key_id: field_str(&v, "KeyId")?,
            plaintext: DataKey::new(plaintext.to_vec()),
            ciphertext_blob: field_b64(&v, "CiphertextBlob")?.to_vec(),
        })
    }

    fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        ec: &EncryptionContext,
        grant_tokens: &[String],
    ) -> Result<(String, Vec<u8>), KmsError> {
        let b64 = Zeroizing::new(B64.encode(plaintext));
        let mut req = json!({"KeyId": key_id, "Plaintext": b64.as_str(), "EncryptionContext": ec});
        if !grant_tokens.is_empty() {
            req["GrantTokens"] = json!(grant_tokens);
        }
        let body = request_body(req);
        let out = self.call(&self.region_for(key_id)?, "Encrypt", body)?;
        let v = parse(&out)?;
        Ok((field_str(&v, "KeyId")?, field_b64(&v, "CiphertextBlob")?.to_vec()))
    }

    fn decrypt(
        &self,
        key_id: &str,
        ciphertext_blob: &[u8],
        ec: &EncryptionContext,
        grant_tokens: &[String],
    ) -> Result<(String, DataKey), KmsError> {
        let mut req = json!({"KeyId": key_id, "CiphertextBlob": B64.encode(ciphertext_blob), "EncryptionContext": ec});
        if !grant_tokens.is_empty() {
            req["GrantTokens"] = json!(grant_tokens);
        }
        let out = self.call(&self.region_for(key_id)?, "Decrypt", request_body(req))?;
        let mut v = parse(&out)?;
        let plaintext = field_b64(&v, "Plaintext")?;
        if let Some(Value::String(s)) = v.get_mut("Plaintext") {
            zeroize::Zeroize::zeroize(s);
        }
        Ok((field_str(&v, "KeyId")?, DataKey::new(plaintext.to_vec())))
    }
}
