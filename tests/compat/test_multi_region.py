"""Multi-Region keys: same key id and material in several regions of one deployment; a
ciphertext made in one region decrypts in another; rotation of the primary reaches replicas;
UpdatePrimaryRegion; deletion of a primary waits for its replicas (PendingReplicaDeletion)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.slow

DAY = 86400


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def config(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_multi_region_key_encrypts_in_one_region_and_decrypts_in_another(trent_factory):
    srv = trent_factory()
    us, eu = srv.client("us-east-1"), srv.client("eu-west-1")
    md = us.create_key(MultiRegion=True, Description="global")["KeyMetadata"]
    key = md["KeyId"]
    assert key.startswith("mrk-") and md["MultiRegion"] is True
    assert md["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    replica = us.replicate_key(KeyId=key, ReplicaRegion="eu-west-1", Description="eu copy")
    rmd = replica["ReplicaKeyMetadata"]
    assert rmd["KeyId"] == key and rmd["Arn"] == f"arn:aws:kms:eu-west-1:000000000000:key/{key}"
    assert rmd["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert [r["Region"] for r in config(us, key)["ReplicaKeys"]] == ["eu-west-1"]
    assert config(eu, key)["PrimaryKey"]["Region"] == "us-east-1"

    blob = us.encrypt(KeyId=key, Plaintext=b"made in us-east-1", EncryptionContext={"c": "1"})["CiphertextBlob"]
    assert eu.decrypt(CiphertextBlob=blob, EncryptionContext={"c": "1"})["Plaintext"] == b"made in us-east-1"
    assert eu.decrypt(CiphertextBlob=blob, EncryptionContext={"c": "1"}, KeyId=rmd["Arn"])["KeyId"] == rmd["Arn"]

    us.rotate_key_on_demand(KeyId=key)
    assert eu.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"] == us.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    after = eu.encrypt(KeyId=key, Plaintext=b"after rotation")["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=after)["Plaintext"] == b"after rotation"
    assert eu.decrypt(CiphertextBlob=blob, EncryptionContext={"c": "1"})["Plaintext"] == b"made in us-east-1"

    with pytest.raises(ClientError) as e:
        eu.rotate_key_on_demand(KeyId=key)
    assert code(e) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:
        us.replicate_key(KeyId=key, ReplicaRegion="eu-west-1")
    assert code(e) == "AlreadyExistsException"
    single = us.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        us.replicate_key(KeyId=single, ReplicaRegion="eu-west-1")
    assert code(e) == "UnsupportedOperationException"


def test_update_primary_region_and_replica_aware_deletion(trent_factory):
    srv = trent_factory()
    us, eu = srv.client("us-east-1"), srv.client("eu-west-1")
    key = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    us.replicate_key(KeyId=key, ReplicaRegion="eu-west-1")
    with pytest.raises(ClientError) as e:
        us.update_primary_region(KeyId=key, PrimaryRegion="ap-south-1")
    assert code(e) == "NotFoundException"
    us.update_primary_region(KeyId=key, PrimaryRegion="eu-west-1")
    assert config(eu, key)["MultiRegionKeyType"] == "PRIMARY"
    assert config(us, key)["MultiRegionKeyType"] == "REPLICA"

    primary = eu.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert primary["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in primary
    md = eu.describe_key(KeyId=key)["KeyMetadata"]
    assert md["KeyState"] == "PendingReplicaDeletion" and md["PendingDeletionWindowInDays"] == 7
    replica = us.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert replica["KeyState"] == "PendingDeletion" and "DeletionDate" in replica

    srv.advance_clock(8 * DAY)
    def replica_gone():
        try:
            us.describe_key(KeyId=key)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "NotFoundException"
    wait_until(replica_gone)
    wait_until(lambda: eu.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion")
    assert "DeletionDate" in eu.describe_key(KeyId=key)["KeyMetadata"]
    srv.advance_clock(8 * DAY)
    def primary_gone():
        try:
            eu.describe_key(KeyId=key)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "NotFoundException"
    wait_until(primary_gone)
