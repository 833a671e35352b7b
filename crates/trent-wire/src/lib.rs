//! AWS wire protocols for Trent, with no HTTP server and no business logic.
//!
//! * [`error`]: the [`AwsError`] trait every service error implements, the awsJson1.1
//!   error envelope, and the protocol-level errors every service shares.
//! * [`json`]: awsJson1.1 body decoding, base64 blobs, epoch timestamps.
//! * [`validate`]: AWS-style `ValidationException` messages from the botocore constraints.
//! * [`sigv4`]: Signature Version 4 verification behind a credential-lookup trait, and a
//!   signer for tests and benchmarks.

pub mod error;
pub mod json;
pub mod sigv4;
pub mod validate;

pub use error::{AwsError, ErrorBody, WireError};
