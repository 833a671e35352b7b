"""Asymmetric, HMAC, ECDH and ML-KEM keys: interoperability with independent implementations.

Whatever trentd signs, encrypts, derives or encapsulates is checked outside KMS: with Python
`cryptography`, the `openssl` command line and, where neither implements the algorithm
(Ed25519ph), an RFC 8032 reference verifier in interop.py. Every key spec is created once per
module (RSA_3072/4096 generation is slow on a debug build) and reused.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa, utils

import interop
from conftest import expect_error

# --------------------------------------------------------------------------------------
# The specification under test (AWS KMS)
# --------------------------------------------------------------------------------------

RSA_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096"]
RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
RSA_SIGNING = [
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
]
RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
ECC_NIST = ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"]
ECC_CURVE = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
ECC_SHARED_SECRET_LEN = {"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}
HMAC_SPECS = {"HMAC_224": ("HMAC_SHA_224", 28), "HMAC_256": ("HMAC_SHA_256", 32),
              "HMAC_384": ("HMAC_SHA_384", 48), "HMAC_512": ("HMAC_SHA_512", 64)}
ML_DSA = {  # spec: (cryptography class, SPKI OID, public key bytes, signature bytes)
    "ML_DSA_44": (mldsa.MLDSA44PublicKey, "2.16.840.1.101.3.4.3.17", 1312, 2420),
    "ML_DSA_65": (mldsa.MLDSA65PublicKey, "2.16.840.1.101.3.4.3.18", 1952, 3309),
    "ML_DSA_87": (mldsa.MLDSA87PublicKey, "2.16.840.1.101.3.4.3.19", 2592, 4627),
}
ML_KEM = {  # spec: (SPKI OID, encapsulation key bytes, ciphertext bytes, cryptography class name)
    "ML_KEM_512": ("2.16.840.1.101.3.4.4.1", 800, 768, "MLKEM512PublicKey"),
    "ML_KEM_768": ("2.16.840.1.101.3.4.4.2", 1184, 1088, "MLKEM768PublicKey"),
    "ML_KEM_1024": ("2.16.840.1.101.3.4.4.3", 1568, 1568, "MLKEM1024PublicKey"),
}

SIGNING = {  # spec -> the signing algorithms AWS KMS allows for it
    **{s: RSA_SIGNING for s in RSA_SPECS},
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    **{s: ["ML_DSA_SHAKE_256"] for s in ML_DSA},
}

HASH = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
HASHLIB = {"SHA_256": "sha256", "SHA_384": "sha384", "SHA_512": "sha512"}


def alg_hash(alg: str) -> str:
    """'SHA_256' etc. for an RSA/ECDSA/Ed25519 signing algorithm name."""
    return alg[-7:]


def message_types(alg: str) -> list[str]:
    if alg == "ED25519_SHA_512" or alg == "ML_DSA_SHAKE_256":
        return ["RAW"]
    return ["RAW", "DIGEST"]


SIGN_CASES = [
    pytest.param(spec, alg, mt, id=f"{spec}-{alg}-{mt}")
    for spec, algs in SIGNING.items()
    for alg in algs
    for mt in message_types(alg)
]

# Every (KeySpec, KeyUsage) pair AWS KMS accepts, with the algorithm list DescribeKey carries.
USAGE_PAIRS = {
    **{(s, "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", RSA_ENCRYPTION) for s in RSA_SPECS},
    **{(s, "SIGN_VERIFY"): ("SigningAlgorithms", algs) for s, algs in SIGNING.items()},
    **{(s, "KEY_AGREEMENT"): ("KeyAgreementAlgorithms", ["ECDH"]) for s in ECC_NIST},
    **{(s, "GENERATE_VERIFY_MAC"): ("MacAlgorithms", [mac]) for s, (mac, _) in HMAC_SPECS.items()},
    **{(s, "ENCAPSULATE_DECAPSULATE"): ("EncapsulationAlgorithms", ["ML_KEM"]) for s in ML_KEM},
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", ["SYMMETRIC_DEFAULT"]),
}
ALGORITHM_FIELDS = ["EncryptionAlgorithms", "SigningAlgorithms", "KeyAgreementAlgorithms",
                    "MacAlgorithms", "EncapsulationAlgorithms"]

# The deprecated CustomerMasterKeySpec enum was frozen before Ed25519, ML-DSA and ML-KEM.
LEGACY_CMK_SPECS = {"SYMMETRIC_DEFAULT", *RSA_SPECS, *ECC_CURVE, *HMAC_SPECS, "SM2"}


def check_customer_master_key_spec(md: dict, spec: str) -> None:
    if spec in LEGACY_CMK_SPECS:
        assert md.get("CustomerMasterKeySpec") == spec
    else:
        assert "CustomerMasterKeySpec" not in md, f"{spec} is not a CustomerMasterKeySpec value"


MESSAGE = b"Trent interop: the quick brown fox jumps over the lazy dog \x00\xff" * 3

OPENSSL = interop.openssl_version()
OPENSSL_HAS_ED25519PH = OPENSSL is not None and OPENSSL >= (3, 2, 0)
OPENSSL_HAS_PQC = OPENSSL is not None and OPENSSL >= (3, 5, 0)


# --------------------------------------------------------------------------------------
# Keys: one per (spec, usage) for the whole module
# --------------------------------------------------------------------------------------


class Keyring:
    def __init__(self, kms):
        self.kms = kms
        self.created: dict = {}
        self.public: dict = {}

    def key(self, spec: str, usage: str) -> dict:
        if (spec, usage) not in self.created:
            resp = self.kms.create_key(
                KeySpec=spec, KeyUsage=usage, Description=f"asymmetric interop {spec} {usage}"
            )
            self.created[(spec, usage)] = resp["KeyMetadata"]
        return self.created[(spec, usage)]

    def key_id(self, spec: str, usage: str) -> str:
        return self.key(spec, usage)["KeyId"]

    def get_public_key(self, spec: str, usage: str) -> dict:
        if (spec, usage) not in self.public:
            self.public[(spec, usage)] = self.kms.get_public_key(KeyId=self.key_id(spec, usage))
        return self.public[(spec, usage)]

    def spki(self, spec: str, usage: str) -> bytes:
        return self.get_public_key(spec, usage)["PublicKey"]


@pytest.fixture(scope="module")
def keys(kms) -> Keyring:
    return Keyring(kms)


@pytest.fixture(scope="module")
def sym_key(kms) -> dict:
    return kms.create_key(Description="asymmetric interop: symmetric key")["KeyMetadata"]


def flip(data: bytes, index: int | None = None) -> bytes:
    """`data` with one byte changed (the middle one unless told)."""
    i = len(data) // 2 if index is None else index
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


# --------------------------------------------------------------------------------------
# Local verification of a KMS signature with Python `cryptography` (or interop.py)
# --------------------------------------------------------------------------------------


def verify_locally(spec: str, alg: str, spki: bytes, message: bytes, signature: bytes) -> None:
    """Raises (InvalidSignature / AssertionError) unless `signature` is a valid `alg` signature
    of `message` (always the full message, even when KMS was given only its digest)."""
    if alg == "ED25519_PH_SHA_512":
        _, _, raw = interop.parse_spki(spki)
        if not interop.ed25519_verify(raw, message, signature, prehash=True):
            raise InvalidSignature("Ed25519ph (RFC 8032 reference verifier) rejected the signature")
        return
    pub = serialization.load_der_public_key(spki)
    if alg.startswith("RSASSA_PSS_"):
        h = HASH[alg_hash(alg)]()
        # DIGEST_LENGTH: the salt must be exactly as long as the hash (AWS KMS's PSS parameters);
        # OpenSSL's PSS verify with a fixed salt length rejects any other length.
        pub.verify(signature, message, padding.PSS(padding.MGF1(h), padding.PSS.DIGEST_LENGTH), h)
    elif alg.startswith("RSASSA_PKCS1_V1_5_"):
        pub.verify(signature, message, padding.PKCS1v15(), HASH[alg_hash(alg)]())
    elif alg.startswith("ECDSA_"):
        pub.verify(signature, message, ec.ECDSA(HASH[alg_hash(alg)]()))
    elif alg == "ED25519_SHA_512":
        pub.verify(signature, message)
    elif alg == "ML_DSA_SHAKE_256":
        pub.verify(signature, message)  # pure ML-DSA, empty context
    else:
        raise AssertionError(f"no local verifier for {alg}")


def sign_input(alg: str, mt: str, message: bytes) -> bytes:
    if mt == "RAW":
        return message
    if alg == "ED25519_PH_SHA_512":
        return hashlib.sha512(message).digest()
    return hashlib.new(HASHLIB[alg_hash(alg)], message).digest()


# --------------------------------------------------------------------------------------
# Sign: every spec x algorithm x message type, verified outside KMS
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec,alg,mt", SIGN_CASES)
def test_kms_signature_verifies_locally_and_tampering_is_rejected(kms, keys, spec, alg, mt):
    key = keys.key(spec, "SIGN_VERIFY")
    spki = keys.spki(spec, "SIGN_VERIFY")
    data = sign_input(alg, mt, MESSAGE)

    resp = kms.sign(KeyId=key["KeyId"], Message=data, MessageType=mt, SigningAlgorithm=alg)
    assert resp["KeyId"] == key["Arn"]
    assert resp["SigningAlgorithm"] == alg
    sig = resp["Signature"]

    verify_locally(spec, alg, spki, MESSAGE, sig)

    ok = kms.verify(KeyId=key["KeyId"], Message=data, MessageType=mt, Signature=sig, SigningAlgorithm=alg)
    assert ok["SignatureValid"] is True
    assert ok["KeyId"] == key["Arn"] and ok["SigningAlgorithm"] == alg

    bad = flip(sig)
    expect_error("KMSInvalidSignatureException", kms.verify, KeyId=key["KeyId"], Message=data,
                 MessageType=mt, Signature=bad, SigningAlgorithm=alg)
    with pytest.raises((InvalidSignature, ValueError)):
        verify_locally(spec, alg, spki, MESSAGE, bad)

    # The signature is over this message only.
    other = sign_input(alg, mt, MESSAGE + b"!")
    expect_error("KMSInvalidSignatureException", kms.verify, KeyId=key["KeyId"], Message=other,
                 MessageType=mt, Signature=sig, SigningAlgorithm=alg)


@pytest.mark.parametrize("spec", [s for s in SIGNING if s in RSA_SPECS])
@pytest.mark.parametrize("hash_name", ["SHA_256", "SHA_384", "SHA_512"])
def test_rsa_pss_salt_length_equals_hash_length(kms, keys, spec, hash_name):
    """Recovers the salt from the signature with the public key alone (RFC 8017 EMSA-PSS)."""
    key_id = keys.key_id(spec, "SIGN_VERIFY")
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=f"RSASSA_PSS_{hash_name}")["Signature"]
    nums = serialization.load_der_public_key(keys.spki(spec, "SIGN_VERIFY")).public_numbers()
    assert len(sig) == RSA_BITS[spec] // 8
    salt = interop.pss_salt_length(nums.n, nums.e, sig, MESSAGE, HASHLIB[hash_name])
    assert salt == hashlib.new(HASHLIB[hash_name]).digest_size
    # PSS is randomized: two signatures of the same message differ.
    again = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=f"RSASSA_PSS_{hash_name}")["Signature"]
    assert again != sig


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"])
def test_ecdsa_signature_is_der_with_scalars_in_range(kms, keys, spec):
    alg = SIGNING[spec][0]
    sig = kms.sign(KeyId=keys.key_id(spec, "SIGN_VERIFY"), Message=MESSAGE, SigningAlgorithm=alg)["Signature"]
    tag, body, end = interop.der_read(sig)
    assert tag == 0x30 and end == len(sig), "ECDSA signature is not one DER SEQUENCE"
    assert [t for t, _ in interop.der_children(body)] == [0x02, 0x02], "not SEQUENCE { INTEGER r, INTEGER s }"
    r, s = utils.decode_dss_signature(sig)
    order = {
        "ECC_NIST_P256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        "ECC_NIST_P384": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                             "581A0DB248B0A77AECEC196ACCC52973", 16),
        "ECC_NIST_P521": int("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7"
                             "FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16),
        "ECC_SECG_P256K1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    }[spec]
    assert 0 < r < order and 0 < s < order


def test_ed25519_signatures_are_deterministic_and_ph_digest_equals_ph_raw(kms, keys):
    key_id = keys.key_id("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    a = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ED25519_SHA_512")["Signature"]
    b = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ED25519_SHA_512")["Signature"]
    assert a == b and len(a) == 64
    ph_raw = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ED25519_PH_SHA_512")["Signature"]
    ph_digest = kms.sign(KeyId=key_id, Message=hashlib.sha512(MESSAGE).digest(), MessageType="DIGEST",
                         SigningAlgorithm="ED25519_PH_SHA_512")["Signature"]
    assert ph_raw == ph_digest, "Ed25519ph over RAW must hash the message and equal Ed25519ph over its DIGEST"
    assert ph_raw != a, "Ed25519ph (dom2 prefix) must differ from pure Ed25519"
    # A pure Ed25519 signature is not an Ed25519ph signature and vice versa.
    raw = interop.parse_spki(keys.spki("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"))[2]
    assert not interop.ed25519_verify(raw, MESSAGE, a, prehash=True)
    assert not interop.ed25519_verify(raw, MESSAGE, ph_raw, prehash=False)
    expect_error("KMSInvalidSignatureException", kms.verify, KeyId=key_id, Message=MESSAGE, Signature=a,
                 SigningAlgorithm="ED25519_PH_SHA_512")


def test_ed25519_reference_verifier_self_check():
    """The interop.py verifier used for Ed25519ph agrees with `cryptography` on Ed25519 and
    accepts the RFC 8032 section 7.3 Ed25519ph test vector."""
    priv = ed25519.Ed25519PrivateKey.generate()
    pub = priv.public_key().public_bytes_raw()
    sig = priv.sign(b"abc")
    assert interop.ed25519_verify(pub, b"abc", sig)
    assert not interop.ed25519_verify(pub, b"abd", sig)
    assert not interop.ed25519_verify(pub, b"abc", flip(sig))
    rfc_pub = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
    rfc_sig = bytes.fromhex(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
        "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
    )
    assert interop.ed25519_verify(rfc_pub, b"abc", rfc_sig, prehash=True)
    assert not interop.ed25519_verify(rfc_pub, b"abc", rfc_sig, prehash=False)
    assert not interop.ed25519_verify(rfc_pub, b"abd", rfc_sig, prehash=True)


@pytest.mark.parametrize("spec", list(ML_DSA))
def test_ml_dsa_signature_sizes_and_public_key_encoding(kms, keys, spec):
    cls, oid, pk_len, sig_len = ML_DSA[spec]
    spki = keys.spki(spec, "SIGN_VERIFY")
    got_oid, params, raw = interop.parse_spki(spki)
    assert got_oid == oid and params == [], "ML-DSA AlgorithmIdentifier: the FIPS 204 OID, no parameters"
    assert len(raw) == pk_len
    assert isinstance(serialization.load_der_public_key(spki), cls)
    assert cls.from_public_bytes(raw).public_bytes_raw() == raw
    sig = kms.sign(KeyId=keys.key_id(spec, "SIGN_VERIFY"), Message=MESSAGE,
                   SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    assert len(sig) == sig_len
    # Pure ML-DSA with an empty context: a non-empty context must not verify.
    with pytest.raises(InvalidSignature):
        serialization.load_der_public_key(spki).verify(sig, MESSAGE, b"ctx")


# --------------------------------------------------------------------------------------
# The same signatures checked by the openssl command line
# --------------------------------------------------------------------------------------

OPENSSL_CASES = [
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", []),
    ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384", []),
    ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_512", []),
    ("RSA_2048", "RSASSA_PSS_SHA_256", ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"]),
    ("RSA_3072", "RSASSA_PSS_SHA_384", ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"]),
    ("RSA_4096", "RSASSA_PSS_SHA_512", ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"]),
    ("ECC_NIST_P256", "ECDSA_SHA_256", []),
    ("ECC_NIST_P384", "ECDSA_SHA_384", []),
    ("ECC_NIST_P521", "ECDSA_SHA_512", []),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256", []),
]


def need_openssl():
    if OPENSSL is None:
        pytest.skip("no openssl command on PATH")


@pytest.mark.parametrize("mt", ["RAW", "DIGEST"])
@pytest.mark.parametrize("spec,alg,sigopts", [pytest.param(*c, id=f"{c[0]}-{c[1]}") for c in OPENSSL_CASES])
def test_openssl_dgst_verifies_kms_signature(kms, keys, spec, alg, sigopts, mt):
    need_openssl()
    spki = keys.spki(spec, "SIGN_VERIFY")
    sig = kms.sign(KeyId=keys.key_id(spec, "SIGN_VERIFY"), Message=sign_input(alg, mt, MESSAGE),
                   MessageType=mt, SigningAlgorithm=alg)["Signature"]
    digest = HASHLIB[alg_hash(alg)]
    p = interop.openssl_dgst_verify(spki, MESSAGE, sig, digest, sigopts)
    assert p.returncode == 0 and "Verified OK" in p.stdout, f"openssl rejected: {p.stdout} {p.stderr}"
    p = interop.openssl_dgst_verify(spki, MESSAGE, flip(sig), digest, sigopts)
    assert p.returncode != 0, "openssl accepted a tampered signature"


@pytest.mark.parametrize("spec,alg,sigopts", [pytest.param(*c, id=f"{c[0]}-{c[1]}")
                                              for c in OPENSSL_CASES if c[0] in ("RSA_2048", "ECC_NIST_P384")])
def test_openssl_pkeyutl_verifies_kms_digest_signature(kms, keys, spec, alg, sigopts):
    need_openssl()
    spki = keys.spki(spec, "SIGN_VERIFY")
    digest = sign_input(alg, "DIGEST", MESSAGE)
    sig = kms.sign(KeyId=keys.key_id(spec, "SIGN_VERIFY"), Message=digest, MessageType="DIGEST",
                   SigningAlgorithm=alg)["Signature"]
    opts = [f"digest:{HASHLIB[alg_hash(alg)]}"] + sigopts
    p = interop.openssl_pkeyutl_verify(spki, digest, sig, pkeyopts=opts)
    assert p.returncode == 0 and "Signature Verified Successfully" in p.stdout, f"{p.stdout} {p.stderr}"


def test_openssl_verifies_kms_ed25519_signature(kms, keys):
    need_openssl()
    spki = keys.spki("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    sig = kms.sign(KeyId=keys.key_id("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"), Message=MESSAGE,
                   SigningAlgorithm="ED25519_SHA_512")["Signature"]
    p = interop.openssl_pkeyutl_verify(spki, MESSAGE, sig, rawin=True)
    assert p.returncode == 0 and "Signature Verified Successfully" in p.stdout, f"{p.stdout} {p.stderr}"
    p = interop.openssl_pkeyutl_verify(spki, MESSAGE, flip(sig), rawin=True)
    assert p.returncode != 0


@pytest.mark.skipif(not OPENSSL_HAS_ED25519PH,
                    reason=f"{interop.openssl_version_text()} has no Ed25519ph (instance:Ed25519ph needs "
                           "OpenSSL >= 3.2); Ed25519ph is still checked by the RFC 8032 reference verifier")
def test_openssl_verifies_kms_ed25519ph_signature(kms, keys):
    spki = keys.spki("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    sig = kms.sign(KeyId=keys.key_id("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"), Message=MESSAGE,
                   SigningAlgorithm="ED25519_PH_SHA_512")["Signature"]
    p = interop.openssl_pkeyutl_verify(spki, MESSAGE, sig, rawin=True, pkeyopts=["instance:Ed25519ph"])
    assert p.returncode == 0 and "Signature Verified Successfully" in p.stdout, f"{p.stdout} {p.stderr}"
    p = interop.openssl_pkeyutl_verify(spki, MESSAGE, flip(sig), rawin=True, pkeyopts=["instance:Ed25519ph"])
    assert p.returncode != 0


@pytest.mark.skipif(not OPENSSL_HAS_PQC,
                    reason=f"{interop.openssl_version_text()} has no ML-DSA (needs OpenSSL >= 3.5); "
                           "ML-DSA is still checked with Python cryptography")
@pytest.mark.parametrize("spec", list(ML_DSA))
def test_openssl_verifies_kms_ml_dsa_signature(kms, keys, spec):
    spki = keys.spki(spec, "SIGN_VERIFY")
    sig = kms.sign(KeyId=keys.key_id(spec, "SIGN_VERIFY"), Message=MESSAGE,
                   SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    p = interop.openssl_pkeyutl_verify(spki, MESSAGE, sig, rawin=True)
    assert p.returncode == 0 and "Signature Verified Successfully" in p.stdout, f"{p.stdout} {p.stderr}"


# --------------------------------------------------------------------------------------
# GetPublicKey
# --------------------------------------------------------------------------------------

PUBLIC_KEY_CASES = [pair for pair in USAGE_PAIRS if pair[1] != "GENERATE_VERIFY_MAC" and pair[0] != "SYMMETRIC_DEFAULT"]


@pytest.mark.parametrize("spec,usage", [pytest.param(*p, id=f"{p[0]}-{p[1]}") for p in PUBLIC_KEY_CASES])
def test_get_public_key_is_spki_for_the_spec_with_its_algorithms(keys, spec, usage):
    key = keys.key(spec, usage)
    resp = keys.get_public_key(spec, usage)
    assert resp["KeyId"] == key["Arn"]
    assert resp["KeySpec"] == spec
    check_customer_master_key_spec(resp, spec)
    assert resp["KeyUsage"] == usage
    field, algs = USAGE_PAIRS[(spec, usage)]
    assert sorted(resp[field]) == sorted(algs) and len(resp[field]) == len(algs)
    for other in ALGORITHM_FIELDS:
        if other != field:
            assert other not in resp, f"GetPublicKey of a {usage} key carries {other}"

    spki = resp["PublicKey"]
    oid, params, raw = interop.parse_spki(spki)
    if spec in RSA_SPECS:
        pub = serialization.load_der_public_key(spki)
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == RSA_BITS[spec]
        assert pub.public_numbers().e == 65537
        assert oid == "1.2.840.113549.1.1.1"
    elif spec in ECC_CURVE:
        pub = serialization.load_der_public_key(spki)
        assert isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ECC_CURVE[spec])
        assert oid == "1.2.840.10045.2.1"
        assert raw[0] == 0x04, "EC point must be uncompressed"
    elif spec == "ECC_NIST_EDWARDS25519":
        pub = serialization.load_der_public_key(spki)
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        assert oid == "1.3.101.112" and params == [] and len(raw) == 32
    elif spec in ML_DSA:
        assert isinstance(serialization.load_der_public_key(spki), ML_DSA[spec][0])
        assert oid == ML_DSA[spec][1] and params == [] and len(raw) == ML_DSA[spec][2]
    elif spec in ML_KEM:
        assert oid == ML_KEM[spec][0], f"{spec} SPKI OID"
        assert params == [], "ML-KEM AlgorithmIdentifier has no parameters"
        assert len(raw) == ML_KEM[spec][1], f"{spec} encapsulation key length"
    else:
        raise AssertionError(spec)
    # The public key is stable.
    assert keys.kms.get_public_key(KeyId=key["Arn"])["PublicKey"] == spki


def test_get_public_key_on_symmetric_key_is_unsupported(kms, sym_key):
    expect_error("UnsupportedOperationException", kms.get_public_key, KeyId=sym_key["KeyId"])


def test_get_public_key_on_hmac_key_is_unsupported(kms, keys):
    expect_error("UnsupportedOperationException", kms.get_public_key,
                 KeyId=keys.key_id("HMAC_256", "GENERATE_VERIFY_MAC"))


# --------------------------------------------------------------------------------------
# CreateKey / DescribeKey metadata
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec,usage", [pytest.param(*p, id=f"{p[0]}-{p[1]}") for p in USAGE_PAIRS])
def test_describe_key_carries_exactly_the_algorithms_for_the_usage(kms, keys, sym_key, spec, usage):
    created = sym_key if spec == "SYMMETRIC_DEFAULT" else keys.key(spec, usage)
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    field, algs = USAGE_PAIRS[(spec, usage)]
    for md, where in ((created, "CreateKey"), (described, "DescribeKey")):
        assert md["KeySpec"] == spec, where
        check_customer_master_key_spec(md, spec)
        assert md["KeyUsage"] == usage, where
        assert md["KeyState"] == "Enabled" and md["Enabled"] is True, where
        got = md.get(field)
        assert got is not None and sorted(got) == sorted(algs) and len(got) == len(algs), (
            f"{where} {field} = {got}, expected {algs}"
        )
        extra = [f for f in ALGORITHM_FIELDS if f != field and f in md]
        assert not extra, f"{where} of a {spec}/{usage} key also carries {extra}"


def test_rsa_key_usage_defaults_to_encrypt_decrypt(kms):
    md = kms.create_key(KeySpec="RSA_2048", Description="rsa default usage")["KeyMetadata"]
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert sorted(md["EncryptionAlgorithms"]) == sorted(RSA_ENCRYPTION)


@pytest.mark.parametrize(
    "spec,usage",
    [
        ("ECC_NIST_P256", None),
        ("ECC_NIST_P384", None),
        ("ECC_NIST_P521", None),
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("ECC_SECG_P256K1", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_EDWARDS25519", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("RSA_2048", "GENERATE_VERIFY_MAC"),
        ("HMAC_256", "SIGN_VERIFY"),
        ("HMAC_256", "ENCRYPT_DECRYPT"),
        ("ML_DSA_44", "ENCRYPT_DECRYPT"),
        ("ML_KEM_768", "SIGN_VERIFY"),
        ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
    ],
)
def test_create_key_with_usage_not_allowed_for_spec_is_validation_error(kms, spec, usage):
    kw = {"KeySpec": spec, "Description": "bad spec/usage"}
    if usage:
        kw["KeyUsage"] = usage
    expect_error("ValidationException", kms.create_key, **kw)


@pytest.mark.parametrize("usage", [None, "SIGN_VERIFY"])
def test_sm2_key_spec_is_unsupported(kms, usage):
    kw = {"KeySpec": "SM2", "Description": "sm2"}
    if usage:
        kw["KeyUsage"] = usage
    expect_error("UnsupportedOperationException", kms.create_key, **kw)


# --------------------------------------------------------------------------------------
# Sign / Verify errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,alg,length",
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256", 31),
        ("ECC_NIST_P256", "ECDSA_SHA_256", 33),
        ("ECC_NIST_P384", "ECDSA_SHA_384", 32),
        ("ECC_NIST_P521", "ECDSA_SHA_512", 48),
        ("RSA_2048", "RSASSA_PSS_SHA_256", 48),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512", 32),
        ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", 32),
    ],
)
def test_digest_of_wrong_length_is_validation_error(kms, keys, spec, alg, length):
    key_id = keys.key_id(spec, "SIGN_VERIFY")
    expect_error("ValidationException", kms.sign, KeyId=key_id, Message=b"\x11" * length,
                 MessageType="DIGEST", SigningAlgorithm=alg)
    expect_error("ValidationException", kms.verify, KeyId=key_id, Message=b"\x11" * length,
                 MessageType="DIGEST", Signature=b"\x00" * 64, SigningAlgorithm=alg)


@pytest.mark.parametrize("spec,alg", [("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"), ("ML_DSA_44", "ML_DSA_SHAKE_256")])
def test_digest_message_type_with_a_raw_only_algorithm_is_validation_error(kms, keys, spec, alg):
    expect_error("ValidationException", kms.sign, KeyId=keys.key_id(spec, "SIGN_VERIFY"),
                 Message=b"\x11" * 64, MessageType="DIGEST", SigningAlgorithm=alg)


def test_message_of_4096_bytes_signs_and_4097_is_validation_error(kms, kms_unvalidated, keys):
    key_id = keys.key_id("ECC_NIST_P256", "SIGN_VERIFY")
    sig = kms.sign(KeyId=key_id, Message=b"m" * 4096, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    verify_locally("ECC_NIST_P256", "ECDSA_SHA_256", keys.spki("ECC_NIST_P256", "SIGN_VERIFY"), b"m" * 4096, sig)
    expect_error("ValidationException", kms_unvalidated.sign, KeyId=key_id, Message=b"m" * 4097,
                 SigningAlgorithm="ECDSA_SHA_256")
    expect_error("ValidationException", kms_unvalidated.verify, KeyId=key_id, Message=b"m" * 4097,
                 Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
    expect_error("ValidationException", kms_unvalidated.sign, KeyId=key_id, Message=b"",
                 SigningAlgorithm="ECDSA_SHA_256")


@pytest.mark.parametrize(
    "spec,alg",
    [
        ("ECC_NIST_P256", "ECDSA_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_512"),
        ("ECC_NIST_P384", "ECDSA_SHA_256"),
        ("ECC_NIST_P521", "ECDSA_SHA_256"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_384"),
        ("ECC_NIST_P256", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "ECDSA_SHA_256"),
        ("RSA_2048", "ED25519_SHA_512"),
        ("ECC_NIST_EDWARDS25519", "ECDSA_SHA_512"),
        ("ML_DSA_65", "ED25519_SHA_512"),
        ("ECC_NIST_P256", "ML_DSA_SHAKE_256"),
    ],
)
def test_signing_algorithm_not_allowed_for_key_is_invalid_key_usage(kms, keys, spec, alg):
    key_id = keys.key_id(spec, "SIGN_VERIFY")
    expect_error("InvalidKeyUsageException", kms.sign, KeyId=key_id, Message=b"m", SigningAlgorithm=alg)
    expect_error("InvalidKeyUsageException", kms.verify, KeyId=key_id, Message=b"m", Signature=b"\x00" * 64,
                 SigningAlgorithm=alg)


def test_signature_made_with_another_rsa_algorithm_does_not_verify(kms, keys):
    key_id = keys.key_id("RSA_2048", "SIGN_VERIFY")
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    for alg in ("RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_384"):
        expect_error("KMSInvalidSignatureException", kms.verify, KeyId=key_id, Message=MESSAGE,
                     Signature=sig, SigningAlgorithm=alg)


def test_signature_from_another_key_does_not_verify(kms, keys):
    sig = kms.sign(KeyId=keys.key_id("RSA_2048", "SIGN_VERIFY"), Message=MESSAGE,
                   SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")["Signature"]
    expect_error("KMSInvalidSignatureException", kms.verify, KeyId=keys.key_id("RSA_3072", "SIGN_VERIFY"),
                 Message=MESSAGE, Signature=sig, SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")


def test_garbage_and_truncated_signatures_are_invalid_signature(kms, keys):
    for spec, alg in (("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
                      ("ML_DSA_44", "ML_DSA_SHAKE_256"), ("RSA_2048", "RSASSA_PSS_SHA_256")):
        key_id = keys.key_id(spec, "SIGN_VERIFY")
        sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=alg)["Signature"]
        for bad in (sig[:-1], b"\x30\x03\x02\x01\x01", b"\x00"):
            expect_error("KMSInvalidSignatureException", kms.verify, KeyId=key_id, Message=MESSAGE,
                         Signature=bad, SigningAlgorithm=alg)


@pytest.mark.parametrize(
    "spec,usage",
    [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "KEY_AGREEMENT"), ("HMAC_256", "GENERATE_VERIFY_MAC"),
     ("ML_KEM_512", "ENCAPSULATE_DECAPSULATE")],
)
def test_sign_with_a_key_of_another_usage_is_invalid_key_usage(kms, keys, spec, usage):
    alg = {"RSA_2048": "RSASSA_PSS_SHA_256", "ECC_NIST_P256": "ECDSA_SHA_256"}.get(spec, "ECDSA_SHA_256")
    key_id = keys.key_id(spec, usage)
    expect_error("InvalidKeyUsageException", kms.sign, KeyId=key_id, Message=b"m", SigningAlgorithm=alg)
    expect_error("InvalidKeyUsageException", kms.verify, KeyId=key_id, Message=b"m", Signature=b"\x00" * 64,
                 SigningAlgorithm=alg)


def test_sign_with_a_symmetric_key_is_invalid_key_usage(kms, sym_key):
    expect_error("InvalidKeyUsageException", kms.sign, KeyId=sym_key["KeyId"], Message=b"m",
                 SigningAlgorithm="RSASSA_PSS_SHA_256")


def test_external_mu_on_ml_dsa_is_unsupported(kms, keys):
    expect_error("UnsupportedOperationException", kms.sign, KeyId=keys.key_id("ML_DSA_44", "SIGN_VERIFY"),
                 Message=b"\x22" * 64, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")


# --------------------------------------------------------------------------------------
# RSA OAEP: Encrypt / Decrypt / ReEncrypt
# --------------------------------------------------------------------------------------

OAEP_HASH = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}


def oaep(alg: str) -> padding.OAEP:
    h = OAEP_HASH[alg]()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def oaep_max(spec: str, alg: str) -> int:
    return RSA_BITS[spec] // 8 - 2 * OAEP_HASH[alg].digest_size - 2


def test_oaep_limits_match_the_documented_values():
    assert oaep_max("RSA_2048", "RSAES_OAEP_SHA_1") == 214
    assert oaep_max("RSA_2048", "RSAES_OAEP_SHA_256") == 190
    assert oaep_max("RSA_3072", "RSAES_OAEP_SHA_1") == 342
    assert oaep_max("RSA_4096", "RSAES_OAEP_SHA_256") == 446


@pytest.mark.parametrize("alg", RSA_ENCRYPTION)
@pytest.mark.parametrize("spec", RSA_SPECS)
def test_locally_oaep_encrypted_data_decrypts_through_kms(kms, keys, spec, alg):
    key = keys.key(spec, "ENCRYPT_DECRYPT")
    pub = serialization.load_der_public_key(keys.spki(spec, "ENCRYPT_DECRYPT"))
    for size in (1, 32, oaep_max(spec, alg)):
        pt = os.urandom(size)
        ct = pub.encrypt(pt, oaep(alg))
        resp = kms.decrypt(CiphertextBlob=ct, KeyId=key["KeyId"], EncryptionAlgorithm=alg)
        assert resp["Plaintext"] == pt
        assert resp["KeyId"] == key["Arn"] and resp["EncryptionAlgorithm"] == alg


@pytest.mark.parametrize("alg", RSA_ENCRYPTION)
@pytest.mark.parametrize("spec", RSA_SPECS)
def test_kms_oaep_encrypt_is_raw_oaep_of_modulus_size_and_round_trips(kms, keys, spec, alg):
    key = keys.key(spec, "ENCRYPT_DECRYPT")
    limit = oaep_max(spec, alg)
    pt = os.urandom(limit)
    resp = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)
    assert resp["KeyId"] == key["Arn"] and resp["EncryptionAlgorithm"] == alg
    ct = resp["CiphertextBlob"]
    assert len(ct) == RSA_BITS[spec] // 8, "RSA ciphertext must be the bare OAEP output"
    n = serialization.load_der_public_key(keys.spki(spec, "ENCRYPT_DECRYPT")).public_numbers().n
    assert int.from_bytes(ct, "big") < n
    again = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)["CiphertextBlob"]
    assert again != ct, "OAEP is randomized"
    assert kms.decrypt(CiphertextBlob=ct, KeyId=key["KeyId"], EncryptionAlgorithm=alg)["Plaintext"] == pt
    # One byte over the limit.
    expect_error("ValidationException", kms.encrypt, KeyId=key["KeyId"], Plaintext=os.urandom(limit + 1),
                 EncryptionAlgorithm=alg)


def test_oaep_ciphertext_decrypted_with_the_other_hash_or_tampered_is_invalid_ciphertext(kms, keys):
    key_id = keys.key_id("RSA_2048", "ENCRYPT_DECRYPT")
    pub = serialization.load_der_public_key(keys.spki("RSA_2048", "ENCRYPT_DECRYPT"))
    ct = pub.encrypt(b"secret", oaep("RSAES_OAEP_SHA_256"))
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct, KeyId=key_id,
                 EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=flip(ct), KeyId=key_id,
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct[:-1], KeyId=key_id,
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_rsa_ciphertext_without_key_id_is_invalid_ciphertext(kms, keys):
    pub = serialization.load_der_public_key(keys.spki("RSA_2048", "ENCRYPT_DECRYPT"))
    ct = pub.encrypt(b"secret", oaep("RSAES_OAEP_SHA_1"))
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_1")


def test_rsa_encrypt_with_encryption_context_is_validation_error(kms, keys):
    key_id = keys.key_id("RSA_2048", "ENCRYPT_DECRYPT")
    expect_error("ValidationException", kms.encrypt, KeyId=key_id, Plaintext=b"x",
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256", EncryptionContext={"purpose": "test"})
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    expect_error("ValidationException", kms.decrypt, CiphertextBlob=ct, KeyId=key_id,
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256", EncryptionContext={"purpose": "test"})


def test_rsa_encrypt_without_encryption_algorithm_is_validation_error(kms, keys):
    key_id = keys.key_id("RSA_2048", "ENCRYPT_DECRYPT")
    expect_error("ValidationException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_1")["CiphertextBlob"]
    expect_error("ValidationException", kms.decrypt, CiphertextBlob=ct, KeyId=key_id)


def test_encryption_algorithm_not_allowed_for_key_is_invalid_key_usage(kms, keys, sym_key):
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=keys.key_id("RSA_2048", "ENCRYPT_DECRYPT"),
                 Plaintext=b"x", EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=sym_key["KeyId"], Plaintext=b"x",
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")


@pytest.mark.parametrize("spec,usage", [("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P256", "SIGN_VERIFY"),
                                        ("ECC_NIST_P256", "KEY_AGREEMENT")])
def test_encrypt_with_a_non_encryption_key_is_invalid_key_usage(kms, keys, spec, usage):
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=keys.key_id(spec, usage), Plaintext=b"x",
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_reencrypt_between_rsa_and_symmetric_keys(kms, keys, sym_key):
    rsa_key = keys.key("RSA_3072", "ENCRYPT_DECRYPT")
    pub = serialization.load_der_public_key(keys.spki("RSA_3072", "ENCRYPT_DECRYPT"))
    pt = os.urandom(100)
    # RSA (encrypted locally) -> symmetric.
    resp = kms.re_encrypt(CiphertextBlob=pub.encrypt(pt, oaep("RSAES_OAEP_SHA_256")),
                          SourceKeyId=rsa_key["KeyId"], SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                          DestinationKeyId=sym_key["KeyId"], DestinationEncryptionContext={"k": "v"})
    assert resp["SourceKeyId"] == rsa_key["Arn"] and resp["KeyId"] == sym_key["Arn"]
    assert resp["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert resp["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=resp["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"] == pt
    # symmetric -> RSA.
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=pt)["CiphertextBlob"]
    resp = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=rsa_key["KeyId"],
                          DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert resp["KeyId"] == rsa_key["Arn"] and resp["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert len(resp["CiphertextBlob"]) == 384
    assert kms.decrypt(CiphertextBlob=resp["CiphertextBlob"], KeyId=rsa_key["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == pt


# --------------------------------------------------------------------------------------
# ECDH: DeriveSharedSecret
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ECC_NIST)
def test_derive_shared_secret_equals_local_ecdh(kms, keys, spec):
    key = keys.key(spec, "KEY_AGREEMENT")
    kms_pub = serialization.load_der_public_key(keys.spki(spec, "KEY_AGREEMENT"))
    local = ec.generate_private_key(ECC_CURVE[spec]())
    peer = local.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    resp = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    assert resp["KeyId"] == key["Arn"] and resp["KeyAgreementAlgorithm"] == "ECDH"
    assert resp.get("KeyOrigin", "AWS_KMS") == "AWS_KMS"
    expected = local.exchange(ec.ECDH(), kms_pub)
    assert len(expected) == ECC_SHARED_SECRET_LEN[spec]
    assert resp["SharedSecret"] == expected
    again = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    assert again["SharedSecret"] == expected


@pytest.mark.parametrize("spec", ECC_NIST)
def test_derive_shared_secret_with_a_bad_peer_key_is_validation_error(kms, keys, spec):
    key_id = keys.key_id(spec, "KEY_AGREEMENT")
    other_curve = {"ECC_NIST_P256": ec.SECP384R1, "ECC_NIST_P384": ec.SECP521R1, "ECC_NIST_P521": ec.SECP256R1}[spec]
    spki = lambda k: k.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    wrong_curve = spki(ec.generate_private_key(other_curve()))
    same_curve = spki(ec.generate_private_key(ECC_CURVE[spec]()))
    off_curve = flip(same_curve, len(same_curve) - 1)  # last byte of y: the point leaves the curve
    for bad in (wrong_curve, b"garbage bytes, not DER", same_curve[:-1], off_curve,
                spki(ed25519.Ed25519PrivateKey.generate())):
        expect_error("ValidationException", kms.derive_shared_secret, KeyId=key_id,
                     KeyAgreementAlgorithm="ECDH", PublicKey=bad)


@pytest.mark.parametrize("spec,usage", [("ECC_NIST_P256", "SIGN_VERIFY"), ("RSA_2048", "ENCRYPT_DECRYPT")])
def test_derive_shared_secret_with_a_non_agreement_key_is_invalid_key_usage(kms, keys, spec, usage):
    peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expect_error("InvalidKeyUsageException", kms.derive_shared_secret, KeyId=keys.key_id(spec, usage),
                 KeyAgreementAlgorithm="ECDH", PublicKey=peer)


# --------------------------------------------------------------------------------------
# ML-KEM: Encapsulate / Decapsulate
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(ML_KEM))
def test_ml_kem_encapsulate_then_decapsulate_agree(kms, keys, spec):
    key = keys.key(spec, "ENCAPSULATE_DECAPSULATE")
    enc = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert enc["KeyId"] == key["Arn"] and enc["EncapsulationAlgorithm"] == "ML_KEM"
    ss, ct = enc["SharedSecret"], enc["SharedSecretCiphertextBlob"]
    assert len(ss) == 32 and len(ct) == ML_KEM[spec][2]
    dec = kms.decapsulate(KeyId=key["KeyId"], SharedSecretCiphertextBlob=ct, EncapsulationAlgorithm="ML_KEM")
    assert dec["KeyId"] == key["Arn"] and dec["EncapsulationAlgorithm"] == "ML_KEM"
    assert dec["SharedSecret"] == ss
    enc2 = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert enc2["SharedSecret"] != ss and enc2["SharedSecretCiphertextBlob"] != ct

    # Implicit rejection: a modified ciphertext decapsulates, to an unrelated secret.
    for i in (0, len(ct) // 2, len(ct) - 1):
        other = kms.decapsulate(KeyId=key["KeyId"], SharedSecretCiphertextBlob=flip(ct, i),
                                EncapsulationAlgorithm="ML_KEM")["SharedSecret"]
        assert len(other) == 32 and other != ss


@pytest.mark.parametrize("spec", list(ML_KEM))
def test_ml_kem_local_encapsulation_decapsulates_through_kms(kms, keys, spec):
    spki = keys.spki(spec, "ENCAPSULATE_DECAPSULATE")
    cls = getattr(mlkem, ML_KEM[spec][3], None)
    if cls is not None:
        pub = serialization.load_der_public_key(spki)
        assert isinstance(pub, cls)
        assert pub.public_bytes_raw() == interop.parse_spki(spki)[2]
        ss, ct = pub.encapsulate()
    elif OPENSSL_HAS_PQC:
        ss, ct = interop.openssl_mlkem_encapsulate(spki)
    else:
        pytest.skip(f"no local {spec}: Python cryptography has no {ML_KEM[spec][3]} and "
                    f"{interop.openssl_version_text()} has no ML-KEM (needs OpenSSL >= 3.5)")
    assert len(ct) == ML_KEM[spec][2]
    got = kms.decapsulate(KeyId=keys.key_id(spec, "ENCAPSULATE_DECAPSULATE"), SharedSecretCiphertextBlob=ct,
                          EncapsulationAlgorithm="ML_KEM")["SharedSecret"]
    assert got == ss


def test_ml_kem_ciphertext_of_wrong_length_is_invalid_ciphertext(kms, keys):
    key_id = keys.key_id("ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
    ct = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    for bad in (ct[:-1], ct + b"\x00", b"\x01"):
        expect_error("InvalidCiphertextException", kms.decapsulate, KeyId=key_id, SharedSecretCiphertextBlob=bad,
                     EncapsulationAlgorithm="ML_KEM")


def test_encapsulate_with_a_non_ml_kem_key_is_invalid_key_usage(kms, keys, sym_key):
    for key_id in (sym_key["KeyId"], keys.key_id("ECC_NIST_P256", "KEY_AGREEMENT"),
                   keys.key_id("ML_DSA_44", "SIGN_VERIFY")):
        expect_error("InvalidKeyUsageException", kms.encapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM")


# --------------------------------------------------------------------------------------
# HMAC: GenerateMac / VerifyMac
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(HMAC_SPECS))
def test_hmac_generate_and_verify(kms, keys, spec):
    alg, length = HMAC_SPECS[spec]
    key = keys.key(spec, "GENERATE_VERIFY_MAC")
    resp = kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE, MacAlgorithm=alg)
    assert resp["KeyId"] == key["Arn"] and resp["MacAlgorithm"] == alg
    mac = resp["Mac"]
    assert len(mac) == length
    assert kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE, MacAlgorithm=alg)["Mac"] == mac
    assert kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE + b"!", MacAlgorithm=alg)["Mac"] != mac
    ok = kms.verify_mac(KeyId=key["KeyId"], Message=MESSAGE, Mac=mac, MacAlgorithm=alg)
    assert ok["MacValid"] is True and ok["KeyId"] == key["Arn"] and ok["MacAlgorithm"] == alg
    for bad in (flip(mac), mac[:-1], mac + b"\x00"):
        expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=key["KeyId"], Message=MESSAGE, Mac=bad,
                     MacAlgorithm=alg)
    expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=key["KeyId"], Message=MESSAGE + b"!", Mac=mac,
                 MacAlgorithm=alg)
    for other_alg, _ in HMAC_SPECS.values():
        if other_alg != alg:
            expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=key["KeyId"], Message=MESSAGE,
                         MacAlgorithm=other_alg)
            expect_error("InvalidKeyUsageException", kms.verify_mac, KeyId=key["KeyId"], Message=MESSAGE,
                         Mac=mac, MacAlgorithm=other_alg)


def test_two_hmac_keys_of_the_same_spec_give_different_macs(kms, keys):
    a = keys.key_id("HMAC_256", "GENERATE_VERIFY_MAC")
    b = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Description="second hmac")["KeyMetadata"]
    mac_a = kms.generate_mac(KeyId=a, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    mac_b = kms.generate_mac(KeyId=b["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac_a != mac_b
    expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=b["KeyId"], Message=MESSAGE, Mac=mac_a,
                 MacAlgorithm="HMAC_SHA_256")


def test_generate_mac_with_a_non_mac_key_is_invalid_key_usage(kms, keys, sym_key):
    for key_id in (sym_key["KeyId"], keys.key_id("RSA_2048", "SIGN_VERIFY")):
        expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=key_id, Message=b"m",
                     MacAlgorithm="HMAC_SHA_256")


# --------------------------------------------------------------------------------------
# GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext
# --------------------------------------------------------------------------------------

PAIR_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
              "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"]
PAIR_OID = {"RSA": "1.2.840.113549.1.1.1", "ECC_NIST_EDWARDS25519": "1.3.101.112", "ECC": "1.2.840.10045.2.1"}


def pair_oid(spec: str) -> str:
    if spec == "ECC_NIST_EDWARDS25519":
        return PAIR_OID[spec]
    return PAIR_OID[spec.split("_")[0]]


def check_pair_matches(spec: str, private_der: bytes, public_der: bytes) -> None:
    """The PKCS#8 private key and the SPKI public key are one key pair of the spec."""
    version, oid = interop.parse_pkcs8(private_der)
    assert version in (0, 1) and oid == pair_oid(spec), f"PKCS#8 v{version} {oid}"
    assert interop.parse_spki(public_der)[0] == pair_oid(spec)
    priv = serialization.load_der_private_key(private_der, password=None)
    pub = serialization.load_der_public_key(public_der)
    assert priv.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == public_der
    msg = b"signed locally with a GenerateDataKeyPair key"
    if spec.startswith("RSA_"):
        assert priv.key_size == RSA_BITS[spec]
        pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
        pub.verify(priv.sign(msg, pss, hashes.SHA256()), msg, pss, hashes.SHA256())
        assert priv.decrypt(pub.encrypt(msg, oaep("RSAES_OAEP_SHA_256")), oaep("RSAES_OAEP_SHA_256")) == msg
    elif spec == "ECC_NIST_EDWARDS25519":
        assert isinstance(priv, ed25519.Ed25519PrivateKey)
        pub.verify(priv.sign(msg), msg)
    else:
        assert isinstance(priv.curve, ECC_CURVE[spec])
        pub.verify(priv.sign(msg, ec.ECDSA(hashes.SHA256())), msg, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("spec", PAIR_SPECS)
def test_generate_data_key_pair_is_a_working_pair_and_its_blob_decrypts_to_the_pkcs8(kms, sym_key, spec):
    ctx = {"purpose": "interop", "spec": spec}
    resp = kms.generate_data_key_pair(KeyId=sym_key["KeyId"], KeyPairSpec=spec, EncryptionContext=ctx)
    assert resp["KeyId"] == sym_key["Arn"] and resp["KeyPairSpec"] == spec
    private, public = resp["PrivateKeyPlaintext"], resp["PublicKey"]
    check_pair_matches(spec, private, public)

    dec = kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext=ctx)
    assert dec["Plaintext"] == private and dec["KeyId"] == sym_key["Arn"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=resp["PrivateKeyCiphertextBlob"])

    # Every call makes a new pair.
    if spec in ("RSA_2048", "ECC_NIST_P256", "ECC_NIST_EDWARDS25519"):
        again = kms.generate_data_key_pair(KeyId=sym_key["KeyId"], KeyPairSpec=spec)
        assert again["PublicKey"] != public and again["PrivateKeyPlaintext"] != private


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P384", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"])
def test_generate_data_key_pair_without_plaintext(kms, sym_key, spec):
    ctx = {"spec": spec}
    resp = kms.generate_data_key_pair_without_plaintext(KeyId=sym_key["KeyId"], KeyPairSpec=spec,
                                                         EncryptionContext=ctx)
    assert "PrivateKeyPlaintext" not in resp
    assert resp["KeyId"] == sym_key["Arn"] and resp["KeyPairSpec"] == spec
    private = kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext=ctx)["Plaintext"]
    check_pair_matches(spec, private, resp["PublicKey"])


@pytest.mark.parametrize("spec", ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024", "SM2"])
def test_generate_data_key_pair_unsupported_specs(kms, sym_key, spec):
    expect_error("UnsupportedOperationException", kms.generate_data_key_pair, KeyId=sym_key["KeyId"],
                 KeyPairSpec=spec)
    expect_error("UnsupportedOperationException", kms.generate_data_key_pair_without_plaintext,
                 KeyId=sym_key["KeyId"], KeyPairSpec=spec)


@pytest.mark.parametrize("spec,usage", [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "SIGN_VERIFY"),
                                        ("HMAC_256", "GENERATE_VERIFY_MAC")])
def test_generate_data_key_pair_under_a_non_symmetric_key_is_invalid_key_usage(kms, keys, spec, usage):
    key_id = keys.key_id(spec, usage)
    expect_error("InvalidKeyUsageException", kms.generate_data_key_pair, KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    expect_error("InvalidKeyUsageException", kms.generate_data_key_pair_without_plaintext, KeyId=key_id,
                 KeyPairSpec="ECC_NIST_P256")
