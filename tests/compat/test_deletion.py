"""Scheduled deletion really deletes, once the (test) clock passes the deletion date.

Runs its own server: it moves that server's business clock forward."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, expect_error, list_all, unique_alias

DAY = 24 * 3600
POLL_TIMEOUT_SECS = 15.0


def wait_until_gone(kms, key_id, timeout=POLL_TIMEOUT_SECS):
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
        except ClientError as e:
            assert error_code(e) == "NotFoundException", e
            return
        if time.monotonic() > deadline:
            pytest.fail(f"key {key_id} still exists ({state}) {timeout:.0f} s after its deletion date passed")
        time.sleep(0.1)


@pytest.mark.slow
def test_key_is_deleted_after_its_deletion_date_and_its_aliases_go_with_it(trent_factory):
    srv = trent_factory()
    kms = srv.client()

    doomed = kms.create_key(Description="doomed")["KeyMetadata"]
    spared = kms.create_key(Description="30-day window")["KeyMetadata"]
    bystander = kms.create_key(Description="not scheduled")["KeyMetadata"]
    doomed_alias, spared_alias = unique_alias("doomed"), unique_alias("spared")
    kms.create_alias(AliasName=doomed_alias, TargetKeyId=doomed["KeyId"])
    kms.create_alias(AliasName=spared_alias, TargetKeyId=spared["KeyId"])
    kms.tag_resource(KeyId=doomed["KeyId"], Tags=[{"TagKey": "t", "TagValue": "v"}])

    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    kms.schedule_key_deletion(KeyId=spared["KeyId"], PendingWindowInDays=30)

    srv.advance_clock(8 * DAY)
    wait_until_gone(kms, doomed["KeyId"])

    expect_error("NotFoundException", kms.describe_key, KeyId=doomed_alias)
    aliases = {a["AliasName"] for a in list_all(kms, "list_aliases", "Aliases")}
    assert doomed_alias not in aliases
    assert spared_alias in aliases
    keys = {k["KeyId"] for k in list_all(kms, "list_keys", "Keys")}
    assert doomed["KeyId"] not in keys
    assert {spared["KeyId"], bystander["KeyId"]} <= keys
    expect_error("NotFoundException", kms.list_resource_tags, KeyId=doomed["KeyId"])

    # The 30-day key is still pending, and can still be rescued.
    assert kms.describe_key(KeyId=spared["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=spared["KeyId"])
    assert kms.describe_key(KeyId=spared["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.describe_key(KeyId=bystander["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.mark.slow
def test_ciphertext_of_deleted_key_no_longer_decrypts(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"gone forever")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    srv.advance_clock(7 * DAY + 3600)
    wait_until_gone(kms, kid)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) in ("NotFoundException", "InvalidCiphertextException"), e.value


@pytest.mark.slow
def test_deletion_date_reflects_advanced_clock_and_key_survives_until_then(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    srv.advance_clock(100 * DAY)
    resp = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    # The deletion date is computed on the business clock: 100 + 7 days from now.
    created = kms.describe_key(KeyId=kid)["KeyMetadata"]["CreationDate"]
    delta = resp["DeletionDate"] - created
    assert 106.9 * DAY < delta.total_seconds() < 107.1 * DAY, delta

    srv.advance_clock(6 * DAY)
    time.sleep(2.5)  # a couple of sweeps at --sweep-interval-secs 1
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingDeletion"

    srv.advance_clock(2 * DAY)
    wait_until_gone(kms, kid)


@pytest.mark.slow
def test_deleted_keys_survive_a_restart_as_deleted(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    srv.advance_clock(8 * DAY)
    wait_until_gone(kms, kid)
    srv.restart()
    expect_error("NotFoundException", srv.client().describe_key, KeyId=kid)
