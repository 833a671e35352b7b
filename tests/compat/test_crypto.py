"""Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext), GenerateRandom."""

import os
import uuid

import pytest

from conftest import alias_arn, expect_error, unique_alias


@pytest.fixture(scope="module")
def key(kms):
    return kms.create_key(Description="crypto primary")["KeyMetadata"]


@pytest.fixture(scope="module")
def other_key(kms):
    return kms.create_key(Description="crypto other")["KeyMetadata"]


@pytest.fixture(scope="module")
def key_alias(kms, key):
    alias = unique_alias("crypto")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return alias


# ---------------------------------------------------------------- Encrypt / Decrypt


def test_encrypt_returns_blob_arn_and_algorithm(kms, key):
    resp = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")
    assert isinstance(resp["CiphertextBlob"], bytes) and len(resp["CiphertextBlob"]) > len(b"hello")
    assert b"hello" not in resp["CiphertextBlob"]
    assert resp["KeyId"] == key["Arn"]
    assert resp["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


@pytest.mark.parametrize("size", [1, 16, 4096])
def test_encrypt_decrypt_round_trip_sizes(kms, key, size):
    pt = os.urandom(size)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == pt


def test_encrypt_is_randomized(kms, key):
    a = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    assert a != b


@pytest.mark.parametrize("ref", ["id", "arn", "alias", "alias_arn"])
def test_encrypt_by_any_key_reference(kms, key, key_alias, ref):
    keyref = {
        "id": key["KeyId"],
        "arn": key["Arn"],
        "alias": key_alias,
        "alias_arn": alias_arn(key_alias),
    }[ref]
    resp = kms.encrypt(KeyId=keyref, Plaintext=b"by " + ref.encode())
    assert resp["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=resp["CiphertextBlob"])["Plaintext"] == b"by " + ref.encode()


def test_encrypt_with_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.encrypt, KeyId=str(uuid.uuid4()), Plaintext=b"x")


def test_encrypt_with_unknown_alias_is_not_found(kms):
    expect_error("NotFoundException", kms.encrypt, KeyId="alias/none-" + uuid.uuid4().hex, Plaintext=b"x")


def test_encrypt_dry_run_is_dry_run_operation(kms, key):
    expect_error("DryRunOperationException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)


def test_decrypt_without_key_id_returns_arn_plaintext_algorithm_and_material(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    resp = kms.decrypt(CiphertextBlob=blob)
    assert resp["Plaintext"] == b"secret"
    assert resp["KeyId"] == key["Arn"]
    assert resp["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert resp["KeyMaterialId"] == key["CurrentKeyMaterialId"]


@pytest.mark.parametrize("ref", ["id", "arn", "alias"])
def test_decrypt_with_the_right_key_id_works(kms, key, key_alias, ref):
    keyref = {"id": key["KeyId"], "arn": key["Arn"], "alias": key_alias}[ref]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"right")["CiphertextBlob"]
    resp = kms.decrypt(CiphertextBlob=blob, KeyId=keyref)
    assert resp["Plaintext"] == b"right"
    assert resp["KeyId"] == key["Arn"]


def test_decrypt_with_other_keys_id_is_incorrect_key(kms, key, other_key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"mine")["CiphertextBlob"]
    expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, KeyId=other_key["KeyId"])


def test_decrypt_with_explicit_algorithm(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"alg", EncryptionAlgorithm="SYMMETRIC_DEFAULT")[
        "CiphertextBlob"
    ]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="SYMMETRIC_DEFAULT")["Plaintext"] == b"alg"


def test_decrypt_every_single_byte_flip_is_invalid_ciphertext(kms, key):
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"tamper me")["CiphertextBlob"])
    wrong = []
    for i in range(len(blob)):
        t = bytearray(blob)
        t[i] ^= 0x01
        try:
            kms.decrypt(CiphertextBlob=bytes(t))
            wrong.append((i, "decrypted"))
        except kms.exceptions.ClientError as e:
            code = e.response["Error"]["Code"]
            if code != "InvalidCiphertextException":
                wrong.append((i, code))
    assert not wrong, f"byte positions (of {len(blob)}) not answered with InvalidCiphertextException: {wrong}"


def test_decrypt_truncated_blob_is_invalid_ciphertext(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"truncate me")["CiphertextBlob"]
    for cut in (1, 16, len(blob) // 2, len(blob) - 1):
        expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob[:cut])


def test_decrypt_random_bytes_is_invalid_ciphertext(kms):
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=os.urandom(120))


def test_decrypt_with_wrong_encryption_context_is_invalid_ciphertext(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext={"purpose": "a"})[
        "CiphertextBlob"
    ]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"purpose": "b"})
    expect_error(
        "InvalidCiphertextException",
        kms.decrypt,
        CiphertextBlob=blob,
        EncryptionContext={"purpose": "a", "extra": "x"},
    )
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"Purpose": "a"})


def test_decrypt_with_missing_encryption_context_is_invalid_ciphertext(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext={"purpose": "a"})[
        "CiphertextBlob"
    ]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)


def test_decrypt_with_context_when_none_was_used_is_invalid_ciphertext(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"no ctx")["CiphertextBlob"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"})


def test_decrypt_with_same_encryption_context_in_other_order_works(kms, key):
    ctx = {"b": "2", "a": "1", "c": "3"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ordered", EncryptionContext=ctx)["CiphertextBlob"]
    reordered = {"c": "3", "a": "1", "b": "2"}
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"ordered"


def test_encryption_context_boundaries_are_unambiguous(kms, key):
    blob_ab = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"ab": "c"})["CiphertextBlob"]
    blob_a = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"a": "bc"})["CiphertextBlob"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob_ab, EncryptionContext={"a": "bc"})
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob_a, EncryptionContext={"ab": "c"})
    assert kms.decrypt(CiphertextBlob=blob_ab, EncryptionContext={"ab": "c"})["Plaintext"] == b"p"
    assert kms.decrypt(CiphertextBlob=blob_a, EncryptionContext={"a": "bc"})["Plaintext"] == b"p"


def test_encryption_context_with_unicode_round_trips(kms, key):
    ctx = {"ключ": "значение", "emoji": "\U0001f511", "empty": ""}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"u", EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"u"


# ---------------------------------------------------------------- ReEncrypt


def test_re_encrypt_moves_ciphertext_to_destination_key(kms, key, other_key):
    src_ctx = {"stage": "source"}
    dst_ctx = {"stage": "destination"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext=src_ctx)["CiphertextBlob"]
    resp = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=src_ctx,
        DestinationKeyId=other_key["KeyId"],
        DestinationEncryptionContext=dst_ctx,
    )
    assert resp["SourceKeyId"] == key["Arn"]
    assert resp["KeyId"] == other_key["Arn"]
    assert resp["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert resp["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    new_blob = resp["CiphertextBlob"]
    assert new_blob != blob

    out = kms.decrypt(CiphertextBlob=new_blob, EncryptionContext=dst_ctx)
    assert out["Plaintext"] == b"move me"
    assert out["KeyId"] == other_key["Arn"]
    expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=new_blob, KeyId=key["KeyId"])
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=new_blob, EncryptionContext=src_ctx)


def test_re_encrypt_with_wrong_source_context_is_invalid_ciphertext(kms, key, other_key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"k": "v"})["CiphertextBlob"]
    expect_error(
        "InvalidCiphertextException",
        kms.re_encrypt,
        CiphertextBlob=blob,
        SourceEncryptionContext={"k": "other"},
        DestinationKeyId=other_key["KeyId"],
    )


def test_re_encrypt_with_wrong_source_key_id_is_incorrect_key(kms, key, other_key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    expect_error(
        "IncorrectKeyException",
        kms.re_encrypt,
        CiphertextBlob=blob,
        SourceKeyId=other_key["KeyId"],
        DestinationKeyId=other_key["KeyId"],
    )


def test_re_encrypt_to_unknown_destination_is_not_found(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    expect_error("NotFoundException", kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=str(uuid.uuid4()))


def test_re_encrypt_to_disabled_destination_is_disabled(kms, key, new_key):
    dst = new_key()["KeyId"]
    kms.disable_key(KeyId=dst)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    expect_error("DisabledException", kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=dst)


# ---------------------------------------------------------------- GenerateDataKey


@pytest.mark.parametrize("spec,size", [("AES_256", 32), ("AES_128", 16)])
def test_generate_data_key_by_key_spec(kms, key, spec, size):
    resp = kms.generate_data_key(KeyId=key["KeyId"], KeySpec=spec)
    assert len(resp["Plaintext"]) == size
    assert resp["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=resp["CiphertextBlob"])["Plaintext"] == resp["Plaintext"]


@pytest.mark.parametrize("n", [1, 64, 1024])
def test_generate_data_key_by_number_of_bytes(kms, key, n):
    resp = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=n)
    assert len(resp["Plaintext"]) == n
    assert kms.decrypt(CiphertextBlob=resp["CiphertextBlob"])["Plaintext"] == resp["Plaintext"]


def test_generate_data_key_returns_key_material_id(kms, key):
    resp = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert resp.get("KeyMaterialId") == key["CurrentKeyMaterialId"]


def test_generate_data_key_with_context_needs_it_to_decrypt(kms, key):
    resp = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"file": "a.txt"})
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=resp["CiphertextBlob"])
    out = kms.decrypt(CiphertextBlob=resp["CiphertextBlob"], EncryptionContext={"file": "a.txt"})
    assert out["Plaintext"] == resp["Plaintext"]


def test_generate_data_key_is_random(kms, key):
    a = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    b = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert a != b


def test_generate_data_key_with_both_key_spec_and_number_of_bytes_is_validation_error(kms_unvalidated, key):
    expect_error(
        "ValidationException",
        kms_unvalidated.generate_data_key,
        KeyId=key["KeyId"],
        KeySpec="AES_256",
        NumberOfBytes=32,
    )


def test_generate_data_key_with_neither_key_spec_nor_number_of_bytes_is_validation_error(kms_unvalidated, key):
    expect_error("ValidationException", kms_unvalidated.generate_data_key, KeyId=key["KeyId"])


@pytest.mark.parametrize("n", [0, 1025])
def test_generate_data_key_number_of_bytes_out_of_range_is_validation_error(kms_unvalidated, key, n):
    expect_error("ValidationException", kms_unvalidated.generate_data_key, KeyId=key["KeyId"], NumberOfBytes=n)


def test_generate_data_key_on_disabled_key_is_disabled(kms, new_key):
    kid = new_key()["KeyId"]
    kms.disable_key(KeyId=kid)
    expect_error("DisabledException", kms.generate_data_key, KeyId=kid, KeySpec="AES_256")


def test_generate_data_key_without_plaintext_has_no_plaintext(kms, key):
    resp = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in resp
    assert resp["KeyId"] == key["Arn"]
    out = kms.decrypt(CiphertextBlob=resp["CiphertextBlob"])
    assert len(out["Plaintext"]) == 32


def test_generate_data_key_without_plaintext_by_number_of_bytes(kms, key):
    resp = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=48)
    assert "Plaintext" not in resp
    assert len(kms.decrypt(CiphertextBlob=resp["CiphertextBlob"])["Plaintext"]) == 48


def test_generate_data_key_without_plaintext_with_both_specs_is_validation_error(kms_unvalidated, key):
    expect_error(
        "ValidationException",
        kms_unvalidated.generate_data_key_without_plaintext,
        KeyId=key["KeyId"],
        KeySpec="AES_128",
        NumberOfBytes=16,
    )


# ---------------------------------------------------------------- GenerateRandom


@pytest.mark.parametrize("n", [1, 32, 1024])
def test_generate_random_returns_requested_length(kms, n):
    assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n


def test_generate_random_differs_between_calls(kms):
    assert kms.generate_random(NumberOfBytes=32)["Plaintext"] != kms.generate_random(NumberOfBytes=32)["Plaintext"]


@pytest.mark.parametrize("n", [0, 1025])
def test_generate_random_out_of_range_is_validation_error(kms_unvalidated, n):
    expect_error("ValidationException", kms_unvalidated.generate_random, NumberOfBytes=n)
