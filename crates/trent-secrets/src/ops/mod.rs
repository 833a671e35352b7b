//! One module per Secrets Manager operation, named after the AWS operation in snake_case.

pub mod batch_get_secret_value;
pub mod cancel_rotate_secret;
pub mod create_secret;
pub mod delete_resource_policy;
pub mod delete_secret;
pub mod describe_secret;
pub mod get_random_password;
pub mod get_resource_policy;
pub mod get_secret_value;
pub mod list_secret_version_ids;
pub mod list_secrets;
pub mod put_resource_policy;
pub mod put_secret_value;
pub mod remove_regions_from_replication;
pub mod replicate_secret_to_regions;
pub mod restore_secret;
pub mod rotate_secret;
pub mod stop_replication_to_replica;
pub mod tag_resource;
pub mod untag_resource;
pub mod update_secret;
pub mod update_secret_version_stage;
pub mod validate_resource_policy;

/// The empty `{}` answer.
#[derive(Debug, serde::Serialize)]
pub struct Empty {}

/// `ARN` + `Name`, the answer of several operations.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnName {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
}
