"""SSM Parameter Store through boto3: every operation trentd serves, its successes and its
errors, as AWS documents them.

Ordinary tests share the session server (`trent`) and keep to names under a hierarchy of their
own (`uniq()`), so they never see each other's parameters. Tests that need an exact view of the
whole store (the 1,000-parameter tree), or that restart the server, start servers of their own.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    REGION,
    error_code,
    expect_error,
    key_arn,
    list_all,
    make_kms_client,
    make_ssm_client,
    now_utc,
    raw_call,
    unique_alias,
)

ROOT_USER = f"arn:aws:iam::{ACCOUNT_ID}:root"
FAR_FUTURE = "2099-01-01T00:00:00.000Z"
PARAMETER_KEYS = {"Name", "Type", "Value", "Version", "LastModifiedDate", "ARN", "DataType"}


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def uniq(prefix: str = "t") -> str:
    """A fresh top-level hierarchy (`/<prefix>-<hex>`) for one test."""
    return f"/{prefix}-{uuid.uuid4().hex[:12]}"


def flat(prefix: str = "t") -> str:
    """A fresh non-hierarchical name."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def ssm_arn(name: str, region: str = REGION) -> str:
    sep = "" if name.startswith("/") else "/"
    return f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{sep}{name}"


def pages_of(call, result_key: str, max_results: int | None = None, **kw) -> tuple[list, int]:
    """Follows NextToken to the end; returns (all items, number of calls). Checks that no page
    is bigger than MaxResults and that tokens do not repeat."""
    items: list = []
    token = None
    seen_tokens = set()
    calls = 0
    while True:
        args = dict(kw)
        if max_results is not None:
            args["MaxResults"] = max_results
        if token:
            args["NextToken"] = token
        page = call(**args)
        calls += 1
        if max_results is not None:
            assert len(page[result_key]) <= max_results, f"a page of {len(page[result_key])} > MaxResults {max_results}"
        items.extend(page[result_key])
        token = page.get("NextToken")
        if not token:
            return items, calls
        assert token not in seen_tokens, "NextToken repeated: paging would loop"
        seen_tokens.add(token)
        assert calls < 5000, "paging did not end"


def names(params) -> list:
    return [p["Name"] for p in params]


def by_path(ssm, path: str, **kw) -> list:
    return pages_of(ssm.get_parameters_by_path, "Parameters", Path=path, **kw)[0]


def describe_all(ssm, **kw) -> list:
    return pages_of(ssm.describe_parameters, "Parameters", **kw)[0]


def describe_under(ssm, root: str, **kw) -> list:
    """DescribeParameters restricted to one test's hierarchy."""
    filters = [{"Key": "Name", "Option": "BeginsWith", "Values": [root + "/"]}] + kw.pop("ParameterFilters", [])
    return describe_all(ssm, ParameterFilters=filters, **kw)


def history(ssm, name: str, **kw) -> list:
    return pages_of(ssm.get_parameter_history, "Parameters", Name=name, **kw)[0]


def policy(kind: str, **attributes) -> dict:
    return {"Type": kind, "Version": "1.0", "Attributes": attributes}


def assert_recent(when: dt.datetime, slack_s: float = 120) -> None:
    assert isinstance(when, dt.datetime)
    delta = abs((now_utc() - when).total_seconds())
    assert delta < slack_s, f"timestamp {when} is {delta:.0f} s from now"


def resolve_key_id(kms, key_ref: str) -> str:
    """The KeyId that a KeyId/ARN/alias reference names."""
    return kms.describe_key(KeyId=key_ref)["KeyMetadata"]["KeyId"]


# --------------------------------------------------------------------------------------
# PutParameter / GetParameter basics
# --------------------------------------------------------------------------------------


def test_put_then_get_string_parameter_has_aws_shape(ssm):
    name = uniq() + "/db/host"
    out = ssm.put_parameter(Name=name, Value="db.internal", Type="String", Description="the db host")
    assert out["Version"] == 1
    assert out["Tier"] == "Standard"
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert set(p) == PARAMETER_KEYS, f"unexpected members {set(p) ^ PARAMETER_KEYS}"
    assert p["Name"] == name
    assert p["Type"] == "String"
    assert p["Value"] == "db.internal"
    assert p["Version"] == 1
    assert p["ARN"] == ssm_arn(name)
    assert p["DataType"] == "text"
    assert_recent(p["LastModifiedDate"])


def test_arn_of_hierarchical_and_flat_names(ssm):
    root = uniq()
    name = root + "/a/b"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    assert ssm.get_parameter(Name=name)["Parameter"]["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter{name}"
    f = flat("foo")
    ssm.put_parameter(Name=f, Value="v", Type="String")
    assert ssm.get_parameter(Name=f)["Parameter"]["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter/{f}"


def test_string_list_and_secure_string_types(ssm):
    root = uniq()
    ssm.put_parameter(Name=root + "/list", Value="a,b,c", Type="StringList")
    ssm.put_parameter(Name=root + "/secret", Value="hunter2", Type="SecureString")
    lst = ssm.get_parameter(Name=root + "/list")["Parameter"]
    assert (lst["Type"], lst["Value"]) == ("StringList", "a,b,c")
    sec = ssm.get_parameter(Name=root + "/secret", WithDecryption=True)["Parameter"]
    assert (sec["Type"], sec["Value"]) == ("SecureString", "hunter2")


def test_put_existing_without_overwrite_is_parameter_already_exists(ssm):
    name = uniq() + "/x"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    expect_error("ParameterAlreadyExists", ssm.put_parameter, Name=name, Value="two", Type="String")
    expect_error("ParameterAlreadyExists", ssm.put_parameter, Name=name, Value="two", Type="String", Overwrite=False)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "one"


def test_overwrite_bumps_version_and_keeps_type(ssm):
    name = uniq() + "/x"
    assert ssm.put_parameter(Name=name, Value="one", Type="StringList")["Version"] == 1
    out = ssm.put_parameter(Name=name, Value="two", Overwrite=True)  # no Type: kept
    assert out == {**out, "Version": 2, "Tier": "Standard"}
    out = ssm.put_parameter(Name=name, Value="three", Type="StringList", Overwrite=True)
    assert out["Version"] == 3
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert (p["Value"], p["Version"], p["Type"]) == ("three", 3, "StringList")


def test_type_is_required_on_create(ssm):
    name = uniq() + "/x"
    err = expect_error("ValidationException", ssm.put_parameter, Name=name, Value="v")
    assert "A parameter type is required when you create a parameter." in err.response["Error"]["Message"]
    expect_error("ParameterNotFound", ssm.get_parameter, Name=name)


def test_tags_with_overwrite_is_validation_exception(ssm):
    name = uniq() + "/x"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    expect_error(
        "ValidationException", ssm.put_parameter,
        Name=name, Value="w", Type="String", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}],
    )
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1


def test_empty_value_is_validation_exception(ssm_unvalidated):
    name = uniq() + "/x"
    expect_error("ValidationException", ssm_unvalidated.put_parameter, Name=name, Value="", Type="String")
    expect_error("ParameterNotFound", ssm_unvalidated.get_parameter, Name=name)


def test_invalid_type_is_validation_exception(ssm_unvalidated):
    expect_error("ValidationException", ssm_unvalidated.put_parameter, Name=uniq() + "/x", Value="v", Type="Integer")


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "/{r}/has space",
        "/{r}/dollar$",
        "/{r}/star*",
        "/{r}/colon:x",
        "{r}/no-leading-slash",
        "/{r}//empty-level",
        "/{r}/trailing/",
        "/aws-{r}",
        "/AWS{r}/x",
        "aws{r}",
        "/ssm-{r}",
        "/Ssm{r}/x",
        "SSM{r}",
    ],
)
def test_invalid_names_are_validation_exception(ssm, bad):
    name = bad.format(r=uuid.uuid4().hex[:10])
    expect_error("ValidationException", ssm.put_parameter, Name=name, Value="v", Type="String")


def test_names_allowed_characters_and_reserved_words_below_the_first_level(ssm):
    root = uniq()
    for name in (root + "/a_b.c-D/9", root + "/aws", root + "/x/ssm-thing", flat("my.aws_param-1")):
        ssm.put_parameter(Name=name, Value="v", Type="String")
        assert ssm.get_parameter(Name=name)["Parameter"]["Name"] == name


def test_hierarchy_of_15_levels_is_fine_16_is_too_deep(ssm):
    root = uniq()
    fifteen = root + "".join(f"/l{i}" for i in range(2, 16))
    assert fifteen.count("/") == 15
    ssm.put_parameter(Name=fifteen, Value="v", Type="String")
    assert ssm.get_parameter(Name=fifteen)["Parameter"]["Value"] == "v"
    expect_error("HierarchyLevelLimitExceededException", ssm.put_parameter, Name=fifteen + "/l16", Value="v", Type="String")


def test_name_whose_arn_exceeds_1011_characters_is_validation_exception(ssm):
    base = flat("long")
    prefix_len = len(ssm_arn(base)) - len(base)
    ok = base + "x" * (1011 - prefix_len - len(base))
    assert len(ssm_arn(ok)) == 1011
    ssm.put_parameter(Name=ok, Value="v", Type="String")
    assert ssm.get_parameter(Name=ok)["Parameter"]["ARN"] == ssm_arn(ok)
    too_long = ok + "y"
    expect_error("ValidationException", ssm.put_parameter, Name=too_long, Value="v", Type="String")


def test_arn_is_accepted_as_name_by_get_history_and_delete(ssm):
    name = uniq() + "/by/arn"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True)
    arn = ssm_arn(name)
    p = ssm.get_parameter(Name=arn)["Parameter"]
    assert (p["Name"], p["Value"], p["Version"]) == (name, "two", 2)
    assert ssm.get_parameter(Name=arn + ":1")["Parameter"]["Value"] == "one"
    got = ssm.get_parameters(Names=[arn])
    assert [x["Value"] for x in got["Parameters"]] == ["two"]
    assert got["InvalidParameters"] == []
    assert [h["Version"] for h in history(ssm, arn)] == [1, 2]
    ssm.delete_parameter(Name=arn)
    expect_error("ParameterNotFound", ssm.get_parameter, Name=name)


def test_flat_name_arn_is_accepted(ssm):
    name = flat("plain")
    ssm.put_parameter(Name=name, Value="v", Type="String")
    assert ssm.get_parameter(Name=ssm_arn(name))["Parameter"]["Name"] == name


# --------------------------------------------------------------------------------------
# Tiers and value sizes
# --------------------------------------------------------------------------------------


def test_standard_tier_value_limit_is_4096_characters(ssm_unvalidated):
    ssm = ssm_unvalidated
    root = uniq()
    assert ssm.put_parameter(Name=root + "/max", Value="a" * 4096, Type="String")["Tier"] == "Standard"
    assert len(ssm.get_parameter(Name=root + "/max")["Parameter"]["Value"]) == 4096
    expect_error("ValidationException", ssm.put_parameter, Name=root + "/over", Value="a" * 4097, Type="String")
    expect_error(
        "ValidationException", ssm.put_parameter, Name=root + "/over", Value="a" * 4097, Type="String", Tier="Standard"
    )
    expect_error("ParameterNotFound", ssm.get_parameter, Name=root + "/over")


def test_advanced_tier_value_limit_is_8192_characters(ssm_unvalidated):
    ssm = ssm_unvalidated
    root = uniq()
    assert ssm.put_parameter(Name=root + "/big", Value="b" * 4097, Type="String", Tier="Advanced")["Tier"] == "Advanced"
    assert ssm.put_parameter(Name=root + "/max", Value="b" * 8192, Type="String", Tier="Advanced")["Tier"] == "Advanced"
    assert len(ssm.get_parameter(Name=root + "/max")["Parameter"]["Value"]) == 8192
    expect_error(
        "ValidationException", ssm.put_parameter, Name=root + "/over", Value="b" * 8193, Type="String", Tier="Advanced"
    )


def test_intelligent_tiering_picks_standard_unless_big_or_with_policies(ssm):
    root = uniq()
    small = ssm.put_parameter(Name=root + "/small", Value="s", Type="String", Tier="Intelligent-Tiering")
    assert small["Tier"] == "Standard"
    big = ssm.put_parameter(Name=root + "/big", Value="x" * 5000, Type="String", Tier="Intelligent-Tiering")
    assert big["Tier"] == "Advanced"
    pol = json.dumps([policy("NoChangeNotification", After="30", Unit="Days")])
    with_pol = ssm.put_parameter(Name=root + "/pol", Value="p", Type="String", Tier="Intelligent-Tiering", Policies=pol)
    assert with_pol["Tier"] == "Advanced"
    tiers = {m["Name"]: m["Tier"] for m in describe_under(ssm, root)}
    assert tiers == {root + "/small": "Standard", root + "/big": "Advanced", root + "/pol": "Advanced"}


def test_advanced_parameter_cannot_be_downgraded_and_keeps_its_tier(ssm):
    name = uniq() + "/adv"
    ssm.put_parameter(Name=name, Value="v1", Type="String", Tier="Advanced")
    expect_error("ValidationException", ssm.put_parameter, Name=name, Value="v2", Type="String", Overwrite=True, Tier="Standard")
    out = ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True)
    assert (out["Version"], out["Tier"]) == (2, "Advanced")
    hist = history(ssm, name)
    assert [(h["Version"], h["Tier"]) for h in hist] == [(1, "Advanced"), (2, "Advanced")]


def test_standard_parameter_can_be_upgraded_to_advanced(ssm):
    name = uniq() + "/up"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    out = ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True, Tier="Advanced")
    assert out == {**out, "Version": 2, "Tier": "Advanced"}


# --------------------------------------------------------------------------------------
# AllowedPattern, Description, DataType, KeyId checks
# --------------------------------------------------------------------------------------


def test_allowed_pattern_matches_the_whole_value(ssm):
    name = uniq() + "/port"
    ssm.put_parameter(Name=name, Value="8080", Type="String", AllowedPattern="[0-9]+")
    for bad in ("80a", "a80", "80 ", "x8080x"):
        expect_error("ParameterPatternMismatchException", ssm.put_parameter, Name=name, Value=bad, Type="String", Overwrite=True)
    ssm.put_parameter(Name=name, Value="443", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "443"


def test_allowed_pattern_mismatch_on_create_creates_nothing(ssm):
    name = uniq() + "/p"
    expect_error("ParameterPatternMismatchException", ssm.put_parameter, Name=name, Value="abc", Type="String", AllowedPattern=r"^\d+$")
    expect_error("ParameterNotFound", ssm.get_parameter, Name=name)


def test_invalid_allowed_pattern_is_invalid_allowed_pattern_exception(ssm):
    expect_error(
        "InvalidAllowedPatternException", ssm.put_parameter,
        Name=uniq() + "/p", Value="v", Type="String", AllowedPattern="([a-z",
    )


def test_allowed_pattern_and_description_are_kept_across_overwrites(ssm):
    name = uniq() + "/kept"
    ssm.put_parameter(Name=name, Value="123", Type="String", AllowedPattern="[0-9]+", Description="digits only")
    ssm.put_parameter(Name=name, Value="456", Type="String", Overwrite=True)
    expect_error("ParameterPatternMismatchException", ssm.put_parameter, Name=name, Value="abc", Type="String", Overwrite=True)
    (meta,) = describe_all(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert meta["AllowedPattern"] == "[0-9]+"
    assert meta["Description"] == "digits only"
    assert meta["Version"] == 2
    # A new pattern / description replaces the old one.
    ssm.put_parameter(Name=name, Value="abc", Type="String", Overwrite=True, AllowedPattern="[a-z]+", Description="letters")
    hist = history(ssm, name)
    assert [(h["Version"], h.get("Description"), h.get("AllowedPattern")) for h in hist] == [
        (1, "digits only", "[0-9]+"),
        (2, "digits only", "[0-9]+"),
        (3, "letters", "[a-z]+"),
    ]


def test_key_id_with_a_non_secure_string_type_is_validation_exception(ssm, new_key):
    kid = new_key()["KeyId"]
    root = uniq()
    expect_error("ValidationException", ssm.put_parameter, Name=root + "/s", Value="v", Type="String", KeyId=kid)
    expect_error("ValidationException", ssm.put_parameter, Name=root + "/l", Value="v", Type="StringList", KeyId=kid)


@pytest.mark.parametrize(
    "data_type,value",
    [("text", "plain text"), ("aws:ec2:image", "ami-0123456789abcdef0"), ("aws:ssm:integration", '{"a":"b"}')],
)
def test_supported_data_types(ssm, data_type, value):
    name = uniq() + "/dt"
    ssm.put_parameter(Name=name, Value=value, Type="String", DataType=data_type)
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert (p["DataType"], p["Value"]) == (data_type, value)


def test_unsupported_data_type_is_validation_exception(ssm):
    for dt_ in ("TEXT", "aws:ec2:instance", "json"):
        expect_error("ValidationException", ssm.put_parameter, Name=uniq() + "/dt", Value="v", Type="String", DataType=dt_)


# --------------------------------------------------------------------------------------
# Policies (stored and shown)
# --------------------------------------------------------------------------------------


def test_policies_are_stored_and_shown_on_advanced_parameters(ssm):
    name = uniq() + "/pol"
    policies = [
        policy("Expiration", Timestamp=FAR_FUTURE),
        policy("ExpirationNotification", Before="15", Unit="Days"),
        policy("NoChangeNotification", After="20", Unit="Days"),
    ]
    out = ssm.put_parameter(Name=name, Value="v", Type="String", Tier="Advanced", Policies=json.dumps(policies))
    assert out["Tier"] == "Advanced"
    (meta,) = describe_all(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    shown = meta["Policies"]
    assert sorted(p["PolicyType"] for p in shown) == ["Expiration", "ExpirationNotification", "NoChangeNotification"]
    assert all(p["PolicyStatus"] == "Pending" for p in shown)
    assert sorted((json.loads(p["PolicyText"]) for p in shown), key=lambda d: d["Type"]) == sorted(
        policies, key=lambda d: d["Type"]
    )
    (h,) = history(ssm, name)
    assert sorted(p["PolicyType"] for p in h["Policies"]) == ["Expiration", "ExpirationNotification", "NoChangeNotification"]


def test_policies_need_the_advanced_tier(ssm):
    pol = json.dumps([policy("NoChangeNotification", After="2", Unit="Days")])
    name = uniq() + "/p"
    expect_error("ValidationException", ssm.put_parameter, Name=name, Value="v", Type="String", Tier="Standard", Policies=pol)
    expect_error("ValidationException", ssm.put_parameter, Name=name, Value="v", Type="String", Policies=pol)
    expect_error("ParameterNotFound", ssm.get_parameter, Name=name)


def test_unknown_policy_type_is_invalid_policy_type_exception(ssm):
    pol = json.dumps([policy("Rotation", After="2", Unit="Days")])
    expect_error(
        "InvalidPolicyTypeException", ssm.put_parameter,
        Name=uniq() + "/p", Value="v", Type="String", Tier="Advanced", Policies=pol,
    )


def test_parameter_without_policies_shows_an_empty_list(ssm):
    name = uniq() + "/nopol"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    (meta,) = describe_all(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert meta.get("Policies", []) == []


# --------------------------------------------------------------------------------------
# SecureString and KMS
# --------------------------------------------------------------------------------------


def test_secure_string_default_key_is_alias_aws_ssm_and_ciphertext_decrypts_in_kms(ssm, kms, trent):
    name = uniq() + "/db/password"
    secret = "pw-" + uuid.uuid4().hex
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString")

    aliases = {a["AliasName"]: a for a in list_all(kms, "list_aliases", "Aliases")}
    assert "alias/aws/ssm" in aliases, "alias/aws/ssm was not created on first use"
    ssm_key = aliases["alias/aws/ssm"]["TargetKeyId"]
    md = kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]
    assert md["KeyId"] == ssm_key
    assert md["KeyManager"] == "AWS"
    assert md["KeyState"] == "Enabled"

    p = ssm.get_parameter(Name=name)["Parameter"]
    assert p["Type"] == "SecureString"
    ciphertext = p["Value"]
    assert ciphertext != secret and secret not in ciphertext
    blob = base64.b64decode(ciphertext, validate=True)

    # Independently, through KMS: the ciphertext is bound to the parameter's ARN.
    out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": ssm_arn(name)})
    assert out["Plaintext"] == secret.encode()
    assert out["KeyId"] == key_arn(ssm_key)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": ssm_arn(name + "x")})
    assert error_code(e) == "InvalidCiphertextException"

    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == secret
    # A second SecureString reuses the same AWS managed key.
    ssm.put_parameter(Name=name + "2", Value="again", Type="SecureString")
    aliases = [a for a in list_all(kms, "list_aliases", "Aliases") if a["AliasName"] == "alias/aws/ssm"]
    assert len(aliases) == 1 and aliases[0]["TargetKeyId"] == ssm_key


def test_secure_string_plaintext_is_not_on_disk(ssm, trent):
    secret = "on-disk-canary-" + uuid.uuid4().hex
    root = uniq()
    ssm.put_parameter(Name=root + "/s", Value=secret, Type="SecureString")
    ssm.put_parameter(Name=root + "/s", Value=secret + "-v2", Type="SecureString", Overwrite=True)
    assert ssm.get_parameter(Name=root + "/s:1", WithDecryption=True)["Parameter"]["Value"] == secret
    checked = 0
    for fname in ("trent.db", "trent.db-wal"):
        path = trent.data_dir / fname
        if path.exists():
            data = path.read_bytes()
            checked += 1
            assert secret.encode() not in data, f"the SecureString plaintext is in {fname}"
            assert secret.encode("utf-16-le") not in data
    assert checked, f"no trent.db / trent.db-wal in {trent.data_dir}"


def test_secure_string_with_customer_key_by_id_arn_and_alias(ssm, kms, new_key):
    key = new_key()
    alias = unique_alias("ssm")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    root = uniq()
    refs = {"id": key["KeyId"], "arn": key["Arn"], "alias": alias, "alias-arn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias}"}
    for label, ref in refs.items():
        name = f"{root}/{label}"
        ssm.put_parameter(Name=name, Value=f"secret-{label}", Type="SecureString", KeyId=ref)
        blob = base64.b64decode(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": ssm_arn(name)})
        assert out["Plaintext"] == f"secret-{label}".encode()
        assert out["KeyId"] == key["Arn"], f"{label}: encrypted under {out['KeyId']}"
        assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == f"secret-{label}"
    for meta in describe_under(ssm, root):
        assert resolve_key_id(kms, meta["KeyId"]) == key["KeyId"], meta


def test_secure_string_with_unknown_or_disabled_key_is_invalid_key_id(ssm, kms, new_key):
    root = uniq()
    expect_error("InvalidKeyId", ssm.put_parameter, Name=root + "/a", Value="v", Type="SecureString", KeyId=str(uuid.uuid4()))
    missing_alias = "alias/does-not-exist-" + uuid.uuid4().hex[:8]
    expect_error("InvalidKeyId", ssm.put_parameter, Name=root + "/a", Value="v", Type="SecureString", KeyId=missing_alias)
    key = new_key()
    kms.disable_key(KeyId=key["KeyId"])
    expect_error("InvalidKeyId", ssm.put_parameter, Name=root + "/a", Value="v", Type="SecureString", KeyId=key["KeyId"])
    expect_error("ParameterNotFound", ssm.get_parameter, Name=root + "/a")


def test_secure_string_values_across_read_operations(ssm):
    root = uniq()
    name = root + "/s"
    ssm.put_parameter(Name=name, Value="first", Type="SecureString")
    ssm.put_parameter(Name=name, Value="second", Type="SecureString", Overwrite=True)
    # Without WithDecryption every read returns ciphertext; with it, the plaintext.
    enc = ssm.get_parameters(Names=[name])["Parameters"][0]["Value"]
    assert enc not in ("first", "second")
    assert ssm.get_parameters(Names=[name], WithDecryption=True)["Parameters"][0]["Value"] == "second"
    assert [p["Value"] for p in by_path(ssm, root, WithDecryption=True)] == ["second"]
    assert by_path(ssm, root)[0]["Value"] not in ("first", "second")
    hist = history(ssm, name, WithDecryption=True)
    assert [h["Value"] for h in hist] == ["first", "second"]
    assert all(h["Value"] not in ("first", "second") for h in history(ssm, name))
    assert all(h["KeyId"] for h in hist)


def test_secure_string_key_id_is_shown_in_metadata_and_history(ssm, kms, new_key):
    key = new_key()
    root = uniq()
    ssm.put_parameter(Name=root + "/custom", Value="v", Type="SecureString", KeyId=key["KeyId"])
    ssm.put_parameter(Name=root + "/plain", Value="v", Type="String")
    metas = {m["Name"]: m for m in describe_under(ssm, root)}
    assert resolve_key_id(kms, metas[root + "/custom"]["KeyId"]) == key["KeyId"]
    assert "KeyId" not in metas[root + "/plain"]
    (h,) = history(ssm, root + "/custom")
    assert resolve_key_id(kms, h["KeyId"]) == key["KeyId"]


def test_default_key_id_is_reported_as_alias_aws_ssm(ssm):
    """AWS reports a SecureString under the default key with KeyId "alias/aws/ssm" in
    DescribeParameters and GetParameterHistory (see the describe-parameters example shipped
    with the AWS CLI)."""
    root = uniq()
    ssm.put_parameter(Name=root + "/s", Value="v", Type="SecureString")
    (meta,) = describe_under(ssm, root)
    assert meta["KeyId"] == "alias/aws/ssm"
    (h,) = history(ssm, root + "/s")
    assert h["KeyId"] == "alias/aws/ssm"


def test_key_id_filter_alias_aws_ssm_finds_default_key_parameters(ssm):
    root = uniq()
    ssm.put_parameter(Name=root + "/s", Value="v", Type="SecureString")
    ssm.put_parameter(Name=root + "/plain", Value="v", Type="String")
    found = describe_under(ssm, root, ParameterFilters=[{"Key": "KeyId", "Values": ["alias/aws/ssm"]}])
    assert names(found) == [root + "/s"]
    found = by_path(ssm, root, ParameterFilters=[{"Key": "KeyId", "Values": ["alias/aws/ssm"]}])
    assert names(found) == [root + "/s"]


# --------------------------------------------------------------------------------------
# GetParameter selectors
# --------------------------------------------------------------------------------------


def test_get_parameter_version_and_label_selectors(ssm):
    name = uniq() + "/sel"
    for v in ("one", "two", "three"):
        ssm.put_parameter(Name=name, Value=v, Type="String", Overwrite=True)  # Overwrite also creates
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["stable"])
    p = ssm.get_parameter(Name=name + ":1")["Parameter"]
    assert (p["Name"], p["Value"], p["Version"], p["Selector"]) == (name, "one", 1, ":1")
    assert p["ARN"] == ssm_arn(name)
    p = ssm.get_parameter(Name=name + ":3")["Parameter"]
    assert (p["Value"], p["Selector"]) == ("three", ":3")
    p = ssm.get_parameter(Name=name + ":stable")["Parameter"]
    assert (p["Value"], p["Version"], p["Selector"]) == ("two", 2, ":stable")
    assert "Selector" not in ssm.get_parameter(Name=name)["Parameter"]


def test_get_parameter_missing_is_parameter_not_found(ssm):
    expect_error("ParameterNotFound", ssm.get_parameter, Name=uniq() + "/nope")
    expect_error("ParameterNotFound", ssm.get_parameter, Name=flat("nope"))
    expect_error("ParameterNotFound", ssm.get_parameter, Name=uniq() + "/nope:1")


def test_get_parameter_unknown_version_or_label_is_parameter_version_not_found(ssm):
    name = uniq() + "/v"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    expect_error("ParameterVersionNotFound", ssm.get_parameter, Name=name + ":2")
    expect_error("ParameterVersionNotFound", ssm.get_parameter, Name=name + ":nolabel")


# --------------------------------------------------------------------------------------
# GetParameters
# --------------------------------------------------------------------------------------


def test_get_parameters_in_request_order_with_invalid_parameters(ssm):
    root = uniq()
    for n in ("c", "a", "b"):
        ssm.put_parameter(Name=f"{root}/{n}", Value=f"val-{n}", Type="String")
    ssm.put_parameter(Name=f"{root}/a", Value="val-a2", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=f"{root}/a", ParameterVersion=1, Labels=["old"])
    names = [f"{root}/b", f"{root}/missing", f"{root}/a:old", f"{root}/c", f"{root}/a:7", f"{root}/a:nolabel", f"{root}/a"]
    out = ssm.get_parameters(Names=names)
    assert [(p["Name"], p["Value"]) for p in out["Parameters"]] == [
        (f"{root}/b", "val-b"),
        (f"{root}/a", "val-a"),
        (f"{root}/c", "val-c"),
        (f"{root}/a", "val-a2"),
    ]
    assert [p.get("Selector") for p in out["Parameters"]] == [None, ":old", None, None]
    assert sorted(out["InvalidParameters"]) == sorted([f"{root}/missing", f"{root}/a:7", f"{root}/a:nolabel"])
    for p in out["Parameters"]:
        assert PARAMETER_KEYS <= set(p)


def test_get_parameters_all_missing(ssm):
    root = uniq()
    out = ssm.get_parameters(Names=[root + "/x", root + "/y"])
    assert out["Parameters"] == []
    assert sorted(out["InvalidParameters"]) == [root + "/x", root + "/y"]


def test_get_parameters_names_count_limits(ssm, ssm_unvalidated):
    root = uniq()
    names = [f"{root}/p{i}" for i in range(10)]
    for n in names:
        ssm.put_parameter(Name=n, Value=n, Type="String")
    assert [p["Name"] for p in ssm.get_parameters(Names=names)["Parameters"]] == names
    expect_error("ValidationException", ssm_unvalidated.get_parameters, Names=names + [root + "/p10"])
    expect_error("ValidationException", ssm_unvalidated.get_parameters, Names=[])


# --------------------------------------------------------------------------------------
# GetParametersByPath (small trees; the 1,000-parameter tree is further down)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_tree(ssm, new_key_module):
    """/root/{top, a/{x, y, deep/z}, b/w} with types, a label, tags and a data type."""
    root = uniq("tree")
    ssm.put_parameter(Name=root + "/top", Value="top", Type="String")
    ssm.put_parameter(Name=root + "/a/x", Value="x1", Type="String", Tags=[{"Key": "team", "Value": "red"}])
    ssm.put_parameter(Name=root + "/a/x", Value="x2", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=root + "/a/x", ParameterVersion=1, Labels=["prod"])
    ssm.put_parameter(Name=root + "/a/y", Value="y1,y2", Type="StringList", Tags=[{"Key": "team", "Value": "blue"}])
    ssm.put_parameter(Name=root + "/a/deep/z", Value="zsecret", Type="SecureString", KeyId=new_key_module["KeyId"])
    ssm.put_parameter(Name=root + "/b/w", Value="ami-0abcdef1234567890", Type="String", DataType="aws:ec2:image")
    return root


@pytest.fixture(scope="module")
def new_key_module(kms):
    return kms.create_key(Description="ssm module key")["KeyMetadata"]


def test_by_path_one_level_and_recursive(ssm, small_tree):
    r = small_tree
    assert sorted(names(by_path(ssm, r))) == [r + "/top"]
    assert sorted(names(by_path(ssm, r + "/a"))) == [r + "/a/x", r + "/a/y"]
    assert sorted(names(by_path(ssm, r + "/a/"))) == [r + "/a/x", r + "/a/y"]
    assert sorted(names(by_path(ssm, r, Recursive=True))) == sorted(
        [r + "/top", r + "/a/x", r + "/a/y", r + "/a/deep/z", r + "/b/w"]
    )
    assert sorted(names(by_path(ssm, r + "/a", Recursive=True))) == [r + "/a/deep/z", r + "/a/x", r + "/a/y"]
    assert by_path(ssm, r + "/nothing-here", Recursive=True) == []
    assert by_path(ssm, r + "/top", Recursive=True) == [], "a parameter is not its own child"
    # A prefix of a level name is not a path.
    assert by_path(ssm, r[:-1], Recursive=True) == []


def test_by_path_returns_full_parameters_with_decryption(ssm, small_tree):
    r = small_tree
    got = {p["Name"]: p for p in by_path(ssm, r, Recursive=True, WithDecryption=True)}
    assert got[r + "/a/deep/z"]["Value"] == "zsecret"
    assert got[r + "/a/x"]["Value"] == "x2"
    assert got[r + "/a/x"]["Version"] == 2
    assert got[r + "/a/y"]["Type"] == "StringList"
    assert got[r + "/b/w"]["DataType"] == "aws:ec2:image"
    for p in got.values():
        assert PARAMETER_KEYS <= set(p)
        assert p["ARN"] == ssm_arn(p["Name"])
    enc = {p["Name"]: p for p in by_path(ssm, r, Recursive=True)}
    assert enc[r + "/a/deep/z"]["Value"] != "zsecret"


def test_by_path_paging_with_max_results(ssm, small_tree):
    r = small_tree
    items, calls = pages_of(ssm.get_parameters_by_path, "Parameters", max_results=2, Path=r, Recursive=True)
    assert len(items) == 5 and len(set(names(items))) == 5
    assert calls >= 3
    paginator = ssm.get_paginator("get_parameters_by_path")
    via_paginator = [p["Name"] for page in paginator.paginate(Path=r, Recursive=True, PaginationConfig={"PageSize": 1}) for p in page["Parameters"]]
    assert sorted(via_paginator) == sorted(names(items))


def test_by_path_filters(ssm, small_tree, new_key_module):
    r = small_tree
    def q(*filters):
        return sorted(names(by_path(ssm, r, Recursive=True, ParameterFilters=list(filters))))
    assert q({"Key": "Type", "Values": ["StringList"]}) == [r + "/a/y"]
    assert q({"Key": "Type", "Option": "Equals", "Values": ["SecureString", "StringList"]}) == [r + "/a/deep/z", r + "/a/y"]
    assert q({"Key": "KeyId", "Values": [new_key_module["KeyId"]]}) == [r + "/a/deep/z"]
    assert q({"Key": "DataType", "Values": ["aws:ec2:image"]}) == [r + "/b/w"]
    assert q({"Key": "tag:team", "Values": ["red"]}) == [r + "/a/x"]
    assert q({"Key": "tag:team", "Values": ["red", "blue"]}) == [r + "/a/x", r + "/a/y"]
    assert q({"Key": "Type", "Values": ["String"]}, {"Key": "tag:team", "Values": ["blue"]}) == []


def test_by_path_label_filter_returns_the_labelled_version(ssm, small_tree):
    r = small_tree
    got = by_path(ssm, r, Recursive=True, ParameterFilters=[{"Key": "Label", "Values": ["prod"]}])
    assert [(p["Name"], p["Value"], p["Version"]) for p in got] == [(r + "/a/x", "x1", 1)]
    assert by_path(ssm, r, Recursive=True, ParameterFilters=[{"Key": "Label", "Values": ["nope"]}]) == []


@pytest.mark.parametrize("key", ["Name", "Path", "Tier"])
def test_by_path_disallowed_filter_keys_are_invalid_filter_key(ssm, small_tree, key):
    value = small_tree if key in ("Name", "Path") else "Standard"
    expect_error(
        "InvalidFilterKey", ssm.get_parameters_by_path,
        Path=small_tree, ParameterFilters=[{"Key": key, "Values": [value]}],
    )


@pytest.mark.parametrize("key,value", [("Type", "String"), ("KeyId", "x"), ("Label", "prod"), ("DataType", "text"), ("tag:team", "red")])
def test_by_path_filter_options_other_than_equals_are_invalid_filter_option(ssm, small_tree, key, value):
    expect_error(
        "InvalidFilterOption", ssm.get_parameters_by_path,
        Path=small_tree, ParameterFilters=[{"Key": key, "Option": "BeginsWith", "Values": [value]}],
    )


def test_by_path_path_must_start_with_a_slash(ssm, small_tree):
    expect_error("ValidationException", ssm.get_parameters_by_path, Path=small_tree.lstrip("/"))
    expect_error("ValidationException", ssm.get_parameters_by_path, Path="relative")


def test_by_path_max_results_bounds(ssm_unvalidated, small_tree):
    expect_error("ValidationException", ssm_unvalidated.get_parameters_by_path, Path=small_tree, MaxResults=11)
    expect_error("ValidationException", ssm_unvalidated.get_parameters_by_path, Path=small_tree, MaxResults=0)


def test_by_path_bad_next_token_is_invalid_next_token(ssm, small_tree):
    expect_error("InvalidNextToken", ssm.get_parameters_by_path, Path=small_tree, NextToken="not-a-token!!")


# --------------------------------------------------------------------------------------
# GetParameterHistory
# --------------------------------------------------------------------------------------


def test_history_lists_every_version_with_its_attributes(ssm, kms, new_key):
    key = new_key()
    name = uniq() + "/h"
    ssm.put_parameter(Name=name, Value="v1", Type="String", Description="first", AllowedPattern="v[0-9]")
    ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True, Tier="Advanced")
    ssm.put_parameter(Name=name, Value="v3", Type="SecureString", Overwrite=True, KeyId=key["KeyId"], Description="third")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["first-label", "also"])
    ssm.label_parameter_version(Name=name, Labels=["latest"])
    hist = history(ssm, name, WithDecryption=True)
    assert [h["Version"] for h in hist] == [1, 2, 3]
    assert [h["Value"] for h in hist] == ["v1", "v2", "v3"]
    assert [h["Type"] for h in hist] == ["String", "String", "SecureString"]
    assert [h["Tier"] for h in hist] == ["Standard", "Advanced", "Advanced"]
    assert [h.get("Description") for h in hist] == ["first", "first", "third"]
    assert [sorted(h.get("Labels", [])) for h in hist] == [["also", "first-label"], [], ["latest"]]
    assert [h.get("AllowedPattern") for h in hist] == ["v[0-9]"] * 3
    for h in hist:
        assert h["Name"] == name
        assert h["LastModifiedUser"] == ROOT_USER
        assert h["DataType"] == "text"
        assert h.get("Policies", []) == []
        assert_recent(h["LastModifiedDate"])
    assert "KeyId" not in hist[0]
    assert resolve_key_id(kms, hist[2]["KeyId"]) == key["KeyId"]


def test_history_paging(ssm, ssm_unvalidated):
    name = uniq() + "/hp"
    ssm.put_parameter(Name=name, Value="0", Type="String")
    for i in range(1, 7):
        ssm.put_parameter(Name=name, Value=str(i), Type="String", Overwrite=True)
    items, calls = pages_of(ssm.get_parameter_history, "Parameters", max_results=3, Name=name)
    assert [h["Version"] for h in items] == list(range(1, 8))
    assert calls == 3
    expect_error("ValidationException", ssm_unvalidated.get_parameter_history, Name=name, MaxResults=51)
    expect_error("ValidationException", ssm_unvalidated.get_parameter_history, Name=name, MaxResults=0)
    expect_error("InvalidNextToken", ssm.get_parameter_history, Name=name, NextToken="bm9wZQ==")


def test_history_of_missing_parameter_is_parameter_not_found(ssm):
    expect_error("ParameterNotFound", ssm.get_parameter_history, Name=uniq() + "/missing")


def test_history_keeps_the_last_100_versions(ssm):
    name = uniq() + "/many"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    for i in range(2, 106):
        assert ssm.put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=True)["Version"] == i
    hist, calls = pages_of(ssm.get_parameter_history, "Parameters", Name=name)  # default MaxResults 50
    assert [h["Version"] for h in hist] == list(range(6, 106))
    assert [h["Value"] for h in hist] == [f"v{i}" for i in range(6, 106)]
    assert calls == 2
    expect_error("ParameterVersionNotFound", ssm.get_parameter, Name=name + ":5")
    expect_error("ParameterVersionNotFound", ssm.get_parameter, Name=name + ":1")
    assert ssm.get_parameter(Name=name + ":6")["Parameter"]["Value"] == "v6"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 105
    expect_error("ParameterVersionNotFound", ssm.label_parameter_version, Name=name, ParameterVersion=5, Labels=["gone"])


def test_labelled_oldest_version_blocks_the_101st_version(ssm):
    name = uniq() + "/pinned"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    for i in range(2, 101):
        ssm.put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])
    expect_error("ParameterMaxVersionLimitExceeded", ssm.put_parameter, Name=name, Value="v101", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 100
    hist = history(ssm, name)
    assert [h["Version"] for h in hist] == list(range(1, 101))
    # Moving the label away lets the oldest version go.
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["pinned"])
    assert ssm.put_parameter(Name=name, Value="v101", Type="String", Overwrite=True)["Version"] == 101
    hist = history(ssm, name)
    assert [h["Version"] for h in hist] == list(range(2, 102))
    assert hist[0].get("Labels") == ["pinned"]
    assert ssm.get_parameter(Name=name + ":pinned")["Parameter"]["Value"] == "v2"


# --------------------------------------------------------------------------------------
# DeleteParameter / DeleteParameters
# --------------------------------------------------------------------------------------


def test_delete_parameter(ssm):
    name = uniq() + "/del"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    ssm.put_parameter(Name=name, Value="w", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=name)
    expect_error("ParameterNotFound", ssm.get_parameter, Name=name)
    expect_error("ParameterNotFound", ssm.get_parameter_history, Name=name)
    expect_error("ParameterNotFound", ssm.delete_parameter, Name=name)
    # A new parameter of the same name starts again at version 1.
    assert ssm.put_parameter(Name=name, Value="again", Type="String")["Version"] == 1
    assert [h["Version"] for h in history(ssm, name)] == [1]


def test_delete_missing_parameter_is_parameter_not_found(ssm):
    expect_error("ParameterNotFound", ssm.delete_parameter, Name=uniq() + "/never")


def test_delete_parameters_reports_deleted_and_invalid(ssm):
    root = uniq()
    for n in ("a", "b", "c"):
        ssm.put_parameter(Name=f"{root}/{n}", Value=n, Type="String")
    out = ssm.delete_parameters(Names=[f"{root}/a", f"{root}/missing", f"{root}/c"])
    assert sorted(out["DeletedParameters"]) == [f"{root}/a", f"{root}/c"]
    assert out["InvalidParameters"] == [f"{root}/missing"]
    assert names(by_path(ssm, root)) == [f"{root}/b"]
    out = ssm.delete_parameters(Names=[f"{root}/a"])
    assert out["DeletedParameters"] == [] and out["InvalidParameters"] == [f"{root}/a"]


def test_delete_parameters_count_limits(ssm_unvalidated):
    root = uniq()
    expect_error("ValidationException", ssm_unvalidated.delete_parameters, Names=[f"{root}/{i}" for i in range(11)])
    expect_error("ValidationException", ssm_unvalidated.delete_parameters, Names=[])


# --------------------------------------------------------------------------------------
# DescribeParameters
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def described(ssm, new_key_module):
    """A hierarchy for DescribeParameters, created in an unsorted order."""
    root = uniq("desc")
    ssm.put_parameter(Name=root + "/b/two", Value="2", Type="StringList", Description="two")
    ssm.put_parameter(Name=root + "/a", Value="1", Type="String", AllowedPattern="[0-9]", Tags=[{"Key": "env", "Value": "prod"}])
    ssm.put_parameter(Name=root + "/b/one", Value="s", Type="SecureString", KeyId=new_key_module["KeyId"])
    ssm.put_parameter(Name=root + "/c", Value="c" * 10, Type="String", Tier="Advanced", Tags=[{"Key": "env", "Value": "dev"}])
    ssm.put_parameter(Name=root + "/b/deeper/x", Value="ami-0123456789abcdef0", Type="String", DataType="aws:ec2:image")
    ssm.put_parameter(Name=root + "/a", Value="3", Type="String", Overwrite=True)
    return root


def test_describe_parameters_metadata_without_values_sorted_by_name(ssm, described):
    r = described
    metas = describe_under(ssm, r)
    expected = sorted([r + "/a", r + "/b/deeper/x", r + "/b/one", r + "/b/two", r + "/c"])
    assert names(metas) == expected
    by_name = {m["Name"]: m for m in metas}
    for m in metas:
        assert "Value" not in m
        assert m["ARN"] == ssm_arn(m["Name"])
        assert m["LastModifiedUser"] == ROOT_USER
        assert_recent(m["LastModifiedDate"])
        assert {"Name", "ARN", "Type", "LastModifiedDate", "LastModifiedUser", "Version", "Tier", "DataType"} <= set(m)
    a = by_name[r + "/a"]
    assert (a["Type"], a["Version"], a["AllowedPattern"], a["Tier"], a["DataType"]) == ("String", 2, "[0-9]", "Standard", "text")
    assert by_name[r + "/b/two"]["Description"] == "two"
    assert by_name[r + "/b/one"]["Type"] == "SecureString" and by_name[r + "/b/one"]["KeyId"]
    assert by_name[r + "/c"]["Tier"] == "Advanced"
    assert by_name[r + "/b/deeper/x"]["DataType"] == "aws:ec2:image"


def test_describe_parameters_paging(ssm, ssm_unvalidated, described):
    r = described
    items, calls = pages_of(
        ssm.describe_parameters, "Parameters", max_results=2,
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [r + "/"]}],
    )
    assert names(items) == names(describe_under(ssm, r))
    assert len(items) == 5 and calls >= 3
    expect_error("ValidationException", ssm_unvalidated.describe_parameters, MaxResults=51)
    expect_error("ValidationException", ssm_unvalidated.describe_parameters, MaxResults=0)
    expect_error("InvalidNextToken", ssm.describe_parameters, NextToken="!!garbage!!")
    expect_error("InvalidNextToken", ssm.describe_parameters, NextToken=base64.b64encode(b"other/region/x").decode())


def test_describe_parameters_unfiltered_paging_sees_everything(ssm, described):
    everything = names(describe_all(ssm, MaxResults=50))
    assert len(everything) == len(set(everything))
    assert [n for n in everything if n.startswith(described + "/")] == names(describe_under(ssm, described))


def test_describe_name_filter_options(ssm, described):
    r = described
    def q(option, *values):
        f = {"Key": "Name", "Values": list(values)}
        if option:
            f["Option"] = option
        return names(describe_all(ssm, ParameterFilters=[f]))
    assert q(None, r + "/a") == [r + "/a"]
    assert q("Equals", r + "/b/one", r + "/c") == [r + "/b/one", r + "/c"]
    assert q("BeginsWith", r + "/b/") == [r + "/b/deeper/x", r + "/b/one", r + "/b/two"]
    assert q("Contains", r.split("-")[1] + "/b/o") == [r + "/b/one"]


def test_describe_type_key_tier_data_type_and_tag_filters(ssm, described, new_key_module):
    r = described
    def q(f):
        return names(describe_under(ssm, r, ParameterFilters=[f]))
    assert q({"Key": "Type", "Values": ["StringList"]}) == [r + "/b/two"]
    assert q({"Key": "Type", "Values": ["SecureString", "StringList"]}) == [r + "/b/one", r + "/b/two"]
    assert q({"Key": "KeyId", "Values": [new_key_module["KeyId"]]}) == [r + "/b/one"]
    assert q({"Key": "Tier", "Values": ["Advanced"]}) == [r + "/c"]
    assert q({"Key": "DataType", "Values": ["aws:ec2:image"]}) == [r + "/b/deeper/x"]
    assert q({"Key": "tag:env", "Values": ["prod"]}) == [r + "/a"]
    assert q({"Key": "tag:env", "Values": ["prod", "dev"]}) == [r + "/a", r + "/c"]


def test_describe_path_filter(ssm, described):
    r = described
    def q(option, path):
        f = {"Key": "Path", "Values": [path]}
        if option:
            f["Option"] = option
        return names(describe_all(ssm, ParameterFilters=[f]))
    assert q("OneLevel", r) == [r + "/a", r + "/c"]
    assert q(None, r) == [r + "/a", r + "/c"], "OneLevel is the default"
    assert q("OneLevel", r + "/b") == [r + "/b/one", r + "/b/two"]
    assert q("Recursive", r + "/b") == [r + "/b/deeper/x", r + "/b/one", r + "/b/two"]
    assert q("Recursive", r) == names(describe_under(ssm, r))


def test_describe_label_filter_is_invalid_filter_key(ssm):
    expect_error("InvalidFilterKey", ssm.describe_parameters, ParameterFilters=[{"Key": "Label", "Values": ["prod"]}])


@pytest.mark.parametrize(
    "key,option,value",
    [
        ("Name", "Recursive", "/x"),
        ("Path", "Equals", "/x"),
        ("Path", "BeginsWith", "/x"),
        ("Type", "BeginsWith", "String"),
        ("Tier", "Contains", "Standard"),
    ],
)
def test_describe_wrong_filter_option_is_invalid_filter_option(ssm, key, option, value):
    expect_error(
        "InvalidFilterOption", ssm.describe_parameters,
        ParameterFilters=[{"Key": key, "Option": option, "Values": [value]}],
    )


def test_describe_legacy_filters(ssm, described, new_key_module):
    r = described
    begins = names(describe_all(ssm, Filters=[{"Key": "Name", "Values": [r + "/b/"]}]))
    assert begins == [r + "/b/deeper/x", r + "/b/one", r + "/b/two"]
    both = names(describe_all(ssm, Filters=[{"Key": "Name", "Values": [r + "/"]}, {"Key": "Type", "Values": ["StringList"]}]))
    assert both == [r + "/b/two"]
    keyed = names(describe_all(ssm, Filters=[{"Key": "Name", "Values": [r + "/"]}, {"Key": "KeyId", "Values": [new_key_module["KeyId"]]}]))
    assert keyed == [r + "/b/one"]


def test_describe_filters_and_parameter_filters_together_is_validation_exception(ssm, described):
    expect_error(
        "ValidationException", ssm.describe_parameters,
        Filters=[{"Key": "Type", "Values": ["String"]}],
        ParameterFilters=[{"Key": "Name", "Values": [described + "/a"]}],
    )


# --------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------


def test_label_latest_version_by_default_and_move_a_label(ssm):
    name = uniq() + "/lab"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True)
    out = ssm.label_parameter_version(Name=name, Labels=["current"])
    assert out["ParameterVersion"] == 2
    assert out.get("InvalidLabels", []) == []
    assert ssm.get_parameter(Name=name + ":current")["Parameter"]["Version"] == 2
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["current", "Prod_1.x-y"])
    assert out["ParameterVersion"] == 1
    assert ssm.get_parameter(Name=name + ":current")["Parameter"]["Value"] == "one"
    assert ssm.get_parameter(Name=name + ":Prod_1.x-y")["Parameter"]["Value"] == "one"
    hist = history(ssm, name)
    assert sorted(hist[0]["Labels"]) == ["Prod_1.x-y", "current"]
    assert hist[1].get("Labels", []) == []


def test_label_by_arn(ssm):
    name = uniq() + "/lab"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    assert ssm.label_parameter_version(Name=ssm_arn(name), Labels=["viaarn"])["ParameterVersion"] == 1
    assert ssm.get_parameter(Name=name + ":viaarn")["Parameter"]["Value"] == "one"


def test_invalid_labels_come_back_in_invalid_labels(ssm):
    name = uniq() + "/lab"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    bad = ["1st", "awsLabel", "AWS-x", "ssmLabel", "Ssm.x", "has space", "semi;colon", "slash/label"]
    out = ssm.label_parameter_version(Name=name, Labels=bad + ["good"])
    assert sorted(out["InvalidLabels"]) == sorted(bad)
    assert out["ParameterVersion"] == 1
    (h,) = history(ssm, name)
    assert h["Labels"] == ["good"]
    # 100 characters is the longest label.
    longest = "L" * 100
    out = ssm.label_parameter_version(Name=name, Labels=[longest])
    assert out.get("InvalidLabels", []) == []
    assert ssm.get_parameter(Name=f"{name}:{longest}")["Parameter"]["Version"] == 1


def test_label_longer_than_100_characters_is_rejected(ssm_unvalidated):
    """ParameterLabel is 1-100 characters in the service model: a longer one fails model
    validation (ValidationException), as GetParameters with 11 names does."""
    name = uniq() + "/lab"
    ssm_unvalidated.put_parameter(Name=name, Value="one", Type="String")
    expect_error("ValidationException", ssm_unvalidated.label_parameter_version, Name=name, Labels=["L" * 101])
    assert history(ssm_unvalidated, name)[0]["Labels"] == []


def test_more_than_10_labels_on_a_version_is_label_limit_exceeded(ssm):
    name = uniq() + "/lab"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True)
    ten = [f"l{i}" for i in range(10)]
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=ten)
    expect_error("ParameterVersionLabelLimitExceeded", ssm.label_parameter_version, Name=name, ParameterVersion=1, Labels=["eleven"])
    # Re-applying a label the version already has is not an extra label.
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["l0"])
    # The same label on another version is fine (it moves).
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["eleven"])
    assert sorted(history(ssm, name)[0]["Labels"]) == sorted(ten)


def test_label_errors(ssm):
    name = uniq() + "/lab"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    expect_error("ParameterVersionNotFound", ssm.label_parameter_version, Name=name, ParameterVersion=2, Labels=["x"])
    expect_error("ParameterNotFound", ssm.label_parameter_version, Name=name + "-missing", Labels=["x"])


def test_unlabel_parameter_version(ssm):
    name = uniq() + "/unlab"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["a", "b"])
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["c"])
    out = ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["a", "c", "zzz"])
    assert out["RemovedLabels"] == ["a"]
    assert sorted(out["InvalidLabels"]) == ["c", "zzz"]
    expect_error("ParameterVersionNotFound", ssm.get_parameter, Name=name + ":a")
    assert ssm.get_parameter(Name=name + ":b")["Parameter"]["Version"] == 1
    assert ssm.get_parameter(Name=name + ":c")["Parameter"]["Version"] == 2
    assert [h.get("Labels", []) for h in history(ssm, name)] == [["b"], ["c"]]
    expect_error("ParameterVersionNotFound", ssm.unlabel_parameter_version, Name=name, ParameterVersion=3, Labels=["b"])
    expect_error("ParameterNotFound", ssm.unlabel_parameter_version, Name=name + "-missing", ParameterVersion=1, Labels=["b"])


# --------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------


def tag_map(ssm, name) -> dict:
    return {t["Key"]: t["Value"] for t in ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]}


def test_tags_on_create_add_replace_remove(ssm):
    name = uniq() + "/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "team", "Value": "red"}, {"Key": "cost", "Value": "1"}])
    assert tag_map(ssm, name) == {"team": "red", "cost": "1"}
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "team", "Value": "blue"}, {"Key": "new", "Value": ""}])
    assert tag_map(ssm, name) == {"team": "blue", "cost": "1", "new": ""}
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["cost", "not-there"])
    assert tag_map(ssm, name) == {"team": "blue", "new": ""}
    # Overwriting the value keeps the tags.
    ssm.put_parameter(Name=name, Value="w", Type="String", Overwrite=True)
    assert tag_map(ssm, name) == {"team": "blue", "new": ""}


def test_untagged_parameter_has_empty_tag_list(ssm):
    name = flat("untagged")
    ssm.put_parameter(Name=name, Value="v", Type="String")
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == []


def test_tag_operations_on_missing_parameter_are_invalid_resource_id(ssm):
    missing = uniq() + "/nope"
    expect_error("InvalidResourceId", ssm.list_tags_for_resource, ResourceType="Parameter", ResourceId=missing)
    expect_error("InvalidResourceId", ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId=missing, Tags=[{"Key": "k", "Value": "v"}])
    expect_error("InvalidResourceId", ssm.remove_tags_from_resource, ResourceType="Parameter", ResourceId=missing, TagKeys=["k"])


def test_tag_operations_on_other_resource_types_are_invalid_resource_type(ssm):
    name = uniq() + "/t"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    for rt in ("Document", "ManagedInstance", "MaintenanceWindow"):
        expect_error("InvalidResourceType", ssm.list_tags_for_resource, ResourceType=rt, ResourceId=name)
        expect_error("InvalidResourceType", ssm.add_tags_to_resource, ResourceType=rt, ResourceId=name, Tags=[{"Key": "k", "Value": "v"}])
        expect_error("InvalidResourceType", ssm.remove_tags_from_resource, ResourceType=rt, ResourceId=name, TagKeys=["k"])


def test_more_than_50_tags_is_too_many_tags_error(ssm):
    name = uniq() + "/many-tags"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert len(tag_map(ssm, name)) == 50
    # Replacing an existing key stays within the limit; a 51st key does not.
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "k0", "Value": "changed"}])
    expect_error("TooManyTagsError", ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "k50", "Value": "v"}])
    tags = tag_map(ssm, name)
    assert len(tags) == 50 and tags["k0"] == "changed" and "k50" not in tags
    expect_error(
        "TooManyTagsError", ssm.put_parameter,
        Name=name + "-2", Value="v", Type="String", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
    )


# --------------------------------------------------------------------------------------
# Regions, protocol
# --------------------------------------------------------------------------------------


def test_parameters_are_separate_per_region(make_ssm):
    east, west = make_ssm("us-east-1"), make_ssm("eu-west-1")
    name = uniq() + "/regional"
    east.put_parameter(Name=name, Value="east", Type="String")
    expect_error("ParameterNotFound", west.get_parameter, Name=name)
    assert by_path(west, name.rsplit("/", 1)[0], Recursive=True) == []
    west.put_parameter(Name=name, Value="west", Type="SecureString")
    w = west.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (w["Value"], w["ARN"]) == ("west", ssm_arn(name, "eu-west-1"))
    assert east.get_parameter(Name=name)["Parameter"]["Value"] == "east"
    # An ARN of another region does not reach across.
    expect_error("ParameterNotFound", west.get_parameter, Name=ssm_arn(name, "us-east-1") + "-x")
    west.delete_parameter(Name=name)
    assert east.get_parameter(Name=name)["Parameter"]["Value"] == "east"


def test_unserved_ssm_operation_is_unknown_operation(ssm, trent):
    expect_error("UnknownOperationException", ssm.describe_instance_information)
    resp = raw_call(trent.base_url, None, {}, service="ssm", target="AmazonSSM.SendCommand")
    assert resp.status == 400 and resp.error_type == "UnknownOperationException", resp


def test_signature_scope_must_match_the_service(trent):
    body = {"Name": "/whatever"}
    resp = raw_call(trent.base_url, None, body, service="kms", target="AmazonSSM.GetParameter")
    assert 400 <= resp.status < 500 and resp.error_type == "InvalidSignatureException", resp
    resp = raw_call(trent.base_url, None, {}, service="ssm", target="TrentService.ListKeys")
    assert 400 <= resp.status < 500 and resp.error_type == "InvalidSignatureException", resp
    ok = raw_call(trent.base_url, None, {"Name": "/" + uuid.uuid4().hex}, service="ssm", target="AmazonSSM.GetParameter")
    assert ok.error_type == "ParameterNotFound", ok


def test_unknown_access_key_and_wrong_secret_are_rejected(make_ssm):
    from conftest import ADMIN_ACCESS_KEY_ID

    expect_error("UnrecognizedClientException", make_ssm(access_key="AKIAXXXXXXXXXXXXXXXX", secret_key="nope").describe_parameters)
    expect_error("InvalidSignatureException", make_ssm(access_key=ADMIN_ACCESS_KEY_ID, secret_key="wrong").describe_parameters)


# --------------------------------------------------------------------------------------
# A tree of more than 1,000 parameters (own server)
# --------------------------------------------------------------------------------------

APPS, ENVS, LEAVES, CFGS, TOPS = 10, 10, 10, 5, 5


def tree_names(root: str) -> dict[str, str]:
    """name -> type, for /root/top{t}, /root/app{a}/cfg{c}, /root/app{a}/env{e}/p{p}."""
    out = {}
    types = ("String", "StringList", "SecureString")
    i = 0
    def add(name):
        nonlocal i
        out[name] = types[i % 3]
        i += 1
    for t in range(TOPS):
        add(f"{root}/top{t}")
    for a in range(APPS):
        for c in range(CFGS):
            add(f"{root}/app{a}/cfg{c}")
        for e in range(ENVS):
            for p in range(LEAVES):
                add(f"{root}/app{a}/env{e}/p{p}")
    return out


def value_of(name: str) -> str:
    return "value-of-" + name.replace("/", "_")


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory):
    """Its own server holding 1,055 parameters under /tree, plus a few outside it."""
    from conftest import TrentServer

    work = tmp_path_factory.mktemp("ssm-tree")
    srv = TrentServer(work / "data", work)
    srv.start()
    try:
        client = make_ssm_client(srv.base_url)
        tree = tree_names("/tree")
        extra = {"/treehouse/x": "String", "/other/y": "String", "/root-level": "String", "flat-name": "String"}
        everything = {**tree, **extra}

        def put(item):
            name, kind = item
            client.put_parameter(Name=name, Value=value_of(name), Type=kind)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, everything.items()))
        yield srv, client, tree, everything
    finally:
        srv.kill()


@pytest.mark.slow
def test_big_tree_recursive_listing_pages_through_every_parameter(big_tree):
    _, client, tree, _ = big_tree
    assert len(tree) >= 1000
    items, calls = pages_of(client.get_parameters_by_path, "Parameters", Path="/tree", Recursive=True)
    got = names(items)
    assert len(got) == len(set(got)), "a parameter came back twice"
    assert set(got) == set(tree)
    assert calls >= len(tree) // 10, f"{calls} calls for {len(tree)} parameters at 10 a page"
    plain = {p["Name"]: p["Value"] for p in items if p["Type"] != "SecureString"}
    assert all(v == value_of(n) for n, v in plain.items())
    assert {p["Name"]: p["Type"] for p in items} == tree


@pytest.mark.slow
def test_big_tree_one_level_listings(big_tree):
    _, client, tree, _ = big_tree
    assert set(names(by_path(client, "/tree"))) == {f"/tree/top{t}" for t in range(TOPS)}
    assert set(names(by_path(client, "/tree/app3"))) == {f"/tree/app3/cfg{c}" for c in range(CFGS)}
    env = names(by_path(client, "/tree/app7/env4/", MaxResults=3))
    assert sorted(env) == sorted(f"/tree/app7/env4/p{p}" for p in range(LEAVES))
    sub = names(by_path(client, "/tree/app9", Recursive=True, MaxResults=7))
    assert set(sub) == {n for n in tree if n.startswith("/tree/app9/")}
    assert len(sub) == CFGS + ENVS * LEAVES


@pytest.mark.slow
def test_big_tree_root_path_lists_every_parameter(big_tree):
    """`flat-name` is `/flat-name` on AWS: under Path `/` (issue #18)."""
    _, client, tree, everything = big_tree
    assert set(names(by_path(client, "/", Recursive=True))) == set(everything)
    assert set(names(by_path(client, "/"))) == {"/root-level", "flat-name"}


@pytest.mark.slow
def test_big_tree_type_filter_through_paging(big_tree):
    _, client, tree, _ = big_tree
    secure = {n for n, t in tree.items() if t == "SecureString"}
    items = by_path(
        client, "/tree", Recursive=True, WithDecryption=True,
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["SecureString"]}],
    )
    assert set(names(items)) == secure and len(items) == len(secure)
    assert all(p["Value"] == value_of(p["Name"]) for p in items)
    lists = by_path(client, "/tree/app0", Recursive=True, ParameterFilters=[{"Key": "Type", "Values": ["StringList"]}])
    assert set(names(lists)) == {n for n, t in tree.items() if t == "StringList" and n.startswith("/tree/app0/")}


@pytest.mark.slow
def test_big_tree_describe_with_path_filter(big_tree):
    _, client, tree, _ = big_tree
    metas = describe_all(client, MaxResults=50, ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/tree"]}])
    assert names(metas) == sorted(tree)
    one = describe_all(client, ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": ["/tree/app2"]}])
    assert names(one) == sorted(f"/tree/app2/cfg{c}" for c in range(CFGS))


# --------------------------------------------------------------------------------------
# Durability
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_parameters_survive_a_restart(trent_factory):
    srv = trent_factory()
    ssm = make_ssm_client(srv.base_url)
    kms = make_kms_client(srv.base_url)
    key = kms.create_key(Description="ssm restart")["KeyMetadata"]
    ssm.put_parameter(Name="/app/plain", Value="p1", Type="String", Description="plain", Tags=[{"Key": "t", "Value": "1"}])
    ssm.put_parameter(Name="/app/plain", Value="p2", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name="/app/plain", ParameterVersion=1, Labels=["first"])
    ssm.put_parameter(Name="/app/secret", Value="default-key-secret", Type="SecureString")
    ssm.put_parameter(Name="/app/custom", Value="custom-key-secret", Type="SecureString", KeyId=key["KeyId"])
    ssm.put_parameter(Name="/app/adv", Value="a", Type="String", Tier="Advanced",
                      Policies=json.dumps([policy("NoChangeNotification", After="30", Unit="Days")]))
    eu = make_ssm_client(srv.base_url, region="eu-west-1")
    eu.put_parameter(Name="/app/plain", Value="eu", Type="String")
    before = {m["Name"]: m for m in describe_all(ssm)}
    cipher = ssm.get_parameter(Name="/app/secret")["Parameter"]["Value"]

    code = srv.terminate()
    assert code == 0, f"trentd exited with {code} on SIGTERM\n{srv.stderr()}"
    srv.start()
    ssm = make_ssm_client(srv.base_url)
    kms = make_kms_client(srv.base_url)

    after = {m["Name"]: m for m in describe_all(ssm)}
    assert after == before
    assert ssm.get_parameter(Name="/app/plain")["Parameter"]["Value"] == "p2"
    assert ssm.get_parameter(Name="/app/plain:first")["Parameter"]["Value"] == "p1"
    assert [h["Version"] for h in history(ssm, "/app/plain")] == [1, 2]
    assert tag_map(ssm, "/app/plain") == {"t": "1"}
    assert ssm.get_parameter(Name="/app/secret", WithDecryption=True)["Parameter"]["Value"] == "default-key-secret"
    assert ssm.get_parameter(Name="/app/secret")["Parameter"]["Value"] == cipher
    assert ssm.get_parameter(Name="/app/custom", WithDecryption=True)["Parameter"]["Value"] == "custom-key-secret"
    out = kms.decrypt(CiphertextBlob=base64.b64decode(cipher), EncryptionContext={"PARAMETER_ARN": ssm_arn("/app/secret")})
    assert out["Plaintext"] == b"default-key-secret"
    assert make_ssm_client(srv.base_url, region="eu-west-1").get_parameter(Name="/app/plain")["Parameter"]["Value"] == "eu"
    # Still writable, and the AWS managed key was not made twice.
    assert ssm.put_parameter(Name="/app/secret", Value="v2", Type="SecureString", Overwrite=True)["Version"] == 2
    assert [a["AliasName"] for a in list_all(kms, "list_aliases", "Aliases")].count("alias/aws/ssm") == 1
