//! Errors on the wire.
//!
//! Every service defines its own error enum and implements [`AwsError`]; the server turns
//! any `AwsError` into the awsJson1.1 envelope `{"__type": "...", "message": "..."}` in one
//! place. Internal details never reach the client: an internal error carries a fixed message
//! and the detail goes to the log only.

use serde::Serialize;

/// An error the client may see.
pub trait AwsError {
    /// The AWS error code, e.g. `NotFoundException` (used as `__type`).
    fn code(&self) -> &'static str;
    /// The message shown to the client. Never contains secrets or internal detail.
    fn message(&self) -> String;
    /// The HTTP status AWS uses for this error.
    fn status(&self) -> u16;
    /// For internal failures: the detail to log (never sent to the client).
    fn internal_detail(&self) -> Option<String> {
        None
    }
}

/// The awsJson1.1 error body.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    pub kind: &'a str,
    pub message: String,
}

impl ErrorBody<'_> {
    pub fn json_of(err: &dyn AwsError) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody { kind: err.code(), message: err.message() })
            .unwrap_or_else(|_| b"{\"__type\":\"InternalFailure\"}".to_vec())
    }
}

/// Errors raised by framing and authentication, before any service sees the request.
/// Every service error enum wraps this type, so these map to the wire in the same way everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Malformed JSON, a wrong type, bad base64.
    Serialization(String),
    /// One or more constraint violations, already formatted AWS-style.
    Validation(String),
    UnknownOperation(String),
    MissingAuthenticationToken,
    IncompleteSignature(String),
    InvalidSignature(String),
    UnrecognizedClient,
    /// Session credentials past their expiry.
    ExpiredToken,
    /// Body larger than the server accepts.
    RequestTooLarge(usize),
    /// Only POST / is served.
    BadMethodOrPath,
    AccessDenied(String),
    /// The request body did not arrive within the server's body-read timeout.
    RequestTimeout(String),
}

impl AwsError for WireError {
    fn code(&self) -> &'static str {
        match self {
            WireError::Serialization(_) => "SerializationException",
            WireError::Validation(_) => "ValidationException",
            WireError::UnknownOperation(_) => "UnknownOperationException",
            WireError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            WireError::IncompleteSignature(_) => "IncompleteSignatureException",
            WireError::InvalidSignature(_) => "InvalidSignatureException",
            WireError::UnrecognizedClient => "UnrecognizedClientException",
            WireError::ExpiredToken => "ExpiredTokenException",
            WireError::RequestTooLarge(_) => "RequestEntityTooLargeException",
            WireError::BadMethodOrPath => "UnknownOperationException",
            WireError::AccessDenied(_) => "AccessDeniedException",
            WireError::RequestTimeout(_) => "RequestTimeoutException",
        }
    }

    fn message(&self) -> String {
        match self {
            WireError::Serialization(m)
            | WireError::Validation(m)
            | WireError::IncompleteSignature(m)
            | WireError::InvalidSignature(m)
            | WireError::AccessDenied(m)
            | WireError::RequestTimeout(m) => m.clone(),
            WireError::UnknownOperation(op) => format!("Unknown operation: {op}"),
            WireError::MissingAuthenticationToken => "Missing Authentication Token".into(),
            WireError::UnrecognizedClient => "The security token included in the request is invalid.".into(),
            WireError::ExpiredToken => "The security token included in the request is expired".into(),
            WireError::RequestTooLarge(max) => {
                format!("Request body is larger than the {max} bytes this server accepts")
            }
            WireError::BadMethodOrPath => "Only POST / with an X-Amz-Target header is served here".into(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            WireError::MissingAuthenticationToken => 403,
            WireError::AccessDenied(_) => 400,
            WireError::RequestTooLarge(_) => 413,
            WireError::RequestTimeout(_) => 408,
            WireError::BadMethodOrPath => 404,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_type_and_message() {
        let body = ErrorBody::json_of(&WireError::UnknownOperation("Frobnicate".into()));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["__type"], "UnknownOperationException");
        assert_eq!(v["message"], "Unknown operation: Frobnicate");
    }
}
