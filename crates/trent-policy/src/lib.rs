//! Identity and authorization for Trent: partitions, ARNs, principals, and the IAM policy
//! language with its evaluation, as pure functions (no I/O, no clock).
//!
//! * [`document`]: parse and validate a policy document ([`Policy::parse`], [`validate`],
//!   [`validate_key_policy`]), the default key policy, the 32 KB key-policy limit. A refusal is
//!   a [`PolicyError`]: a typed [`PolicyErrorKind`] each service maps to its own error, and
//!   IAM's message where AWS's is known.
//! * [`condition`]: condition operators (`String*`, `Numeric*`, `Date*`, `Bool`, `BinaryEquals`,
//!   `IpAddress`, `Arn*`, `Null`, `…IfExists`, `ForAnyValue:`/`ForAllValues:`).
//! * [`context`]: the request context: principal, action, resource, condition keys.
//! * [`eval`]: [`evaluate`] (identity + resource policies), [`evaluate_kms`] (key policy,
//!   IAM delegation, grants), the PutKeyPolicy lockout check, and AWS's denial messages.
//! * [`grant_constraints_allow`]: KMS grant constraints (`EncryptionContextEquals`/`Subset`).
//!
//! Policy variables (`${aws:username}`, `${*}`, `${key, 'default'}`) are substituted in
//! `Resource` and string/ARN condition values of Version 2012-10-17 policies.
//!
//! ```
//! use trent_policy::{evaluate_kms, Outcome, Policy, PolicyKind, RequestContext, RequestPrincipal};
//!
//! let key_policy = Policy::parse(&trent_policy::default_key_policy("aws", "111122223333"), PolicyKind::Resource).unwrap();
//! let iam = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#, PolicyKind::Identity).unwrap();
//! let bob = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/bob", "AIDAEXAMPLE").unwrap();
//! let ctx = RequestContext::new(bob, "kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k");
//! assert_eq!(evaluate_kms(&ctx, &key_policy, "111122223333", &[iam], false).outcome(), Outcome::Allow);
//! let d = evaluate_kms::<Policy>(&ctx, &key_policy, "111122223333", &[], false);
//! assert!(d.message(&ctx).unwrap().ends_with("because no identity-based policy allows the kms:Decrypt action"));
//! ```
#![forbid(unsafe_code)]

mod arn;
pub mod condition;
pub mod context;
pub mod document;
pub mod eval;
mod grants;
mod principal;
mod vars;
mod wildcard;

pub use arn::{partition_for_region, Arn};
pub use condition::{BaseOperator, Condition, Operator, SetOperator};
pub use context::{ConditionKeys, PrincipalType, RequestContext, RequestPrincipal};
pub use document::{
    default_key_policy, iam_policy_size, validate, validate_key_policy, Effect, Element, Policy, PolicyError,
    PolicyErrorKind, PolicyKind, PrincipalEntry, Statement, Version, KEY_POLICY_MAX_BYTES, MANAGED_POLICY_MAX_CHARS,
    ROLE_INLINE_POLICIES_MAX_CHARS, TRUST_POLICY_MAX_CHARS, USER_INLINE_POLICIES_MAX_CHARS,
};
pub use eval::{
    allows_put_key_policy, evaluate, evaluate_identity, evaluate_kms, Decision, Outcome, PolicyType, LOCKOUT_MESSAGE,
};
pub use grants::grant_constraints_allow;
pub use principal::{Principal, PrincipalKind};
pub use wildcard::{arn_match, wildcard_match, wildcard_match_ignore_case};
