//! An awsJson 1.1 client for Parameter Store and Secrets Manager (`trent resolve`, `trent
//! agent`), signed with SigV4, with credentials from the standard AWS chain: environment
//! variables, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, or the profile's
//! `web_identity_token_file` + `role_arn`: STS `AssumeRoleWithWebIdentity`, refreshed before
//! the credentials expire), then the profile's static keys.

use crate::aws_config::{Credentials, Profile};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (a secret is at most 64 KiB; its JSON and base64 add a little).
const MAX_ANSWER: usize = 1 << 20;
/// Web identity credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// An AWS error answer (or a transport failure, code `Transport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn transport(msg: impl Into<String>) -> CallError {
    CallError { status: 0, code: "Transport".into(), message: msg.into() }
}

/// The two services the references and the agent read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ssm,
    SecretsManager,
}

impl Service {
    fn signing_name(self) -> &'static str {
        match self {
            Service::Ssm => "ssm",
            Service::SecretsManager => "secretsmanager",
        }
    }
    fn target_prefix(self) -> &'static str {
        match self {
            Service::Ssm => "AmazonSSM",
            Service::SecretsManager => "secretsmanager",
        }
    }
    fn env_name(self) -> &'static str {
        match self {
            Service::Ssm => "SSM",
            Service::SecretsManager => "SECRETS_MANAGER",
        }
    }
}

enum Source {
    Static(Arc<Credentials>),
    WebIdentity { token_file: String, role_arn: String, session_name: String },
}

/// Where credentials come from, and the current ones for web identity.
pub struct CredentialChain {
    source: Source,
    cached: Mutex<Option<(Arc<Credentials>, SystemTime)>>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl CredentialChain {
    pub fn load(profile: &Profile) -> Result<CredentialChain, String> {
        let static_env = env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some();
        let web = env("AWS_WEB_IDENTITY_TOKEN_FILE")
            .zip(env("AWS_ROLE_ARN"))
            .or_else(|| profile.get("web_identity_token_file").zip(profile.get("role_arn")));
        let source = match web {
            Some((token_file, role_arn)) if !static_env => Source::WebIdentity {
                token_file,
                role_arn,
                session_name: env("AWS_ROLE_SESSION_NAME")
                    .or_else(|| profile.get("role_session_name"))
                    .unwrap_or_else(|| format!("trent-{}", std::process::id())),
            },
            _ => Source::Static(Arc::new(profile.credentials()?)),
        };
        Ok(CredentialChain { source, cached: Mutex::new(None) })
    }
}

/// A client of Parameter Store and Secrets Manager at one endpoint each.
pub struct AwsClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    region: String,
    ssm_endpoint: http::Uri,
    sm_endpoint: http::Uri,
    sts_endpoint: http::Uri,
    creds: CredentialChain,
}

fn parse_endpoint(e: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = e.parse().map_err(|_| format!("invalid endpoint URL {e:?}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") if uri.authority().is_some() => Ok(uri),
        _ => Err(format!("endpoint URL {e:?} must be http://host[:port] or https://host[:port]")),
    }
}

impl AwsClient {
    /// From the standard sources: `--endpoint-url` / `AWS_ENDPOINT_URL_<SERVICE>` /
    /// `AWS_ENDPOINT_URL` / the profile's, else AWS's endpoints for the region.
    pub fn from_env(
        profile_name: Option<&str>,
        region: Option<&str>,
        endpoint: Option<&str>,
        ca_bundle: Option<&std::path::Path>,
    ) -> Result<AwsClient, String> {
        let profile = Profile::load(profile_name);
        let region = profile
            .region(region)
            .ok_or("no region: set --region, AWS_REGION, AWS_DEFAULT_REGION or the profile's region")?;
        let for_service = |env_name: &str, service: &str| -> Result<http::Uri, String> {
            match profile.endpoint_for(endpoint, env_name) {
                Some(e) => parse_endpoint(&e),
                None => parse_endpoint(&format!("https://{service}.{region}.amazonaws.com/")),
            }
        };
        let ssm_endpoint = for_service(Service::Ssm.env_name(), "ssm")?;
        let sm_endpoint = for_service(Service::SecretsManager.env_name(), "secretsmanager")?;
        let sts_endpoint = for_service("STS", "sts")?;
        let creds = CredentialChain::load(&profile)?;
        let ca = ca_bundle.map(std::path::Path::to_path_buf).or_else(|| env("AWS_CA_BUNDLE").map(Into::into));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::kms_http::tls_config(ca.as_deref())?)
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Ok(AwsClient { http, region, ssm_endpoint, sm_endpoint, sts_endpoint, creds })
    }

    async fn send(&self, req: http::Request<Full<Bytes>>) -> Result<(u16, Zeroizing<Vec<u8>>), CallError> {
        let fut = async {
            let resp = self.http.request(req).await.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = format!("{msg}: {s}");
                    src = s.source();
                }
                transport(msg)
            })?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|_| transport("the answer is too large or was cut off"))?;
            Ok::<_, CallError>((status, Zeroizing::new(body.to_bytes().to_vec())))
        };
        tokio::time::timeout(TIMEOUT, fut).await.map_err(|_| transport("no answer within 30 s"))?
    }

    /// The current credentials (web identity: assumed again when near expiry).
    async fn credentials(&self) -> Result<Arc<Credentials>, CallError> {
        let (token_file, role_arn, session_name) = match &self.creds.source {
            Source::Static(c) => return Ok(c.clone()),
            Source::WebIdentity { token_file, role_arn, session_name } => (token_file, role_arn, session_name),
        };
        if let Ok(guard) = self.creds.cached.lock() {
            if let Some((c, expires)) = guard.as_ref() {
                if SystemTime::now() + RENEW_BEFORE < *expires {
                    return Ok(c.clone());
                }
            }
        }
        let token = Zeroizing::new(
            std::fs::read_to_string(token_file)
                .map_err(|e| transport(format!("reading the web identity token file {token_file}: {e}")))?,
        );
        let form = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
            form_encode(role_arn),
            form_encode(session_name),
            form_encode(token.trim())
        );
        let mut req = http::Request::new(Full::new(Bytes::from(form.into_bytes())));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = self.sts_endpoint.clone();
        req.headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-www-form-urlencoded"));
        let (status, body) = self.send(req).await?;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            return Err(CallError {
                status,
                code: xml_text(&text, "Code").unwrap_or_else(|| "UnknownError".into()),
                message: format!("AssumeRoleWithWebIdentity: {}", xml_text(&text, "Message").unwrap_or_default()),
            });
        }
        let field = |name: &str| xml_text(&text, name).ok_or_else(|| transport(format!("STS answer lacks {name}")));
        let creds = Arc::new(Credentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: Zeroizing::new(field("SecretAccessKey")?),
            session_token: Some(Zeroizing::new(field("SessionToken")?)),
        });
        let expires =
            time::OffsetDateTime::parse(&field("Expiration")?, &time::format_description::well_known::Rfc3339)
                .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp().max(0) as u64))
                .unwrap_or_else(|_| SystemTime::now() + Duration::from_secs(900));
        if let Ok(mut guard) = self.creds.cached.lock() {
            *guard = Some((creds.clone(), expires));
        }
        Ok(creds)
    }

    /// Calls `operation` of `service` with a JSON body; the raw JSON answer.
    pub async fn call(&self, service: Service, operation: &str, body: &Value) -> Result<Zeroizing<Vec<u8>>, CallError> {
        let creds = self.credentials().await?;
        let uri = match service {
            Service::Ssm => self.ssm_endpoint.clone(),
            Service::SecretsManager => self.sm_endpoint.clone(),
        };
        let body = Zeroizing::new(serde_json::to_vec(body).map_err(|e| transport(e.to_string()))?);
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
            http::HeaderValue::from_str(&format!("{}.{operation}", service.target_prefix()))
                .map_err(|_| transport("bad operation"))?,
        );
        trent_wire::sigv4::sign(
            "POST",
            &path,
            "",
            &mut headers,
            &body,
            &creds.access_key_id,
            &creds.secret_access_key,
            creds.session_token.as_ref().map(|t| t.as_str()),
            &self.region,
            service.signing_name(),
            time::OffsetDateTime::now_utc(),
        );
        let mut req = http::Request::new(Full::new(Bytes::from(body.to_vec())));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let (status, bytes) = self.send(req).await?;
        if status == 200 {
            return Ok(bytes);
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = v["__type"].as_str().unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code).to_string();
        let message = v["message"].as_str().or_else(|| v["Message"].as_str()).unwrap_or("").to_string();
        Err(CallError { status, code, message: if message.is_empty() { format!("HTTP {status}") } else { message } })
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<name>…</name>` element of an XML answer, unescaped.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#xD;", "\r")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields_are_found_and_unescaped() {
        let x = "<R><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>a&amp;b&lt;</SecretAccessKey></Credentials></R>";
        assert_eq!(xml_text(x, "AccessKeyId").as_deref(), Some("ASIA1"));
        assert_eq!(xml_text(x, "SecretAccessKey").as_deref(), Some("a&b<"));
        assert_eq!(xml_text(x, "SessionToken"), None);
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("arn:aws:iam::1:role/x y"), "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%20y");
    }
}
