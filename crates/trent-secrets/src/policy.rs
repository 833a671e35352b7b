//! Resource-based policies on secrets: validation through `trent_policy` and AWS's "public
//! policy" check behind PutResourcePolicy's `BlockPublicPolicy` and ValidateResourcePolicy.
//!
//! A policy grants broad (public) access when one of its `Allow` statements applies to anyone —
//! `"Principal": "*"`, `{"AWS": "*"}`, or any `NotPrincipal` — without a condition that pins
//! the caller to known accounts, organizations, principals, networks or sources: a positive
//! (not `…Not…`) operator on one of [`RESTRICTING_KEYS`] whose values are not all wildcards.

use crate::SmError;
use trent_policy::{Effect, Policy, PolicyKind, PrincipalEntry, Statement};

/// The largest resource policy Secrets Manager accepts (NonEmptyResourcePolicyType).
pub(crate) const MAX_POLICY_CHARS: usize = 20_480;

/// Condition keys that narrow who can use a statement (compared ignoring case).
pub(crate) const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:userid",
    "aws:username",
    "aws:calledvia",
    "secretsmanager:resource/allowrotationlambdaarn",
];

pub(crate) const PUBLIC_POLICY_MESSAGE: &str =
    "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.";

/// Secrets Manager's answer to a principal it does not accept.
pub(crate) const UNSUPPORTED_PRINCIPAL: &str = "This resource policy contains an unsupported principal.";

/// The message of a MalformedPolicyDocumentException for a policy the parser refused.
pub(crate) fn malformed_message(e: &trent_policy::PolicyError) -> String {
    match e.kind {
        trent_policy::PolicyErrorKind::InvalidPrincipal => UNSUPPORTED_PRINCIPAL.into(),
        trent_policy::PolicyErrorKind::Syntax => "This resource policy contains a syntax error.".into(),
        _ => format!("This resource policy contains an error: {e}"),
    }
}

/// Parses a new resource policy for a secret; a malformed one → MalformedPolicyDocumentException.
pub(crate) fn parse(text: &str) -> Result<Policy, SmError> {
    Policy::parse_new(text, PolicyKind::Resource).map_err(|e| SmError::MalformedPolicyDocument(malformed_message(&e)))
}

fn restricted(s: &Statement) -> bool {
    s.conditions.iter().any(|c| {
        !c.op.base.is_negated()
            && !c.op.if_exists
            && RESTRICTING_KEYS.contains(&c.key.to_ascii_lowercase().as_str())
            && !c.values.is_empty()
            && c.values.iter().all(|v| !v.chars().all(|ch| ch == '*' || ch == '?'))
    })
}

/// Whether a statement allows anyone, unrestricted.
fn broad(s: &Statement) -> bool {
    if s.effect != Effect::Allow {
        return false;
    }
    let anyone = match &s.principal {
        Some(p) if p.negated => true,
        Some(p) => p.values.iter().any(|e| matches!(e, PrincipalEntry::Anyone)),
        None => false,
    };
    anyone && !restricted(s)
}

/// The statements (by position, with their Sid) that grant broad access.
pub(crate) fn public_statements(p: &Policy) -> Vec<String> {
    p.statements
        .iter()
        .enumerate()
        .filter(|(_, s)| broad(s))
        .map(|(i, s)| s.sid.clone().unwrap_or_else(|| format!("#{}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(principal: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"secretsmanager:GetSecretValue","Resource":"*"{condition}}}]}}"#
        )
    }

    #[test]
    fn star_principal_without_conditions_is_public() {
        assert_eq!(public_statements(&parse(&stmt(r#""*""#, "")).unwrap()), ["#1"]);
        assert_eq!(public_statements(&parse(&stmt(r#"{"AWS":"*"}"#, "")).unwrap()).len(), 1);
    }

    #[test]
    fn an_account_principal_is_not_public() {
        assert!(public_statements(&parse(&stmt(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#, "")).unwrap()).is_empty());
    }

    #[test]
    fn star_principal_pinned_to_an_account_or_org_is_not_public() {
        let c = r#","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#;
        assert!(public_statements(&parse(&stmt(r#""*""#, c)).unwrap()).is_empty());
        let c = r#","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#;
        assert!(public_statements(&parse(&stmt(r#""*""#, c)).unwrap()).is_empty());
    }

    #[test]
    fn conditions_that_do_not_restrict_the_caller_keep_it_public() {
        for c in [
            r#","Condition":{"StringLike":{"aws:PrincipalAccount":"*"}}"#,
            r#","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
            r#","Condition":{"Bool":{"aws:SecureTransport":"true"}}"#,
            r#","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}"#,
        ] {
            assert_eq!(public_statements(&parse(&stmt(r#""*""#, c)).unwrap()).len(), 1, "{c}");
        }
    }

    #[test]
    fn deny_statements_and_not_principal_allow() {
        let deny =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;
        assert!(public_statements(&parse(deny).unwrap()).is_empty());
        // NotPrincipal with Allow is not a policy AWS accepts at all (it was once reported as
        // broad access here); with Deny it grants nothing.
        let not_principal = r#"{"Version":"2012-10-17","Statement":[{"Sid":"np","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"*","Resource":"*"}]}"#;
        assert!(matches!(parse(not_principal), Err(SmError::MalformedPolicyDocument(_))));
        let not_principal_deny = not_principal.replace("Allow", "Deny");
        assert!(public_statements(&parse(&not_principal_deny).unwrap()).is_empty());
    }

    #[test]
    fn malformed_policy_messages_follow_secrets_manager() {
        let msg = |t: &str| match parse(t) {
            Err(SmError::MalformedPolicyDocument(m)) => m,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(msg("not json"), "This resource policy contains a syntax error.");
        assert_eq!(msg(&stmt(r#"{"AWS":"bob"}"#, "")), UNSUPPORTED_PRINCIPAL);
        assert_eq!(msg(&stmt(r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#, "")), UNSUPPORTED_PRINCIPAL);
        let no_vendor = stmt(r#""*""#, "").replace("secretsmanager:GetSecretValue", "GetSecretValue");
        assert!(msg(&no_vendor).contains("prefaced by a vendor"), "{}", msg(&no_vendor));
    }

    #[test]
    fn malformed_policies_are_malformed_policy_document() {
        for bad in ["not json", "{}", r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#] {
            assert!(matches!(parse(bad), Err(SmError::MalformedPolicyDocument(_))), "{bad}");
        }
    }
}
