use trent_store::StoreError;
use trent_wire::{AwsError, WireError};

/// Every error a KMS operation can return, named after the AWS exception it becomes.
/// The server maps it to the wire through [`AwsError`]; the match below is exhaustive, so a
/// new variant without a wire mapping does not compile.
#[derive(Debug)]
pub enum KmsError {
    Wire(WireError),
    NotFound(String),
    Disabled(String),
    InvalidState(String),
    IncorrectKey,
    InvalidCiphertext,
    AlreadyExists(String),
    InvalidKeyUsage(String),
    Tag(String),
    DryRun,
    LimitExceeded(String),
    MalformedPolicyDocument(String),
    InvalidMarker,
    InvalidAliasName(String),
    NotAuthorized(String),
    UnsupportedOperation(String),
    CustomKeyStoreNotFound,
    InvalidSignature,
    IncorrectKeyMaterial(String),
    ExpiredImportToken,
    InvalidImportToken,
    InvalidMac,
    InvalidGrantToken(String),
    InvalidGrantId(String),
    /// A custom key store exception (`CustomKeyStoreInvalidStateException`,
    /// `CloudHsmClusterNotFoundException`, …): its code and message.
    CustomKeyStore(&'static str, String),
    /// A failure of ours. The detail is logged where the error is mapped, never sent.
    Internal(String),
}

impl KmsError {
    pub fn validation(msg: impl Into<String>) -> Self {
        KmsError::Wire(WireError::Validation(msg.into()))
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        KmsError::Internal(e.to_string())
    }
}

impl From<WireError> for KmsError {
    fn from(e: WireError) -> Self {
        KmsError::Wire(e)
    }
}

impl From<trent_crypto::asym::AsymError> for KmsError {
    fn from(e: trent_crypto::asym::AsymError) -> Self {
        use trent_crypto::asym::AsymError;
        match e {
            AsymError::Invalid(m) => KmsError::validation(m),
            AsymError::Unsupported(m) => KmsError::InvalidKeyUsage(m),
            AsymError::Internal => KmsError::Internal("asymmetric primitive failed".into()),
        }
    }
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> Self {
        KmsError::Internal(e.to_string())
    }
}

impl AwsError for KmsError {
    fn code(&self) -> &'static str {
        match self {
            KmsError::Wire(w) => w.code(),
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::IncorrectKey => "IncorrectKeyException",
            KmsError::InvalidCiphertext => "InvalidCiphertextException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::Tag(_) => "TagException",
            KmsError::DryRun => "DryRunOperationException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::InvalidMarker => "InvalidMarkerException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::NotAuthorized(_) => "NotAuthorizedException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::CustomKeyStoreNotFound => "CustomKeyStoreNotFoundException",
            KmsError::InvalidSignature => "KMSInvalidSignatureException",
            KmsError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            KmsError::ExpiredImportToken => "ExpiredImportTokenException",
            KmsError::InvalidImportToken => "InvalidImportTokenException",
            KmsError::InvalidMac => "KMSInvalidMacException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidGrantId(_) => "InvalidGrantIdException",
            KmsError::CustomKeyStore(code, _) => code,
            KmsError::Internal(_) => "KMSInternalException",
        }
    }

    fn message(&self) -> String {
        match self {
            KmsError::Wire(w) => w.message(),
            KmsError::NotFound(m)
            | KmsError::Disabled(m)
            | KmsError::InvalidState(m)
            | KmsError::AlreadyExists(m)
            | KmsError::InvalidKeyUsage(m)
            | KmsError::Tag(m)
            | KmsError::LimitExceeded(m)
            | KmsError::MalformedPolicyDocument(m)
            | KmsError::InvalidAliasName(m)
            | KmsError::NotAuthorized(m)
            | KmsError::UnsupportedOperation(m)
            | KmsError::IncorrectKeyMaterial(m)
            | KmsError::InvalidGrantToken(m)
            | KmsError::InvalidGrantId(m)
            | KmsError::CustomKeyStore(_, m) => m.clone(),
            KmsError::ExpiredImportToken => "The import token has expired: call GetParametersForImport again.".into(),
            KmsError::InvalidImportToken => {
                "The import token is not valid for this KMS key: use the token GetParametersForImport returned for it."
                    .into()
            }
            KmsError::IncorrectKey => {
                "The key ID in the request does not identify a KMS key that can perform this operation.".into()
            }
            KmsError::InvalidCiphertext => {
                "The ciphertext is invalid, was not produced by this KMS key, or the encryption context does not match."
                    .into()
            }
            KmsError::DryRun => "The request would have succeeded, but the DryRun option is set.".into(),
            KmsError::InvalidMarker => "The marker is not valid for this request.".into(),
            KmsError::CustomKeyStoreNotFound => {
                "No custom key store with that ID or name exists in this account and Region.".into()
            }
            KmsError::InvalidSignature => {
                "The signature is not valid for this message, key and signing algorithm.".into()
            }
            KmsError::InvalidMac => "The MAC is not valid for this message, key and MAC algorithm.".into(),
            KmsError::Internal(_) => "An internal error occurred. Try again later.".into(),
        }
    }

    fn internal_detail(&self) -> Option<String> {
        match self {
            KmsError::Internal(d) => Some(d.clone()),
            _ => None,
        }
    }

    fn status(&self) -> u16 {
        match self {
            KmsError::Wire(w) => w.status(),
            KmsError::Internal(_) => 500,
            KmsError::DryRun => 412,
            _ => 400,
        }
    }
}
