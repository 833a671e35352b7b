#!/usr/bin/env python3
"""Regenerates crates/trent-envelope/tests/vectors/ with the official Python aws-encryption-sdk.

Usage: .venv/bin/python scripts/gen-envelope-vectors.py   (after scripts/compat-venv.sh)

The corpus: raw AES (128/192/256) and raw RSA (OAEP-SHA1, OAEP-SHA256, PKCS#1) wrapping keys,
every algorithm suite, framed and non-framed bodies, empty and multi-entry encryption contexts,
messages with several encrypted data keys. `manifest.json` lists every message with the keys
that can decrypt it; plaintexts are not stored: plaintext byte i is (i * 31 + 7) % 256.
The wrapping keys are fixed (AES) or kept once generated (RSA, rsa-private.pem), so a
regeneration changes only the random parts of the messages.
"""

from __future__ import annotations

import base64
import json
import pathlib

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

OUT = pathlib.Path(__file__).resolve().parents[1] / "crates" / "trent-envelope" / "tests" / "vectors"


def plaintext(n: int) -> bytes:
    return bytes((i * 31 + 7) % 256 for i in range(n))


def rsa_pem() -> bytes:
    path = OUT / "rsa-private.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    return path.read_bytes()


# id -> (namespace, name, kind, material, wrapping algorithm, padding name for Rust)
KEYS = {
    "aes128": ("vectors-aes", "aes-128", "aes", bytes(range(16)), WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING, None),
    "aes192": ("vectors-aes", "aes-192", "aes", bytes(range(24)), WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING, None),
    "aes256": ("vectors-aes", "aes-256", "aes", bytes(range(32)), WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING, None),
}


def add_rsa_keys():
    pem = rsa_pem()
    KEYS["rsa-oaep-sha1"] = ("vectors-rsa", "rsa-oaep-sha1", "rsa", pem, WrappingAlgorithm.RSA_OAEP_SHA1_MGF1, "oaep-sha1")
    KEYS["rsa-oaep-sha256"] = ("vectors-rsa", "rsa-oaep-sha256", "rsa", pem, WrappingAlgorithm.RSA_OAEP_SHA256_MGF1, "oaep-sha256")
    KEYS["rsa-pkcs1"] = ("vectors-rsa", "rsa-pkcs1", "rsa", pem, WrappingAlgorithm.RSA_PKCS1, "pkcs1")


def provider_class(namespace, keys):
    """A raw master key provider class for one namespace, holding keys by name."""

    def _get_raw_key(self, key_id):
        return keys[key_id.decode() if isinstance(key_id, bytes) else key_id]

    return type("VectorsProvider", (RawMasterKeyProvider,), {"provider_id": namespace, "_get_raw_key": _get_raw_key})


def provider_for(key_ids):
    """A master key provider wrapping with every key of key_ids, in order."""
    root = None
    by_ns = {}
    for kid in key_ids:
        ns, name, kind, material, alg, _ = KEYS[kid]
        wk = WrappingKey(
            wrapping_algorithm=alg,
            wrapping_key=material,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC if kind == "aes" else EncryptionKeyType.PRIVATE,
        )
        by_ns.setdefault(ns, {})[name] = wk
    providers = {}
    for kid in key_ids:
        ns, name, *_ = KEYS[kid]
        if ns not in providers:
            providers[ns] = provider_class(ns, by_ns[ns])()
            if root is None:
                root = providers[ns]
            else:
                root.add_master_key_provider(providers[ns])
        providers[ns].add_master_key(name)
    return root


CONTEXTS = {
    "empty": {},
    "multi": {"purpose": "test vectors", "tenant": "trent", "z-last": "ünïcødé ✓", "a-first": ""},
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    add_rsa_keys()
    for old in OUT.glob("*.bin"):
        old.unlink()
    cases = []

    def emit(name, suite, key_ids, ctx, frame_length, size):
        policy = (
            CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
            if suite.is_committing()
            else CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
        )
        client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)
        ct, header = client.encrypt(
            source=plaintext(size),
            key_provider=provider_for(key_ids),
            encryption_context=CONTEXTS[ctx],
            algorithm=suite,
            frame_length=frame_length,
        )
        # Cross-check with the SDK itself before committing the vector.
        pt, _ = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
        ).decrypt(source=ct, key_provider=provider_for(key_ids))
        assert pt == plaintext(size)
        fname = f"{name}.bin"
        (OUT / fname).write_bytes(ct)
        cases.append(
            {
                "name": name,
                "file": fname,
                "suite": f"0x{suite.algorithm_id:04X}",
                "keys": key_ids,
                "encryption_context": CONTEXTS[ctx],
                "framed": frame_length > 0,
                "frame_length": frame_length,
                "plaintext_length": size,
            }
        )

    suites = list(Algorithm)
    for suite in suites:
        tag = f"{suite.algorithm_id:04x}"
        emit(f"{tag}-aes256-framed-multi", suite, ["aes256"], "multi", 256, 1000)
        emit(f"{tag}-aes128-framed-empty", suite, ["aes128"], "empty", 128, 512)
        emit(f"{tag}-rsa-nonframed-multi", suite, ["rsa-oaep-sha256"], "multi", 0, 300)
    for suite in (Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY):
        tag = f"{suite.algorithm_id:04x}"
        emit(f"{tag}-several-edks", suite, ["aes256", "rsa-oaep-sha1", "aes192", "rsa-pkcs1"], "multi", 4096, 9000)
        emit(f"{tag}-empty-plaintext", suite, ["aes256"], "empty", 4096, 0)
        emit(f"{tag}-rsa-pkcs1", suite, ["rsa-pkcs1"], "empty", 128, 200)
        emit(f"{tag}-rsa-oaep-sha1", suite, ["rsa-oaep-sha1"], "multi", 384, 768)
        emit(f"{tag}-aes192-nonframed", suite, ["aes192"], "empty", 0, 0)
    emit("0378-several-edks-legacy", Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
         ["aes128", "rsa-oaep-sha256"], "multi", 512, 2048)

    keys = {}
    for kid, (ns, name, kind, material, _alg, padding) in KEYS.items():
        entry = {"namespace": ns, "name": name, "type": kind}
        if kind == "aes":
            entry["key_base64"] = base64.b64encode(material).decode()
        else:
            entry["pem_file"] = "rsa-private.pem"
            entry["padding"] = padding
        keys[kid] = entry
    manifest = {
        "generator": f"aws-encryption-sdk {aws_encryption_sdk.__version__} (scripts/gen-envelope-vectors.py)",
        "plaintext_rule": "byte i = (i * 31 + 7) % 256",
        "keys": keys,
        "cases": cases,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(cases)} vectors, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
