"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, UpdateKeyDescription,
ScheduleKeyDeletion, CancelKeyDeletion."""

import datetime as dt
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    alias_arn,
    error_code,
    expect_error,
    key_arn,
    list_all,
    now_utc,
    unique_alias,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


# ---------------------------------------------------------------- CreateKey


def test_create_key_returns_full_key_metadata(kms):
    before = now_utc()
    md = kms.create_key(Description="full metadata")["KeyMetadata"]
    after = now_utc()

    assert md["AWSAccountId"] == ACCOUNT_ID
    assert UUID_RE.match(md["KeyId"]), md["KeyId"]
    assert md["Arn"] == key_arn(md["KeyId"])
    assert before - dt.timedelta(seconds=5) <= md["CreationDate"] <= after + dt.timedelta(seconds=5)
    assert md["Enabled"] is True
    assert md["Description"] == "full metadata"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeyState"] == "Enabled"
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["MultiRegion"] is False
    assert HEX64_RE.match(md.get("CurrentKeyMaterialId", "")), md.get("CurrentKeyMaterialId")
    assert "DeletionDate" not in md


def test_create_key_without_arguments_has_empty_description(kms):
    md = kms.create_key()["KeyMetadata"]
    assert md["Description"] == ""
    assert md["KeyState"] == "Enabled"


def test_create_key_explicit_symmetric_default_encrypt_decrypt(kms):
    md = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT" and md["KeyUsage"] == "ENCRYPT_DECRYPT"


def test_created_keys_have_distinct_ids_and_material(kms):
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    assert a["KeyId"] != b["KeyId"]
    assert a["CurrentKeyMaterialId"] != b["CurrentKeyMaterialId"]


def test_create_key_with_sm2_spec_is_unsupported(kms):
    expect_error("UnsupportedOperationException", kms.create_key, KeySpec="SM2", KeyUsage="SIGN_VERIFY")


def test_create_key_sign_verify_with_symmetric_default_is_validation_error(kms):
    expect_error("ValidationException", kms.create_key, KeySpec="SYMMETRIC_DEFAULT", KeyUsage="SIGN_VERIFY")


def test_create_key_description_over_8192_chars_is_validation_error(kms_unvalidated):
    expect_error("ValidationException", kms_unvalidated.create_key, Description="d" * 8193)


def test_create_key_with_tags_stores_them(kms):
    md = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "crypto"}, {"TagKey": "env", "TagValue": ""}])[
        "KeyMetadata"
    ]
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=md["KeyId"])["Tags"]}
    assert tags == {"team": "crypto", "env": ""}


# ---------------------------------------------------------------- DescribeKey


def test_describe_key_by_id_arn_alias_and_alias_arn_agree(kms, new_key):
    md = new_key()
    alias = unique_alias("describe")
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    for ref in (md["KeyId"], md["Arn"], alias, alias_arn(alias)):
        got = kms.describe_key(KeyId=ref)["KeyMetadata"]
        assert got["KeyId"] == md["KeyId"], ref
        assert got["Arn"] == md["Arn"], ref
        assert got["CreationDate"] == md["CreationDate"], ref
        assert got["CurrentKeyMaterialId"] == md["CurrentKeyMaterialId"], ref


def test_describe_key_returns_what_create_key_returned(kms, new_key):
    md = new_key(Description="round trip")
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    for field in (
        "AWSAccountId", "KeyId", "Arn", "CreationDate", "Enabled", "Description", "KeyUsage",
        "KeyState", "Origin", "KeyManager", "CustomerMasterKeySpec", "KeySpec",
        "EncryptionAlgorithms", "MultiRegion", "CurrentKeyMaterialId",
    ):
        assert got.get(field) == md.get(field), field


def test_describe_key_random_uuid_is_not_found(kms):
    expect_error("NotFoundException", kms.describe_key, KeyId=str(uuid.uuid4()))


def test_describe_key_random_key_arn_is_not_found(kms):
    expect_error("NotFoundException", kms.describe_key, KeyId=key_arn(str(uuid.uuid4())))


def test_describe_key_unknown_alias_is_not_found(kms):
    expect_error("NotFoundException", kms.describe_key, KeyId="alias/nope-" + uuid.uuid4().hex)


def test_describe_key_unknown_alias_arn_is_not_found(kms):
    expect_error("NotFoundException", kms.describe_key, KeyId=alias_arn("alias/nope-" + uuid.uuid4().hex))


def test_describe_key_garbage_id_is_not_found(kms):
    expect_error("NotFoundException", kms.describe_key, KeyId="not-a-key-id")


# ---------------------------------------------------------------- ListKeys


def test_list_keys_pages_through_every_key(kms, new_key):
    mine = {new_key()["KeyId"] for _ in range(3)}
    first = kms.list_keys(Limit=1)
    assert len(first["Keys"]) == 1
    assert first["Truncated"] is True
    assert first["NextMarker"]

    seen = list_all(kms, "list_keys", "Keys", Limit=1)
    ids = [k["KeyId"] for k in seen]
    assert len(ids) == len(set(ids)), "a key appeared on two pages"
    assert mine <= set(ids)
    for k in seen:
        assert k["KeyArn"] == key_arn(k["KeyId"])


def test_list_keys_pages_exactly_in_a_region_of_its_own(make_client):
    # ca-west-1 is used by this test only, so the listing is exactly these keys.
    kms = make_client("ca-west-1")
    mine = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    pages = []
    marker = None
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        pages.append(page)
        if not page["Truncated"]:
            assert "NextMarker" not in page, page
            break
        marker = page["NextMarker"]
        assert len(pages) < 10
    assert [len(p["Keys"]) for p in pages] == [2, 1]
    got = [k["KeyId"] for p in pages for k in p["Keys"]]
    assert sorted(got) == sorted(mine)
    assert all(k["KeyArn"] == key_arn(k["KeyId"], "ca-west-1") for p in pages for k in p["Keys"])


def test_list_keys_last_page_is_not_truncated(make_client):
    kms = make_client("ap-south-2")  # this test's own region
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    page = kms.list_keys(Limit=1000)
    assert [k["KeyId"] for k in page["Keys"]] == [kid]
    assert page["Truncated"] is False
    assert "NextMarker" not in page


def test_list_keys_pages_of_two_match_one_big_page(kms, new_key):
    for _ in range(3):
        new_key()
    small = [k["KeyId"] for k in list_all(kms, "list_keys", "Keys", Limit=2)]
    big = [k["KeyId"] for k in list_all(kms, "list_keys", "Keys", Limit=1000)]
    assert sorted(small) == sorted(big)


def test_list_keys_paginator_collects_all_keys(kms, new_key):
    mine = {new_key()["KeyId"] for _ in range(2)}
    ids = set()
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}):
        ids.update(k["KeyId"] for k in page["Keys"])
    assert mine <= ids


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_keys_limit_out_of_range_is_validation_error(kms_unvalidated, limit):
    expect_error("ValidationException", kms_unvalidated.list_keys, Limit=limit)


def test_list_keys_garbage_marker_is_rejected(kms):
    # AWS answers InvalidMarkerException for a marker it did not hand out.
    with pytest.raises(ClientError) as e:
        kms.list_keys(Marker="this-is-not-a-marker-" + uuid.uuid4().hex)
    assert error_code(e) in ("InvalidMarkerException", "ValidationException"), e.value


# ---------------------------------------------------------------- Enable / Disable


def test_disable_key_makes_encrypt_fail_with_disabled_exception(kms, new_key):
    kid = new_key()["KeyId"]
    kms.disable_key(KeyId=kid)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled"
    assert md["Enabled"] is False
    expect_error("DisabledException", kms.encrypt, KeyId=kid, Plaintext=b"x")


def test_disabled_key_cannot_decrypt(kms, new_key):
    kid = new_key()["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=kid)
    expect_error("DisabledException", kms.decrypt, CiphertextBlob=blob)


def test_enable_key_restores_encrypt(kms, new_key):
    kid = new_key()["KeyId"]
    kms.disable_key(KeyId=kid)
    kms.enable_key(KeyId=kid)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    blob = kms.encrypt(KeyId=kid, Plaintext=b"back")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"back"


def test_enable_and_disable_are_idempotent(kms, new_key):
    kid = new_key()["KeyId"]
    kms.enable_key(KeyId=kid)
    kms.disable_key(KeyId=kid)
    kms.disable_key(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"


def test_disable_and_enable_key_by_arn(kms, new_key):
    md = new_key()
    kms.disable_key(KeyId=md["Arn"])
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=md["Arn"])
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_disable_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.disable_key, KeyId=str(uuid.uuid4()))


def test_enable_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.enable_key, KeyId=str(uuid.uuid4()))


# ---------------------------------------------------------------- UpdateKeyDescription


def test_update_key_description_is_visible_in_describe_key(kms, new_key):
    kid = new_key(Description="before")["KeyId"]
    kms.update_key_description(KeyId=kid, Description="after")
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == "after"


def test_update_key_description_to_empty(kms, new_key):
    kid = new_key(Description="before")["KeyId"]
    kms.update_key_description(KeyId=kid, Description="")
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == ""


def test_update_key_description_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.update_key_description, KeyId=str(uuid.uuid4()), Description="x")


# ---------------------------------------------------------------- ScheduleKeyDeletion / Cancel


def test_schedule_key_deletion_returns_arn_date_state_and_window(kms, new_key):
    kid = new_key()["KeyId"]
    before = now_utc()
    resp = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert resp["KeyId"] == key_arn(kid)
    assert resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == 7
    expected = before + dt.timedelta(days=7)
    assert abs(resp["DeletionDate"] - expected) < dt.timedelta(minutes=2), resp["DeletionDate"]

    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion"
    assert md["Enabled"] is False
    assert md["DeletionDate"] == resp["DeletionDate"]


def test_schedule_key_deletion_defaults_to_30_days(kms, new_key):
    kid = new_key()["KeyId"]
    before = now_utc()
    resp = kms.schedule_key_deletion(KeyId=kid)
    assert resp["PendingWindowInDays"] == 30
    assert abs(resp["DeletionDate"] - (before + dt.timedelta(days=30))) < dt.timedelta(minutes=2)


def test_schedule_key_deletion_accepts_30_days(kms, new_key):
    kid = new_key()["KeyId"]
    assert kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=30)["PendingWindowInDays"] == 30


@pytest.mark.parametrize("days", [6, 31])
def test_schedule_key_deletion_window_outside_7_to_30_is_validation_error(kms, new_key, days):
    kid = new_key()["KeyId"]
    expect_error("ValidationException", kms.schedule_key_deletion, KeyId=kid, PendingWindowInDays=days)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"


def test_encrypt_with_key_pending_deletion_is_invalid_state(kms, new_key):
    kid = new_key()["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    expect_error("KMSInvalidStateException", kms.encrypt, KeyId=kid, Plaintext=b"x")


def test_decrypt_with_key_pending_deletion_is_invalid_state(kms, new_key):
    kid = new_key()["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)


def test_enable_key_pending_deletion_is_invalid_state(kms, new_key):
    kid = new_key()["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    expect_error("KMSInvalidStateException", kms.enable_key, KeyId=kid)


def test_schedule_deletion_twice_is_invalid_state(kms, new_key):
    kid = new_key()["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    expect_error("KMSInvalidStateException", kms.schedule_key_deletion, KeyId=kid, PendingWindowInDays=7)


def test_key_pending_deletion_is_still_listed_and_described(kms, new_key):
    kid = new_key()["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert kid in {k["KeyId"] for k in list_all(kms, "list_keys", "Keys")}


def test_cancel_key_deletion_leaves_key_disabled(kms, new_key):
    kid = new_key()["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    resp = kms.cancel_key_deletion(KeyId=kid)
    assert resp["KeyId"] == key_arn(kid)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled"
    assert md["Enabled"] is False
    assert "DeletionDate" not in md
    expect_error("DisabledException", kms.encrypt, KeyId=kid, Plaintext=b"x")
    kms.enable_key(KeyId=kid)
    assert kms.encrypt(KeyId=kid, Plaintext=b"x")["KeyId"] == key_arn(kid)


def test_cancel_key_deletion_of_disabled_key_stays_disabled(kms, new_key):
    kid = new_key()["KeyId"]
    kms.disable_key(KeyId=kid)
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"


def test_cancel_key_deletion_on_key_not_pending_is_invalid_state(kms, new_key):
    kid = new_key()["KeyId"]
    expect_error("KMSInvalidStateException", kms.cancel_key_deletion, KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"


def test_schedule_key_deletion_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.schedule_key_deletion, KeyId=str(uuid.uuid4()), PendingWindowInDays=7)
