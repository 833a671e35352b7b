"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases."""

import datetime as dt
import uuid

import pytest

from conftest import alias_arn, expect_error, list_all, now_utc, unique_alias


def aliases_by_name(kms, **kw):
    return {a["AliasName"]: a for a in list_all(kms, "list_aliases", "Aliases", **kw)}


def test_create_alias_then_list_aliases_shows_all_fields(kms, new_key):
    kid = new_key()["KeyId"]
    alias = unique_alias("list")
    before = now_utc()
    kms.create_alias(AliasName=alias, TargetKeyId=kid)
    entry = aliases_by_name(kms)[alias]
    assert entry["AliasArn"] == alias_arn(alias)
    assert entry["TargetKeyId"] == kid
    slack = dt.timedelta(seconds=5)
    assert before - slack <= entry["CreationDate"] <= now_utc() + slack
    assert before - slack <= entry["LastUpdatedDate"] <= now_utc() + slack


def test_create_alias_by_key_arn(kms, new_key):
    md = new_key()
    alias = unique_alias("byarn")
    kms.create_alias(AliasName=alias, TargetKeyId=md["Arn"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == md["KeyId"]
    assert aliases_by_name(kms)[alias]["TargetKeyId"] == md["KeyId"]


def test_several_aliases_may_point_at_one_key(kms, new_key):
    kid = new_key()["KeyId"]
    a, b = unique_alias("one"), unique_alias("two")
    kms.create_alias(AliasName=a, TargetKeyId=kid)
    kms.create_alias(AliasName=b, TargetKeyId=kid)
    assert kms.describe_key(KeyId=a)["KeyMetadata"]["KeyId"] == kid
    assert kms.describe_key(KeyId=b)["KeyMetadata"]["KeyId"] == kid


def test_alias_names_allow_letters_digits_slash_underscore_and_dash(kms, new_key):
    """The model's pattern also has `:`, which KMS itself refuses (issue #18; see below)."""
    kid = new_key()["KeyId"]
    alias = f"alias/Az09/_-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=kid)
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == kid


def test_create_alias_without_alias_prefix_is_a_validation_error_with_awss_text(kms, new_key):
    kid = new_key()["KeyId"]
    for call in (kms.create_alias, kms.update_alias):
        err = expect_error("ValidationException", call, AliasName="noprefix-" + uuid.uuid4().hex[:8], TargetKeyId=kid)
        assert err.response["Error"]["Message"] == (
            'Alias must start with the prefix "alias/". '
            "Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    err = expect_error("ValidationException", kms.delete_alias, AliasName="noprefix")
    assert err.response["Error"]["Message"].startswith('Alias must start with the prefix "alias/".')
    # A colon is not allowed, though the model's pattern has it.
    err = expect_error("ValidationException", kms.create_alias, AliasName="alias/a:b", TargetKeyId=kid)
    assert "alias/a:b" in err.response["Error"]["Message"]


def test_create_alias_in_aws_namespace_is_not_authorized(kms, new_key):
    kid = new_key()["KeyId"]
    expect_error("NotAuthorizedException", kms.create_alias, AliasName="alias/aws/mine-" + uuid.uuid4().hex[:8], TargetKeyId=kid)


def test_create_alias_with_characters_outside_pattern_is_validation_error(kms_unvalidated, new_key):
    kid = new_key()["KeyId"]
    expect_error("ValidationException", kms_unvalidated.create_alias, AliasName="alias/bad name!", TargetKeyId=kid)


def test_create_alias_longer_than_256_is_validation_error(kms_unvalidated, new_key):
    kid = new_key()["KeyId"]
    expect_error("ValidationException", kms_unvalidated.create_alias, AliasName="alias/" + "a" * 251, TargetKeyId=kid)


def test_create_existing_alias_is_already_exists(kms, new_key):
    k1, k2 = new_key()["KeyId"], new_key()["KeyId"]
    alias = unique_alias("dup")
    kms.create_alias(AliasName=alias, TargetKeyId=k1)
    expect_error("AlreadyExistsException", kms.create_alias, AliasName=alias, TargetKeyId=k2)
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == k1


def test_create_alias_to_missing_key_is_not_found(kms):
    alias = unique_alias("missing")
    expect_error("NotFoundException", kms.create_alias, AliasName=alias, TargetKeyId=str(uuid.uuid4()))
    assert alias not in aliases_by_name(kms)


def test_create_alias_targeting_an_alias_is_rejected(kms, new_key):
    kid = new_key()["KeyId"]
    first = unique_alias("first")
    kms.create_alias(AliasName=first, TargetKeyId=kid)
    # AWS: TargetKeyId must be a key id or key ARN, never an alias.
    with pytest.raises(kms.exceptions.ClientError) as e:
        kms.create_alias(AliasName=unique_alias("second"), TargetKeyId=first)
    assert e.value.response["Error"]["Code"] in ("ValidationException", "NotFoundException")


def test_update_alias_retargets_it(kms, new_key):
    k1, k2 = new_key()["KeyId"], new_key()["KeyId"]
    alias = unique_alias("update")
    kms.create_alias(AliasName=alias, TargetKeyId=k1)
    created = aliases_by_name(kms)[alias]
    kms.update_alias(AliasName=alias, TargetKeyId=k2)
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == k2
    entry = aliases_by_name(kms)[alias]
    assert entry["TargetKeyId"] == k2
    assert entry["CreationDate"] == created["CreationDate"]
    assert entry["LastUpdatedDate"] >= created["LastUpdatedDate"]
    blob = kms.encrypt(KeyId=alias, Plaintext=b"x")
    assert blob["KeyId"].endswith(k2)


def test_update_missing_alias_is_not_found(kms, new_key):
    kid = new_key()["KeyId"]
    expect_error("NotFoundException", kms.update_alias, AliasName=unique_alias("nothere"), TargetKeyId=kid)


def test_update_alias_to_missing_key_is_not_found(kms, new_key):
    kid = new_key()["KeyId"]
    alias = unique_alias("upmissing")
    kms.create_alias(AliasName=alias, TargetKeyId=kid)
    expect_error("NotFoundException", kms.update_alias, AliasName=alias, TargetKeyId=str(uuid.uuid4()))
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == kid


def test_delete_alias_removes_it(kms, new_key):
    kid = new_key()["KeyId"]
    alias = unique_alias("delete")
    kms.create_alias(AliasName=alias, TargetKeyId=kid)
    kms.delete_alias(AliasName=alias)
    expect_error("NotFoundException", kms.describe_key, KeyId=alias)
    assert alias not in aliases_by_name(kms)
    # The key itself is untouched.
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    # The name can be used again.
    kms.create_alias(AliasName=alias, TargetKeyId=kid)
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == kid


def test_delete_missing_alias_is_not_found(kms):
    expect_error("NotFoundException", kms.delete_alias, AliasName=unique_alias("gone"))


def test_list_aliases_key_id_filter_shows_only_that_keys_aliases(kms, new_key):
    k1, k2 = new_key()["KeyId"], new_key()["KeyId"]
    a1, a2, b1 = unique_alias("f"), unique_alias("f"), unique_alias("f")
    kms.create_alias(AliasName=a1, TargetKeyId=k1)
    kms.create_alias(AliasName=a2, TargetKeyId=k1)
    kms.create_alias(AliasName=b1, TargetKeyId=k2)
    got = aliases_by_name(kms, KeyId=k1)
    assert set(got) == {a1, a2}
    assert all(a["TargetKeyId"] == k1 for a in got.values())


def test_list_aliases_of_key_without_aliases_is_empty(kms, new_key):
    kid = new_key()["KeyId"]
    resp = kms.list_aliases(KeyId=kid)
    assert resp["Aliases"] == []
    assert resp["Truncated"] is False


def test_list_aliases_for_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.list_aliases, KeyId=str(uuid.uuid4()))


def test_list_aliases_pages(kms, new_key):
    kid = new_key()["KeyId"]
    mine = {unique_alias("page") for _ in range(3)}
    for a in mine:
        kms.create_alias(AliasName=a, TargetKeyId=kid)
    first = kms.list_aliases(Limit=1)
    assert len(first["Aliases"]) == 1 and first["Truncated"] is True and first["NextMarker"]
    paged = list_all(kms, "list_aliases", "Aliases", Limit=1)
    names = [a["AliasName"] for a in paged]
    assert len(names) == len(set(names)), "an alias appeared on two pages"
    assert mine <= set(names)
    filtered = list_all(kms, "list_aliases", "Aliases", KeyId=kid, Limit=2)
    assert {a["AliasName"] for a in filtered} == mine


def test_list_aliases_pages_exactly_in_a_region_of_its_own(make_client):
    kms = make_client("ap-southeast-4")  # used by this test only
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    mine = {unique_alias("exact") for _ in range(5)}
    for a in mine:
        kms.create_alias(AliasName=a, TargetKeyId=kid)
    pages, marker = [], None
    while True:
        page = kms.list_aliases(Limit=2, **({"Marker": marker} if marker else {}))
        pages.append(page)
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
        assert len(pages) < 20
    # AWS also lists its predefined alias/aws/* names; only customer aliases are counted.
    names = [a["AliasName"] for p in pages for a in p["Aliases"] if not a["AliasName"].startswith("alias/aws/")]
    assert sorted(names) == sorted(mine)
    assert all(len(p["Aliases"]) <= 2 for p in pages)


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_aliases_limit_out_of_range_is_validation_error(kms_unvalidated, limit):
    expect_error("ValidationException", kms_unvalidated.list_aliases, Limit=limit)
