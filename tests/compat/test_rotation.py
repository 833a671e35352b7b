"""Key rotation: automatic (scheduler, test clock, across a restart), on demand, and by hand
through an alias. Ciphertexts from before any number of rotations keep decrypting."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.slow

DAY = 86400


def current_material(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_automatic_rotation_on_the_test_clock_keeps_every_ciphertext_decryptable(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    assert "NextRotationDate" in status
    blobs, materials = [], []
    for round_ in range(3):
        materials.append(current_material(kms, key))
        blobs.append((kms.encrypt(KeyId=key, Plaintext=f"round {round_}".encode())["CiphertextBlob"], round_))
        srv.advance_clock(91 * DAY)
        wait_until(lambda: current_material(kms, key) != materials[-1])
    assert len(set(materials)) == 3
    for blob, round_ in blobs:
        out = kms.decrypt(CiphertextBlob=blob)
        assert out["Plaintext"] == f"round {round_}".encode()
        assert out["KeyMaterialId"] == materials[round_]
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"] * 3
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"].endswith(key), "the key id does not change"


def test_a_server_that_was_down_when_rotation_was_due_rotates_on_start(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    before = current_material(kms, key)
    blob = kms.encrypt(KeyId=key, Plaintext=b"made before the outage")["CiphertextBlob"]
    srv.advance_clock(1)  # creates the persisted offset file
    srv.terminate()
    offset_file = srv.data_dir / "test-clock-offset-ms"
    offset_file.write_text(str(int(offset_file.read_text()) + 100 * DAY * 1000))
    srv.start()
    kms = srv.client()
    wait_until(lambda: current_material(kms, key) != before)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"made before the outage"


def test_on_demand_rotation_and_the_keys_aws_refuses(kms, new_key):
    key = new_key()["KeyId"]
    before = current_material(kms, key)
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert kms.rotate_key_on_demand(KeyId=key)["KeyId"] == key
    assert current_material(kms, key) != before
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert rotations[-1]["RotationType"] == "ON_DEMAND" and rotations[-1]["KeyMaterialState"] == "CURRENT"
    every = kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [r["KeyMaterialId"] for r in every] == [before, rotations[-1]["KeyMaterialId"]]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    for call in (kms.enable_key_rotation, kms.rotate_key_on_demand, kms.get_key_rotation_status):
        with pytest.raises(ClientError) as e:
            call(KeyId=signer)
        assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as e:
        kms.rotate_key_on_demand(KeyId=key)
    assert e.value.response["Error"]["Code"] == "DisabledException"


def test_enable_key_rotation_checks_the_period(kms_unvalidated, new_key):
    key = new_key()["KeyId"]
    for days in (89, 2561):
        with pytest.raises(ClientError) as e:
            kms_unvalidated.enable_key_rotation(KeyId=key, RotationPeriodInDays=days)
        assert e.value.response["Error"]["Code"] == "ValidationException"


def test_manual_rotation_through_an_alias(kms, new_key):
    old, new = new_key()["KeyId"], new_key()["KeyId"]
    kms.create_alias(AliasName="alias/manual-rotation", TargetKeyId=old)
    before = kms.encrypt(KeyId="alias/manual-rotation", Plaintext=b"old key")["CiphertextBlob"]
    kms.update_alias(AliasName="alias/manual-rotation", TargetKeyId=new)
    after = kms.encrypt(KeyId="alias/manual-rotation", Plaintext=b"new key")
    assert after["KeyId"].endswith(new)
    assert kms.decrypt(CiphertextBlob=before)["KeyId"].endswith(old)
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old key"
    assert kms.decrypt(CiphertextBlob=after["CiphertextBlob"])["Plaintext"] == b"new key"
