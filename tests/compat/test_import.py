"""Bring your own key: key material wrapped outside Trent (OpenSSL, Python `cryptography`) is
imported, used, deleted, reimported; the errors and the expiry behave as on AWS."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

DAY = 86400


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def external_key(kms, **kw) -> str:
    md = kms.create_key(Origin="EXTERNAL", **kw)["KeyMetadata"]
    assert md["Origin"] == "EXTERNAL" and md["KeyState"] == "PendingImport" and md["Enabled"] is False
    return md["KeyId"]


def wrap_with_openssl(tmp_path, public_der: bytes, material: bytes) -> bytes:
    (tmp_path / "wrap.der").write_bytes(public_der)
    (tmp_path / "material.bin").write_bytes(material)
    subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", tmp_path / "wrap.der", "-out", tmp_path / "wrap.pem"], check=True)
    subprocess.run(
        ["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", tmp_path / "wrap.pem", "-pkeyopt", "rsa_padding_mode:oaep",
         "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", "-in", tmp_path / "material.bin", "-out", tmp_path / "enc.bin"],
        check=True,
    )
    return (tmp_path / "enc.bin").read_bytes()


def rsa_aes_key_wrap(public_der: bytes, material: bytes) -> bytes:
    public = serialization.load_der_public_key(public_der)
    ephemeral = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return public.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, material)


def import_material(kms, key, material, tmp_path=None, algorithm="RSAES_OAEP_SHA_256", **kw):
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_3072")
    if algorithm == "RSAES_OAEP_SHA_256":
        wrapped = wrap_with_openssl(tmp_path, params["PublicKey"], material)
    else:
        wrapped = rsa_aes_key_wrap(params["PublicKey"], material)
    return kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, **kw)


def test_openssl_wrapped_material_survives_delete_and_reimport(kms, tmp_path):
    key = external_key(kms)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert code(e) == "KMSInvalidStateException"
    material = os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_3072")
    valid_to = params["ParametersValidTo"] - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(hours=23) < valid_to <= dt.timedelta(hours=24)
    out = kms.import_key_material(
        KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrap_with_openssl(tmp_path, params["PublicKey"], material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    md = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert md["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"my own key")["CiphertextBlob"]
    deleted = kms.delete_imported_key_material(KeyId=key)
    assert deleted["KeyMaterialId"] == out["KeyMaterialId"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert code(e) == "KMSInvalidStateException"
    again = import_material(kms, key, material, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert again["KeyMaterialId"] == out["KeyMaterialId"], "the same material has the same id"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"my own key"


def test_different_material_wrong_and_expired_tokens_are_refused(trent_factory, tmp_path):
    srv = trent_factory()
    kms = srv.client()
    key = external_key(kms)
    import_material(kms, key, os.urandom(32), tmp_path)
    kms.delete_imported_key_material(KeyId=key)
    with pytest.raises(ClientError) as e:
        import_material(kms, key, os.urandom(32), tmp_path)
    assert code(e) == "IncorrectKeyMaterialException"
    other = external_key(kms)
    params = kms.get_parameters_for_import(KeyId=other, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_2048")
    wrapped = rsa_aes_key_wrap(params["PublicKey"], os.urandom(32))
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped)
    assert code(e) == "InvalidImportTokenException"
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=other, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b"\x00" * 300)
    assert code(e) == "InvalidCiphertextException"
    short = rsa_aes_key_wrap(params["PublicKey"], os.urandom(16))
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=other, ImportToken=params["ImportToken"], EncryptedKeyMaterial=short)
    assert code(e) == "ValidationException"
    srv.advance_clock(DAY + 60)
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=other, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped)
    assert code(e) == "ExpiredImportTokenException"
    plain = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=plain, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert code(e) == "UnsupportedOperationException"


def test_material_past_valid_to_is_deleted_by_the_scheduler(trent_factory, tmp_path):
    srv = trent_factory()
    kms = srv.client()
    key = external_key(kms)
    valid_to = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    import_material(kms, key, os.urandom(32), tmp_path, ValidTo=valid_to, ExpirationModel="KEY_MATERIAL_EXPIRES")
    md = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert md["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and "ValidTo" in md
    srv.advance_clock(3 * DAY)
    deadline = time.monotonic() + 15
    while kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] != "PendingImport":
        assert time.monotonic() < deadline, "expired material was not deleted"
        time.sleep(0.1)


def test_an_imported_ec_private_key_signs_verifiably(kms):
    key = external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    import_material(kms, key, pkcs8, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert kms.get_public_key(KeyId=key)["PublicKey"] == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sig = kms.sign(KeyId=key, Message=b"imported", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(sig, b"imported", ec.ECDSA(hashes.SHA256()))
    wrong_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    other = external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        import_material(kms, other, wrong_curve, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert code(e) == "ValidationException"
