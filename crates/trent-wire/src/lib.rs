//! AWS wire protocols for Trent, with no HTTP server and no business logic.
//!
//! * [`error`]: the [`AwsError`] trait every service error implements, the awsJson1.1
//!   error envelope, and the protocol-level errors every service shares.
//! * [`json`]: awsJson1.1 body decoding, base64 blobs, epoch timestamps.
//! * [`validate`]: AWS-style `ValidationException` messages from the botocore constraints.
//! * [`model`] and [`generated`]: the served services' contract generated from botocore's models
//!   (`cargo run -p xtask -- gen-wire`), and the validator every awsJson request passes first.
//! * [`query`]: the awsQuery protocol of IAM and STS: form-encoded requests, XML responses and
//!   the XML error envelope.
//! * [`sigv4`]: Signature Version 4 verification behind a credential-lookup trait, and a
//!   signer for tests and benchmarks.
#![forbid(unsafe_code)]

pub mod error;
#[rustfmt::skip]
pub mod generated;
pub mod json;
pub mod model;
pub mod query;
pub mod regions;
pub mod sigv4;
pub mod validate;

pub use error::{AwsError, ErrorBody, WireError};

/// How the audit trail treats an operation (CloudTrail's `readOnly`, and whether a durable
/// `intent` record must precede it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Reads configuration or metadata (`Get*`, `List*`, `Describe*`): read-only, no intent.
    Read,
    /// Uses data or keys without changing stored state (Encrypt, Sign, GetSecretValue is
    /// `Read`): read-only, no intent.
    Data,
    /// Changes stored state: not read-only, and runs only once its intent is durable.
    Write,
    /// Read-only for CloudTrail, but stores state (GetParametersForImport keeps its import
    /// parameters): its intent is recorded first.
    ReadWithIntent,
}

impl Audit {
    /// CloudTrail's `readOnly`.
    pub fn read_only(self) -> bool {
        !matches!(self, Audit::Write)
    }
    /// Whether a durable `intent` record must precede the operation.
    pub fn needs_intent(self) -> bool {
        matches!(self, Audit::Write | Audit::ReadWithIntent)
    }
}

/// Which request quota (token bucket per account and region) an operation counts against.
/// The server's `quota.rs` turns it into a bucket name and AWS's default rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quota {
    /// Its own bucket, `<service>:<Operation>`, at this many requests per second.
    Own(f64),
    /// A bucket shared with other operations: (name, requests per second).
    Shared(&'static str, f64),
    /// `kms:symmetric` (its rate depends on the region).
    KmsSymmetric,
    /// `kms:rsa` when an `*EncryptionAlgorithm` member names RSA (or SM2), else `kms:symmetric`.
    KmsEncryption,
    /// `kms:rsa` when `SigningAlgorithm` is RSASSA_*, else `kms:ecc`.
    KmsSigning,
    /// `kms:ecc`.
    KmsEcc,
    /// `kms:GenerateDataKeyPair/<KeyPairSpec>`, rated per spec.
    KmsDataKeyPair,
}

/// Declares a service's operations once — the one table that knows everything about each
/// operation: an `Operation` enum (with `ALL`, `name`, `from_name`, and per row its IAM
/// action, audit class, quota and the request members naming the resources it acts on) and
/// `dispatch` on the service type, which decodes the awsJson body, calls
/// `ops::<module>::handle(service, caller, request)` and encodes the answer.
///
/// ```text
/// trent_wire::operations!(Kms, Caller, KmsError, "kms", {
///     //  name    => module    (audit, quota,              resource members)
///     CreateKey   => create_key (Write, Quota::Own(5.0),   []),
///     Encrypt     => encrypt    (Data,  Quota::KmsEncryption, ["KeyId"]),
/// });
/// ```
#[macro_export]
macro_rules! operations {
    ($service:ty, $caller:ty, $error:ty, $iam_prefix:literal, {
        $($name:ident => $module:ident ($audit:ident, $quota:expr, [$($res:literal),* $(,)?])),* $(,)?
    }) => {
        /// Every operation of this service that Trent serves: the one list.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation { $($name),* }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            /// The prefix of this service's IAM actions (`kms`, `ssm`, `secretsmanager`).
            pub const IAM_PREFIX: &'static str = $iam_prefix;

            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),* }
            }

            pub fn from_name(name: &str) -> Option<Operation> {
                match name { $(stringify!($name) => Some(Operation::$name),)* _ => None }
            }

            /// The IAM action a policy must allow (`kms:Encrypt`).
            pub fn action(self) -> &'static str {
                match self { $(Operation::$name => concat!($iam_prefix, ":", stringify!($name))),* }
            }

            /// How the audit trail records it.
            pub fn audit(self) -> $crate::Audit {
                match self { $(Operation::$name => $crate::Audit::$audit),* }
            }

            /// The request quota it counts against.
            pub fn quota(self) -> $crate::Quota {
                #[allow(unused_imports)]
                use $crate::Quota;
                match self { $(Operation::$name => $quota),* }
            }

            /// The request members that name the resources it acts on (authorization reads them).
            pub fn resource_members(self) -> &'static [&'static str] {
                match self { $(Operation::$name => &[$($res),*]),* }
            }
        }

        impl $service {
            /// Decodes `body`, runs the operation for `caller`, and encodes the response.
            pub fn dispatch(&self, op: Operation, caller: &$caller, body: &[u8]) -> Result<Vec<u8>, $error> {
                match op {
                    $(Operation::$name => {
                        $crate::model::validate_request($iam_prefix, stringify!($name), body)?;
                        let req = $crate::json::decode(body)?;
                        let resp = ops::$module::handle(self, caller, req)?;
                        $crate::json::encode(&resp).map_err(<$error>::from)
                    })*
                }
            }
        }
    };
}
