//! The non-root load principal (`--principal iam-user`): an IAM user made through the real IAM
//! API (awsQuery `CreateUser`, `PutUserPolicy`, `CreateAccessKey`, signed by the account root),
//! whose identity policy allows on `*` exactly the actions the loads send ([`crate::loads::iam_actions`]).
//! The loads then sign with that user's access key, so the server evaluates the user's identity
//! policy, and for KMS also the key policy (the default one, which lets IAM policies decide:
//! checked in setup, see `loads::Fixtures`), on every request. The account root skips both.

use crate::client::{xml_text, Client, Credentials, Reply};

const IAM_VERSION: &str = "2010-05-08";
const STS_VERSION: &str = "2011-06-15";

/// The user the loads sign as.
pub struct LoadUser {
    pub creds: Credentials,
    /// The ARN the server reports for the user's key (`sts:GetCallerIdentity`, signed with it).
    pub caller_arn: String,
}

/// `{"Version": ..., "Statement": [{"Effect": "Allow", "Action": [...], "Resource": "*"}]}`.
pub fn policy_document(actions: &[String]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrentBenchLoads",
            "Effect": "Allow",
            "Action": actions,
            "Resource": "*",
        }]
    })
    .to_string()
}

fn answer(r: Result<Reply, String>, what: &str) -> Result<String, String> {
    let reply = r.map_err(|e| format!("{what}: transport: {e}"))?;
    if reply.status != 200 {
        return Err(format!("{what}: {}", reply.error_code()));
    }
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

fn member(xml: &str, tag: &str, what: &str) -> Result<String, String> {
    xml_text(xml, tag).filter(|v| !v.is_empty()).ok_or_else(|| format!("{what}: answer has no {tag}"))
}

/// Creates user `name` with the load policy and an access key, through `admin` (the account
/// root), and returns a client that signs as the user (same endpoints and connection pool).
pub async fn create_load_user(
    admin: &Client,
    name: &str,
    actions: &[String],
    region: &str,
) -> Result<(Client, LoadUser), String> {
    answer(admin.call_query("iam", "CreateUser", IAM_VERSION, &[("UserName", name)]).await, "iam:CreateUser")?;
    let policy = policy_document(actions);
    answer(
        admin
            .call_query(
                "iam",
                "PutUserPolicy",
                IAM_VERSION,
                &[("UserName", name), ("PolicyName", "trent-bench-loads"), ("PolicyDocument", &policy)],
            )
            .await,
        "iam:PutUserPolicy",
    )?;
    let key = answer(
        admin.call_query("iam", "CreateAccessKey", IAM_VERSION, &[("UserName", name)]).await,
        "iam:CreateAccessKey",
    )?;
    let creds = Credentials {
        access_key_id: member(&key, "AccessKeyId", "iam:CreateAccessKey")?,
        secret_access_key: member(&key, "SecretAccessKey", "iam:CreateAccessKey")?,
        region: region.to_string(),
    };
    let user = admin.with_credentials(creds.clone());
    let who = answer(user.call_query("sts", "GetCallerIdentity", STS_VERSION, &[]).await, "sts:GetCallerIdentity")?;
    let caller_arn = member(&who, "Arn", "sts:GetCallerIdentity")?;
    Ok((user, LoadUser { creds, caller_arn }))
}

/// Whether a key policy lets the account's IAM policies decide: a statement allowing `kms:*`
/// on `*` to the account (`arn:…:iam::ACCOUNT:root`), as AWS's default key policy does.
pub fn delegates_to_iam(policy: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else { return false };
    let has = |v: &serde_json::Value, want: &dyn Fn(&str) -> bool| match v {
        serde_json::Value::String(s) => want(s),
        serde_json::Value::Array(a) => a.iter().any(|x| x.as_str().is_some_and(want)),
        _ => false,
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && s.get("Condition").is_none()
            && has(&s["Principal"]["AWS"], &|p| {
                p.ends_with(":root") || (p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()))
            })
            && has(&s["Action"], &|a| a == "kms:*")
            && has(&s["Resource"], &|r| r == "*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_policy_delegates() {
        let default = r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",
            "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}"#;
        assert!(delegates_to_iam(default));
        assert!(delegates_to_iam(&default.replace("arn:aws:iam::000000000000:root", "000000000000")));
        // A policy naming one user, or a Deny, or a narrower action does not delegate.
        assert!(!delegates_to_iam(&default.replace(":root", ":user/alice")));
        assert!(!delegates_to_iam(&default.replace("\"Allow\"", "\"Deny\"")));
        assert!(!delegates_to_iam(&default.replace("kms:*", "kms:Encrypt")));
        assert!(!delegates_to_iam("not json"));
    }

    #[test]
    fn the_policy_lists_the_actions_on_everything() {
        let p: serde_json::Value =
            serde_json::from_str(&policy_document(&["kms:Encrypt".into(), "ssm:GetParameter".into()])).unwrap();
        assert_eq!(p["Statement"][0]["Action"], serde_json::json!(["kms:Encrypt", "ssm:GetParameter"]));
        assert_eq!(p["Statement"][0]["Resource"], "*");
        assert_eq!(p["Statement"][0]["Effect"], "Allow");
    }
}
