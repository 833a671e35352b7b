"""The audit trail: every request, allowed, denied or failed, as a CloudTrail-shaped event in
hash-chained JSON-lines files; LookupEvents through boto3 and the AWS CLI; `trent audit verify`
catching edited, deleted and reordered records; fail-closed behaviour when the trail cannot be
written."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, REGION, REPO, make_service_client


def trail(srv) -> list[dict]:
    records = []
    for f in sorted((srv.data_dir / "audit").glob("trail-*.jsonl")):
        records += [json.loads(line) for line in f.read_text().splitlines()]
    return records


def events(srv, name: str | None = None) -> list[dict]:
    return [r for r in trail(srv) if r["trentRecord"] == "event" and (name is None or r["eventName"] == name)]


def by_request(srv, request_id: str) -> list[dict]:
    return [r for r in trail(srv) if r.get("requestID") == request_id]


def trent_cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TRENT_BIN") or REPO / "target" / "debug" / "trent")
    assert path.exists(), f"the trent CLI is not built at {path} (cargo build --workspace)"
    return path


def verify(directory: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(trent_cli()), "audit", "verify", str(directory), *extra], capture_output=True, text=True, timeout=60
    )


def test_kms_events_have_cloudtrail_shape_and_no_plaintext(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    created = kms.create_key(Description="audited key")
    key = created["KeyMetadata"]["KeyId"]
    arn = created["KeyMetadata"]["Arn"]
    enc = kms.encrypt(KeyId=key, Plaintext=b"AUDIT-PLAINTEXT-1", EncryptionContext={"Dept": "Ops"})
    kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"Dept": "Ops"})

    (create,) = events(srv, "CreateKey")
    assert create["eventVersion"] == "1.08"
    assert create["eventSource"] == "kms.amazonaws.com"
    assert create["awsRegion"] == REGION
    assert create["requestID"] == created["ResponseMetadata"]["RequestId"]
    uuid.UUID(create["eventID"])
    assert create["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
        "accountId": ACCOUNT_ID,
        "accessKeyId": ADMIN_ACCESS_KEY_ID,
    }
    assert create["requestParameters"] == {"description": "audited key"}
    assert create["responseElements"]["keyMetadata"]["keyId"] == key
    assert create["readOnly"] is False
    assert create["resources"] == [{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": arn}]
    assert create["recipientAccountId"] == ACCOUNT_ID
    assert create["eventType"] == "AwsApiCall" and create["managementEvent"] is True
    assert create["eventCategory"] == "Management"
    assert create["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in create["userAgent"] or "boto" in create["userAgent"].lower()
    assert "errorCode" not in create
    dt.datetime.strptime(create["eventTime"], "%Y-%m-%dT%H:%M:%SZ")

    # A state change is preceded by its durable intent record.
    records = by_request(srv, create["requestID"])
    assert [r["trentRecord"] for r in records] == ["intent", "event"]
    assert records[0]["trentSeq"] < records[1]["trentSeq"]

    (encrypt,) = events(srv, "Encrypt")
    assert encrypt["readOnly"] is True
    assert encrypt["requestParameters"] == {"keyId": key, "encryptionContext": {"Dept": "Ops"}}
    assert encrypt["responseElements"] is None
    assert encrypt["resources"][0]["ARN"] == arn
    (decrypt,) = events(srv, "Decrypt")
    assert decrypt["resources"][0]["ARN"] == arn
    # Read-only operations write no intent.
    assert [r["trentRecord"] for r in by_request(srv, decrypt["requestID"])] == ["event"]

    text = "".join(f.read_text() for f in (srv.data_dir / "audit").glob("trail-*.jsonl"))
    for secret in [b"AUDIT-PLAINTEXT-1", base64.b64encode(b"AUDIT-PLAINTEXT-1"), base64.b64encode(enc["CiphertextBlob"])]:
        assert secret.decode() not in text


def test_denied_and_failed_requests_are_recorded(trent_factory):
    srv = trent_factory()
    stranger = make_service_client("kms", srv.base_url, access_key="AKIAUNKNOWN000000001", secret_key="x" * 40)
    with pytest.raises(ClientError) as e:
        stranger.list_keys()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    forged = make_service_client("kms", srv.base_url, secret_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        forged.list_keys()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    kms = make_service_client("kms", srv.base_url)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert e.value.response["Error"]["Code"] == "NotFoundException"

    listed = events(srv, "ListKeys")
    unknown = [ev for ev in listed if ev.get("errorCode") == "UnrecognizedClientException"]
    assert len(unknown) == 1
    assert unknown[0]["userIdentity"] == {"type": "Unknown", "accessKeyId": "AKIAUNKNOWN000000001"}
    bad_sig = [ev for ev in listed if ev.get("errorCode") == "InvalidSignatureException"]
    assert len(bad_sig) == 1 and bad_sig[0]["userIdentity"]["accessKeyId"] == ADMIN_ACCESS_KEY_ID
    assert "not-the-secret" not in json.dumps(trail(srv))
    (missing,) = events(srv, "DescribeKey")
    assert missing["errorCode"] == "NotFoundException"
    assert missing["errorMessage"] == e.value.response["Error"]["Message"]
    assert missing["userIdentity"]["type"] == "Root"


def test_ssm_and_secrets_manager_events_keep_no_values(trent_factory):
    srv = trent_factory()
    ssm = make_service_client("ssm", srv.base_url)
    sm = make_service_client("secretsmanager", srv.base_url)
    ssm.put_parameter(Name="/audit/db", Type="SecureString", Value="SSM-SECRET-VALUE-7")
    ssm.put_parameter(Name="/audit/plain", Type="String", Value="SSM-PLAIN-VALUE-8", Tags=[{"Key": "team", "Value": "blue"}])
    assert ssm.get_parameter(Name="/audit/db", WithDecryption=True)["Parameter"]["Value"] == "SSM-SECRET-VALUE-7"
    secret = sm.create_secret(Name="audit/app", SecretString="SM-SECRET-STRING-9")
    sm.put_secret_value(SecretId="audit/app", SecretBinary=b"SM-SECRET-BINARY-10")
    assert sm.get_secret_value(SecretId="audit/app", VersionStage="AWSPREVIOUS")["SecretString"] == "SM-SECRET-STRING-9"
    password = sm.get_random_password(PasswordLength=40)["RandomPassword"]

    text = json.dumps(trail(srv))
    for value in ["SSM-SECRET-VALUE-7", "SSM-PLAIN-VALUE-8", "SM-SECRET-STRING-9", password,
                  base64.b64encode(b"SM-SECRET-BINARY-10").decode()]:
        assert value not in text
    puts = events(srv, "PutParameter")
    assert {p["requestParameters"]["name"] for p in puts} == {"/audit/db", "/audit/plain"}
    assert all(p["eventSource"] == "ssm.amazonaws.com" for p in puts)
    tagged = next(p for p in puts if p["requestParameters"]["name"] == "/audit/plain")
    assert tagged["requestParameters"]["tags"] == [{"key": "team", "value": "blue"}]
    assert tagged["resources"] == [
        {"accountId": ACCOUNT_ID, "type": "AWS::SSM::Parameter",
         "ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/audit/plain"}
    ]
    (create,) = events(srv, "CreateSecret")
    assert create["eventSource"] == "secretsmanager.amazonaws.com"
    assert create["requestParameters"]["name"] == "audit/app"
    assert create["resources"][0] == {"accountId": ACCOUNT_ID, "type": "AWS::SecretsManager::Secret", "ARN": secret["ARN"]}
    (get,) = events(srv, "GetSecretValue")
    assert get["readOnly"] is True and get["responseElements"] is None


def test_cli_lookup_events_shows_who_decrypted_with_which_key(trent, kms, aws_cli):
    key = kms.create_key(Description="lookup")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    out = aws_cli(
        "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=Decrypt"
    ).json()
    mine = [e for e in out["Events"] if any(r["ResourceName"] == key["Arn"] for r in e["Resources"])]
    assert len(mine) == 1, out
    ev = mine[0]
    assert ev["EventName"] == "Decrypt" and ev["EventSource"] == "kms.amazonaws.com"
    assert ev["Username"] == "root" and ev["AccessKeyId"] == ADMIN_ACCESS_KEY_ID
    assert ev["ReadOnly"] == "true"
    assert ev["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key["Arn"]}]
    inner = json.loads(ev["CloudTrailEvent"])
    assert inner["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert inner["eventID"] == ev["EventId"]
    assert not any(k.startswith("trent") for k in inner)
    assert all(e["EventName"] == "Decrypt" for e in out["Events"])


def test_lookup_events_pages_filters_and_errors(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    ct = make_service_client("cloudtrail", srv.base_url)
    ct_raw = make_service_client("cloudtrail", srv.base_url, validate=False)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(7):
        kms.describe_key(KeyId=key)
    make_service_client("kms", srv.base_url, region="eu-west-1").list_keys()

    seen, token = [], None
    while True:
        args = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}], "MaxResults": 3}
        if token:
            args["NextToken"] = token
        page = ct.lookup_events(**args)
        assert len(page["Events"]) <= 3
        seen += page["Events"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == 7 and len({e["EventId"] for e in seen}) == 7
    times = [e["EventTime"] for e in seen]
    assert times == sorted(times, reverse=True), "newest first"

    by_key = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key}])["Events"]
    assert {e["EventName"] for e in by_key} == {"CreateKey", "DescribeKey"}
    writes = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])["Events"]
    assert [e["EventName"] for e in writes] == ["CreateKey"]
    # Event history is per region: eu-west-1's ListKeys is not in us-east-1's.
    assert not ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListKeys"}])["Events"]
    eu = make_service_client("cloudtrail", srv.base_url, region="eu-west-1")
    assert len(eu.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListKeys"}])["Events"]) == 1
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert ct.lookup_events(StartTime=future)["Events"] == []
    assert ct.lookup_events(EventCategory="insight")["Events"] == []

    def code(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return e.value.response["Error"]["Code"]

    two = [{"AttributeKey": "EventName", "AttributeValue": "A"}, {"AttributeKey": "ReadOnly", "AttributeValue": "true"}]
    assert code(ct.lookup_events, LookupAttributes=two) == "InvalidLookupAttributesException"
    assert code(ct_raw.lookup_events, MaxResults=51) == "InvalidMaxResultsException"
    assert code(ct_raw.lookup_events, MaxResults=0) == "InvalidMaxResultsException"
    assert code(ct.lookup_events, StartTime=future, EndTime=future - dt.timedelta(hours=2)) == "InvalidTimeRangeException"
    assert code(ct.lookup_events, NextToken="garbage") == "InvalidNextTokenException"
    assert code(ct_raw.lookup_events, LookupAttributes=[{"AttributeKey": "Nope", "AttributeValue": "x"}]) == "ValidationException"
    # Of CloudTrail, only LookupEvents is served.
    assert code(ct.create_trail, Name="t", S3BucketName="b") == "UnknownOperationException"


def tampered_copy(srv, tmp_path: pathlib.Path) -> tuple[pathlib.Path, list[str]]:
    copy = tmp_path / f"audit-{uuid.uuid4().hex[:8]}"
    shutil.copytree(srv.data_dir / "audit", copy)
    files = sorted(copy.glob("trail-*.jsonl"))
    assert len(files) == 1
    return files[0], files[0].read_text().splitlines(keepends=True)


def test_trent_audit_verify_catches_edits_deletions_and_reordering(trent_factory, tmp_path):
    srv = trent_factory({"TRENT_AUDIT_DIGEST_INTERVAL_SECS": "1"})
    kms = make_service_client("kms", srv.base_url)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"v")["CiphertextBlob"]
    time.sleep(1.5)  # a digest is written between the two halves
    for _ in range(3):
        kms.decrypt(CiphertextBlob=blob)
    srv.terminate()  # writes the final digest
    audit = srv.data_dir / "audit"
    pub = audit / "signing-key.pub"
    ok = verify(audit, "--public-key", str(pub))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified" in ok.stdout.lower() and "0 unsigned" in ok.stdout.lower(), ok.stdout
    records = trail(srv)
    assert sum(r["trentRecord"] == "digest" for r in records) >= 2
    assert records[-1]["trentRecord"] == "digest"

    decrypt_line = next(i for i, r in enumerate(records) if r.get("eventName") == "Decrypt")

    # Edited: one character of one event.
    f, lines = tampered_copy(srv, tmp_path)
    lines[decrypt_line] = lines[decrypt_line].replace('"Decrypt"', '"Encrypt"')
    f.write_text("".join(lines))
    r = verify(f.parent)
    assert r.returncode != 0 and f"{f.name}:{decrypt_line + 1}:" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "edited" in (r.stdout + r.stderr)

    # Deleted: one event removed.
    f, lines = tampered_copy(srv, tmp_path)
    del lines[decrypt_line]
    f.write_text("".join(lines))
    r = verify(f.parent)
    assert r.returncode != 0 and f"{f.name}:{decrypt_line + 1}:" in r.stdout + r.stderr, r.stdout + r.stderr

    # Reordered: two events swapped.
    f, lines = tampered_copy(srv, tmp_path)
    lines[decrypt_line], lines[decrypt_line + 1] = lines[decrypt_line + 1], lines[decrypt_line]
    f.write_text("".join(lines))
    r = verify(f.parent)
    assert r.returncode != 0 and f"{f.name}:{decrypt_line + 1}:" in r.stdout + r.stderr, r.stdout + r.stderr

    # A trail checked against another server's public key fails at its first digest.
    other = "11" * 32
    r = verify(audit, "--public-key", other)
    assert r.returncode != 0 and "unexpected key" in r.stdout + r.stderr


def test_unwritable_audit_trail_refuses_requests_without_side_effects(trent_factory):
    assert shutil.which("chattr"), "chattr (e2fsprogs) is needed to make the trail unwritable"
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"guarded")["CiphertextBlob"]
    before = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    (trail_file,) = sorted((srv.data_dir / "audit").glob("trail-*.jsonl"))
    subprocess.run(["chattr", "+i", str(trail_file)], check=True)
    try:
        for call in [lambda: kms.create_key(Description="must not exist"), lambda: kms.decrypt(CiphertextBlob=blob),
                     lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)]:
            with pytest.raises(ClientError) as e:
                call()
            assert e.value.response["Error"]["Code"] == "KMSInternalException"
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert "audit" in e.value.response["Error"]["Message"]
    finally:
        subprocess.run(["chattr", "-i", str(trail_file)], check=True)
    # Nothing was performed: no new key, the key is not pending deletion.
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == before
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    # The trail recovers once writable, and its chain is intact.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"guarded"
    srv.terminate()
    r = verify(srv.data_dir / "audit")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any(r.get("requestParameters", {}) == {"description": "must not exist"} for r in trail(srv))
