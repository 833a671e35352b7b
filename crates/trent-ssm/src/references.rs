//! `/aws/reference/secretsmanager/<secret id>`: GetParameter and GetParameters read a Secrets
//! Manager secret through Parameter Store, as on AWS. Secrets Manager is a sibling crate, so the
//! server provides it behind [`SecretReferences`].

use crate::error::SsmError;
use crate::params::{ms_to_epoch, Parameter};
use trent_kms::Caller;

pub const PREFIX: &str = "/aws/reference/secretsmanager/";

/// A secret's version as a reference returns it. No `Debug`: it holds the secret.
pub struct SecretVersion {
    pub value: zeroize::Zeroizing<String>,
    pub version_id: String,
    pub arn: String,
    pub created_ms: i64,
    /// DescribeSecret's answer, as JSON text (the parameter's SourceResult).
    pub source: String,
}

/// The secret a reference name reads: (secret id, staging label or version id), or None when
/// `name` is not under [`PREFIX`]. The one parser: the server's authorizer uses it to check
/// `secretsmanager:GetSecretValue` on exactly the secret that [`crate::Ssm`] then reads.
pub fn parse(name: &str) -> Option<(&str, Option<&str>)> {
    let rest = name.strip_prefix(PREFIX)?;
    Some(match rest.rsplit_once(':') {
        Some((id, sel)) if !id.is_empty() && !sel.is_empty() && !rest.starts_with("arn:") => (id, Some(sel)),
        _ => (rest, None),
    })
}

pub trait SecretReferences: Send + Sync {
    /// The secret's version by staging label or version id (AWSCURRENT when `selector` is None).
    /// `Ok(None)` when the secret or the version does not exist.
    /// Authorization is the server's: it checks `secretsmanager:GetSecretValue` on the secret
    /// before the request runs, and `kms:Decrypt` on its key as the value is decrypted.
    fn resolve(
        &self,
        caller: &Caller,
        secret_id: &str,
        selector: Option<&str>,
    ) -> Result<Option<SecretVersion>, SsmError>;
}

impl crate::Ssm {
    /// The parameter for a reference name, or None when `input` is not a reference.
    pub(crate) fn reference(
        &self,
        caller: &Caller,
        input: &str,
        with_decryption: bool,
    ) -> Result<Option<Parameter>, SsmError> {
        let Some((secret_id, selector)) = parse(input) else { return Ok(None) };
        if !with_decryption {
            return Err(SsmError::validation(
                "WithDecryption flag must be True for retrieving a Secret Manager secret.",
            ));
        }
        // AWS's text names the secret the reference reads.
        let missing = || {
            SsmError::ParameterNotFound(format!(
                "An error occurred (ParameterNotFound) when referencing Secrets Manager: Secret {input} not found."
            ))
        };
        let source = self.secrets.as_ref().ok_or_else(missing)?;
        let v = source.resolve(caller, secret_id, selector)?.ok_or_else(missing)?;
        Ok(Some(Parameter {
            name: input.to_string(),
            kind: "SecureString".into(),
            value: v.value.to_string(),
            version: 0,
            selector: selector.map(|s| format!(":{s}")),
            source_result: Some(v.source),
            last_modified_date: ms_to_epoch(v.created_ms),
            arn: v.arn,
            data_type: "text".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parse_names_the_secret_and_selector_the_server_authorizes() {
        assert_eq!(parse("/aws/reference/secretsmanager/db/pw"), Some(("db/pw", None)));
        assert_eq!(parse("/aws/reference/secretsmanager/db/pw:AWSPREVIOUS"), Some(("db/pw", Some("AWSPREVIOUS"))));
        let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
        assert_eq!(parse(&format!("/aws/reference/secretsmanager/{arn}")), Some((arn, None)));
        assert_eq!(parse("/aws/reference/secretsmanager/db:"), Some(("db:", None)));
        assert_eq!(parse("/app/db/pw"), None);
        assert_eq!(parse("/aws/reference/secretsmanagerx/db"), None);
    }
}
