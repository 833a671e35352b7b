"""awsJson1.1 framing: targets, bodies, types, sizes, and the shape of validation errors."""

import base64
import os

import pytest

from conftest import error_message, expect_error, raw_call, send_streaming, signed_request


def assert_error(resp, code, status=None):
    assert resp.status < 500, f"5xx: {resp!r}"
    assert resp.error_type == code, f"expected {code}, got {resp!r}"
    if status is not None:
        assert resp.status == status, f"{code} came with HTTP {resp.status}, expected {status}"


@pytest.fixture(scope="module")
def key_id(kms):
    return kms.create_key(Description="framing")["KeyMetadata"]["KeyId"]


def test_unknown_operation_is_unknown_operation_exception(base_url):
    resp = raw_call(base_url, "Frobnicate", {})
    assert_error(resp, "UnknownOperationException")


def test_target_of_a_service_not_served_is_unknown_operation(base_url):
    resp = raw_call(base_url, None, {}, target="AWSCognitoIdentityProviderService.ListUserPools")
    assert_error(resp, "UnknownOperationException")


def test_kms_signature_on_an_ssm_target_is_invalid_signature(base_url):
    resp = raw_call(base_url, None, {}, target="AmazonSSM.GetParameter")
    assert_error(resp, "InvalidSignatureException")


def test_missing_target_is_unknown_operation(base_url):
    resp = raw_call(base_url, None, {})
    assert_error(resp, "UnknownOperationException")


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"KeyId": "x"', b"[1, 2, 3]", b'"a string"', b"\xff\xfe\x00"],
    ids=["garbage", "truncated", "array", "string", "not-utf8"],
)
def test_malformed_json_is_serialization_exception(base_url, body):
    resp = raw_call(base_url, "DescribeKey", body)
    assert_error(resp, "SerializationException", 400)


def test_wrong_member_type_is_serialization_exception(base_url):
    resp = raw_call(base_url, "DescribeKey", {"KeyId": 5})
    assert_error(resp, "SerializationException", 400)


def test_number_where_list_expected_is_serialization_exception(base_url, key_id):
    resp = raw_call(base_url, "TagResource", {"KeyId": key_id, "Tags": 5})
    assert_error(resp, "SerializationException", 400)


def test_bad_base64_blob_is_serialization_exception(base_url, key_id):
    resp = raw_call(base_url, "Encrypt", {"KeyId": key_id, "Plaintext": "!!!not base64!!!"})
    assert_error(resp, "SerializationException", 400)


def test_bad_base64_ciphertext_is_serialization_exception(base_url):
    resp = raw_call(base_url, "Decrypt", {"CiphertextBlob": "%%%%"})
    assert_error(resp, "SerializationException", 400)


def test_body_over_one_mib_is_request_entity_too_large(base_url):
    # A well-formed, correctly signed 2 MiB request: it must be refused for its size alone.
    filler = base64.b64encode(os.urandom(1536 * 1024)).decode()  # 2 MiB of base64
    body = '{"KeyId": "alias/does-not-matter", "Plaintext": "' + filler + '"}'
    assert len(body) > 2 * 1024 * 1024 - 100
    req = signed_request(base_url, "Encrypt", body)
    resp = send_streaming(req)
    assert resp.status == 413, resp
    assert resp.error_type == "RequestEntityTooLargeException", resp


def test_server_still_serves_after_oversized_request(base_url, kms):
    body = '{"Plaintext": "' + "A" * (2 * 1024 * 1024) + '"}'
    send_streaming(signed_request(base_url, "Encrypt", body))
    assert "Keys" in kms.list_keys(Limit=1)


def test_plaintext_over_4096_bytes_is_validation_error_naming_plaintext(kms_unvalidated, key_id):
    secret = b"S3CR3T-" + b"x" * (4097 - 7)
    assert len(secret) == 4097
    err = expect_error("ValidationException", kms_unvalidated.encrypt, KeyId=key_id, Plaintext=secret)
    msg = error_message(err)
    assert msg.startswith("1 validation error detected: Value "), msg
    assert (
        "at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
        in msg
    ), msg
    assert "S3CR3T" not in msg and base64.b64encode(secret[:30]).decode()[:20] not in msg, (
        "the plaintext was echoed in the error message"
    )


def test_empty_plaintext_is_validation_error(kms_unvalidated, key_id):
    err = expect_error("ValidationException", kms_unvalidated.encrypt, KeyId=key_id, Plaintext=b"")
    msg = error_message(err)
    assert msg.startswith("1 validation error detected: Value "), msg
    assert "'plaintext'" in msg and "greater than or equal to 1" in msg, msg


def test_missing_required_member_is_validation_error_naming_it(kms_unvalidated):
    err = expect_error("ValidationException", kms_unvalidated.describe_key)
    msg = error_message(err)
    assert msg.startswith("1 validation error detected: Value "), msg
    assert "'keyId'" in msg and "must not be null" in msg, msg


def test_empty_key_id_is_validation_error_naming_key_id(kms_unvalidated):
    err = expect_error("ValidationException", kms_unvalidated.describe_key, KeyId="")
    msg = error_message(err)
    assert msg.startswith("1 validation error detected: Value "), msg
    assert "at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1" in msg, msg


def test_two_violations_are_counted(kms_unvalidated):
    err = expect_error(
        "ValidationException", kms_unvalidated.generate_data_key, KeyId="", NumberOfBytes=2000
    )
    msg = error_message(err)
    assert msg.startswith("2 validation errors detected: "), msg
    assert "'keyId'" in msg and "'numberOfBytes'" in msg, msg


def test_enum_violation_lists_the_member(kms_unvalidated, key_id):
    err = expect_error(
        "ValidationException", kms_unvalidated.generate_data_key, KeyId=key_id, KeySpec="AES_512"
    )
    msg = error_message(err)
    assert msg.startswith("1 validation error detected: Value 'AES_512' at 'keySpec'"), msg
    assert "Member must satisfy enum value set" in msg, msg
