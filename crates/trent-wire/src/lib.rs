//! AWS wire protocols for Trent, with no HTTP server and no business logic.
//!
//! * [`error`]: the [`AwsError`] trait every service error implements, the awsJson1.1
//!   error envelope, and the protocol-level errors every service shares.
//! * [`json`]: awsJson1.1 body decoding, base64 blobs, epoch timestamps.
//! * [`validate`]: AWS-style `ValidationException` messages from the botocore constraints.
//! * [`query`]: the awsQuery protocol of IAM and STS: form-encoded requests, XML responses and
//!   the XML error envelope.
//! * [`sigv4`]: Signature Version 4 verification behind a credential-lookup trait, and a
//!   signer for tests and benchmarks.
#![forbid(unsafe_code)]

pub mod error;
pub mod json;
pub mod query;
pub mod regions;
pub mod sigv4;
pub mod validate;

pub use error::{AwsError, ErrorBody, WireError};

/// Declares a service's operations once: an `Operation` enum (with `ALL`, `name`, `from_name`)
/// and `dispatch` on the service type, which decodes the awsJson body, calls
/// `ops::<module>::handle(service, caller, request)` and encodes the answer.
///
/// ```text
/// trent_wire::operations!(Kms, Caller, KmsError, {
///     CreateKey => create_key,
///     Encrypt => encrypt,
/// });
/// ```
#[macro_export]
macro_rules! operations {
    ($service:ty, $caller:ty, $error:ty, { $($name:ident => $module:ident),* $(,)? }) => {
        /// Every operation of this service that Trent serves: the one list.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation { $($name),* }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),* }
            }

            pub fn from_name(name: &str) -> Option<Operation> {
                match name { $(stringify!($name) => Some(Operation::$name),)* _ => None }
            }
        }

        impl $service {
            /// Decodes `body`, runs the operation for `caller`, and encodes the response.
            pub fn dispatch(&self, op: Operation, caller: &$caller, body: &[u8]) -> Result<Vec<u8>, $error> {
                match op {
                    $(Operation::$name => {
                        let req = $crate::json::decode(body)?;
                        let resp = ops::$module::handle(self, caller, req)?;
                        $crate::json::encode(&resp).map_err(<$error>::from)
                    })*
                }
            }
        }
    };
}
