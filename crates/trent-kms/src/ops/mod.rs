//! One module per KMS operation, named after the AWS operation in snake_case.

pub mod cancel_key_deletion;
pub mod connect_custom_key_store;
pub mod create_alias;
pub mod create_custom_key_store;
pub mod create_grant;
pub mod create_key;
pub mod decapsulate;
pub mod decrypt;
pub mod delete_alias;
pub mod delete_custom_key_store;
pub mod delete_imported_key_material;
pub mod derive_shared_secret;
pub mod describe_custom_key_stores;
pub mod describe_key;
pub mod disable_key;
pub mod disable_key_rotation;
pub mod disconnect_custom_key_store;
pub mod enable_key;
pub mod enable_key_rotation;
pub mod encapsulate;
pub mod encrypt;
pub mod generate_data_key;
pub mod generate_data_key_pair;
pub mod generate_data_key_pair_without_plaintext;
pub mod generate_data_key_without_plaintext;
pub mod generate_mac;
pub mod generate_random;
pub mod get_key_policy;
pub mod get_key_rotation_status;
pub mod get_parameters_for_import;
pub mod get_public_key;
pub mod import_key_material;
pub mod list_aliases;
pub mod list_grants;
pub mod list_key_policies;
pub mod list_key_rotations;
pub mod list_keys;
pub mod list_resource_tags;
pub mod list_retirable_grants;
pub mod put_key_policy;
pub mod re_encrypt;
pub mod replicate_key;
pub mod retire_grant;
pub mod revoke_grant;
pub mod rotate_key_on_demand;
pub mod schedule_key_deletion;
pub mod sign;
pub mod tag_resource;
pub mod untag_resource;
pub mod update_alias;
pub mod update_custom_key_store;
pub mod update_key_description;
pub mod update_primary_region;
pub mod verify;
pub mod verify_mac;

/// The empty `{}` answer of operations with no output members.
#[derive(Debug, serde::Serialize)]
pub struct Empty {}
