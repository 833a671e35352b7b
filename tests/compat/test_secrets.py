"""Secrets Manager through boto3: every operation trentd serves, its successes and its errors,
as AWS documents them; plus AWS's own caching client (aws-secretsmanager-caching) on top.

Ordinary tests share the session server (`trent`) and keep to names of their own (`uniq()`), and
their ListSecrets / BatchGetSecretValue calls filter on a word of their own (`word()`), so they
never see each other's secrets. Tests that restart the server or move its clock start servers of
their own (`trent_factory`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import re
import string
import time
import uuid
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    REGION,
    error_code,
    expect_error,
    http_status,
    list_all,
    make_kms_client,
    make_sm_client,
    now_utc,
    raw_call,
)

DEFAULT_KEY_ALIAS = "alias/aws/secretsmanager"
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
KINDS = {"lower": LOWER, "upper": UPPER, "digits": DIGITS, "punctuation": PUNCTUATION}


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def word(n: int = 12) -> str:
    """A fresh lowercase word (letters only: one "word" for every kind of filter)."""
    return "".join(random.choice(LOWER) for _ in range(n))


def uniq(prefix: str = "t") -> str:
    """A fresh secret name."""
    return f"compat/{prefix}-{uuid.uuid4().hex[:12]}"


def token() -> str:
    """A ClientRequestToken (32–64 characters): a UUID, as the SDKs make them."""
    return str(uuid.uuid4())


def secret_arn_re(name: str, region: str = REGION) -> re.Pattern:
    return re.compile(
        rf"^arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}$"
    )


def partial_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}"


def strip(resp: dict) -> dict:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def stages(sm, secret_id: str) -> dict:
    """VersionIdsToStages of DescribeSecret, each label list sorted."""
    d = sm.describe_secret(SecretId=secret_id)
    return {v: sorted(s) for v, s in d.get("VersionIdsToStages", {}).items()}


def pages_of(call, result_key: str, **kw) -> tuple[list, int]:
    """Follows NextToken to the end: (all items, number of calls). Tokens must not repeat."""
    items: list = []
    tok = None
    seen = set()
    calls = 0
    while True:
        args = dict(kw)
        if tok:
            args["NextToken"] = tok
        page = call(**args)
        calls += 1
        if "MaxResults" in kw:
            assert len(page[result_key]) <= kw["MaxResults"], f"a page of {len(page[result_key])} > MaxResults"
        items.extend(page[result_key])
        tok = page.get("NextToken")
        if not tok:
            return items, calls
        assert tok not in seen, "NextToken repeated: paging would loop"
        seen.add(tok)
        assert calls < 1000, "paging did not end"


def versions(sm, secret_id: str, **kw) -> list:
    return pages_of(sm.list_secret_version_ids, "Versions", SecretId=secret_id, **kw)[0]


def listed(sm, **kw) -> list:
    return pages_of(sm.list_secrets, "SecretList", **kw)[0]


def listed_names(sm, **kw) -> list:
    return [s["Name"] for s in listed(sm, **kw)]


def assert_recent(when: dt.datetime, slack_s: float = 120) -> None:
    assert isinstance(when, dt.datetime), when
    delta = abs((now_utc() - when).total_seconds())
    assert delta < slack_s, f"timestamp {when} is {delta:.0f} s from now"


def resolve_key_id(kms, key_ref: str) -> str:
    return kms.describe_key(KeyId=key_ref)["KeyMetadata"]["KeyId"]


def expect_4xx(codes: set, fn, *args, **kwargs) -> ClientError:
    """Calls fn and asserts it fails with one of the error `codes` and a 4xx status (for checks
    whose exact AWS error code is not pinned down)."""
    with pytest.raises(ClientError) as excinfo:
        fn(*args, **kwargs)
    assert error_code(excinfo) in codes, excinfo.value.response["Error"]
    assert 400 <= http_status(excinfo) < 500
    return excinfo.value


def sm_raw(base_url: str, op: str, body: dict, **kw):
    return raw_call(base_url, None, body, service="secretsmanager", target=f"secretsmanager.{op}", **kw)


# --------------------------------------------------------------------------------------
# CreateSecret / GetSecretValue basics
# --------------------------------------------------------------------------------------


def test_create_then_get_string_secret_has_aws_shape(sm):
    name = uniq("db")
    tok = token()
    out = strip(sm.create_secret(Name=name, SecretString='{"user":"admin","password":"pw"}', ClientRequestToken=tok))
    assert set(out) == {"ARN", "Name", "VersionId"}
    assert secret_arn_re(name).match(out["ARN"]), out["ARN"]
    assert out["Name"] == name
    assert out["VersionId"] == tok
    got = strip(sm.get_secret_value(SecretId=name))
    assert set(got) == {"ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate"}
    assert (got["ARN"], got["Name"], got["VersionId"]) == (out["ARN"], name, tok)
    assert json.loads(got["SecretString"]) == {"user": "admin", "password": "pw"}
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert_recent(got["CreatedDate"])


def test_arn_suffix_is_six_random_alphanumerics(sm):
    suffixes = set()
    for _ in range(5):
        name = uniq("arn")
        arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
        assert secret_arn_re(name).match(arn), arn
        suffixes.add(arn[-6:])
    assert len(suffixes) == 5, "ARN suffixes repeat"


def test_version_id_defaults_to_a_uuid(trent):
    """boto3 always fills ClientRequestToken; a bare request without one gets a UUID version."""
    name = uniq("raw")
    resp = sm_raw(trent.base_url, "CreateSecret", {"Name": name, "SecretString": "v"})
    assert resp.status == 200, resp
    vid = resp.json["VersionId"]
    assert str(uuid.UUID(vid)) == vid
    got = sm_raw(trent.base_url, "GetSecretValue", {"SecretId": name})
    assert got.status == 200 and got.json["VersionId"] == vid, got
    assert isinstance(got.json["CreatedDate"], (int, float)), "CreatedDate must be epoch seconds on the wire"
    assert got.headers["Content-Type"].startswith("application/x-amz-json-1.1")


def test_create_is_idempotent_for_the_same_token_and_value(sm):
    name = uniq("idem")
    tok = token()
    first = strip(sm.create_secret(Name=name, SecretString="one", ClientRequestToken=tok))
    again = strip(sm.create_secret(Name=name, SecretString="one", ClientRequestToken=tok))
    assert again == first
    assert list(stages(sm, name)) == [tok]
    # Same token, different value: not a retry.
    expect_error("ResourceExistsException", sm.create_secret, Name=name, SecretString="two", ClientRequestToken=tok)
    # Another token for an existing name.
    expect_error("ResourceExistsException", sm.create_secret, Name=name, SecretString="one", ClientRequestToken=token())
    expect_error("ResourceExistsException", sm.create_secret, Name=name, SecretString="three")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "one"
    assert list(stages(sm, name)) == [tok]


def test_names_with_every_allowed_character(sm):
    base = uniq("chars")
    for name in (base + "/A-Z_a.z+0=9@x", base + "-plain", base + "/deep/er/path"):
        out = sm.create_secret(Name=name, SecretString="v")
        assert out["Name"] == name and secret_arn_re(name).match(out["ARN"])
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


@pytest.mark.parametrize("bad", ["has space", "hash#", "star*", "quest?", "colon:x", "pct%", "dollar$", "comma,", "caf\u00e9", "back\\slash"])
def test_invalid_name_characters_are_invalid_parameter(sm, bad):
    name = uniq("bad") + bad
    expect_error("InvalidParameterException", sm.create_secret, Name=name, SecretString="v")
    expect_error("ResourceNotFoundException", sm.describe_secret, SecretId=name)


def test_name_length_limits(sm_unvalidated):
    sm = sm_unvalidated
    base = uniq("long")
    ok = base + "x" * (512 - len(base))
    assert len(ok) == 512
    assert sm.create_secret(Name=ok, SecretString="v")["Name"] == ok
    expect_4xx({"ValidationException", "InvalidParameterException"}, sm.create_secret, Name=ok + "y", SecretString="v")
    expect_4xx({"ValidationException", "InvalidParameterException"}, sm.create_secret, Name="", SecretString="v")


def test_string_and_binary_together_is_invalid_parameter(sm):
    name = uniq("both")
    expect_error("InvalidParameterException", sm.create_secret, Name=name, SecretString="s", SecretBinary=b"b")
    expect_error("ResourceNotFoundException", sm.describe_secret, SecretId=name)
    sm.create_secret(Name=name, SecretString="s")
    expect_error("InvalidParameterException", sm.put_secret_value, SecretId=name, SecretString="s2", SecretBinary=b"b")
    expect_error("InvalidParameterException", sm.update_secret, SecretId=name, SecretString="s2", SecretBinary=b"b")


def test_secret_without_a_value_has_no_versions_until_the_first_put(sm):
    name = uniq("empty")
    out = strip(sm.create_secret(Name=name, Description="no value yet"))
    assert "VersionId" not in out
    assert stages(sm, name) == {}
    assert versions(sm, name) == []
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=name)
    put = sm.put_secret_value(SecretId=name, SecretString="first")
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "first"
    assert stages(sm, name) == {put["VersionId"]: ["AWSCURRENT"]}


def test_value_size_limits(sm_unvalidated):
    sm = sm_unvalidated
    name = uniq("size")
    sm.create_secret(Name=name, SecretString="s" * 65536)
    assert len(sm.get_secret_value(SecretId=name)["SecretString"]) == 65536
    big = bytes(random.getrandbits(8) for _ in range(65536))
    sm.put_secret_value(SecretId=name, SecretBinary=big)
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == big
    codes = {"ValidationException", "InvalidParameterException"}
    expect_4xx(codes, sm.put_secret_value, SecretId=name, SecretString="s" * 65537)
    expect_4xx(codes, sm.put_secret_value, SecretId=name, SecretBinary=big + b"x")
    expect_4xx(codes, sm.create_secret, Name=name + "-over", SecretString="s" * 65537)
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == big


def test_binary_secret_round_trip(sm):
    name = uniq("bin")
    blob = bytes(range(256)) + b"\x00\xff\x00" + uuid.uuid4().bytes
    sm.create_secret(Name=name, SecretBinary=blob)
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == blob
    assert "SecretString" not in got
    # A string version after a binary one, and back.
    sm.put_secret_value(SecretId=name, SecretString="now a string")
    cur = sm.get_secret_value(SecretId=name)
    assert cur["SecretString"] == "now a string" and "SecretBinary" not in cur
    prev = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert prev["SecretBinary"] == blob and "SecretString" not in prev


def test_describe_secret_shape(sm, kms):
    name = uniq("desc")
    created = sm.create_secret(
        Name=name, SecretString="v", Description="the payroll db",
        Tags=[{"Key": "team", "Value": "payroll"}, {"Key": "env", "Value": "prod"}],
    )
    d = strip(sm.describe_secret(SecretId=name))
    assert d["ARN"] == created["ARN"] and d["Name"] == name
    assert d["Description"] == "the payroll db"
    assert "KmsKeyId" not in d, "KmsKeyId is only shown when one was given"
    assert "RotationEnabled" not in d, "AWS leaves it out for a secret never set up for rotation"
    assert "DeletedDate" not in d
    assert sorted((t["Key"], t["Value"]) for t in d["Tags"]) == [("env", "prod"), ("team", "payroll")]
    assert d["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    assert "PrimaryRegion" not in d, "AWS shows it only for replicated secrets"
    assert_recent(d["CreatedDate"])
    assert_recent(d["LastChangedDate"])
    assert d["LastChangedDate"] >= d["CreatedDate"]
    key = kms.create_key(Description="describe key")["KeyMetadata"]
    sm.create_secret(Name=name + "-k", SecretString="v", KmsKeyId=key["Arn"])
    d2 = sm.describe_secret(SecretId=name + "-k")
    assert resolve_key_id(kms, d2["KmsKeyId"]) == key["KeyId"]


# --------------------------------------------------------------------------------------
# Finding a secret: name, full ARN, partial ARN
# --------------------------------------------------------------------------------------


def test_secret_id_by_name_full_arn_and_partial_arn(sm):
    name = uniq("find") + "-with-hyphens"
    arn = sm.create_secret(Name=name, SecretString="v1")["ARN"]
    partial = partial_arn(name)
    assert arn.startswith(partial + "-")
    for sid in (name, arn, partial):
        got = sm.get_secret_value(SecretId=sid)
        assert (got["ARN"], got["Name"], got["SecretString"]) == (arn, name, "v1"), sid
        assert sm.describe_secret(SecretId=sid)["ARN"] == arn
        assert sm.list_secret_version_ids(SecretId=sid)["ARN"] == arn
    assert sm.put_secret_value(SecretId=partial, SecretString="v2")["ARN"] == arn
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "k", "Value": "v"}])
    sm.update_secret(SecretId=partial, Description="by partial ARN")
    d = sm.describe_secret(SecretId=name)
    assert d["Description"] == "by partial ARN" and d["Tags"] == [{"Key": "k", "Value": "v"}]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v2"
    # A full ARN with another suffix, region or account does not find it.
    wrong_suffix = arn[:-6] + ("AAAAAA" if arn[-6:] != "AAAAAA" else "BBBBBB")
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=wrong_suffix)
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=arn.replace(REGION, "eu-west-1"))
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=arn.replace(ACCOUNT_ID, "111122223333"))
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=partial + "-extra")


def test_missing_secret_is_resource_not_found_everywhere(sm):
    missing = uniq("missing")
    vid = token()
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=missing)
    expect_error("ResourceNotFoundException", sm.describe_secret, SecretId=missing)
    expect_error("ResourceNotFoundException", sm.put_secret_value, SecretId=missing, SecretString="v")
    expect_error("ResourceNotFoundException", sm.update_secret, SecretId=missing, Description="d")
    expect_error(
        "ResourceNotFoundException", sm.update_secret_version_stage,
        SecretId=missing, VersionStage="X", MoveToVersionId=vid,
    )
    expect_error("ResourceNotFoundException", sm.list_secret_version_ids, SecretId=missing)
    expect_error("ResourceNotFoundException", sm.delete_secret, SecretId=missing)
    expect_error("ResourceNotFoundException", sm.restore_secret, SecretId=missing)
    expect_error("ResourceNotFoundException", sm.tag_resource, SecretId=missing, Tags=[{"Key": "k", "Value": "v"}])
    expect_error("ResourceNotFoundException", sm.untag_resource, SecretId=missing, TagKeys=["k"])
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=partial_arn(missing))


def test_get_by_version_id_and_by_stage(sm):
    name = uniq("sel")
    t1, t2 = token(), token()
    sm.create_secret(Name=name, SecretString="one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=t2)
    v1 = sm.get_secret_value(SecretId=name, VersionId=t1)
    assert (v1["SecretString"], v1["VersionId"], v1["VersionStages"]) == ("one", t1, ["AWSPREVIOUS"])
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["VersionId"] == t1
    cur = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert (cur["SecretString"], cur["VersionId"]) == ("two", t2)
    both = sm.get_secret_value(SecretId=name, VersionId=t2, VersionStage="AWSCURRENT")
    assert both["SecretString"] == "two"
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionId=token())
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionStage="AWSPENDING")
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionStage="NoSuchLabel")


# --------------------------------------------------------------------------------------
# KMS: default key, customer keys, failures, nothing in the clear on disk
# --------------------------------------------------------------------------------------


def test_default_key_is_the_aws_managed_alias_aws_secretsmanager(sm, kms):
    name = uniq("defkey")
    sm.create_secret(Name=name, SecretString="v")
    aliases = {a["AliasName"]: a for a in list_all(kms, "list_aliases", "Aliases")}
    assert DEFAULT_KEY_ALIAS in aliases, "alias/aws/secretsmanager was not created on first use"
    md = kms.describe_key(KeyId=DEFAULT_KEY_ALIAS)["KeyMetadata"]
    assert md["KeyId"] == aliases[DEFAULT_KEY_ALIAS]["TargetKeyId"]
    assert (md["KeyManager"], md["KeyState"], md["KeyUsage"]) == ("AWS", "Enabled", "ENCRYPT_DECRYPT")
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    [ver] = versions(sm, name)
    assert [resolve_key_id(kms, k) for k in ver["KmsKeyIds"]] == [md["KeyId"]]
    # Another secret reuses the same key; the alias is not made twice.
    sm.create_secret(Name=name + "-2", SecretString="v")
    [ver2] = versions(sm, name + "-2")
    assert [resolve_key_id(kms, k) for k in ver2["KmsKeyIds"]] == [md["KeyId"]]
    assert [a["AliasName"] for a in list_all(kms, "list_aliases", "Aliases")].count(DEFAULT_KEY_ALIAS) == 1


def test_customer_key_by_id_arn_and_alias(sm, kms):
    key = kms.create_key(Description="secrets customer key")["KeyMetadata"]
    alias = f"alias/compat-sm-{uuid.uuid4().hex[:10]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias}"
    base = uniq("cmk")
    for label, ref in (("id", key["KeyId"]), ("arn", key["Arn"]), ("alias", alias), ("aliasarn", alias_arn)):
        name = f"{base}/{label}"
        sm.create_secret(Name=name, SecretString=f"secret-{label}", KmsKeyId=ref)
        assert sm.get_secret_value(SecretId=name)["SecretString"] == f"secret-{label}"
        assert resolve_key_id(kms, sm.describe_secret(SecretId=name)["KmsKeyId"]) == key["KeyId"], label
        [ver] = versions(sm, name)
        assert [resolve_key_id(kms, k) for k in ver["KmsKeyIds"]] == [key["KeyId"]], label


def test_unusable_key_is_encryption_failure(sm, kms):
    base = uniq("badkey")
    disabled = kms.create_key(Description="disabled for secrets")["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    rsa = kms.create_key(Description="asymmetric", KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    for i, ref in enumerate((
        str(uuid.uuid4()),
        f"alias/does-not-exist-{uuid.uuid4().hex[:8]}",
        disabled["KeyId"],
        rsa["KeyId"],
    )):
        expect_error("EncryptionFailure", sm.create_secret, Name=f"{base}/{i}", SecretString="v", KmsKeyId=ref)


def test_disabled_key_is_decryption_failure_and_encryption_failure_until_enabled(sm, kms):
    key = kms.create_key(Description="toggled under a secret")["KeyMetadata"]
    name = uniq("toggle")
    sm.create_secret(Name=name, SecretString="before", KmsKeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    expect_error("DecryptionFailure", sm.get_secret_value, SecretId=name)
    expect_error("EncryptionFailure", sm.put_secret_value, SecretId=name, SecretString="during")
    expect_error("EncryptionFailure", sm.update_secret, SecretId=name, SecretString="during")
    batch = sm.batch_get_secret_value(SecretIdList=[name])
    assert batch["SecretValues"] == []
    assert [(e["SecretId"], e["ErrorCode"]) for e in batch["Errors"]] == [(name, "DecryptionFailure")]
    # Metadata needs no key.
    assert list(stages(sm, name).values()) == [["AWSCURRENT"]]
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "before"
    sm.put_secret_value(SecretId=name, SecretString="after")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "after"
    assert len(versions(sm, name)) == 2


def test_plaintext_is_not_on_disk(sm, trent):
    s1 = "sm-on-disk-canary-" + uuid.uuid4().hex
    s2 = "sm-on-disk-canary-" + uuid.uuid4().hex
    s3 = "sm-on-disk-canary-" + uuid.uuid4().hex
    blob = b"sm-binary-canary-" + uuid.uuid4().hex.encode()
    name = uniq("disk")
    sm.create_secret(Name=name, SecretString=s1)
    sm.put_secret_value(SecretId=name, SecretString=s2, VersionStages=["AWSPENDING"])
    sm.update_secret(SecretId=name, SecretString=s3)
    sm.create_secret(Name=name + "-bin", SecretBinary=blob)
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == s1
    assert sm.get_secret_value(SecretId=name + "-bin")["SecretBinary"] == blob
    checked = 0
    for fname in ("trent.db", "trent.db-wal"):
        path = trent.data_dir / fname
        if path.exists():
            data = path.read_bytes()
            checked += 1
            for canary in (s1.encode(), s2.encode(), s3.encode(), blob):
                assert canary not in data, f"secret plaintext {canary[:24]!r}… is in {fname}"
                assert base64.b64encode(canary) not in data, f"base64 of a secret is in {fname}"
            assert s1.encode("utf-16-le") not in data
    assert checked, f"no trent.db / trent.db-wal in {trent.data_dir}"


def key_ids_by_version(sm, kms, name) -> dict:
    return {
        v["VersionId"]: sorted(resolve_key_id(kms, k) for k in v["KmsKeyIds"])
        for v in versions(sm, name, IncludeDeprecated=True)
    }


def test_update_secret_kms_key_applies_to_later_versions(sm, kms):
    k1 = kms.create_key(Description="first key")["KeyMetadata"]
    k2 = kms.create_key(Description="second key")["KeyMetadata"]
    name = uniq("rekey")
    sm.create_secret(Name=name, SecretString="under k1", KmsKeyId=k1["KeyId"])
    out = strip(sm.update_secret(SecretId=name, KmsKeyId=k2["Arn"]))
    assert "VersionId" not in out, "no value, no new version"
    assert resolve_key_id(kms, sm.describe_secret(SecretId=name)["KmsKeyId"]) == k2["KeyId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="under k2")["VersionId"]
    assert key_ids_by_version(sm, kms, name)[v2] == [k2["KeyId"]]
    # The new version does not need the old key.
    kms.disable_key(KeyId=k1["KeyId"])
    try:
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "under k2"
    finally:
        kms.enable_key(KeyId=k1["KeyId"])
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "under k1"
    # An unusable new key is refused up front.
    gone = kms.create_key(Description="disabled new key")["KeyMetadata"]
    kms.disable_key(KeyId=gone["KeyId"])
    expect_error("EncryptionFailure", sm.update_secret, SecretId=name, KmsKeyId=gone["KeyId"], SecretString="x")


def test_update_secret_kms_key_re_encrypts_the_labelled_versions(sm, kms):
    """AWS ("Change the encryption key for a secret", UpdateSecret KmsKeyId): changing the key
    re-encrypts the AWSCURRENT, AWSPENDING and AWSPREVIOUS versions under the new key and keeps
    every existing version encrypted under the previous key as well; so the labelled versions
    stay readable when the old key goes away, deprecated ones only under the old key."""
    k1 = kms.create_key(Description="old key")["KeyMetadata"]
    k2 = kms.create_key(Description="new key")["KeyMetadata"]
    name = uniq("reenc")
    v0 = sm.create_secret(Name=name, SecretString="zero", KmsKeyId=k1["KeyId"])["VersionId"]
    v1 = sm.put_secret_value(SecretId=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="three", VersionStages=["AWSPENDING"])["VersionId"]
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["AWSPENDING"]}
    sm.update_secret(SecretId=name, KmsKeyId=k2["KeyId"])
    keys = key_ids_by_version(sm, kms, name)
    for v in (v1, v2, v3):
        assert k2["KeyId"] in keys[v], f"labelled version {v} was not re-encrypted under the new key: {keys[v]}"
        assert k1["KeyId"] in keys[v], f"version {v} lost its copy under the previous key: {keys[v]}"
    assert keys[v0] == [k1["KeyId"]]
    kms.disable_key(KeyId=k1["KeyId"])
    try:
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
        assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
        assert sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"] == "three"
        expect_error("DecryptionFailure", sm.get_secret_value, SecretId=name, VersionId=v0)
    finally:
        kms.enable_key(KeyId=k1["KeyId"])
    assert sm.get_secret_value(SecretId=name, VersionId=v0)["SecretString"] == "zero"


# --------------------------------------------------------------------------------------
# PutSecretValue and staging labels
# --------------------------------------------------------------------------------------


def test_put_moves_awscurrent_and_awsprevious(sm):
    name = uniq("put")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    out = strip(sm.put_secret_value(SecretId=name, SecretString="two"))
    assert set(out) == {"ARN", "Name", "VersionId", "VersionStages"}
    assert out["VersionStages"] == ["AWSCURRENT"]
    v2 = out["VersionId"]
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    v3 = sm.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    # v1 lost its last label: it is deprecated and not shown.
    assert stages(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "two"
    # A deprecated version can still be read by its id.
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "one"


def test_put_with_custom_stages_moves_them_from_other_versions(sm):
    name = uniq("custom")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    p1 = sm.put_secret_value(SecretId=name, SecretString="pending-1", VersionStages=["AWSPENDING"])
    assert p1["VersionStages"] == ["AWSPENDING"]
    assert stages(sm, name) == {v1: ["AWSCURRENT"], p1["VersionId"]: ["AWSPENDING"]}
    p2 = sm.put_secret_value(SecretId=name, SecretString="pending-2", VersionStages=["AWSPENDING", "blue"])
    assert sorted(p2["VersionStages"]) == ["AWSPENDING", "blue"]
    assert stages(sm, name) == {v1: ["AWSCURRENT"], p2["VersionId"]: ["AWSPENDING", "blue"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "one"
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "pending-2"
    listed_ids = [v["VersionId"] for v in versions(sm, name)]
    assert p1["VersionId"] not in listed_ids
    # AWSCURRENT alongside a custom label.
    p3 = sm.put_secret_value(SecretId=name, SecretString="three", VersionStages=["AWSCURRENT", "blue"])
    assert stages(sm, name) == {
        v1: ["AWSPREVIOUS"], p2["VersionId"]: ["AWSPENDING"], p3["VersionId"]: ["AWSCURRENT", "blue"],
    }


def test_put_is_idempotent_for_the_same_token_and_value(sm):
    name = uniq("putidem")
    sm.create_secret(Name=name, SecretString="zero")
    t1, t2 = token(), token()
    a = strip(sm.put_secret_value(SecretId=name, SecretString="one", ClientRequestToken=t1))
    b = strip(sm.put_secret_value(SecretId=name, SecretString="one", ClientRequestToken=t1))
    assert a["VersionId"] == b["VersionId"] == t1
    assert b["VersionStages"] == ["AWSCURRENT"]
    assert len(versions(sm, name, IncludeDeprecated=True)) == 2
    expect_error("ResourceExistsException", sm.put_secret_value, SecretId=name, SecretString="other", ClientRequestToken=t1)
    expect_error("ResourceExistsException", sm.put_secret_value, SecretId=name, SecretBinary=b"one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=t2)
    # Retrying the older request is ignored: it does not take AWSCURRENT back.
    sm.put_secret_value(SecretId=name, SecretString="one", ClientRequestToken=t1)
    assert stages(sm, name) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"


def test_put_without_a_value_is_invalid_parameter(sm):
    name = uniq("noval")
    sm.create_secret(Name=name, SecretString="v")
    expect_error("InvalidParameterException", sm.put_secret_value, SecretId=name)
    expect_error("InvalidParameterException", sm.put_secret_value, SecretId=name, VersionStages=["AWSPENDING"])
    assert len(versions(sm, name, IncludeDeprecated=True)) == 1


def test_at_most_100_versions_are_kept_unlabelled_ones_dropped_first(sm):
    """Trent's version cap: past 100 versions the oldest unlabelled ones go. (AWS documents the
    same cap but keeps versions younger than 24 hours, so a burst of puts there ends in a quota
    error instead; this checks Trent's simpler rule.)"""
    name = uniq("many")
    first = sm.create_secret(Name=name, SecretString="v0")["VersionId"]
    keep = sm.put_secret_value(SecretId=name, SecretString="kept", VersionStages=["KEEP"])["VersionId"]
    ids = [first, keep]
    for i in range(1, 106):
        ids.append(sm.put_secret_value(SecretId=name, SecretString=f"v{i}")["VersionId"])
    all_versions = versions(sm, name, IncludeDeprecated=True)
    got = [v["VersionId"] for v in all_versions]
    assert len(got) <= 100, f"{len(got)} versions kept"
    assert len(set(got)) == len(got)
    assert keep in got, "a labelled version was dropped"
    assert ids[-1] in got and ids[-2] in got
    assert first not in got, "the oldest unlabelled version should go first"
    # Kept versions are the newest ones (plus the labelled one), still in creation order.
    assert got == [i for i in ids if i in set(got)]
    assert sm.get_secret_value(SecretId=name, VersionStage="KEEP")["SecretString"] == "kept"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v105"


def test_rotation_style_sequence(sm):
    """What a rotation Lambda does: createSecret puts AWSPENDING, finishSecret moves AWSCURRENT to
    it (AWSPREVIOUS follows) and then the AWSPENDING label is taken off."""
    name = uniq("rotate")
    v1 = sm.create_secret(Name=name, SecretString="password-1")["VersionId"]
    for n in (2, 3):
        current = sm.get_secret_value(SecretId=name)["VersionId"]
        pending = token()
        # createSecret step
        expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionId=pending, VersionStage="AWSPENDING")
        sm.put_secret_value(SecretId=name, ClientRequestToken=pending, SecretString=f"password-{n}", VersionStages=["AWSPENDING"])
        got = sm.get_secret_value(SecretId=name, VersionId=pending, VersionStage="AWSPENDING")
        assert got["SecretString"] == f"password-{n}"
        assert sm.get_secret_value(SecretId=name)["SecretString"] == f"password-{n - 1}"
        # finishSecret step
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=current,
        )
        assert stages(sm, name)[pending] == ["AWSCURRENT", "AWSPENDING"]
        assert stages(sm, name)[current] == ["AWSPREVIOUS"]
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=pending)
        assert sm.get_secret_value(SecretId=name)["SecretString"] == f"password-{n}"
        assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == f"password-{n - 1}"
        expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=name, VersionStage="AWSPENDING")
    s = stages(sm, name)
    assert sorted(s.values()) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert v1 not in s
    assert [v["VersionId"] for v in versions(sm, name, IncludeDeprecated=True)][0] == v1


def test_update_secret_version_stage_rules(sm):
    name = uniq("stage")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    # A new custom label needs only MoveToVersionId.
    out = strip(sm.update_secret_version_stage(SecretId=name, VersionStage="green", MoveToVersionId=v1))
    assert set(out) == {"ARN", "Name"} and out["Name"] == name
    assert stages(sm, name) == {v1: ["AWSPREVIOUS", "green"], v2: ["AWSCURRENT"]}
    # Moving a label that another version carries requires naming that version.
    expect_error("InvalidParameterException", sm.update_secret_version_stage, SecretId=name, VersionStage="green", MoveToVersionId=v2)
    expect_error("InvalidParameterException", sm.update_secret_version_stage, SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v1)
    assert stages(sm, name) == {v1: ["AWSPREVIOUS", "green"], v2: ["AWSCURRENT"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="green", MoveToVersionId=v2, RemoveFromVersionId=v1)
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "green"]}
    # Moving a label onto the version that already has it changes nothing.
    sm.update_secret_version_stage(SecretId=name, VersionStage="green", MoveToVersionId=v2)
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "green"]}
    # AWSCURRENT cannot just be removed.
    expect_error("InvalidParameterException", sm.update_secret_version_stage, SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v2)
    # Unknown version ids.
    expect_error("InvalidParameterException", sm.update_secret_version_stage, SecretId=name, VersionStage="green", MoveToVersionId=token(), RemoveFromVersionId=v2)
    expect_error("InvalidParameterException", sm.update_secret_version_stage, SecretId=name, VersionStage="blue", MoveToVersionId=token())
    # A custom label can be removed; AWSCURRENT can be moved back (AWSPREVIOUS follows).
    sm.update_secret_version_stage(SecretId=name, VersionStage="green", RemoveFromVersionId=v2)
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v1, RemoveFromVersionId=v2)
    assert stages(sm, name) == {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "one"


def test_update_secret_description_and_value(sm):
    name = uniq("upd")
    v1 = sm.create_secret(Name=name, SecretString="one", Description="first")["VersionId"]
    before = sm.describe_secret(SecretId=name)
    time.sleep(0.01)
    out = strip(sm.update_secret(SecretId=name, Description="second"))
    assert set(out) == {"ARN", "Name"} and out["ARN"] == before["ARN"]
    d = sm.describe_secret(SecretId=name)
    assert d["Description"] == "second"
    assert d["LastChangedDate"] >= before["LastChangedDate"]
    assert stages(sm, name) == {v1: ["AWSCURRENT"]}
    tok = token()
    out = strip(sm.update_secret(SecretId=name, SecretString="two", ClientRequestToken=tok))
    assert out["VersionId"] == tok
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], tok: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    out = sm.update_secret(SecretId=name, SecretBinary=b"\x01\x02", Description="third")
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"\x01\x02"
    assert sm.describe_secret(SecretId=name)["Description"] == "third"
    assert stages(sm, name) == {tok: ["AWSPREVIOUS"], out["VersionId"]: ["AWSCURRENT"]}


# --------------------------------------------------------------------------------------
# DeleteSecret / RestoreSecret
# --------------------------------------------------------------------------------------


def test_delete_with_recovery_window_marks_hides_and_restore_undoes(sm):
    w = word()
    name = f"{w}/doomed"
    arn = sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "k", "Value": "v"}])["ARN"]
    out = strip(sm.delete_secret(SecretId=name, RecoveryWindowInDays=7))
    assert (out["ARN"], out["Name"]) == (arn, name)
    d = sm.describe_secret(SecretId=name)
    assert "DeletedDate" in d
    assert_recent(d["DeletedDate"])
    window = (out["DeletionDate"] - d["DeletedDate"]).total_seconds()
    assert abs(window - 7 * 86400) < 2, f"DeletionDate is {window} s after DeletedDate"
    # Marked: no reads, no writes, no new secret of that name.
    expect_error("InvalidRequestException", sm.get_secret_value, SecretId=name)
    expect_error("InvalidRequestException", sm.put_secret_value, SecretId=name, SecretString="w")
    expect_error("InvalidRequestException", sm.update_secret, SecretId=name, Description="d")
    expect_error("InvalidRequestException", sm.tag_resource, SecretId=name, Tags=[{"Key": "a", "Value": "b"}])
    expect_error("InvalidRequestException", sm.create_secret, Name=name, SecretString="again")
    # Hidden from ListSecrets unless asked for.
    flt = [{"Key": "name", "Values": [w]}]
    assert listed_names(sm, Filters=flt) == []
    planned = listed(sm, Filters=flt, IncludePlannedDeletion=True)
    assert [s["Name"] for s in planned] == [name]
    assert "DeletedDate" in planned[0]
    # Restore clears the mark.
    assert strip(sm.restore_secret(SecretId=arn)) == {"ARN": arn, "Name": name}
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    assert listed_names(sm, Filters=flt) == [name]
    sm.put_secret_value(SecretId=name, SecretString="w")


def test_delete_default_window_is_30_days_and_bounds(sm):
    name = uniq("del30")
    sm.create_secret(Name=name, SecretString="v")
    for bad in (6, 31, 0, -1):
        expect_error("InvalidParameterException", sm.delete_secret, SecretId=name, RecoveryWindowInDays=bad)
    expect_error(
        "InvalidParameterException", sm.delete_secret,
        SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True,
    )
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    out = sm.delete_secret(SecretId=name)
    d = sm.describe_secret(SecretId=name)
    assert abs((out["DeletionDate"] - d["DeletedDate"]).total_seconds() - 30 * 86400) < 2
    for days in (7, 30):
        n = f"{name}-{days}"
        sm.create_secret(Name=n, SecretString="v")
        o = sm.delete_secret(SecretId=n, RecoveryWindowInDays=days)
        dd = sm.describe_secret(SecretId=n)["DeletedDate"]
        assert abs((o["DeletionDate"] - dd).total_seconds() - days * 86400) < 2


def test_force_delete_destroys_at_once(sm):
    name = uniq("force")
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    out = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert out["ARN"] == arn
    assert_recent(out["DeletionDate"])
    expect_error("ResourceNotFoundException", sm.describe_secret, SecretId=name)
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=arn)
    expect_error("ResourceNotFoundException", sm.restore_secret, SecretId=name)
    # The name is free again, under a new ARN.
    new = sm.create_secret(Name=name, SecretString="new")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "new"
    if new["ARN"] != arn:  # the suffix is random: equal only by a 1-in-56-billion chance
        expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId=arn)
    # A secret already marked can still be force-deleted.
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    expect_error("ResourceNotFoundException", sm.describe_secret, SecretId=name)
    sm.create_secret(Name=name, SecretString="third")


@pytest.mark.slow
def test_scheduler_destroys_secrets_after_their_recovery_window(trent_factory):
    srv = trent_factory()
    sm = make_sm_client(srv.base_url)
    sm.create_secret(Name="doomed", SecretString="d")
    sm.create_secret(Name="long-window", SecretString="l")
    sm.create_secret(Name="restored", SecretString="r")
    sm.delete_secret(SecretId="doomed", RecoveryWindowInDays=7)
    sm.delete_secret(SecretId="long-window")  # 30 days
    sm.delete_secret(SecretId="restored", RecoveryWindowInDays=7)
    sm.restore_secret(SecretId="restored")

    srv.advance_clock(6 * 86400)
    time.sleep(2.5)  # a few sweeps (every second)
    assert "DeletedDate" in sm.describe_secret(SecretId="doomed"), "destroyed before its window ended"

    srv.advance_clock(2 * 86400)
    deadline = time.monotonic() + 15
    while True:
        try:
            sm.describe_secret(SecretId="doomed")
        except ClientError as e:
            assert error_code(e) == "ResourceNotFoundException", e.response
            break
        assert time.monotonic() < deadline, "the secret was not destroyed within 15 s after its window"
        time.sleep(0.2)
    expect_error("ResourceNotFoundException", sm.get_secret_value, SecretId="doomed")
    assert "DeletedDate" in sm.describe_secret(SecretId="long-window")
    assert sm.get_secret_value(SecretId="restored")["SecretString"] == "r"
    assert sorted(listed_names(sm, IncludePlannedDeletion=True)) == ["long-window", "restored"]
    # The name can be used again.
    sm.create_secret(Name="doomed", SecretString="reborn")
    assert sm.get_secret_value(SecretId="doomed")["SecretString"] == "reborn"


# --------------------------------------------------------------------------------------
# ListSecrets
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filtered(sm):
    """Secrets under a word of their own: alpha (description, env/team tags), beta (env tag),
    gamma (no description, team tag)."""
    w = word()
    made = {}
    made["alpha"] = sm.create_secret(
        Name=f"{w}/alpha", SecretString="a", Description="Alpha database password",
        Tags=[{"Key": f"{w}-env", "Value": f"{w}-prod"}, {"Key": f"{w}-team", "Value": "payments"}],
    )
    made["beta"] = sm.create_secret(
        Name=f"{w}/beta", SecretString="b", Description="beta cache token",
        Tags=[{"Key": f"{w}-env", "Value": f"{w}-dev"}],
    )
    made["gamma"] = sm.create_secret(Name=f"{w}/gamma", SecretString="g", Tags=[{"Key": f"{w}-team", "Value": "infra"}])
    return w, made


def names_for(sm, filters, **kw) -> list:
    return sorted(n.rsplit("/", 1)[-1] for n in listed_names(sm, Filters=filters, **kw))


def test_list_secrets_entry_shape(sm, filtered):
    w, made = filtered
    [entry] = listed(sm, Filters=[{"Key": "name", "Values": [f"{w}/alpha"]}])
    assert entry["ARN"] == made["alpha"]["ARN"]
    assert entry["Name"] == f"{w}/alpha"
    assert entry["Description"] == "Alpha database password"
    assert entry["SecretVersionsToStages"] == {made["alpha"]["VersionId"]: ["AWSCURRENT"]}
    assert sorted(t["Key"] for t in entry["Tags"]) == [f"{w}-env", f"{w}-team"]
    assert entry.get("RotationEnabled", False) is False
    assert "DeletedDate" not in entry and "SecretString" not in entry
    assert_recent(entry["CreatedDate"])
    assert_recent(entry["LastChangedDate"])


def test_list_secrets_filters(sm, filtered):
    w, _ = filtered
    name = {"Key": "name", "Values": [w + "/"]}
    assert names_for(sm, [name]) == ["alpha", "beta", "gamma"]
    assert names_for(sm, [{"Key": "name", "Values": [f"{w}/al", f"{w}/be"]}]) == ["alpha", "beta"]
    assert names_for(sm, [name, {"Key": "description", "Values": ["Alpha"]}]) == ["alpha"]
    assert names_for(sm, [name, {"Key": "description", "Values": ["beta cache"]}]) == ["beta"]
    assert names_for(sm, [{"Key": "tag-key", "Values": [f"{w}-env"]}]) == ["alpha", "beta"]
    assert names_for(sm, [{"Key": "tag-key", "Values": [f"{w}-"]}]) == ["alpha", "beta", "gamma"]
    assert names_for(sm, [{"Key": "tag-value", "Values": [f"{w}-prod"]}]) == ["alpha"]
    assert names_for(sm, [{"Key": "tag-value", "Values": [f"{w}-"]}]) == ["alpha", "beta"]
    assert names_for(sm, [name, {"Key": "tag-value", "Values": ["payments", "infra"]}]) == ["alpha", "gamma"]
    # Negation.
    assert names_for(sm, [name, {"Key": "tag-key", "Values": [f"!{w}-env"]}]) == ["gamma"]
    assert names_for(sm, [name, {"Key": "name", "Values": [f"!{w}/alpha"]}]) == ["beta", "gamma"]
    # Every filter must match.
    assert names_for(sm, [{"Key": "tag-key", "Values": [f"{w}-env"]}, {"Key": "tag-key", "Values": [f"{w}-team"]}]) == ["alpha"]
    assert names_for(sm, [{"Key": "tag-value", "Values": [f"{w}-dev"]}, {"Key": "name", "Values": [f"{w}/alpha"]}]) == []
    # "all" looks at names, descriptions and tags.
    assert names_for(sm, [{"Key": "all", "Values": [w]}]) == ["alpha", "beta", "gamma"]
    # name is case-sensitive.
    assert names_for(sm, [{"Key": "name", "Values": [w.upper()]}]) == []


def test_list_secrets_description_and_all_filters_are_not_case_sensitive(sm):
    """AWS documents `description` and `all` as not case-sensitive (Filter, API reference);
    `name` and tags are."""
    w = word()
    sm.create_secret(Name=f"{w}/x", SecretString="v", Description=f"{w.capitalize()} Ledger")
    sm.create_secret(Name=f"{w}/y", SecretString="v", Tags=[{"Key": "k", "Value": w.upper()}])
    name = {"Key": "name", "Values": [w + "/"]}
    assert names_for(sm, [name, {"Key": "description", "Values": [w]}]) == ["x"]
    assert names_for(sm, [name, {"Key": "description", "Values": [w.upper()]}]) == ["x"]
    assert names_for(sm, [{"Key": "all", "Values": [w.upper()]}]) == ["x", "y"]


def test_list_secrets_paging_and_bad_next_token(sm):
    w = word()
    made = [sm.create_secret(Name=f"{w}/s{i}", SecretString="v")["Name"] for i in range(7)]
    flt = [{"Key": "name", "Values": [w]}]
    items, calls = pages_of(sm.list_secrets, "SecretList", Filters=flt, MaxResults=3)
    got = [s["Name"] for s in items]
    assert sorted(got) == sorted(made) and len(got) == 7
    assert calls == 3
    for bad in ("not-a-token", "b2Zmc2V0Ong=", base64.b64encode(b"garbage").decode()):
        expect_error("InvalidNextTokenException", sm.list_secrets, Filters=flt, NextToken=bad)


def test_list_secrets_max_results_and_filter_bounds(sm_unvalidated):
    for bad in (0, 101):
        expect_4xx({"ValidationException", "InvalidParameterException"}, sm_unvalidated.list_secrets, MaxResults=bad)
    expect_4xx(
        {"ValidationException", "InvalidParameterException"}, sm_unvalidated.list_secrets,
        Filters=[{"Key": "colour", "Values": ["x"]}],
    )


def test_list_secrets_sorting(sm):
    w = word()
    for leaf in ("c", "a", "b"):  # created in this order
        sm.create_secret(Name=f"{w}/{leaf}", SecretString="v")
        time.sleep(0.02)
    sm.update_secret(SecretId=f"{w}/a", Description="changed last")
    flt = [{"Key": "name", "Values": [w]}]

    def order(**kw):
        return [n.rsplit("/", 1)[-1] for n in listed_names(sm, Filters=flt, **kw)]

    assert order(SortBy="name", SortOrder="asc") == ["a", "b", "c"]
    assert order(SortBy="name", SortOrder="desc") == ["c", "b", "a"]
    assert order(SortBy="created-date", SortOrder="asc") == ["c", "a", "b"]
    assert order(SortBy="created-date", SortOrder="desc") == ["b", "a", "c"]
    assert order(SortBy="last-changed-date", SortOrder="asc") == ["c", "b", "a"]
    assert order(SortBy="last-changed-date", SortOrder="desc") == ["a", "b", "c"]
    # Sorting holds across pages.
    items, _ = pages_of(sm.list_secrets, "SecretList", Filters=flt, SortBy="name", SortOrder="desc", MaxResults=1)
    assert [s["Name"].rsplit("/", 1)[-1] for s in items] == ["c", "b", "a"]


# --------------------------------------------------------------------------------------
# ListSecretVersionIds
# --------------------------------------------------------------------------------------


def test_list_secret_version_ids_order_deprecated_and_paging(sm, kms):
    name = uniq("vers")
    arn = sm.create_secret(Name=name, SecretString="v0")["ARN"]
    ids = [sm.describe_secret(SecretId=name)["VersionIdsToStages"].popitem()[0]]
    for i in range(1, 6):
        ids.append(sm.put_secret_value(SecretId=name, SecretString=f"v{i}")["VersionId"])
    page = sm.list_secret_version_ids(SecretId=name)
    assert (page["ARN"], page["Name"]) == (arn, name)
    assert [v["VersionId"] for v in page["Versions"]] == ids[-2:]
    assert [v["VersionStages"] for v in page["Versions"]] == [["AWSPREVIOUS"], ["AWSCURRENT"]]
    default_key = resolve_key_id(kms, DEFAULT_KEY_ALIAS)
    for v in page["Versions"]:
        assert_recent(v["CreatedDate"])
        assert [resolve_key_id(kms, k) for k in v["KmsKeyIds"]] == [default_key]
    every = versions(sm, name, IncludeDeprecated=True)
    assert [v["VersionId"] for v in every] == ids, "versions must come in creation order"
    assert all(not v.get("VersionStages") for v in every[:-2])
    created = [v["CreatedDate"] for v in every]
    assert created == sorted(created)
    items, calls = pages_of(sm.list_secret_version_ids, "Versions", SecretId=name, IncludeDeprecated=True, MaxResults=2)
    assert [v["VersionId"] for v in items] == ids and calls == 3
    expect_error("InvalidNextTokenException", sm.list_secret_version_ids, SecretId=name, NextToken="not-a-token")


# --------------------------------------------------------------------------------------
# BatchGetSecretValue
# --------------------------------------------------------------------------------------


def test_batch_get_by_id_list_reports_failures_in_errors(sm):
    base = uniq("batch")
    a = sm.create_secret(Name=f"{base}/a", SecretString="A")
    b = sm.create_secret(Name=f"{base}/b", SecretBinary=b"\x00B")
    sm.create_secret(Name=f"{base}/c", SecretString="C")
    sm.create_secret(Name=f"{base}/novalue")
    sm.create_secret(Name=f"{base}/deleted", SecretString="D")
    sm.delete_secret(SecretId=f"{base}/deleted", RecoveryWindowInDays=7)
    ids = [f"{base}/a", b["ARN"], partial_arn(f"{base}/c"), f"{base}/missing", f"{base}/novalue", f"{base}/deleted"]
    out = sm.batch_get_secret_value(SecretIdList=ids)
    vals = {v["Name"]: v for v in out["SecretValues"]}
    assert set(vals) == {f"{base}/a", f"{base}/b", f"{base}/c"}
    assert vals[f"{base}/a"]["SecretString"] == "A"
    assert vals[f"{base}/a"]["ARN"] == a["ARN"]
    assert vals[f"{base}/a"]["VersionId"] == a["VersionId"]
    assert vals[f"{base}/a"]["VersionStages"] == ["AWSCURRENT"]
    assert vals[f"{base}/b"]["SecretBinary"] == b"\x00B"
    assert vals[f"{base}/c"]["SecretString"] == "C"
    errors = {e["SecretId"]: e for e in out["Errors"]}
    assert set(errors) == {f"{base}/missing", f"{base}/novalue", f"{base}/deleted"}
    assert errors[f"{base}/missing"]["ErrorCode"] == "ResourceNotFoundException"
    assert errors[f"{base}/novalue"]["ErrorCode"] == "ResourceNotFoundException"
    assert errors[f"{base}/deleted"]["ErrorCode"] == "InvalidRequestException"
    assert all(e["Message"] for e in out["Errors"])


def test_batch_get_by_filters_with_paging(sm):
    w = word()
    made = {f"{w}/s{i}": f"value-{i}" for i in range(5)}
    for n, v in made.items():
        sm.create_secret(Name=n, SecretString=v, Tags=[{"Key": "batch", "Value": w}])
    sm.create_secret(Name=f"{w}-other", SecretString="not tagged")
    flt = [{"Key": "name", "Values": [w + "/"]}]
    items, calls = pages_of(sm.batch_get_secret_value, "SecretValues", Filters=flt, MaxResults=2)
    assert {v["Name"]: v["SecretString"] for v in items} == made
    assert len(items) == 5 and calls == 3
    by_tag = sm.batch_get_secret_value(Filters=[{"Key": "tag-value", "Values": [w]}])
    assert {v["Name"] for v in by_tag["SecretValues"]} == set(made)
    assert by_tag["Errors"] == []


def test_batch_get_argument_errors(sm, sm_unvalidated):
    codes = {"InvalidParameterException", "InvalidRequestException", "ValidationException"}
    name = uniq("batcharg")
    sm.create_secret(Name=name, SecretString="v")
    expect_4xx(codes, sm.batch_get_secret_value)
    expect_4xx(codes, sm.batch_get_secret_value, SecretIdList=[name], Filters=[{"Key": "name", "Values": [name]}])
    expect_4xx(codes, sm_unvalidated.batch_get_secret_value, SecretIdList=[f"{name}-{i}" for i in range(21)])
    expect_4xx(codes, sm_unvalidated.batch_get_secret_value, Filters=[{"Key": "name", "Values": [name]}], MaxResults=21)
    expect_error("InvalidNextTokenException", sm.batch_get_secret_value, Filters=[{"Key": "name", "Values": [name]}], NextToken="not-a-token")


# --------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------


def tag_map(sm, secret_id) -> dict:
    return {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=secret_id).get("Tags", [])}


def test_tag_resource_merges_and_untag_resource_removes(sm):
    name = uniq("tags")
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "team", "Value": "red"}, {"Key": "cost", "Value": "1"}])
    assert tag_map(sm, name) == {"team": "red", "cost": "1"}
    assert strip(sm.tag_resource(SecretId=name, Tags=[{"Key": "team", "Value": "blue"}, {"Key": "new", "Value": ""}])) == {}
    assert tag_map(sm, name) == {"team": "blue", "cost": "1", "new": ""}
    assert strip(sm.untag_resource(SecretId=name, TagKeys=["cost", "not-there"])) == {}
    assert tag_map(sm, name) == {"team": "blue", "new": ""}
    # Values changing keeps the tags.
    sm.put_secret_value(SecretId=name, SecretString="w")
    assert tag_map(sm, name) == {"team": "blue", "new": ""}
    sm.untag_resource(SecretId=name, TagKeys=["team", "new"])
    assert tag_map(sm, name) == {}


def test_aws_prefixed_tag_keys_are_invalid_parameter(sm):
    name = uniq("awstag")
    sm.create_secret(Name=name, SecretString="v")
    expect_error("InvalidParameterException", sm.tag_resource, SecretId=name, Tags=[{"Key": "aws:owner", "Value": "me"}])
    expect_error(
        "InvalidParameterException", sm.tag_resource,
        SecretId=name, Tags=[{"Key": "fine", "Value": "v"}, {"Key": "aws:cost", "Value": "1"}],
    )
    assert tag_map(sm, name) == {}


def test_aws_prefixed_tag_keys_on_create_secret_are_invalid_parameter(sm):
    """The `aws:` prefix is reserved for tags however they are given, CreateSecret included."""
    name = uniq("awstag-create")
    expect_error(
        "InvalidParameterException", sm.create_secret,
        Name=name, SecretString="v", Tags=[{"Key": "aws:owner", "Value": "me"}],
    )
    expect_error("ResourceNotFoundException", sm.describe_secret, SecretId=name)


def test_more_than_50_tags_is_limit_exceeded(sm):
    name = uniq("manytags")
    sm.create_secret(Name=name, SecretString="v")
    sm.tag_resource(SecretId=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert len(tag_map(sm, name)) == 50
    sm.tag_resource(SecretId=name, Tags=[{"Key": "k0", "Value": "changed"}])  # replacing stays within
    expect_error("LimitExceededException", sm.tag_resource, SecretId=name, Tags=[{"Key": "k50", "Value": "v"}])
    tags = tag_map(sm, name)
    assert len(tags) == 50 and tags["k0"] == "changed" and "k50" not in tags
    expect_error(
        "LimitExceededException", sm.create_secret,
        Name=name + "-2", SecretString="v", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
    )


# --------------------------------------------------------------------------------------
# GetRandomPassword
# --------------------------------------------------------------------------------------


def passwords(sm, n: int, **kw) -> list[str]:
    return [sm.get_random_password(**kw)["RandomPassword"] for _ in range(n)]


def test_random_password_default_statistics(sm):
    pws = passwords(sm, 300)
    allowed = set(LOWER + UPPER + DIGITS + PUNCTUATION)
    assert len(allowed) == 94
    counts = Counter()
    for pw in pws:
        assert len(pw) == 32, pw
        assert set(pw) <= allowed, f"unexpected characters {set(pw) - allowed!r}"
        for kind, chars in KINDS.items():
            assert set(pw) & set(chars), f"{pw!r} has no {kind}"
        counts.update(pw)
    assert len(set(pws)) == len(pws), "passwords repeat"
    missing = allowed - set(counts)
    assert not missing, f"never produced: {''.join(sorted(missing))!r}"
    # 9,600 characters over 94 symbols, ~100 each (a bit more for the small kinds that each
    # password must include): far outside this band means a biased generator.
    lo, hi = min(counts.values()), max(counts.values())
    assert lo >= 40 and hi <= 220, f"character counts range {lo}..{hi}: {counts.most_common(3)} / {counts.most_common()[-3:]}"


@pytest.mark.parametrize("excluded", ["ExcludeLowercase", "ExcludeUppercase", "ExcludeNumbers", "ExcludePunctuation"])
def test_random_password_exclude_a_kind(sm, excluded):
    gone = {"ExcludeLowercase": "lower", "ExcludeUppercase": "upper", "ExcludeNumbers": "digits", "ExcludePunctuation": "punctuation"}[excluded]
    kinds = {k: v for k, v in KINDS.items() if k != gone}
    allowed = set("".join(kinds.values()))
    seen = set()
    for pw in passwords(sm, 60, PasswordLength=40, **{excluded: True}):
        assert len(pw) == 40
        assert set(pw) <= allowed, f"{excluded}: {set(pw) - allowed!r} in {pw!r}"
        for kind, chars in kinds.items():
            assert set(pw) & set(chars), f"{pw!r} has no {kind}"
        seen |= set(pw)
    assert seen == allowed, f"never produced: {''.join(sorted(allowed - seen))!r}"


def test_random_password_exclude_characters(sm):
    excluded = "abcXYZ012!@#\"'\\`~ "
    allowed = set(LOWER + UPPER + DIGITS + PUNCTUATION) - set(excluded)
    seen = set()
    for pw in passwords(sm, 150, PasswordLength=64, ExcludeCharacters=excluded):
        assert len(pw) == 64
        assert not set(pw) & set(excluded), f"excluded {set(pw) & set(excluded)!r} in {pw!r}"
        seen |= set(pw)
    assert seen == allowed, f"never produced: {''.join(sorted(allowed - seen))!r}"


def test_random_password_include_space(sm):
    allowed = set(LOWER + UPPER + DIGITS + PUNCTUATION + " ")
    pws = passwords(sm, 100, PasswordLength=40, IncludeSpace=True)
    assert all(set(pw) <= allowed for pw in pws)
    assert any(" " in pw for pw in pws), "IncludeSpace never produced a space"
    assert not any(" " in pw for pw in passwords(sm, 50, PasswordLength=40)), "a space without IncludeSpace"


def test_random_password_lengths_and_require_each_included_type(sm):
    assert len(sm.get_random_password()["RandomPassword"]) == 32
    assert len(sm.get_random_password(PasswordLength=4096)["RandomPassword"]) == 4096
    # Four kinds fit exactly into four characters: one of each.
    for pw in passwords(sm, 30, PasswordLength=4):
        assert sorted(next(k for k, c in KINDS.items() if ch in c) for ch in pw) == sorted(KINDS)
    # Without RequireEachIncludedType any length works and kinds may be missing.
    short = passwords(sm, 200, PasswordLength=1, RequireEachIncludedType=False)
    assert all(len(pw) == 1 for pw in short)
    assert len(set(short)) > 30
    # A single kind of one character.
    one = sm.get_random_password(PasswordLength=1, ExcludeUppercase=True, ExcludeNumbers=True, ExcludePunctuation=True)
    assert one["RandomPassword"] in LOWER
    digits_only = sm.get_random_password(PasswordLength=50, ExcludeLowercase=True, ExcludeUppercase=True, ExcludePunctuation=True)
    assert set(digits_only["RandomPassword"]) <= set(DIGITS)


def test_random_password_errors(sm, sm_unvalidated):
    expect_error("InvalidParameterException", sm.get_random_password, PasswordLength=3)
    expect_error("InvalidParameterException", sm.get_random_password, PasswordLength=1)
    expect_error(
        "InvalidParameterException", sm.get_random_password,
        ExcludeLowercase=True, ExcludeUppercase=True, ExcludeNumbers=True, ExcludePunctuation=True,
    )
    expect_error(
        "InvalidParameterException", sm.get_random_password,
        ExcludeCharacters=LOWER + UPPER + DIGITS + PUNCTUATION, RequireEachIncludedType=False,
    )
    for bad in (0, 4097, -1):
        expect_4xx({"ValidationException", "InvalidParameterException"}, sm_unvalidated.get_random_password, PasswordLength=bad)


# --------------------------------------------------------------------------------------
# Regions, protocol
# --------------------------------------------------------------------------------------


def test_secrets_are_separate_per_region(make_sm):
    east, west = make_sm("us-east-1"), make_sm("eu-west-1")
    name = uniq("regional")
    e = east.create_secret(Name=name, SecretString="east")
    expect_error("ResourceNotFoundException", west.get_secret_value, SecretId=name)
    expect_error("ResourceNotFoundException", west.get_secret_value, SecretId=e["ARN"])
    w = west.create_secret(Name=name, SecretString="west")
    assert secret_arn_re(name, "eu-west-1").match(w["ARN"]), w["ARN"]
    assert west.get_secret_value(SecretId=name)["SecretString"] == "west"
    assert west.describe_secret(SecretId=name)["ARN"] == w["ARN"]
    assert east.get_secret_value(SecretId=name)["SecretString"] == "east"
    assert [s["ARN"] for s in listed(west, Filters=[{"Key": "name", "Values": [name]}])] == [w["ARN"]]
    west.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert east.get_secret_value(SecretId=name)["SecretString"] == "east"


def test_unserved_operations_are_unknown_operation(sm, trent):
    """Every Secrets Manager operation is served (replication: test_secrets_replication.py, resource
    policies: test_secrets_policies.py, rotation: test_secrets_rotation.py); anything else is unknown."""
    resp = sm_raw(trent.base_url, "NoSuchOperation", {})
    assert resp.status == 400 and resp.error_type == "UnknownOperationException", resp


def test_signature_scope_must_match_the_service(trent):
    name = uniq("scope")
    resp = raw_call(trent.base_url, None, {"SecretId": name}, service="kms", target="secretsmanager.GetSecretValue")
    assert 400 <= resp.status < 500 and resp.error_type == "InvalidSignatureException", resp
    resp = raw_call(trent.base_url, None, {}, service="secretsmanager", target="TrentService.ListKeys")
    assert 400 <= resp.status < 500 and resp.error_type == "InvalidSignatureException", resp
    ok = sm_raw(trent.base_url, "GetSecretValue", {"SecretId": name})
    assert ok.status == 400 and ok.error_type == "ResourceNotFoundException", ok


def test_unknown_access_key_and_wrong_secret_are_rejected(make_sm):
    from conftest import ADMIN_ACCESS_KEY_ID

    expect_error("UnrecognizedClientException", make_sm(access_key="AKIAXXXXXXXXXXXXXXXX", secret_key="nope").list_secrets)
    expect_error("InvalidSignatureException", make_sm(access_key=ADMIN_ACCESS_KEY_ID, secret_key="wrong").list_secrets)


# --------------------------------------------------------------------------------------
# Durability
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_secrets_survive_a_restart(trent_factory):
    srv = trent_factory()
    sm = make_sm_client(srv.base_url)
    kms = make_kms_client(srv.base_url)
    key = kms.create_key(Description="sm restart")["KeyMetadata"]
    sm.create_secret(Name="app/db", SecretString="pw-1", Description="db", Tags=[{"Key": "t", "Value": "1"}])
    sm.put_secret_value(SecretId="app/db", SecretString="pw-2")
    sm.put_secret_value(SecretId="app/db", SecretString="pw-3", VersionStages=["AWSPENDING"])
    sm.create_secret(Name="app/bin", SecretBinary=b"\x00\x01binary", KmsKeyId=key["KeyId"])
    sm.create_secret(Name="app/doomed", SecretString="d")
    sm.delete_secret(SecretId="app/doomed", RecoveryWindowInDays=7)
    eu = make_sm_client(srv.base_url, region="eu-west-1")
    eu.create_secret(Name="app/db", SecretString="eu")

    def snapshot(client):
        out = {}
        for s in listed(client, IncludePlannedDeletion=True):
            out[s["Name"]] = (
                strip(client.describe_secret(SecretId=s["ARN"])),
                versions(client, s["ARN"], IncludeDeprecated=True),
            )
        return out

    before = snapshot(sm)
    before_eu = snapshot(eu)
    code = srv.terminate()
    assert code == 0, f"trentd exited with {code} on SIGTERM\n{srv.stderr()}"
    srv.start()
    sm = make_sm_client(srv.base_url)
    kms = make_kms_client(srv.base_url)
    eu = make_sm_client(srv.base_url, region="eu-west-1")

    assert snapshot(sm) == before
    assert snapshot(eu) == before_eu
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "pw-2"
    assert sm.get_secret_value(SecretId="app/db", VersionStage="AWSPREVIOUS")["SecretString"] == "pw-1"
    assert sm.get_secret_value(SecretId="app/db", VersionStage="AWSPENDING")["SecretString"] == "pw-3"
    assert sm.get_secret_value(SecretId="app/bin")["SecretBinary"] == b"\x00\x01binary"
    expect_error("InvalidRequestException", sm.get_secret_value, SecretId="app/doomed")
    assert eu.get_secret_value(SecretId="app/db")["SecretString"] == "eu"
    # Still writable, and the AWS managed key was not made twice.
    sm.put_secret_value(SecretId="app/db", SecretString="pw-4")
    sm.create_secret(Name="app/after", SecretString="a")
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "pw-4"
    aliases = [a["AliasName"] for a in list_all(kms, "list_aliases", "Aliases")]
    assert aliases.count(DEFAULT_KEY_ALIAS) == 1
    sm.restore_secret(SecretId="app/doomed")
    assert sm.get_secret_value(SecretId="app/doomed")["SecretString"] == "d"


# --------------------------------------------------------------------------------------
# aws-secretsmanager-caching (AWS's client-side cache) against trentd
# --------------------------------------------------------------------------------------


def _caching():
    return pytest.importorskip(
        "aws_secretsmanager_caching",
        reason="aws-secretsmanager-caching is not installed (tests/compat/requirements.txt)",
    )


def counting_client(make_sm):
    """A fresh client that counts the calls it makes, per operation."""
    client = make_sm()
    calls = Counter()
    client.meta.events.register(
        "before-call.secrets-manager.*", lambda model, **kw: calls.update([model.name])
    )
    return client, calls


def test_secret_cache_returns_the_current_value_and_refresh_now(make_sm, sm, monkeypatch):
    caching = _caching()
    from aws_secretsmanager_caching.cache.items import SecretCacheObject

    # refresh_secret_now sleeps a random 2.5–5 s of jitter first; keep it short here.
    monkeypatch.setattr(SecretCacheObject, "FORCE_REFRESH_JITTER_SLEEP", 20)
    client, calls = counting_client(make_sm)
    name = uniq("cache")
    sm.create_secret(Name=name, SecretString="v1")
    sm.create_secret(Name=name + "-bin", SecretBinary=b"\x00bin")
    cache = caching.SecretCache(config=caching.SecretCacheConfig(), client=client)
    assert cache.get_secret_string(name) == "v1"
    assert cache.get_secret_binary(name + "-bin") == b"\x00bin"
    assert calls["DescribeSecret"] >= 1 and calls["GetSecretValue"] >= 1, calls
    n_get = calls["GetSecretValue"]
    sm.put_secret_value(SecretId=name, SecretString="v2")
    for _ in range(5):
        assert cache.get_secret_string(name) == "v1", "served from the cache until refreshed"
    assert calls["GetSecretValue"] == n_get, "the cache went back to the server"
    assert cache.refresh_secret_now(name) is True
    assert cache.get_secret_string(name) == "v2"
    assert cache.get_secret_string(name, "AWSPREVIOUS") == "v1"

    @caching.InjectSecretString(name, cache)
    def uses(secret):
        return secret

    assert uses() == "v2"
    with pytest.raises(ClientError) as e:
        cache.get_secret_string(uniq("cache-missing"))
    assert error_code(e) == "ResourceNotFoundException"


def test_secret_cache_refreshes_after_its_ttl(make_sm, sm):
    caching = _caching()
    client, calls = counting_client(make_sm)
    name = uniq("cachettl")
    sm.create_secret(Name=name, SecretString="t1")
    # secret_refresh_interval=1: the next refresh is due 0–1 s after each one.
    cache = caching.SecretCache(config=caching.SecretCacheConfig(secret_refresh_interval=1), client=client)
    assert cache.get_secret_string(name) == "t1"
    sm.put_secret_value(SecretId=name, SecretString="t2")
    deadline = time.monotonic() + 5
    while cache.get_secret_string(name) != "t2":
        assert time.monotonic() < deadline, "the cache did not pick up the new value after its TTL"
        time.sleep(0.1)
    assert calls["DescribeSecret"] >= 2, calls
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT",
        MoveToVersionId=sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["VersionId"],
        RemoveFromVersionId=sm.get_secret_value(SecretId=name)["VersionId"],
    )
    deadline = time.monotonic() + 5
    while cache.get_secret_string(name) != "t1":
        assert time.monotonic() < deadline, "the cache did not follow AWSCURRENT moving back"
        time.sleep(0.1)
