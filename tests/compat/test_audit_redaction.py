"""No secret reaches the audit trail: events keep only the members the service model declares
for the operation and that are not sensitive, whatever shape the request's JSON has; a body
built to poison the trail (nested 128 levels deep) leaves an event the reader still reads; a
handler that panics still leaves its event."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import REPO, make_service_client, raw_call

SSM_TARGET = "AmazonSSM.PutParameter"


def trail_text(srv) -> str:
    return "".join(f.read_text() for f in sorted((srv.data_dir / "audit").glob("trail-*.jsonl")))


def trail(srv) -> list[dict]:
    return [json.loads(line) for line in trail_text(srv).splitlines()]


def lookup_all(srv) -> list[dict]:
    ct = make_service_client("cloudtrail", srv.base_url)
    out, token = [], None
    while True:
        page = ct.lookup_events(MaxResults=50, **({"NextToken": token} if token else {}))
        out += page["Events"]
        token = page.get("NextToken")
        if not token:
            return out


def trent_cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TRENT_BIN") or REPO / "target" / "debug" / "trent")
    assert path.exists(), f"the trent CLI is not built at {path} (cargo build --workspace)"
    return path


def verify(directory: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(trent_cli()), "audit", "verify", str(directory)], capture_output=True, text=True, timeout=60
    )


def event_of(srv, request_id: str) -> dict:
    (e,) = [r for r in trail(srv) if r["trentRecord"] == "event" and r.get("requestID") == request_id]
    return e


def test_no_secret_reaches_the_trail_or_lookup_events(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    ssm = make_service_client("ssm", srv.base_url)
    sm = make_service_client("secretsmanager", srv.base_url)
    iam = make_service_client("iam", srv.base_url)
    secrets: list[str] = []

    # PutParameter with a sibling `Key` member: the old redaction kept `Value` beside a `Key`.
    r = raw_call(srv.base_url, None, {"Name": "/red/sibling", "Value": "S3CRET-SIBLING", "Type": "SecureString",
                                      "Key": "x"}, service="ssm", target=SSM_TARGET)
    assert r.status == 200, r
    secrets.append("S3CRET-SIBLING")
    sibling = event_of(srv, r.headers["x-amzn-requestid"])
    assert sibling["requestParameters"]["name"] == "/red/sibling"
    assert sibling["requestParameters"]["type"] == "SecureString"
    assert sibling["requestParameters"]["trentDroppedMembers"] == ["Key"]
    # The parameter was stored as sent (the audit trail does not change what the request does).
    got = ssm.get_parameter(Name="/red/sibling", WithDecryption=True)["Parameter"]
    assert got["Value"] == "S3CRET-SIBLING"

    # Lower-case `value` (a failed request: Value is missing) is recorded by name only.
    r = raw_call(srv.base_url, None, {"Name": "/red/lower", "value": "S3CRET-LOWER", "Type": "SecureString"},
                 service="ssm", target=SSM_TARGET)
    assert r.status == 400, r
    secrets.append("S3CRET-LOWER")
    lower = event_of(srv, r.headers["x-amzn-requestid"])
    assert lower["errorCode"] and lower["requestParameters"]["trentDroppedMembers"] == ["value"]

    # A PutParameter that fails after validation (the parameter exists, no Overwrite).
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/red/sibling", Value="S3CRET-FAILED", Type="SecureString")
    assert e.value.response["Error"]["Code"] == "ParameterAlreadyExists"
    secrets.append("S3CRET-FAILED")
    # Failing validation: too long, and not matching AllowedPattern (errors never echo values).
    too_long = "S3CRET-LONG-" + "x" * 9000
    with pytest.raises(ClientError):
        ssm.put_parameter(Name="/red/long", Value=too_long, Type="SecureString")
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/red/pattern", Value="S3CRET-PATTERN", Type="String", AllowedPattern="^[0-9]+$")
    assert e.value.response["Error"]["Code"] == "ParameterPatternMismatchException"
    secrets += ["S3CRET-LONG", "S3CRET-PATTERN"]

    # KMS: plaintext in and out, ciphertext, and CreateGrant's GrantToken (a credential).
    key = kms.create_key(Description="redaction")["KeyMetadata"]["KeyId"]
    plain = b"S3CRET-PLAINTEXT"
    blob = kms.encrypt(KeyId=key, Plaintext=plain)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plain
    secrets += [plain.decode(), base64.b64encode(plain).decode(), base64.b64encode(blob).decode()]
    grant = kms.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{srv_account(kms)}:root",
                             Operations=["Decrypt"])
    secrets.append(grant["GrantToken"])
    kms.decrypt(CiphertextBlob=blob, GrantTokens=[grant["GrantToken"]])

    # Secrets Manager values.
    sm.create_secret(Name="red-secret", SecretString="S3CRET-STRING")
    sm.put_secret_value(SecretId="red-secret", SecretBinary=b"S3CRET-BINARY")
    secrets += ["S3CRET-STRING", "S3CRET-BINARY", base64.b64encode(b"S3CRET-BINARY").decode()]

    # IAM: a new access key's secret.
    iam.create_user(UserName="red-user")
    ak = iam.create_access_key(UserName="red-user")["AccessKey"]
    secrets.append(ak["SecretAccessKey"])

    # The events are there (the test would pass vacuously otherwise) ...
    names = {r["eventName"] for r in trail(srv) if r["trentRecord"] == "event"}
    for op in ["PutParameter", "Encrypt", "Decrypt", "CreateGrant", "CreateSecret", "PutSecretValue",
               "CreateAccessKey"]:
        assert op in names, op
    grant_event = [r for r in trail(srv) if r.get("eventName") == "CreateGrant"][-1]
    assert grant_event["responseElements"] == {"grantId": grant["GrantId"]}
    # ... and no secret appears in the files or in LookupEvents.
    text = trail_text(srv)
    looked_up = json.dumps(lookup_all(srv), default=str)
    assert "PutParameter" in looked_up and "CreateGrant" in looked_up
    for s in secrets:
        assert s not in text, f"{s!r} is in the trail"
        assert s not in looked_up, f"{s!r} is in LookupEvents"


def srv_account(kms) -> str:
    return kms.describe_key(KeyId=kms.list_keys()["Keys"][0]["KeyId"])["KeyMetadata"]["AWSAccountId"]


def test_a_128_deep_unauthenticated_body_cannot_poison_the_trail(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    kms.list_keys()
    deep = '{"KeyId":"k","a":' + '{"a":' * 127 + "1" + "}" * 127 + "}"
    deep_map = '{"KeyId":"k","EncryptionContext":' + '{"a":' * 127 + "1" + "}" * 127 + "}"
    ids = []
    for body in [deep, deep_map]:
        r = raw_call(srv.base_url, "Encrypt", body, sign=False)
        assert r.status in (400, 403), r
        ids.append(r.headers["x-amzn-requestid"])
    # The events are in the trail and LookupEvents still returns them.
    for rid in ids:
        assert event_of(srv, rid)["requestParameters"]["keyId"] == "k"
    looked_up = [json.loads(e["CloudTrailEvent"]) for e in lookup_all(srv)]
    assert set(ids) <= {e["requestID"] for e in looked_up}
    # A crash right after (the deep event is the trail's last line): trentd starts again.
    srv.kill()
    srv.start()
    make_service_client("kms", srv.base_url).list_keys()
    srv.terminate()
    r = verify(srv.data_dir / "audit")
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_panicking_handler_still_leaves_its_audit_event(trent_factory):
    srv = trent_factory()
    body = {"Name": "/red/panic", "Value": "S3CRET-PANIC", "Type": "SecureString"}
    r = raw_call(srv.base_url, None, body, service="ssm", target=SSM_TARGET,
                 extra_headers={"x-trent-test-panic": "1"})
    assert r.status == 500, r
    assert r.error_type == "InternalServerError"
    assert "S3CRET" not in r.body.decode()
    rid = r.headers["x-amzn-requestid"]
    records = [x for x in trail(srv) if x.get("requestID") == rid]
    assert [x["trentRecord"] for x in records] == ["intent", "event"]
    assert records[1]["errorCode"] == "InternalServerError"
    assert "S3CRET-PANIC" not in trail_text(srv)
    # The server goes on serving.
    ssm = make_service_client("ssm", srv.base_url)
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/red/panic")
    assert e.value.response["Error"]["Code"] == "ParameterNotFound"
