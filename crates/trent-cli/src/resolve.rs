//! CloudFormation's dynamic references, rendered from Parameter Store and Secrets Manager:
//!
//! * `{{resolve:ssm:NAME}}`, `{{resolve:ssm:NAME:VERSION}}`: a String or StringList parameter;
//! * `{{resolve:ssm-secure:NAME}}`, `{{resolve:ssm-secure:NAME:VERSION}}`: a SecureString,
//!   decrypted;
//! * `{{resolve:secretsmanager:ID:SecretString:JSON_KEY:VERSION_STAGE:VERSION_ID}}`: a
//!   secret's SecretString (ID is a name or an ARN), or one key of it when it is a JSON
//!   object; the trailing parts are optional and may be empty, as in CloudFormation
//!   (`{{resolve:secretsmanager:db}}`, `{{resolve:secretsmanager:db:SecretString:password}}`,
//!   `{{resolve:secretsmanager:db:SecretString:password:AWSPREVIOUS}}`).
//!
//! `trent resolve 'TEXT'` prints TEXT with its references replaced; `trent agent` renders
//! template files with them.

use crate::aws_client::{AwsClient, Service};
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// One dynamic reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// A parameter (`NAME` or `NAME:VERSION`); `secure`: `ssm-secure` (decrypted).
    Ssm { name: String, secure: bool },
    /// A secret's SecretString, or one JSON key of it.
    Secret { id: String, json_key: Option<String>, stage: Option<String>, version_id: Option<String> },
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Ssm { name, secure: false } => write!(f, "ssm:{name}"),
            Reference::Ssm { name, secure: true } => write!(f, "ssm-secure:{name}"),
            Reference::Secret { id, json_key, stage, version_id } => {
                write!(f, "secretsmanager:{id}")?;
                if json_key.is_some() || stage.is_some() || version_id.is_some() {
                    write!(
                        f,
                        ":SecretString:{}:{}:{}",
                        json_key.as_deref().unwrap_or(""),
                        stage.as_deref().unwrap_or(""),
                        version_id.as_deref().unwrap_or("")
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// A template: literal text and references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Ref(Reference),
}

const OPEN: &str = "{{resolve:";

/// Splits `text` into literal text and references. A `{{resolve:` without its `}}`, or a
/// reference of an unknown type or shape, is an error.
pub fn parse(text: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        if i > 0 {
            out.push(Piece::Text(rest[..i].to_string()));
        }
        let after = &rest[i + OPEN.len()..];
        let end = after.find("}}").ok_or_else(|| format!("{}… has no closing }}}}", clip(&rest[i..])))?;
        out.push(Piece::Ref(parse_reference(&after[..end])?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

fn parse_reference(inner: &str) -> Result<Reference, String> {
    let bad = |why: &str| format!("{{{{resolve:{}}}}}: {why}", clip(inner));
    let (kind, rest) = inner.split_once(':').ok_or_else(|| bad("expected TYPE:…"))?;
    match kind {
        "ssm" | "ssm-secure" => {
            let (name, version) = match rest.split_once(':') {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                return Err(bad("the parameter name is empty or has spaces"));
            }
            if let Some(v) = version {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the parameter version must be a number"));
                }
            }
            Ok(Reference::Ssm { name: rest.to_string(), secure: kind == "ssm-secure" })
        }
        "secretsmanager" => {
            // An ARN has six colons of its own.
            let (id, tail) = if rest.starts_with("arn:") {
                let mut n = 0;
                let cut = rest.char_indices().find(|(_, c)| {
                    if *c == ':' {
                        n += 1;
                    }
                    n == 7
                });
                match cut {
                    Some((i, _)) => (&rest[..i], Some(&rest[i + 1..])),
                    None => (rest, None),
                }
            } else {
                match rest.split_once(':') {
                    Some((id, t)) => (id, Some(t)),
                    None => (rest, None),
                }
            };
            if id.is_empty() {
                return Err(bad("the secret id is empty"));
            }
            let parts: Vec<&str> = tail.map(|t| t.split(':').collect()).unwrap_or_default();
            if parts.len() > 4 {
                return Err(bad("expected ID:SecretString:JSON_KEY:VERSION_STAGE:VERSION_ID at most"));
            }
            let part = |i: usize| parts.get(i).filter(|s| !s.is_empty()).map(|s| s.to_string());
            if let Some(s) = part(0) {
                if s != "SecretString" {
                    return Err(bad("the only secret part is SecretString"));
                }
            }
            let (stage, version_id) = (part(2), part(3));
            if stage.is_some() && version_id.is_some() {
                return Err(bad("give a version stage or a version id, not both"));
            }
            Ok(Reference::Secret { id: id.to_string(), json_key: part(1), stage, version_id })
        }
        _ => Err(bad("the type must be ssm, ssm-secure or secretsmanager")),
    }
}

/// The value of one reference, read now.
pub async fn fetch(client: &AwsClient, r: &Reference) -> Result<Zeroizing<String>, String> {
    let fail = |e: crate::aws_client::CallError| format!("{{{{resolve:{r}}}}}: {e}");
    match r {
        Reference::Ssm { name, secure } => {
            let out = client
                .call(Service::Ssm, "GetParameter", &json!({"Name": name, "WithDecryption": secure}))
                .await
                .map_err(fail)?;
            let v: Value =
                serde_json::from_slice(&out).map_err(|_| format!("{{{{resolve:{r}}}}}: the answer is not JSON"))?;
            let p = &v["Parameter"];
            if !secure && p["Type"] == "SecureString" {
                return Err(format!("{{{{resolve:{r}}}}}: the parameter is a SecureString: use ssm-secure"));
            }
            if *secure && p["Type"] != "SecureString" {
                return Err(format!("{{{{resolve:{r}}}}}: the parameter is not a SecureString: use ssm"));
            }
            let value = p["Value"].as_str().ok_or_else(|| format!("{{{{resolve:{r}}}}}: the answer has no value"))?;
            Ok(Zeroizing::new(value.to_string()))
        }
        Reference::Secret { id, json_key, stage, version_id } => {
            let mut req = json!({"SecretId": id});
            if let Some(s) = stage {
                req["VersionStage"] = json!(s);
            }
            if let Some(v) = version_id {
                req["VersionId"] = json!(v);
            }
            let out = client.call(Service::SecretsManager, "GetSecretValue", &req).await.map_err(fail)?;
            let v: Zeroizing<Vec<u8>> = out;
            let mut doc: Value =
                serde_json::from_slice(&v).map_err(|_| format!("{{{{resolve:{r}}}}}: the answer is not JSON"))?;
            let secret = Zeroizing::new(
                doc["SecretString"]
                    .as_str()
                    .ok_or_else(|| format!("{{{{resolve:{r}}}}}: the secret has no SecretString (a binary secret)"))?
                    .to_string(),
            );
            if let Some(Value::String(s)) = doc.get_mut("SecretString") {
                zeroize::Zeroize::zeroize(s);
            }
            let Some(key) = json_key else { return Ok(secret) };
            let mut obj: Value = serde_json::from_str(&secret)
                .map_err(|_| format!("{{{{resolve:{r}}}}}: the SecretString is not a JSON object"))?;
            let value = match obj.get(key.as_str()) {
                Some(Value::String(s)) => Zeroizing::new(s.clone()),
                Some(other) => Zeroizing::new(other.to_string()),
                None => return Err(format!("{{{{resolve:{r}}}}}: the secret has no JSON key {key:?}")),
            };
            if let Value::Object(m) = &mut obj {
                for (_, v) in m.iter_mut() {
                    if let Value::String(s) = v {
                        zeroize::Zeroize::zeroize(s);
                    }
                }
            }
            Ok(value)
        }
    }
}

/// Renders parsed pieces: every reference read now (each distinct one once).
pub async fn render(client: &AwsClient, pieces: &[Piece]) -> Result<Zeroizing<String>, String> {
    let mut values: Vec<(&Reference, Zeroizing<String>)> = Vec::new();
    let mut out = Zeroizing::new(String::new());
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(r) => {
                if let Some((_, v)) = values.iter().find(|(k, _)| *k == r) {
                    out.push_str(v);
                } else {
                    let v = fetch(client, r).await?;
                    out.push_str(&v);
                    values.push((r, v));
                }
            }
        }
    }
    Ok(out)
}

/// `trent resolve`.
#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// The text to render, e.g. 'postgres://app:{{resolve:secretsmanager:db:SecretString:password}}@db/app'.
    pub text: String,
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

pub fn run(a: ResolveArgs) -> Result<(), String> {
    let pieces = parse(&a.text)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the I/O runtime: {e}"))?;
    let out = rt.block_on(async {
        if !pieces.iter().any(|p| matches!(p, Piece::Ref(_))) {
            return Ok(Zeroizing::new(a.text.clone()));
        }
        let client = AwsClient::from_env(
            a.profile.as_deref(),
            a.region.as_deref(),
            a.endpoint_url.as_deref(),
            a.ca_bundle.as_deref(),
        )?;
        render(&client, &pieces).await
    })?;
    let mut stdout = std::io::stdout().lock();
    std::io::Write::write_all(&mut stdout, out.as_bytes())
        .and_then(|()| std::io::Write::write_all(&mut stdout, b"\n"))
        .map_err(|e| format!("writing standard output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Reference {
        match parse(s).unwrap().as_slice() {
            [Piece::Ref(r)] => r.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn references_parse_as_cloudformation_writes_them() {
        assert_eq!(one("{{resolve:ssm:/app/url}}"), Reference::Ssm { name: "/app/url".into(), secure: false });
        assert_eq!(one("{{resolve:ssm:/app/url:3}}"), Reference::Ssm { name: "/app/url:3".into(), secure: false });
        assert_eq!(one("{{resolve:ssm-secure:pw}}"), Reference::Ssm { name: "pw".into(), secure: true });
        assert_eq!(
            one("{{resolve:secretsmanager:db}}"),
            Reference::Secret { id: "db".into(), json_key: None, stage: None, version_id: None }
        );
        assert_eq!(
            one("{{resolve:secretsmanager:db:SecretString:password:AWSPREVIOUS}}"),
            Reference::Secret {
                id: "db".into(),
                json_key: Some("password".into()),
                stage: Some("AWSPREVIOUS".into()),
                version_id: None
            }
        );
        assert_eq!(
            one("{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf:SecretString:user}}"),
            Reference::Secret {
                id: "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf".into(),
                json_key: Some("user".into()),
                stage: None,
                version_id: None
            }
        );
        assert_eq!(
            one("{{resolve:secretsmanager:db:SecretString:::0123-v}}"),
            Reference::Secret { id: "db".into(), json_key: None, stage: None, version_id: Some("0123-v".into()) }
        );
    }

    #[test]
    fn text_around_references_is_kept() {
        let p = parse("a {{resolve:ssm:x}} b {{resolve:ssm:x}}").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0], Piece::Text("a ".into()));
        assert_eq!(p[2], Piece::Text(" b ".into()));
        assert_eq!(parse("no references {{ here }}").unwrap(), vec![Piece::Text("no references {{ here }}".into())]);
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn malformed_references_are_errors() {
        for bad in [
            "{{resolve:ssm:x",
            "{{resolve:vault:x}}",
            "{{resolve:ssm:}}",
            "{{resolve:ssm:x:latest}}",
            "{{resolve:secretsmanager:}}",
            "{{resolve:secretsmanager:db:SecretBinary}}",
            "{{resolve:secretsmanager:db:SecretString:k:AWSCURRENT:v1}}",
            "{{resolve:secretsmanager:db:SecretString:k:s:v:extra}}",
            "{{resolve:nothing}}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
