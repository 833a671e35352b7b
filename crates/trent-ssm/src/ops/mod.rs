//! One module per Parameter Store operation, named after the AWS operation in snake_case.

pub mod add_tags_to_resource;
pub mod delete_parameter;
pub mod delete_parameters;
pub mod describe_parameters;
pub mod get_parameter;
pub mod get_parameter_history;
pub mod get_parameters;
pub mod get_parameters_by_path;
pub mod label_parameter_version;
pub mod list_tags_for_resource;
pub mod put_parameter;
pub mod remove_tags_from_resource;
pub mod unlabel_parameter_version;

/// The empty `{}` answer.
#[derive(Debug, serde::Serialize)]
pub struct Empty {}

/// ResourceType/ResourceId of the tagging operations: only parameters are served here.
pub(crate) fn tagged_parameter(
    ssm: &crate::Ssm,
    caller: &trent_kms::Caller,
    resource_type: &Option<String>,
    resource_id: &Option<String>,
    tx: &mut dyn trent_store::Txn,
) -> Result<crate::model::ParamRecord, crate::SsmError> {
    let mut v = trent_wire::validate::Validator::new();
    v.required("resourceType", resource_type)
        .one_of(
            "resourceType",
            resource_type.as_deref(),
            &[
                "Document",
                "ManagedInstance",
                "MaintenanceWindow",
                "Parameter",
                "PatchBaseline",
                "OpsItem",
                "OpsMetadata",
                "Automation",
                "Association",
                "CloudConnector",
            ],
        )
        .required("resourceId", resource_id);
    v.finish()?;
    if resource_type.as_deref() != Some("Parameter") {
        return Err(crate::SsmError::InvalidResourceType);
    }
    let id = resource_id.as_deref().unwrap_or_default();
    let invalid = || {
        crate::SsmError::InvalidResourceId(format!(
            "The resource ID \"{id}\" is not valid. Verify the ID and try again."
        ))
    };
    let (name, selector) = crate::params::split_name(caller, id).map_err(|_| invalid())?;
    if selector.is_some() {
        return Err(invalid());
    }
    ssm.load_param(tx, caller, &name)?.ok_or_else(invalid)
}
