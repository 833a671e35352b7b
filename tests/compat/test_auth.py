"""SigV4 authentication, as AWS KMS answers it. Raw HTTP, signed with botocore's signer."""

import datetime as dt
import json

import pytest

from conftest import (
    ADMIN_SECRET_ACCESS_KEY,
    raw_call,
    send,
    signed_request,
)

LIST_KEYS = {"Limit": 1}


def assert_error(resp, code, status=None):
    assert resp.status < 500, f"5xx for an auth failure: {resp!r}"
    assert resp.error_type == code, f"expected {code}, got {resp!r}"
    assert isinstance(resp.message, str) and resp.message, f"{code} without a message: {resp!r}"
    if status is not None:
        assert resp.status == status, f"{code} came with HTTP {resp.status}, expected {status}"


def test_correctly_signed_raw_request_succeeds(base_url):
    # The control for every test below: the same request, untouched, is accepted.
    resp = raw_call(base_url, "ListKeys", LIST_KEYS)
    assert resp.status == 200, resp
    assert isinstance(resp.json, dict) and "Keys" in resp.json, resp
    assert resp.headers.get("Content-Type", "").startswith("application/x-amz-json-1.1"), resp.headers


def test_missing_authorization_is_missing_authentication_token(base_url):
    resp = raw_call(base_url, "ListKeys", LIST_KEYS, sign=False)
    assert_error(resp, "MissingAuthenticationTokenException", 403)


@pytest.mark.parametrize(
    "authorization",
    [
        "garbage",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE, Signature=00",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00",
        "Bearer abc.def.ghi",
    ],
    ids=["garbage", "algorithm-only", "no-signedheaders", "no-credential", "bearer"],
)
def test_unparseable_authorization_is_incomplete_signature(base_url, authorization):
    req = signed_request(base_url, "ListKeys", LIST_KEYS)
    req.headers["Authorization"] = authorization
    assert_error(send(req), "IncompleteSignatureException", 400)


def test_signature_ten_minutes_old_is_expired(base_url):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    req = signed_request(base_url, "ListKeys", LIST_KEYS, when=old)
    assert req.headers["X-Amz-Date"] == old.strftime("%Y%m%dT%H%M%SZ")  # the signer did use it
    resp = send(req)
    assert_error(resp, "InvalidSignatureException")
    assert resp.message.startswith("Signature expired"), resp.message


def test_signature_ten_minutes_in_the_future_is_refused(base_url):
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
    resp = send(signed_request(base_url, "ListKeys", LIST_KEYS, when=future))
    assert_error(resp, "InvalidSignatureException")


def test_signature_two_minutes_old_is_within_skew(base_url):
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2)
    resp = send(signed_request(base_url, "ListKeys", LIST_KEYS, when=recent))
    assert resp.status == 200, resp


def test_signature_scoped_to_ssm_does_not_authorize_kms(base_url):
    resp = raw_call(base_url, "ListKeys", LIST_KEYS, service="ssm")
    assert_error(resp, "InvalidSignatureException")


def test_wrong_secret_is_invalid_signature(base_url):
    resp = raw_call(base_url, "ListKeys", LIST_KEYS, secret_key=ADMIN_SECRET_ACCESS_KEY[:-1] + "X")
    assert_error(resp, "InvalidSignatureException")


def test_unknown_access_key_is_unrecognized_client(base_url):
    resp = raw_call(base_url, "ListKeys", LIST_KEYS, access_key="AKIAUNKNOWNKEY000000")
    assert_error(resp, "UnrecognizedClientException")


def test_body_tampered_after_signing_is_invalid_signature(base_url):
    req = signed_request(base_url, "ListKeys", {"Limit": 1})
    resp = send(req, body=json.dumps({"Limit": 2}).encode())
    assert_error(resp, "InvalidSignatureException")


def test_target_changed_after_signing_is_invalid_signature(base_url):
    req = signed_request(base_url, "ListKeys", LIST_KEYS)
    req.headers["X-Amz-Target"] = "TrentService.ListAliases"
    assert_error(send(req), "InvalidSignatureException")


def test_signature_is_checked_before_the_operation_runs(base_url, make_client):
    # A CreateKey with a bad signature must not create a key. eu-south-2 is this test's own
    # region, so it must stay empty.
    resp = raw_call(
        base_url,
        "CreateKey",
        {"Description": "must not exist"},
        region="eu-south-2",
        secret_key="not-the-secret-" + ADMIN_SECRET_ACCESS_KEY,
    )
    assert_error(resp, "InvalidSignatureException")
    assert make_client("eu-south-2").list_keys()["Keys"] == []


def test_error_body_is_type_and_message(base_url):
    resp = raw_call(base_url, "ListKeys", LIST_KEYS, sign=False)
    assert isinstance(resp.json, dict), resp
    assert resp.json.get("__type", "").endswith("MissingAuthenticationTokenException"), resp
    assert isinstance(resp.json.get("message"), str) and resp.json["message"], resp
    assert resp.headers.get("Content-Type", "").startswith("application/x-amz-json-1.1"), resp.headers


def test_access_key_of_admin_works_in_any_region_scope(base_url):
    for region in ("eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"):
        resp = raw_call(base_url, "ListKeys", LIST_KEYS, region=region)
        assert resp.status == 200, (region, resp)
