//! Trent's SSM Parameter Store: hierarchical, versioned parameters; SecureString values are
//! encrypted through Trent's KMS in-process, under the key the caller names or the account's
//! AWS-managed `alias/aws/ssm` key, with the encryption context `{"PARAMETER_ARN": <arn>}`.
//!
//! One file per operation under [`ops`]; [`Operation`] is the single list; [`Ssm::dispatch`]
//! decodes, runs and encodes. Shared logic: `params.rs` (names, selectors, store layout,
//! SecureString, output shapes) and `filters.rs`.
#![forbid(unsafe_code)]

mod error;
pub mod events;
mod filters;
pub mod model;
pub mod ops;
mod params;
mod policies;
pub mod references;

pub use error::SsmError;

use std::sync::Arc;
use trent_kms::{Caller, Clock, Kms};
use trent_store::Store;

pub struct Ssm {
    store: Arc<dyn Store>,
    kms: Arc<Kms>,
    clock: Arc<Clock>,
    events: Arc<dyn events::EventSink>,
    limits: Limits,
    secrets: Option<Arc<dyn references::SecretReferences>>,
}

/// Parameter counts per account and region, per tier (AWS: 10,000 Standard, 100,000 Advanced).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_standard: u64,
    pub max_advanced: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_standard: 10_000, max_advanced: 100_000 }
    }
}

trent_wire::operations!(Ssm, Caller, SsmError, "ssm", {
    // Operation => module (audit class, quota, request members naming its resources)
    AddTagsToResource => add_tags_to_resource (Write, Quota::Own(40.0), ["ResourceId"]),
    DeleteParameter => delete_parameter (Write, Quota::Own(40.0), ["Name"]),
    DeleteParameters => delete_parameters (Write, Quota::Own(40.0), ["Names"]),
    DescribeParameters => describe_parameters (Read, Quota::Own(40.0), []),
    GetParameter => get_parameter (Read, Quota::Shared("ssm:GetParameter", 40.0), ["Name"]),
    GetParameterHistory => get_parameter_history (Read, Quota::Own(40.0), ["Name"]),
    GetParameters => get_parameters (Read, Quota::Shared("ssm:GetParameter", 40.0), ["Names"]),
    GetParametersByPath => get_parameters_by_path (Read, Quota::Shared("ssm:GetParameter", 40.0), ["Path"]),
    LabelParameterVersion => label_parameter_version (Write, Quota::Own(40.0), ["Name"]),
    ListTagsForResource => list_tags_for_resource (Read, Quota::Own(40.0), ["ResourceId"]),
    PutParameter => put_parameter (Write, Quota::Own(3.0), ["Name"]),
    RemoveTagsFromResource => remove_tags_from_resource (Write, Quota::Own(40.0), ["ResourceId"]),
    UnlabelParameterVersion => unlabel_parameter_version (Write, Quota::Own(40.0), ["Name"]),
});

impl Ssm {
    pub fn new(store: Arc<dyn Store>, kms: Arc<Kms>, clock: Arc<Clock>) -> Self {
        Ssm { store, kms, clock, events: Arc::new(events::NoEvents), limits: Limits::default(), secrets: None }
    }

    /// Sends events to `sink` (the server's files and webhooks).
    pub fn with_events(mut self, sink: Arc<dyn events::EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// Serves `/aws/reference/secretsmanager/<secret>` from Secrets Manager.
    pub fn with_secret_references(mut self, secrets: Arc<dyn references::SecretReferences>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

#[cfg(test)]
mod tests;
