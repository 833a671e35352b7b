//! `IamError`: the errors IAM and STS answer, named after AWS's error codes.

use trent_wire::query::QueryError;
use trent_wire::{AwsError, WireError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamError {
    /// Framing/authentication errors shared with every service.
    Wire(WireError),
    /// Malformed form body, missing `Action` or parameter.
    Query(QueryError),
    /// `NoSuchEntity` (404).
    NoSuchEntity(String),
    /// `EntityAlreadyExists` (409).
    EntityAlreadyExists(String),
    /// `DeleteConflict` (409).
    DeleteConflict(String),
    /// `LimitExceeded` (409).
    LimitExceeded(String),
    /// `MalformedPolicyDocument` (400).
    MalformedPolicyDocument(String),
    /// `ValidationError` (400).
    Validation(String),
    /// `InvalidInput` (400).
    InvalidInput(String),
    /// `AccessDenied` (403), with AWS's message.
    AccessDenied(String),
    /// An action this server does not implement.
    InvalidAction(String),
    /// STS `InvalidIdentityToken` (400): a web identity token that is malformed, not signed
    /// by its issuer's key, for another audience, or from an issuer with no provider.
    InvalidIdentityToken(String),
    /// STS `ExpiredTokenException` (400): the web identity token has expired.
    ExpiredToken(String),
    /// STS `IDPRejectedClaim` (403): the token lacks a claim the role needs (`sub`).
    IdpRejectedClaim(String),
    /// STS `IDPCommunicationError` (400): the issuer's discovery document or key set could
    /// not be fetched.
    IdpCommunicationError(String),
    /// A storage or crypto failure; the detail is logged, never sent.
    Internal(String),
}

impl IamError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        IamError::Internal(e.to_string())
    }
}

impl From<trent_store::StoreError> for IamError {
    fn from(e: trent_store::StoreError) -> Self {
        IamError::Internal(e.to_string())
    }
}

impl From<QueryError> for IamError {
    fn from(e: QueryError) -> Self {
        IamError::Query(e)
    }
}

impl From<WireError> for IamError {
    fn from(e: WireError) -> Self {
        IamError::Wire(e)
    }
}

impl AwsError for IamError {
    fn code(&self) -> &'static str {
        match self {
            IamError::Wire(w) => w.code(),
            IamError::Query(q) => q.code(),
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::Validation(_) => "ValidationError",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::InvalidAction(_) => "InvalidAction",
            IamError::InvalidIdentityToken(_) => "InvalidIdentityToken",
            IamError::ExpiredToken(_) => "ExpiredTokenException",
            IamError::IdpRejectedClaim(_) => "IDPRejectedClaim",
            IamError::IdpCommunicationError(_) => "IDPCommunicationError",
            IamError::Internal(_) => "ServiceFailure",
        }
    }

    fn message(&self) -> String {
        match self {
            IamError::Wire(w) => w.message(),
            IamError::Query(q) => q.message(),
            IamError::NoSuchEntity(m)
            | IamError::EntityAlreadyExists(m)
            | IamError::DeleteConflict(m)
            | IamError::LimitExceeded(m)
            | IamError::MalformedPolicyDocument(m)
            | IamError::Validation(m)
            | IamError::InvalidInput(m)
            | IamError::AccessDenied(m)
            | IamError::InvalidIdentityToken(m)
            | IamError::ExpiredToken(m)
            | IamError::IdpRejectedClaim(m)
            | IamError::IdpCommunicationError(m) => m.clone(),
            IamError::InvalidAction(a) => format!("The action {a} is not valid for this web service."),
            IamError::Internal(_) => "The request processing has failed because of an unknown error.".into(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            IamError::Wire(w) => w.status(),
            IamError::Query(q) => q.status(),
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_) | IamError::DeleteConflict(_) | IamError::LimitExceeded(_) => 409,
            IamError::AccessDenied(_) | IamError::IdpRejectedClaim(_) => 403,
            IamError::Internal(_) => 500,
            IamError::MalformedPolicyDocument(_)
            | IamError::Validation(_)
            | IamError::InvalidInput(_)
            | IamError::InvalidAction(_)
            | IamError::InvalidIdentityToken(_)
            | IamError::ExpiredToken(_)
            | IamError::IdpCommunicationError(_) => 400,
        }
    }

    fn internal_detail(&self) -> Option<String> {
        match self {
            IamError::Internal(d) => Some(d.clone()),
            _ => None,
        }
    }
}
