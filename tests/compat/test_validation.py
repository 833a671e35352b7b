"""Every awsJson request is checked against the constraints generated from botocore's models
(crates/trent-wire/src/generated, `cargo run -p xtask -- gen-wire`) before its handler runs, with
AWS's messages (issue 18): enum, length, pattern, range, required, list size, list elements and
nested structures, for KMS, Parameter Store and Secrets Manager. botocore's client-side
validation is off (the *_unvalidated fixtures) so that the server's answer is what is checked.
Expected enum lists are read from the client's own service model, the contract."""

from __future__ import annotations

import base64
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message, http_status


def validation(fn, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        fn(**kwargs)
    assert error_code(e) == "ValidationException", e.value.response
    assert http_status(e) == 400
    return error_message(e)


def enum(client, shape: str) -> str:
    return "[" + ", ".join(client.meta.service_model.shape_for(shape).enum) + "]"


# ---- KMS ----


def test_kms_enum_violation_lists_the_models_values(kms_unvalidated):
    msg = validation(kms_unvalidated.create_key, KeySpec="AES_512")
    assert msg == (
        "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {enum(kms_unvalidated, 'KeySpec')}"
    )


def test_kms_two_violations_are_joined_in_the_models_member_order(kms_unvalidated):
    msg = validation(kms_unvalidated.generate_data_key, KeyId="", NumberOfBytes=2000)
    assert msg == (
        "2 validation errors detected: "
        "Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
    )


def test_kms_nested_structure_in_a_list_has_an_indexed_path(kms, kms_unvalidated):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    msg = validation(
        kms_unvalidated.tag_resource, KeyId=key, Tags=[{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "", "TagValue": "v"}]
    )
    assert msg == (
        "1 validation error detected: Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_kms_list_size_renders_the_list(kms, kms_unvalidated):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    tokens = [f"t{i}" for i in range(11)]
    msg = validation(kms_unvalidated.describe_key, KeyId=key, GrantTokens=tokens)
    # Grant tokens are credentials: their values are not echoed.
    assert msg == (
        "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: "
        "Member must have length less than or equal to 10"
    )


def test_kms_pattern_and_length_are_separate_violations_of_one_member(kms, kms_unvalidated):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    name = "alias/" + "x" * 251 + "!"
    msg = validation(kms_unvalidated.create_alias, AliasName=name, TargetKeyId=key)
    shown = name[:256] + "..."  # Trent cuts echoed values at 256 characters
    assert msg == (
        f"2 validation errors detected: Value '{shown}' at 'aliasName' failed to satisfy constraint: "
        "Member must have length less than or equal to 256; "
        f"Value '{shown}' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_kms_plaintext_over_4096_bytes_is_refused_without_echoing_it(kms, kms_unvalidated):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    msg = validation(kms_unvalidated.encrypt, KeyId=key, Plaintext=b"\x00" * 4097)
    assert msg == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


# ---- Parameter Store ----


def test_ssm_list_elements_name_every_constraint_of_the_element(ssm_unvalidated):
    msg = validation(ssm_unvalidated.get_parameters, Names=["/ok", ""])
    assert msg == (
        "1 validation error detected: Value '[/ok, ]' at 'names' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 2048, "
        "Member must have length greater than or equal to 1]"
    )


def test_ssm_list_over_its_size_is_rendered(ssm_unvalidated):
    names = [f"/n{i}" for i in range(11)]
    msg = validation(ssm_unvalidated.get_parameters, Names=names)
    assert msg == (
        f"1 validation error detected: Value '[{', '.join(names)}]' at 'names' failed to satisfy constraint: "
        "Member must have length less than or equal to 10"
    )


def test_ssm_secure_values_are_never_echoed(ssm_unvalidated):
    msg = validation(ssm_unvalidated.put_parameter, Name="", Value="secret-value", Type="SecureString")
    assert msg == (
        "1 validation error detected: Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    assert "secret-value" not in msg


def test_ssm_range_enum_and_nested_required_member(ssm_unvalidated):
    msg = validation(ssm_unvalidated.get_parameter_history, Name="/x", MaxResults=51)
    assert msg == (
        "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )
    msg = validation(ssm_unvalidated.put_parameter, Name="/x", Value="v", Type="Text")
    assert msg == (
        "1 validation error detected: Value 'Text' at 'type' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {enum(ssm_unvalidated, 'ParameterType')}"
    )
    msg = validation(ssm_unvalidated.describe_parameters, ParameterFilters=[{"Key": "Name", "Values": ["a"]}, {"Values": ["b"]}])
    assert msg == (
        "1 validation error detected: Value null at 'parameterFilters.2.member.key' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_ssm_pattern_in_a_nested_member(ssm_unvalidated):
    msg = validation(
        ssm_unvalidated.add_tags_to_resource, ResourceType="Parameter", ResourceId="/x", Tags=[{"Key": "bad!", "Value": "v"}]
    )
    pattern = ssm_unvalidated.meta.service_model.shape_for("TagKey").metadata["pattern"]
    assert msg == (
        "1 validation error detected: Value 'bad!' at 'tags.1.member.key' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


# ---- Secrets Manager ----


def test_sm_enum_in_a_list_of_structures(sm_unvalidated):
    msg = validation(sm_unvalidated.list_secrets, Filters=[{"Key": "colour", "Values": ["x"]}])
    assert msg == (
        "1 validation error detected: Value 'colour' at 'filters.1.member.key' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {enum(sm_unvalidated, 'FilterNameStringType')}"
    )


def test_sm_list_elements_breaking_a_pattern(sm_unvalidated):
    msg = validation(sm_unvalidated.list_secrets, Filters=[{"Key": "name", "Values": ["ok", "no#"]}])
    pattern = sm_unvalidated.meta.service_model.shape_for("FilterValueStringType").metadata["pattern"]
    assert msg == (
        "1 validation error detected: Value '[ok, no#]' at 'filters.1.member.values' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 512, "
        f"Member must satisfy regular expression pattern: {pattern}]"
    )


def test_sm_ranges_and_several_violations(sm_unvalidated):
    msg = validation(sm_unvalidated.get_random_password, PasswordLength=5000)
    assert msg == (
        "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: "
        "Member must have value less than or equal to 4096"
    )
    msg = validation(sm_unvalidated.list_secrets, MaxResults=0, SortOrder="up")
    assert msg == (
        "2 validation errors detected: "
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value 'up' at 'sortOrder' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {enum(sm_unvalidated, 'SortOrderType')}"
    )


def test_sm_secret_values_are_never_echoed(sm_unvalidated):
    big = "s" * 65537
    msg = validation(sm_unvalidated.create_secret, Name=f"v-{uuid.uuid4().hex}", SecretString=big)
    assert msg == (
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
        "Member must have length less than or equal to 65536"
    )
    msg = validation(sm_unvalidated.create_secret, Name="", SecretBinary=base64.b64decode("AA=="))
    assert msg == (
        "1 validation error detected: Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
