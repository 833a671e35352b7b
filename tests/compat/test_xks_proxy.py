"""Trent as an AWS KMS External Key Store (XKS) proxy (issue #21, part 3).

The XKS Proxy API v1 (aws/aws-kms-xksproxy-api-spec): GetKeyMetadata, Encrypt, Decrypt and
GetHealthStatus under `/{uriPrefix}/kms/xks/v1/`, SigV4-signed with service `kms-xks-proxy`,
answered with the spec's JSON shapes, error names and status codes. The requests are signed by
botocore's SigV4 signer (as AWS KMS's own fleet signs them) and, in one test, by curl's
`--aws-sigv4`, the way AWS's published compliance client sends them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import subprocess
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

from conftest import ACCOUNT_ID, REGION, TrentServer, _SkewedSigV4Auth, make_kms_client

PREFIX = "tenant-a/ks1"
AKID = "XKSPROXYACCESSKEYAAAA2345"
SECRET = base64.b64encode(b"x" * 32).decode()  # 44 characters, as `openssl rand -base64 32`
AKID2 = "XKSPROXYROTATEDKEYBBB6723"
SECRET2 = base64.b64encode(b"y" * 32).decode()
OTHER_PREFIX = "tenant-b"
OTHER_AKID = "XKSPROXYOTHERTENANTCCC77"
OTHER_SECRET = base64.b64encode(b"z" * 32).decode()

AAD = base64.b64encode(b"project=nile,department=marketing").decode()
AAD2 = base64.b64encode(b"project=blue,department=finance").decode()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    work = tmp_path_factory.mktemp("xks-proxy")
    spec = ",".join(
        [
            f"{PREFIX}={AKID}:{SECRET}",
            f"{PREFIX}={AKID2}:{SECRET2}",
            f"{OTHER_PREFIX}={OTHER_AKID}:{OTHER_SECRET}",
        ]
    )
    srv = TrentServer(work / "data", work, {"TRENT_XKS_PROXY": spec})
    try:
        srv.start()
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def kms(proxy):
    return make_kms_client(proxy.base_url)


@pytest.fixture(scope="module")
def key_id(kms):
    return kms.create_key(Description="xks proxy key")["KeyMetadata"]["KeyId"]


def metadata(op: str, key_id: str | None = None) -> dict:
    md = {
        "awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
        "kmsOperation": op,
        "kmsRequestId": str(uuid.uuid4()),
        "kmsViaService": "ebs",
    }
    if key_id is not None:
        md["kmsKeyArn"] = f"arn:aws:kms:{REGION}:123456789012:key/{key_id}"
    return md


class Resp:
    def __init__(self, r: requests.Response):
        self.status = r.status_code
        self.headers = r.headers
        self.body = r.content
        try:
            self.json = r.json()
        except ValueError:
            self.json = None

    @property
    def error(self) -> str | None:
        return self.json.get("errorName") if isinstance(self.json, dict) else None

    def __repr__(self) -> str:
        return f"Resp({self.status}, {self.body[:400]!r})"


def xks(
    srv: TrentServer,
    target: str,
    body,
    *,
    prefix: str = PREFIX,
    akid: str = AKID,
    secret: str = SECRET,
    service: str = "kms-xks-proxy",
    region: str = REGION,
    method: str = "POST",
    sign: bool = True,
    when: _dt.datetime | None = None,
    tamper: bytes | None = None,
) -> Resp:
    """One XKS proxy request, signed by botocore's SigV4 signer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    path = f"/{prefix}/kms/xks/v1/{target}" if prefix else f"/kms/xks/v1/{target}"
    req = botocore.awsrequest.AWSRequest(
        method=method, url=srv.base_url + path, data=data, headers={"Content-Type": "application/json"}
    )
    if sign:
        creds = botocore.credentials.Credentials(akid, secret)
        signer = (
            _SkewedSigV4Auth(creds, service, region, when)
            if when is not None
            else botocore.auth.SigV4Auth(creds, service, region)
        )
        signer.add_auth(req)
    p = req.prepare()
    headers = {k: v for k, v in p.headers.items() if k.lower() != "content-length"}
    r = requests.request(method, p.url, data=tamper if tamper is not None else p.body, headers=headers, timeout=30)
    return Resp(r)


def encrypt(srv, key_id, plaintext: bytes, aad: str | None = None, cdiv: bool = False, **kw) -> Resp:
    body = {
        "requestMetadata": metadata("Encrypt", key_id),
        "plaintext": base64.b64encode(plaintext).decode(),
        "encryptionAlgorithm": "AES_GCM",
    }
    if aad is not None:
        body["additionalAuthenticatedData"] = aad
    if cdiv:
        body["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
    return xks(srv, f"keys/{key_id}/encrypt", body, **kw)


def decrypt_body(key_id, enc: dict, aad: str | None = None) -> dict:
    body = {
        "requestMetadata": metadata("Decrypt", key_id),
        "ciphertext": enc["ciphertext"],
        "initializationVector": enc["initializationVector"],
        "authenticationTag": enc["authenticationTag"],
        "encryptionAlgorithm": "AES_GCM",
    }
    if "ciphertextMetadata" in enc:
        body["ciphertextMetadata"] = enc["ciphertextMetadata"]
    if aad is not None:
        body["additionalAuthenticatedData"] = aad
    return body


def decrypt(srv, key_id, enc: dict, aad: str | None = None, **kw) -> Resp:
    return xks(srv, f"keys/{key_id}/decrypt", decrypt_body(key_id, enc, aad), **kw)


def flip(b64: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --------------------------------------------------------------------------------------
# GetHealthStatus
# --------------------------------------------------------------------------------------


def test_health_reports_an_active_fleet_of_one(proxy):
    r = xks(proxy, "health", {"requestMetadata": {"kmsRequestId": str(uuid.uuid4()), "kmsOperation": "KmsHealthCheck"}})
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    assert r.json["xksProxyFleetSize"] == 1
    assert r.json["xksProxyVendor"] and r.json["xksProxyModel"] and r.json["ekmVendor"]
    (ekm,) = r.json["ekmFleetDetails"]
    assert ekm["healthStatus"] == "ACTIVE" and ekm["id"] and ekm["model"]


@pytest.mark.parametrize("body", [{}, {"requestMetadata": {}}, {"requestMetadata": "x"}, b"not json", b"[1]"])
def test_health_without_request_metadata_is_a_validation_error(proxy, body):
    r = xks(proxy, "health", body)
    assert (r.status, r.error) == (400, "ValidationException"), r
    assert r.json["errorMessage"]


def test_health_accepts_kms_operations_it_does_not_know(proxy):
    r = xks(proxy, "health", {"requestMetadata": {"kmsRequestId": "opaque id 1", "kmsOperation": "BulkSomething"}})
    assert r.status == 200, r


# --------------------------------------------------------------------------------------
# GetKeyMetadata
# --------------------------------------------------------------------------------------


def test_metadata_of_a_symmetric_key(proxy, key_id):
    for op in ("DescribeKey", "CreateKey"):
        r = xks(proxy, f"keys/{key_id}/metadata", {"requestMetadata": metadata(op, key_id if op == "DescribeKey" else None)})
        assert r.status == 200, r
        assert r.json == {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"}


def test_metadata_of_a_disabled_key_says_disabled(proxy, kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=kid)
    r = xks(proxy, f"keys/{kid}/metadata", {"requestMetadata": metadata("DescribeKey", kid)})
    assert r.status == 200 and r.json["keyStatus"] == "DISABLED", r


def test_metadata_of_a_mac_key_names_its_spec_and_usage(proxy, kms):
    kid = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    r = xks(proxy, f"keys/{kid}/metadata", {"requestMetadata": metadata("DescribeKey", kid)})
    assert r.json == {"keySpec": "HMAC_256", "keyUsage": ["SIGN", "VERIFY"], "keyStatus": "ENABLED"}, r
    r = encrypt(proxy, kid, b"x")
    assert (r.status, r.error) == (400, "InvalidKeyUsageException"), r


@pytest.mark.parametrize("key", ["non_existing_key", "00000000-0000-0000-0000-000000000000"])
def test_metadata_of_an_unknown_key_is_key_not_found(proxy, key):
    r = xks(proxy, f"keys/{key}/metadata", {"requestMetadata": metadata("DescribeKey")})
    assert (r.status, r.error) == (404, "KeyNotFoundException"), r


def test_a_key_id_outside_the_spec_alphabet_is_a_validation_error(proxy):
    r = xks(proxy, f"keys/{'k' * 129}/metadata", {"requestMetadata": metadata("DescribeKey")})
    assert (r.status, r.error) == (400, "ValidationException"), r
    r = xks(proxy, "keys/a%2Bb/metadata", {"requestMetadata": metadata("DescribeKey")})
    assert (r.status, r.error) == (400, "ValidationException"), r


@pytest.mark.parametrize("body", [{}, {"requestMetadata": {}}, {"requestMetadata": {"kmsOperation": "DescribeKey"}}])
def test_metadata_without_request_metadata_is_a_validation_error(proxy, key_id, body):
    r = xks(proxy, f"keys/{key_id}/metadata", body)
    assert (r.status, r.error) == (400, "ValidationException"), r


def test_keys_are_those_of_the_region_the_request_is_signed_for(proxy, key_id):
    r = xks(proxy, f"keys/{key_id}/metadata", {"requestMetadata": metadata("DescribeKey")}, region="eu-west-1")
    assert (r.status, r.error) == (404, "KeyNotFoundException"), r


# --------------------------------------------------------------------------------------
# Encrypt and Decrypt
# --------------------------------------------------------------------------------------


def test_encrypt_then_decrypt_with_aad(proxy, key_id):
    r = encrypt(proxy, key_id, b"Hello World!", AAD)
    assert r.status == 200, r
    enc = r.json
    assert len(base64.b64decode(enc["ciphertext"])) == len(b"Hello World!")
    assert len(base64.b64decode(enc["initializationVector"])) in (12, 16)
    assert len(base64.b64decode(enc["authenticationTag"])) == 16
    assert len(base64.b64decode(enc["ciphertextMetadata"])) <= 20
    d = decrypt(proxy, key_id, enc, AAD)
    assert d.status == 200, d
    assert base64.b64decode(d.json["plaintext"]) == b"Hello World!"


def test_encrypt_then_decrypt_without_aad(proxy, key_id):
    enc = encrypt(proxy, key_id, b"no aad").json
    d = decrypt(proxy, key_id, enc)
    assert base64.b64decode(d.json["plaintext"]) == b"no aad"


def test_decrypt_with_missing_or_different_aad_is_invalid_ciphertext(proxy, key_id):
    enc = encrypt(proxy, key_id, b"plaintext\n", AAD).json
    for aad in (None, AAD2, ""):
        r = decrypt(proxy, key_id, enc, aad)
        assert (r.status, r.error) == (400, "InvalidCiphertextException"), (aad, r)
    # And AAD where there was none.
    enc = encrypt(proxy, key_id, b"plaintext\n").json
    r = decrypt(proxy, key_id, enc, AAD)
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r


def test_aad_cannot_be_moved_into_the_ciphertext_metadata(proxy, key_id):
    enc = encrypt(proxy, key_id, b"secret").json
    body = decrypt_body(key_id, enc, enc["ciphertextMetadata"])
    del body["ciphertextMetadata"]
    r = xks(proxy, f"keys/{key_id}/decrypt", body)
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r


@pytest.mark.parametrize("field", ["ciphertext", "initializationVector", "authenticationTag", "ciphertextMetadata"])
def test_a_tampered_part_is_invalid_ciphertext(proxy, key_id, field):
    enc = encrypt(proxy, key_id, b"tamper me", AAD).json
    enc[field] = flip(enc[field], 1 if field == "ciphertextMetadata" else 0)
    r = decrypt(proxy, key_id, enc, AAD)
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r


def test_a_ciphertext_of_one_key_does_not_decrypt_under_another(proxy, kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    enc = encrypt(proxy, key_id, b"mine", AAD).json
    r = decrypt(proxy, other, enc, AAD)
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r


def test_cdiv_is_the_sha256_of_aad_metadata_iv_ciphertext_and_tag(proxy, key_id):
    for aad in (AAD, None):
        r = encrypt(proxy, key_id, b"Hello World!", aad, cdiv=True)
        assert r.status == 200, r
        enc = r.json
        parts = [aad or "", enc["ciphertextMetadata"], enc["initializationVector"], enc["ciphertext"], enc["authenticationTag"]]
        want = hashlib.sha256(b"".join(base64.b64decode(p) for p in parts)).digest()
        assert base64.b64decode(enc["ciphertextDataIntegrityValue"]) == want
        assert base64.b64decode(decrypt(proxy, key_id, enc, aad).json["plaintext"]) == b"Hello World!"
    r = encrypt(proxy, key_id, b"x")
    assert "ciphertextDataIntegrityValue" not in r.json


def test_large_plaintext_and_aad_as_the_spec_requires(proxy, key_id):
    plaintext, aad = os.urandom(4300), base64.b64encode(os.urandom(8192)).decode()
    enc = encrypt(proxy, key_id, plaintext, aad)
    assert enc.status == 200, enc
    d = decrypt(proxy, key_id, enc.json, aad)
    assert base64.b64decode(d.json["plaintext"]) == plaintext


def test_oversized_plaintext_is_unsupported(proxy, key_id):
    r = encrypt(proxy, key_id, os.urandom(8193))
    assert (r.status, r.error) == (501, "UnsupportedOperationException"), r


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda b: b.pop("plaintext"), "ValidationException"),
        (lambda b: b.update(plaintext=""), "ValidationException"),
        (lambda b: b.update(plaintext="***"), "ValidationException"),
        (lambda b: b.update(plaintext=17), "ValidationException"),
        (lambda b: b.pop("encryptionAlgorithm"), "ValidationException"),
        (lambda b: b.update(encryptionAlgorithm="AES_CBC"), "ValidationException"),
        (lambda b: b.update(additionalAuthenticatedData="%%"), "ValidationException"),
        (lambda b: b.update(ciphertextDataIntegrityValueAlgorithm="MD5"), "ValidationException"),
        (lambda b: b.pop("requestMetadata"), "ValidationException"),
        (lambda b: b["requestMetadata"].pop("kmsKeyArn"), "ValidationException"),
        (lambda b: b["requestMetadata"].update(kmsRequestId=5), "ValidationException"),
    ],
)
def test_malformed_encrypt_requests(proxy, key_id, change, expected):
    body = {
        "requestMetadata": metadata("Encrypt", key_id),
        "plaintext": base64.b64encode(b"data").decode(),
        "encryptionAlgorithm": "AES_GCM",
    }
    change(body)
    r = xks(proxy, f"keys/{key_id}/encrypt", body)
    assert (r.status, r.error) == (400, expected), r


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.pop("ciphertext"),
        lambda b: b.pop("initializationVector"),
        lambda b: b.pop("authenticationTag"),
        lambda b: b.pop("encryptionAlgorithm"),
        lambda b: b.update(initializationVector=base64.b64encode(b"short").decode()),
        lambda b: b.update(authenticationTag=base64.b64encode(b"short").decode()),
        lambda b: b.update(ciphertextMetadata=base64.b64encode(b"m" * 21).decode()),
        lambda b: b.update(ciphertext="!!"),
    ],
)
def test_malformed_decrypt_requests_are_validation_errors(proxy, key_id, change):
    enc = encrypt(proxy, key_id, b"data").json
    body = decrypt_body(key_id, enc)
    change(body)
    r = xks(proxy, f"keys/{key_id}/decrypt", body)
    assert (r.status, r.error) == (400, "ValidationException"), r


def test_a_16_byte_iv_is_accepted_as_input_but_is_not_ours(proxy, key_id):
    enc = encrypt(proxy, key_id, b"data").json
    enc["initializationVector"] = base64.b64encode(os.urandom(16)).decode()
    r = decrypt(proxy, key_id, enc)
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r


def test_encrypt_with_an_unknown_key_is_key_not_found(proxy):
    r = encrypt(proxy, "non_existing_key", b"plaintext")
    assert (r.status, r.error) == (404, "KeyNotFoundException"), r


def test_a_disabled_key_neither_encrypts_nor_decrypts_until_enabled(proxy, kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    enc = encrypt(proxy, kid, b"while enabled", AAD).json
    kms.disable_key(KeyId=kid)
    r = encrypt(proxy, kid, b"x")
    assert (r.status, r.error) == (400, "InvalidStateException"), r
    r = decrypt(proxy, kid, enc, AAD)
    assert (r.status, r.error) == (400, "InvalidStateException"), r
    kms.enable_key(KeyId=kid)
    assert base64.b64decode(decrypt(proxy, kid, enc, AAD).json["plaintext"]) == b"while enabled"


def test_a_key_pending_deletion_is_invalid_state(proxy, kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    enc = encrypt(proxy, kid, b"x").json
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert (encrypt(proxy, kid, b"x").error, decrypt(proxy, kid, enc).error) == ("InvalidStateException",) * 2
    r = xks(proxy, f"keys/{kid}/metadata", {"requestMetadata": metadata("DescribeKey", kid)})
    assert r.json["keyStatus"] == "DISABLED", r


def test_ciphertexts_survive_key_rotation(proxy, kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    before = encrypt(proxy, kid, b"before rotation", AAD).json
    kms.rotate_key_on_demand(KeyId=kid)
    after = encrypt(proxy, kid, b"after rotation", AAD).json
    assert before["ciphertextMetadata"] != after["ciphertextMetadata"]
    assert base64.b64decode(decrypt(proxy, kid, before, AAD).json["plaintext"]) == b"before rotation"
    assert base64.b64decode(decrypt(proxy, kid, after, AAD).json["plaintext"]) == b"after rotation"


def test_proxy_ciphertexts_and_kms_blobs_do_not_mix(proxy, kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kms blob")["CiphertextBlob"]
    # The blob's parts as an XKS decrypt request: header as AAD, then IV, body, tag.
    n = blob[1]
    header, iv, body = blob[: 2 + n + 32], blob[2 + n + 32 : 14 + n + 32], blob[14 + n + 32 :]
    material_id = blob[2 + n : 2 + n + 32]
    enc = {
        "ciphertext": base64.b64encode(body[:-16]).decode(),
        "initializationVector": base64.b64encode(iv).decode(),
        "authenticationTag": base64.b64encode(body[-16:]).decode(),
        # Names the blob's material as the proxy's own ciphertexts do.
        "ciphertextMetadata": base64.b64encode(b"\x01" + material_id[:19]).decode(),
    }
    r = decrypt(proxy, key_id, enc, base64.b64encode(header).decode())
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r


# --------------------------------------------------------------------------------------
# Authentication, paths and methods
# --------------------------------------------------------------------------------------


HEALTH = {"requestMetadata": {"kmsRequestId": "r1", "kmsOperation": "KmsHealthCheck"}}


@pytest.mark.parametrize(
    "kw",
    [
        {"akid": "Invalid" + AKID},
        {"secret": "Invalid" + SECRET},
        {"service": "kms"},
        {"sign": False},
        {"when": _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=20)},
        {"akid": OTHER_AKID, "secret": OTHER_SECRET},  # another prefix's credential
        {"region": "not-a-region-9"},
    ],
)
def test_sigv4_failures_are_authentication_failed(proxy, key_id, kw):
    for target, body in (("health", HEALTH), (f"keys/{key_id}/metadata", {"requestMetadata": metadata("DescribeKey")})):
        r = xks(proxy, target, body, **kw)
        assert (r.status, r.error) == (401, "AuthenticationFailedException"), (kw, r)


def test_a_body_changed_after_signing_fails_authentication(proxy, key_id):
    r = encrypt(proxy, key_id, b"x", tamper=json.dumps(HEALTH).encode())
    assert (r.status, r.error) == (401, "AuthenticationFailedException"), r


def test_both_credentials_of_a_prefix_are_accepted_during_rotation(proxy, key_id):
    assert xks(proxy, "health", HEALTH).status == 200
    assert xks(proxy, "health", HEALTH, akid=AKID2, secret=SECRET2).status == 200
    assert xks(proxy, "health", HEALTH, prefix=OTHER_PREFIX, akid=OTHER_AKID, secret=OTHER_SECRET).status == 200


@pytest.mark.parametrize("prefix", [PREFIX + "/invalid", "tenant-a", "", "nobody"])
def test_an_unknown_uri_prefix_is_invalid_uri_path(proxy, prefix):
    r = xks(proxy, "health", HEALTH, prefix=prefix)
    assert (r.status, r.error) == (404, "InvalidUriPathException"), r


@pytest.mark.parametrize("target", ["keys/k1/sign", "keys/k1", "keys/k1/encrypt/more", "status"])
def test_an_unknown_operation_is_invalid_uri_path(proxy, target):
    r = xks(proxy, target, HEALTH)
    assert (r.status, r.error) == (404, "InvalidUriPathException"), r


def test_get_is_method_not_allowed(proxy, key_id):
    for target in ("health", f"keys/{key_id}/metadata", f"keys/{key_id}/encrypt"):
        r = xks(proxy, target, b"", method="GET")
        assert r.status == 405, r


def test_without_xks_proxy_configured_the_paths_are_not_served(trent):
    r = requests.post(trent.base_url + f"/{PREFIX}/kms/xks/v1/health", json=HEALTH, timeout=10)
    assert r.status_code != 200 and "errorName" not in r.text


def test_curl_aws_sigv4_as_the_compliance_client_signs(proxy, key_id):
    """The published compliance client signs with `curl --aws-sigv4 aws:amz:REGION:kms-xks-proxy`."""
    def curl(target: str, body: dict, user: str = f"{AKID}:{SECRET}") -> dict:
        out = subprocess.run(
            [
                "curl", "--silent", f"{proxy.base_url}/{PREFIX}/kms/xks/v1/{target}",
                "-H", "Content-Type:application/json",
                "--aws-sigv4", f"aws:amz:{REGION}:kms-xks-proxy",
                "--user", user,
                "--data-binary", json.dumps(body),
            ],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return json.loads(out.stdout)

    assert curl("health", HEALTH)["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"
    enc = curl(f"keys/{key_id}/encrypt", {
        "requestMetadata": metadata("Encrypt", key_id), "plaintext": "SGVsbG8gV29ybGQh",
        "additionalAuthenticatedData": AAD, "encryptionAlgorithm": "AES_GCM",
    })
    dec = curl(f"keys/{key_id}/decrypt", decrypt_body(key_id, enc, AAD))
    assert dec == {"plaintext": "SGVsbG8gV29ybGQh"}
    assert curl("health", HEALTH, user=f"Invalid{AKID}:{SECRET}")["errorName"] == "AuthenticationFailedException"


# --------------------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------------------


def test_every_call_is_audited_with_its_request_metadata_and_no_plaintext(proxy, key_id):
    md = metadata("Encrypt", key_id)
    secret_text = b"XKS-PLAINTEXT-MUST-NOT-BE-LOGGED"
    body = {"requestMetadata": md, "plaintext": base64.b64encode(secret_text).decode(), "encryptionAlgorithm": "AES_GCM",
            "additionalAuthenticatedData": AAD}
    r = xks(proxy, f"keys/{key_id}/encrypt", body)
    assert r.status == 200
    denied = xks(proxy, "health", HEALTH, secret="Invalid" + SECRET)
    assert denied.status == 401
    text = "".join(f.read_text() for f in sorted((proxy.data_dir / "audit").glob("trail-*.jsonl")))
    records = [json.loads(line) for line in text.splitlines()]
    xks_events = [e for e in records if e.get("eventSource") == "kms-xks-proxy"]
    (ev,) = [e for e in xks_events if e["requestParameters"].get("requestMetadata", {}).get("kmsRequestId") == md["kmsRequestId"]]
    assert ev["eventName"] == "Encrypt" and ev["requestParameters"]["keyId"] == key_id
    assert ev["requestParameters"]["requestMetadata"] == md
    assert ev["userIdentity"]["accessKeyId"] == AKID and ev["userIdentity"]["uriPrefix"] == PREFIX
    assert ev["resources"][0]["ARN"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"
    assert ev["requestID"] == r.headers["x-amzn-requestid"]
    failed = [e for e in xks_events if e["requestID"] == denied.headers["x-amzn-requestid"]]
    assert failed and failed[0]["errorCode"] == "AuthenticationFailedException"
    assert failed[0]["userIdentity"]["verified"] is False
    assert base64.b64encode(secret_text).decode() not in text and secret_text.decode() not in text
    assert AAD not in text
    assert SECRET not in text and SECRET not in proxy.stderr()
