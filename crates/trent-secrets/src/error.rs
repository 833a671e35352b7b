use trent_kms::KmsError;
use trent_store::StoreError;
use trent_wire::{AwsError, WireError};

/// Every error Secrets Manager returns, named after the AWS exception.
#[derive(Debug)]
pub enum SmError {
    Wire(WireError),
    ResourceNotFound(String),
    ResourceExists(String),
    InvalidParameter(String),
    InvalidRequest(String),
    InvalidNextToken,
    MalformedPolicyDocument(String),
    PublicPolicy(String),
    LimitExceeded(String),
    EncryptionFailure(String),
    DecryptionFailure(String),
    /// Our failure: the detail is logged, never sent.
    Internal(String),
}

impl SmError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        SmError::Internal(e.to_string())
    }
    pub fn not_found() -> Self {
        SmError::ResourceNotFound("Secrets Manager can't find the specified secret.".into())
    }
    pub fn deleted() -> Self {
        SmError::InvalidRequest(
            "You can't perform this operation on the secret because it was marked for deletion.".into(),
        )
    }
}

impl From<WireError> for SmError {
    fn from(e: WireError) -> Self {
        SmError::Wire(e)
    }
}

impl From<StoreError> for SmError {
    fn from(e: StoreError) -> Self {
        SmError::Internal(e.to_string())
    }
}

/// KMS failures while encrypting a value: the key cannot be used → EncryptionFailure.
pub(crate) fn encryption_failure(e: KmsError) -> SmError {
    match e {
        KmsError::Internal(d) => SmError::Internal(d),
        other => SmError::EncryptionFailure(format!(
            "Secrets Manager can't encrypt the protected secret text using the provided KMS key: {}",
            other.message()
        )),
    }
}

/// KMS failures while decrypting a value (a disabled or deleted key) → DecryptionFailure; the
/// caller not allowed `kms:Decrypt` on the key → AccessDeniedException, with AWS's message
/// (which does not say more about the key).
pub(crate) fn decryption_failure(e: KmsError) -> SmError {
    match e {
        KmsError::Internal(d) => SmError::Internal(d),
        KmsError::Wire(WireError::AccessDenied(_)) => {
            SmError::Wire(WireError::AccessDenied("Access to KMS is not allowed".into()))
        }
        other => SmError::DecryptionFailure(format!(
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key: {}",
            other.message()
        )),
    }
}

impl AwsError for SmError {
    fn code(&self) -> &'static str {
        match self {
            SmError::Wire(w) => w.code(),
            SmError::ResourceNotFound(_) => "ResourceNotFoundException",
            SmError::ResourceExists(_) => "ResourceExistsException",
            SmError::InvalidParameter(_) => "InvalidParameterException",
            SmError::InvalidRequest(_) => "InvalidRequestException",
            SmError::InvalidNextToken => "InvalidNextTokenException",
            SmError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            SmError::PublicPolicy(_) => "PublicPolicyException",
            SmError::LimitExceeded(_) => "LimitExceededException",
            SmError::EncryptionFailure(_) => "EncryptionFailure",
            SmError::DecryptionFailure(_) => "DecryptionFailure",
            SmError::Internal(_) => "InternalServiceError",
        }
    }

    fn message(&self) -> String {
        match self {
            SmError::Wire(w) => w.message(),
            SmError::ResourceNotFound(m)
            | SmError::ResourceExists(m)
            | SmError::InvalidParameter(m)
            | SmError::InvalidRequest(m)
            | SmError::MalformedPolicyDocument(m)
            | SmError::PublicPolicy(m)
            | SmError::LimitExceeded(m)
            | SmError::EncryptionFailure(m)
            | SmError::DecryptionFailure(m) => m.clone(),
            SmError::InvalidNextToken => "The NextToken value is not valid.".into(),
            SmError::Internal(_) => "An internal error occurred. Try again later.".into(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            SmError::Wire(w) => w.status(),
            SmError::Internal(_) => 500,
            _ => 400,
        }
    }

    fn internal_detail(&self) -> Option<String> {
        match self {
            SmError::Internal(d) => Some(d.clone()),
            _ => None,
        }
    }
}
