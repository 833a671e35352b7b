"""Independent (non-KMS) cryptography used by the asymmetric interop tests.

Everything here checks what trentd produces without trusting trentd: a minimal DER reader
(SubjectPublicKeyInfo, PKCS#8), RSASSA-PSS salt-length recovery from a signature with the
public key alone, an RFC 8032 Ed25519 / Ed25519ph verifier (Python `cryptography` has no
Ed25519ph and OpenSSL only has it from 3.2) and wrappers around the `openssl` command line.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import pathlib
import re
import shutil
import subprocess
import tempfile

# --------------------------------------------------------------------------------------
# DER
# --------------------------------------------------------------------------------------


def der_read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """One TLV at `pos`: (tag, content, position after it). Definite lengths only."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        assert 1 <= n <= 4, f"unsupported DER length form at {pos}"
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    content = data[pos : pos + length]
    assert len(content) == length, "truncated DER"
    return tag, content, pos + length


def der_children(content: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(content):
        tag, value, pos = der_read(content, pos)
        out.append((tag, value))
    return out


def oid_to_str(content: bytes) -> str:
    first = content[0]
    arcs = [first // 40 if first < 80 else 2, first % 40 if first < 80 else first - 80]
    value = 0
    for b in content[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def parse_spki(der: bytes) -> tuple[str, list[tuple[int, bytes]], bytes]:
    """SubjectPublicKeyInfo -> (algorithm OID, the AlgorithmIdentifier's other members, key bytes).

    Asserts the encoding is exactly one SEQUENCE { SEQUENCE { OID, ... }, BIT STRING } with no
    trailing bytes and no unused bits."""
    tag, body, end = der_read(der)
    assert tag == 0x30 and end == len(der), "SPKI is not exactly one SEQUENCE"
    parts = der_children(body)
    assert [t for t, _ in parts] == [0x30, 0x03], f"SPKI members have tags {[hex(t) for t, _ in parts]}"
    alg = der_children(parts[0][1])
    assert alg[0][0] == 0x06, "AlgorithmIdentifier does not start with an OID"
    bits = parts[1][1]
    assert bits[0] == 0, "BIT STRING has unused bits"
    return oid_to_str(alg[0][1]), alg[1:], bits[1:]


def parse_pkcs8(der: bytes) -> tuple[int, str]:
    """PrivateKeyInfo / OneAsymmetricKey -> (version, algorithm OID). Asserts the shape, which
    tells PKCS#8 apart from the "traditional" RSAPrivateKey / ECPrivateKey encodings."""
    tag, body, end = der_read(der)
    assert tag == 0x30 and end == len(der), "PKCS#8 is not exactly one SEQUENCE"
    parts = der_children(body)
    assert len(parts) >= 3, "PKCS#8 needs version, algorithm and privateKey"
    assert parts[0][0] == 0x02, "PKCS#8 version is not an INTEGER"
    assert parts[1][0] == 0x30, "PKCS#8 second member is not an AlgorithmIdentifier SEQUENCE"
    assert parts[2][0] == 0x04, "PKCS#8 privateKey is not an OCTET STRING"
    alg = der_children(parts[1][1])
    assert alg[0][0] == 0x06
    return int.from_bytes(parts[0][1], "big"), oid_to_str(alg[0][1])


# --------------------------------------------------------------------------------------
# RSASSA-PSS: recover the salt length from a signature (RFC 8017 9.1.2, EMSA-PSS-VERIFY)
# --------------------------------------------------------------------------------------


def _mgf1(seed: bytes, length: int, hash_name: str) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.new(hash_name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def pss_salt_length(n: int, e: int, signature: bytes, message: bytes, hash_name: str) -> int:
    """The salt length of a valid RSASSA-PSS (MGF1 with the same hash) signature of `message`;
    AssertionError if the signature is not a valid EMSA-PSS encoding of it."""
    h_len = hashlib.new(hash_name).digest_size
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    s = int.from_bytes(signature, "big")
    assert s < n, "signature representative out of range"
    em = pow(s, e, n).to_bytes(em_len, "big")
    assert em[-1] == 0xBC, "EMSA-PSS trailer is not 0xbc"
    masked_db, h = em[: em_len - h_len - 1], em[em_len - h_len - 1 : -1]
    db = bytearray(a ^ b for a, b in zip(masked_db, _mgf1(h, len(masked_db), hash_name)))
    db[0] &= 0xFF >> (8 * em_len - em_bits)
    sep = db.find(b"\x01")
    assert sep >= 0 and not any(db[:sep]), "EMSA-PSS padding is not zeros followed by 0x01"
    salt = bytes(db[sep + 1 :])
    m_hash = hashlib.new(hash_name, message).digest()
    assert hashlib.new(hash_name, b"\x00" * 8 + m_hash + salt).digest() == h, "EMSA-PSS hash mismatch"
    return len(salt)


# --------------------------------------------------------------------------------------
# Ed25519 / Ed25519ph verification (RFC 8032 section 5.1, after its reference code in 6)
# --------------------------------------------------------------------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _pt_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    a_ = (y1 - x1) * (y2 - x2) % _P
    b_ = (y1 + x1) * (y2 + x2) % _P
    c_ = 2 * t1 * t2 * _D % _P
    d_ = 2 * z1 * z2 % _P
    e, f, g, h = b_ - a_, d_ - c_, d_ + c_, b_ + a_
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _pt_mul(s: int, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _pt_add(q, p)
        p = _pt_add(p, p)
        s >>= 1
    return q


def _pt_equal(a, b) -> bool:
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _recover_x(y: int, sign: int):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _pt_decode(s: bytes):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G = (_recover_x(_G_Y, 0), _G_Y, 1, _recover_x(_G_Y, 0) * _G_Y % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes, *, prehash: bool = False,
                   context: bytes = b"") -> bool:
    """RFC 8032 Ed25519 (prehash=False, empty context) or Ed25519ph (prehash=True: the message
    is hashed with SHA-512 and dom2(1, context) is prepended)."""
    if len(signature) != 64:
        return False
    a = _pt_decode(public_key)
    r = _pt_decode(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    if prehash:
        dom = b"SigEd25519 no Ed25519 collisions" + bytes([1, len(context)]) + context
        m = hashlib.sha512(message).digest()
    else:
        assert not context, "pure Ed25519 has no context"
        dom, m = b"", message
    k = int.from_bytes(hashlib.sha512(dom + signature[:32] + public_key + m).digest(), "little") % _L
    return _pt_equal(_pt_mul(s, _G), _pt_add(r, _pt_mul(k, a)))


# --------------------------------------------------------------------------------------
# The openssl command line
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def openssl_version() -> tuple[int, int, int] | None:
    """(major, minor, patch) of the `openssl` on PATH, or None if there is none."""
    exe = shutil.which("openssl")
    if not exe:
        return None
    out = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=30).stdout
    m = re.match(r"OpenSSL (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def openssl_version_text() -> str:
    v = openssl_version()
    return "no openssl on PATH" if v is None else "OpenSSL %d.%d.%d" % v


def pem_public_key(spki_der: bytes) -> str:
    b = base64.b64encode(spki_der).decode()
    lines = [b[i : i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def _openssl(args: list[str], files: dict[str, bytes | str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="trent-openssl-") as d:
        for name, content in files.items():
            p = pathlib.Path(d) / name
            p.write_bytes(content.encode() if isinstance(content, str) else content)
        return subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)


def openssl_dgst_verify(spki_der: bytes, message: bytes, signature: bytes, digest: str,
                        sigopts: list[str] = ()) -> subprocess.CompletedProcess:
    """`openssl dgst -<digest> [-sigopt ...] -verify pub.pem -signature sig.bin msg.bin`."""
    args = ["dgst", f"-{digest}"]
    for opt in sigopts:
        args += ["-sigopt", opt]
    args += ["-verify", "pub.pem", "-signature", "sig.bin", "msg.bin"]
    return _openssl(args, {"pub.pem": pem_public_key(spki_der), "msg.bin": message, "sig.bin": signature})


def openssl_pkeyutl_verify(spki_der: bytes, data: bytes, signature: bytes, *, rawin: bool = False,
                           pkeyopts: list[str] = ()) -> subprocess.CompletedProcess:
    """`openssl pkeyutl -verify -pubin -inkey pub.pem [-rawin] [-pkeyopt ...] -in data.bin -sigfile sig.bin`."""
    args = ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "data.bin", "-sigfile", "sig.bin"]
    if rawin:
        args.append("-rawin")
    for opt in pkeyopts:
        args += ["-pkeyopt", opt]
    return _openssl(args, {"pub.pem": pem_public_key(spki_der), "data.bin": data, "sig.bin": signature})


def openssl_mlkem_encapsulate(spki_der: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) from `openssl pkeyutl -encap` (OpenSSL >= 3.5)."""
    with tempfile.TemporaryDirectory(prefix="trent-openssl-") as d:
        dp = pathlib.Path(d)
        (dp / "pub.pem").write_text(pem_public_key(spki_der))
        p = subprocess.run(
            ["openssl", "pkeyutl", "-encap", "-pubin", "-inkey", "pub.pem", "-out", "ct.bin", "-secret", "ss.bin"],
            cwd=d, capture_output=True, text=True, timeout=60,
        )
        assert p.returncode == 0, f"openssl pkeyutl -encap failed: {p.stderr}"
        return (dp / "ss.bin").read_bytes(), (dp / "ct.bin").read_bytes()
