"""The ciphertext blob and the wrapped key material are what docs/CIPHERTEXT.md says they are.

An independent implementation (Python `cryptography`, not Trent's code) reads the root key from
`root.key`, unwraps a key's material from the database, and decrypts a KMS blob with plain
AES-256-GCM, building the AAD exactly as the document describes. If any of these steps disagrees
with the server, the document (or the server) is wrong.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conftest import ACCOUNT_ID, REGION


def encode_context(ctx: dict[str, str]) -> bytes:
    out = struct.pack(">I", len(ctx))
    for k in sorted(ctx, key=lambda s: s.encode()):
        kb, vb = k.encode(), ctx[k].encode()
        out += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
    return out


def wrap_aad(purpose: str, ident: str, sub: bytes) -> bytes:
    aad = b"trent-wrap-v1"
    for part in (purpose.encode(), ident.encode(), sub):
        aad += struct.pack(">I", len(part)) + part
    return aad


def key_record(data_dir, key_id: str) -> dict:
    db = sqlite3.connect(f"file:{data_dir / 'trent.db'}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT v FROM kv WHERE tbl = 'kms_key' AND k = ?", (f"{ACCOUNT_ID}/{REGION}/{key_id}",)
        ).fetchone()
    finally:
        db.close()
    assert row is not None, "key record not found where docs/ARCHITECTURE.md says it is stored"
    return json.loads(row[0])


def unwrap_material(data_dir, key_id: str, material_id_hex: str) -> bytes:
    root = base64.b64decode((data_dir / "root.key").read_text().strip())
    assert len(root) == 32
    rec = key_record(data_dir, key_id)
    (material,) = [m for m in rec["materials"] if m["id"] == material_id_hex]
    wrapped = base64.b64decode(material["wrapped"])
    assert wrapped[0] == 1
    aad = wrap_aad("kms-key-material", key_id, bytes.fromhex(material_id_hex))
    key = AESGCM(root).decrypt(wrapped[1:13], wrapped[13:], aad)
    assert len(key) == 32
    return key


def parse_blob(blob: bytes):
    assert blob[0] == 1
    n = blob[1]
    key_id = blob[2 : 2 + n].decode("ascii")
    material_id = blob[2 + n : 34 + n]
    iv = blob[34 + n : 46 + n]
    return key_id, material_id, blob[: 34 + n], iv, blob[46 + n :]


def test_blob_decrypts_independently_with_documented_layout_and_aad(trent, kms, new_key):
    key_id = new_key()["KeyId"]
    ctx = {"tenant": "acme", "a": "bc", "ü": "ñ"}
    plaintext = b"independently verifiable"
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=ctx)["CiphertextBlob"]
    assert len(blob) == 2 + 36 + 32 + 12 + len(plaintext) + 16

    blob_key_id, material_id, header, iv, body = parse_blob(blob)
    assert blob_key_id == key_id
    assert material_id.hex() == kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]

    material = unwrap_material(trent.data_dir, key_id, material_id.hex())
    assert AESGCM(material).decrypt(iv, body, header + encode_context(ctx)) == plaintext
    with pytest.raises(InvalidTag):
        AESGCM(material).decrypt(iv, body, header + encode_context({"tenant": "acme"}))


def test_blob_made_independently_is_accepted_by_decrypt(trent, kms, new_key):
    key_id = new_key()["KeyId"]
    material_hex = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    material = unwrap_material(trent.data_dir, key_id, material_hex)
    header = bytes([1, len(key_id)]) + key_id.encode() + bytes.fromhex(material_hex)
    iv = bytes(range(12))
    ctx = {"made-by": "python"}
    body = AESGCM(material).encrypt(iv, b"from outside", header + encode_context(ctx))
    out = kms.decrypt(CiphertextBlob=header + iv + body, EncryptionContext=ctx)
    assert out["Plaintext"] == b"from outside"


def test_database_holds_no_unwrapped_material(trent, kms, new_key):
    key_id = new_key()["KeyId"]
    material_hex = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    material = unwrap_material(trent.data_dir, key_id, material_hex)
    for name in ("trent.db", "trent.db-wal"):
        path = trent.data_dir / name
        if path.exists():
            raw = path.read_bytes()
            assert material not in raw and base64.b64encode(material) not in raw and material.hex().encode() not in raw
