use trent_kms::KmsError;
use trent_store::StoreError;
use trent_wire::{AwsError, WireError};

/// Every error Parameter Store returns, named after the AWS exception. The wire mapping is an
/// exhaustive match: a variant without one does not compile.
#[derive(Debug)]
pub enum SsmError {
    Wire(WireError),
    ParameterNotFound(String),
    ParameterVersionNotFound(String),
    ParameterAlreadyExists,
    InvalidKeyId(String),
    HierarchyLevelLimitExceeded(String),
    ParameterMaxVersionLimitExceeded(String),
    ParameterPatternMismatch(String),
    InvalidAllowedPattern(String),
    UnsupportedParameterType(String),
    ParameterVersionLabelLimitExceeded(String),
    InvalidFilterKey(String),
    InvalidFilterOption(String),
    InvalidFilterValue(String),
    InvalidNextToken,
    InvalidResourceType,
    InvalidResourceId(String),
    TooManyTags,
    InvalidPolicyType(String),
    InvalidPolicyAttribute(String),
    ParameterLimitExceeded(String),
    /// Our failure: the detail is logged, never sent.
    Internal(String),
}

impl SsmError {
    pub fn validation(msg: impl Into<String>) -> Self {
        SsmError::Wire(WireError::Validation(msg.into()))
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        SsmError::Internal(e.to_string())
    }
}

impl From<WireError> for SsmError {
    fn from(e: WireError) -> Self {
        SsmError::Wire(e)
    }
}

impl From<StoreError> for SsmError {
    fn from(e: StoreError) -> Self {
        SsmError::Internal(e.to_string())
    }
}

/// KMS failures while protecting a SecureString: a key that cannot be used is the caller's
/// `InvalidKeyId`; anything else is ours.
impl From<KmsError> for SsmError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::NotFound(m)
            | KmsError::Disabled(m)
            | KmsError::InvalidState(m)
            | KmsError::InvalidKeyUsage(m) => SsmError::InvalidKeyId(m),
            KmsError::Wire(w @ WireError::AccessDenied(_)) => SsmError::Wire(w),
            other => SsmError::Internal(format!("KMS: {}", other.message())),
        }
    }
}

impl AwsError for SsmError {
    fn code(&self) -> &'static str {
        match self {
            SsmError::Wire(w) => w.code(),
            SsmError::ParameterNotFound(_) => "ParameterNotFound",
            SsmError::ParameterVersionNotFound(_) => "ParameterVersionNotFound",
            SsmError::ParameterAlreadyExists => "ParameterAlreadyExists",
            SsmError::InvalidKeyId(_) => "InvalidKeyId",
            SsmError::HierarchyLevelLimitExceeded(_) => "HierarchyLevelLimitExceededException",
            SsmError::ParameterMaxVersionLimitExceeded(_) => "ParameterMaxVersionLimitExceeded",
            SsmError::ParameterPatternMismatch(_) => "ParameterPatternMismatchException",
            SsmError::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
            SsmError::UnsupportedParameterType(_) => "UnsupportedParameterType",
            SsmError::ParameterVersionLabelLimitExceeded(_) => "ParameterVersionLabelLimitExceeded",
            SsmError::InvalidFilterKey(_) => "InvalidFilterKey",
            SsmError::InvalidFilterOption(_) => "InvalidFilterOption",
            SsmError::InvalidFilterValue(_) => "InvalidFilterValue",
            SsmError::InvalidNextToken => "InvalidNextToken",
            SsmError::InvalidResourceType => "InvalidResourceType",
            SsmError::InvalidResourceId(_) => "InvalidResourceId",
            SsmError::TooManyTags => "TooManyTagsError",
            SsmError::InvalidPolicyType(_) => "InvalidPolicyTypeException",
            SsmError::InvalidPolicyAttribute(_) => "InvalidPolicyAttributeException",
            SsmError::ParameterLimitExceeded(_) => "ParameterLimitExceeded",
            SsmError::Internal(_) => "InternalServerError",
        }
    }

    fn message(&self) -> String {
        match self {
            SsmError::Wire(w) => w.message(),
            SsmError::ParameterNotFound(m)
            | SsmError::ParameterVersionNotFound(m)
            | SsmError::InvalidKeyId(m)
            | SsmError::HierarchyLevelLimitExceeded(m)
            | SsmError::ParameterMaxVersionLimitExceeded(m)
            | SsmError::ParameterPatternMismatch(m)
            | SsmError::InvalidAllowedPattern(m)
            | SsmError::UnsupportedParameterType(m)
            | SsmError::ParameterVersionLabelLimitExceeded(m)
            | SsmError::InvalidFilterKey(m)
            | SsmError::InvalidFilterOption(m)
            | SsmError::InvalidFilterValue(m)
            | SsmError::InvalidResourceId(m)
            | SsmError::InvalidPolicyType(m)
            | SsmError::InvalidPolicyAttribute(m)
            | SsmError::ParameterLimitExceeded(m) => m.clone(),
            SsmError::ParameterAlreadyExists => {
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
                    .into()
            }
            SsmError::InvalidNextToken => "The specified token isn't valid.".into(),
            SsmError::InvalidResourceType => "The resource type isn't valid: only Parameter is supported here.".into(),
            SsmError::TooManyTags => "A parameter can have at most 50 tags.".into(),
            SsmError::Internal(_) => "An internal error occurred. Try again later.".into(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            SsmError::Wire(w) => w.status(),
            SsmError::Internal(_) => 500,
            _ => 400,
        }
    }

    fn internal_detail(&self) -> Option<String> {
        match self {
            SsmError::Internal(d) => Some(d.clone()),
            _ => None,
        }
    }
}
