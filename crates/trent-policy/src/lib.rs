//! Identity and authorization vocabulary for Trent: partitions, ARNs and principals.
//!
//! The IAM policy language and its evaluation (a pure function) will live here too; today
//! key policies are stored and validated as JSON by KMS, and every authenticated principal
//! of an account may use that account's resources (see `docs/COMPATIBILITY.md`).

mod arn;
mod principal;

pub use arn::{partition_for_region, Arn};
pub use principal::{Principal, PrincipalKind};
