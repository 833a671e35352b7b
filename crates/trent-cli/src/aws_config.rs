//! Region, credentials and endpoint from the standard AWS sources, in the AWS CLI's order:
//! flags, then environment variables, then the shared credentials and config files for the
//! profile (`--profile`, else `AWS_PROFILE`, else `default`).

use std::collections::HashMap;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Access key, secret and optional session token. `Debug` never shows the secret.
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

/// Parses an INI file into section → key → value (keys lower-cased, values trimmed).
pub fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section: Option<String> = None;
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let name = name.trim().to_string();
            out.entry(name.clone()).or_default();
            section = Some(name);
            continue;
        }
        if let (Some(s), Some((k, v))) = (&section, l.split_once('=')) {
            // Nested sub-sections (indented `s3 =` blocks) are not needed here and are skipped.
            if line.starts_with(char::is_whitespace) {
                continue;
            }
            out.entry(s.clone()).or_default().insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

/// The profile's settings from the credentials file and the config file.
pub struct Profile {
    name: String,
    credentials: HashMap<String, String>,
    config: HashMap<String, String>,
}

impl Profile {
    pub fn load(explicit: Option<&str>) -> Profile {
        let name = explicit.map(str::to_string).or_else(|| env("AWS_PROFILE")).unwrap_or_else(|| "default".into());
        let read = |var: &str, default: &str| -> HashMap<String, HashMap<String, String>> {
            let path = env(var).map(PathBuf::from).or_else(|| home().map(|h| h.join(".aws").join(default)));
            path.and_then(|p| std::fs::read_to_string(p).ok()).map(|t| parse_ini(&t)).unwrap_or_default()
        };
        let creds = read("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let conf = read("AWS_CONFIG_FILE", "config");
        let credentials = creds.get(&name).cloned().unwrap_or_default();
        let config_section = if name == "default" { "default".to_string() } else { format!("profile {name}") };
        let config = conf.get(&config_section).cloned().unwrap_or_default();
        Profile { name, credentials, config }
    }

    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.credentials.get(key).or_else(|| self.config.get(key)).cloned().filter(|v| !v.is_empty())
    }

    /// `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
    pub fn region(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_string)
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| self.get("region"))
    }

    /// Environment credentials, then the profile's static credentials.
    pub fn credentials(&self) -> Result<Credentials, String> {
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: Zeroizing::new(secret),
                session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
            });
        }
        match (self.get("aws_access_key_id"), self.get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => Ok(Credentials {
                access_key_id: id,
                secret_access_key: Zeroizing::new(secret),
                session_token: self.get("aws_session_token").map(Zeroizing::new),
            }),
            _ => Err(format!(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or aws_access_key_id and \
                 aws_secret_access_key for profile {:?} in the shared credentials or config file",
                self.name
            )),
        }
    }

    /// `--endpoint-url`, `AWS_ENDPOINT_URL_<SERVICE>` (`service_env`: `SSM`, `SECRETS_MANAGER`,
    /// `STS`), `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`.
    pub fn endpoint_for(&self, flag: Option<&str>, service_env: &str) -> Option<String> {
        flag.map(str::to_string)
            .or_else(|| env(&format!("AWS_ENDPOINT_URL_{service_env}")))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| self.get("endpoint_url"))
    }

    /// `--endpoint-url`, `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`.
    pub fn endpoint(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_string)
            .or_else(|| env("AWS_ENDPOINT_URL_KMS"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| self.get("endpoint_url"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_parser_reads_sections_and_skips_comments_and_nested_blocks() {
        let ini = "# c\n[default]\naws_access_key_id = AKID\nregion=eu-west-1\n\n[profile dev]\nregion = us-west-2\ns3 =\n  max_concurrent_requests = 20\n";
        let p = parse_ini(ini);
        assert_eq!(p["default"]["aws_access_key_id"], "AKID");
        assert_eq!(p["default"]["region"], "eu-west-1");
        assert_eq!(p["profile dev"]["region"], "us-west-2");
        assert!(!p["profile dev"].contains_key("max_concurrent_requests"));
    }

    #[test]
    fn credentials_debug_does_not_show_the_secret() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: Zeroizing::new("very-secret".into()),
            session_token: None,
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
