"""Custom key stores of type AWS_CLOUDHSM over PKCS#11 (issue #21, part 1), with SoftHSMv2 as
the HSM and OpenSC's pkcs11-tool to look inside the token.

Each test module gets its own token directory (SOFTHSM2_CONF); the server declares clusters
with TRENT_PKCS11_CLUSTERS. boto3 drives the six custom key store operations and the keys.
"""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

import test_xks_proxy
from conftest import TrentServer, make_kms_client

LIBS = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
PIN, SO_PIN = "1234567", "76543210"
CLUSTER_A, CLUSTER_B, CLUSTER_GONE = "cluster-abcdefghijk", "cluster-bcdefghijkl", "cluster-nosuchtokenx"


def softhsm_lib() -> str:
    for lib in LIBS:
        if os.path.exists(lib):
            return lib
    pytest.fail("SoftHSMv2 is not installed (scripts/test installs softhsm2 and opensc)", pytrace=False)


def self_signed_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trent test HSM CA")])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + _dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Hsm:
    def __init__(self, root: pathlib.Path):
        self.lib = softhsm_lib()
        self.dir = root / "tokens"
        self.dir.mkdir()
        self.conf = root / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {self.dir}\nobjectstore.backend = file\nlog.level = ERROR\n")
        self.env = {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60, check=check)

    def init_token(self, label: str, pin: str = PIN) -> None:
        self.run("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN)

    def delete_token(self, label: str) -> None:
        self.run("softhsm2-util", "--delete-token", "--token", label)

    def objects(self, label: str) -> str:
        return self.run(
            "pkcs11-tool", "--module", self.lib, "--token-label", label, "--login", "--pin", PIN,
            "--list-objects", "--type", "secrkey",
        ).stdout


@pytest.fixture(scope="module")
def hsm(tmp_path_factory) -> Hsm:
    h = Hsm(tmp_path_factory.mktemp("softhsm"))
    h.init_token("trent-a")
    h.init_token("trent-b")
    return h


@pytest.fixture(scope="module")
def srv(hsm, tmp_path_factory):
    work = tmp_path_factory.mktemp("cks")
    clusters = ",".join(
        [f"{CLUSTER_A}={hsm.lib}:trent-a", f"{CLUSTER_B}={hsm.lib}:trent-b", f"{CLUSTER_GONE}={hsm.lib}:no-such-token"]
    )
    xks_proxy = f"{test_xks_proxy.PREFIX}={test_xks_proxy.AKID}:{test_xks_proxy.SECRET}"
    s = TrentServer(
        work / "data", work,
        {"SOFTHSM2_CONF": str(hsm.conf), "TRENT_PKCS11_CLUSTERS": clusters, "TRENT_XKS_PROXY": xks_proxy},
    )
    try:
        s.start()
        yield s
    finally:
        s.kill()


@pytest.fixture(scope="module")
def kms(srv):
    return make_kms_client(srv.base_url)


@pytest.fixture(scope="module")
def anchor() -> str:
    return self_signed_pem()


def code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


def store_of(kms, store_id: str) -> dict:
    (s,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    return s


def test_store_lifecycle_and_hsm_keys(kms, srv, hsm, anchor):
    sid = kms.create_custom_key_store(
        CustomKeyStoreName="hsm-a", CloudHsmClusterId=CLUSTER_A, TrustAnchorCertificate=anchor, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    assert sid.startswith("cks-") and len(sid) == 21
    s = store_of(kms, sid)
    assert s["ConnectionState"] == "DISCONNECTED" and s["CloudHsmClusterId"] == CLUSTER_A
    assert s["CustomKeyStoreType"] == "AWS_CLOUDHSM" and s["TrustAnchorCertificate"] == anchor
    assert kms.describe_custom_key_stores(CustomKeyStoreName="hsm-a")["CustomKeyStores"][0]["CustomKeyStoreId"] == sid

    # A key needs a connected store.
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=sid)
    assert code(e) == "CustomKeyStoreInvalidStateException"

    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    assert store_of(kms, sid)["ConnectionState"] == "CONNECTED"
    kms.connect_custom_key_store(CustomKeyStoreId=sid)  # connecting a connected store is fine

    md = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=sid, Description="in the HSM")["KeyMetadata"]
    kid = md["KeyId"]
    assert (md["Origin"], md["CustomKeyStoreId"], md["CloudHsmClusterId"]) == ("AWS_CLOUDHSM", sid, CLUSTER_A)
    d = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert (d["Origin"], d["CustomKeyStoreId"], d["CloudHsmClusterId"], d["KeyState"]) == ("AWS_CLOUDHSM", sid, CLUSTER_A, "Enabled")

    # The key is an object of the token: sensitive, never extractable, labelled with the key id.
    listing = hsm.objects("trent-a")
    assert kid in listing and "never extractable" in listing and "sensitive" in listing, listing
    read = hsm.run("pkcs11-tool", "--module", hsm.lib, "--token-label", "trent-a", "--login", "--pin", PIN,
                   "--read-object", "--type", "secrkey", "--label", kid, check=False)
    assert read.returncode != 0

    # Crypto runs in the token.
    ctx = {"purpose": "test"}
    blob = kms.encrypt(KeyId=kid, Plaintext=b"hsm secret", EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"hsm secret"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
    assert code(e) == "InvalidCiphertextException"
    dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    wo = kms.generate_data_key_without_plaintext(KeyId=kid, NumberOfBytes=32)
    assert len(kms.decrypt(CiphertextBlob=wo["CiphertextBlob"])["Plaintext"]) == 32
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    re = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=ctx, DestinationKeyId=other)
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == b"hsm secret"
    back = kms.re_encrypt(CiphertextBlob=re["CiphertextBlob"], DestinationKeyId=kid)
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"hsm secret"

    # Rotation is not for HSM keys.
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=kid)
    assert code(e) == "UnsupportedOperationException"

    # Updates and deletion need the store disconnected; a store with keys cannot be deleted.
    with pytest.raises(ClientError) as e:
        kms.update_custom_key_store(CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed")
    assert code(e) == "CustomKeyStoreInvalidStateException"
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=sid)
    assert code(e) == "CustomKeyStoreInvalidStateException"

    # Disconnected: ciphertexts do not decrypt, nothing encrypts.
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    assert store_of(kms, sid)["ConnectionState"] == "DISCONNECTED"
    for call in (lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx), lambda: kms.encrypt(KeyId=kid, Plaintext=b"x")):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "KMSInvalidStateException" and "not connected" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    assert code(e) == "CustomKeyStoreInvalidStateException"
    kms.update_custom_key_store(CustomKeyStoreId=sid, NewCustomKeyStoreName="hsm-a2")
    with pytest.raises(ClientError) as e:
        kms.update_custom_key_store(CustomKeyStoreId=sid, CloudHsmClusterId=CLUSTER_B)
    assert code(e) == "CloudHsmClusterNotRelatedException"
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=sid)
    assert code(e) == "CustomKeyStoreHasCMKsException"

    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"hsm secret"

    # Deletion after the waiting period destroys the token object.
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    srv.advance_clock(8 * 86400)
    for _ in range(100):
        if kid not in hsm.objects("trent-a"):
            break
        import time
        time.sleep(0.1)
    assert kid not in hsm.objects("trent-a")
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    for _ in range(50):
        try:
            kms.delete_custom_key_store(CustomKeyStoreId=sid)
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "CustomKeyStoreHasCMKsException"
            import time
            time.sleep(0.1)
    with pytest.raises(ClientError) as e:
        kms.describe_custom_key_stores(CustomKeyStoreId=sid)
    assert code(e) == "CustomKeyStoreNotFoundException"


def test_wrong_pin_fails_with_invalid_credentials_until_fixed(kms, anchor):
    sid = kms.create_custom_key_store(
        CustomKeyStoreName="hsm-b", CloudHsmClusterId=CLUSTER_B, TrustAnchorCertificate=anchor, KeyStorePassword="wrong-pin"
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    s = store_of(kms, sid)
    assert (s["ConnectionState"], s["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")
    with pytest.raises(ClientError) as e:
        kms.connect_custom_key_store(CustomKeyStoreId=sid)
    assert code(e) == "CustomKeyStoreInvalidStateException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    kms.update_custom_key_store(CustomKeyStoreId=sid, KeyStorePassword=PIN)
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    s = store_of(kms, sid)
    assert s["ConnectionState"] == "CONNECTED" and "ConnectionErrorCode" not in s
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    kms.delete_custom_key_store(CustomKeyStoreId=sid)


def test_a_token_that_is_not_there_is_cluster_not_found(kms, anchor):
    sid = kms.create_custom_key_store(
        CustomKeyStoreName="hsm-gone", CloudHsmClusterId=CLUSTER_GONE, TrustAnchorCertificate=anchor, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    s = store_of(kms, sid)
    assert (s["ConnectionState"], s["ConnectionErrorCode"]) == ("FAILED", "CLUSTER_NOT_FOUND")
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    kms.delete_custom_key_store(CustomKeyStoreId=sid)


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"CloudHsmClusterId": "cluster-zzzzzzzzzzz"}, "CloudHsmClusterNotFoundException"),
        ({"TrustAnchorCertificate": "not a certificate"}, "IncorrectTrustAnchorException"),
        ({"KeyStorePassword": "short"}, "ValidationException"),
        ({"CloudHsmClusterId": "not-a-cluster-id-xx"}, "ValidationException"),
        ({"CustomKeyStoreType": "EXTERNAL_KEY_STORE"}, "UnsupportedOperationException"),
    ],
)
def test_create_custom_key_store_errors(srv, anchor, kw, expected):
    kms = make_kms_client(srv.base_url, validate=False) if "short" in str(kw) or "not-a" in str(kw) else make_kms_client(srv.base_url)
    args = {"CustomKeyStoreName": "err", "CloudHsmClusterId": CLUSTER_A, "TrustAnchorCertificate": anchor, "KeyStorePassword": PIN}
    args.update(kw)
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(**args)
    assert code(e) == expected
    assert PIN not in str(e.value) and "short" not in e.value.response["Error"]["Message"]


def test_names_and_clusters_are_unique(kms, anchor):
    sid = kms.create_custom_key_store(
        CustomKeyStoreName="uniq", CloudHsmClusterId=CLUSTER_B, TrustAnchorCertificate=anchor, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(CustomKeyStoreName="uniq", CloudHsmClusterId=CLUSTER_A, TrustAnchorCertificate=anchor, KeyStorePassword=PIN)
    assert code(e) == "CustomKeyStoreNameInUseException"
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(CustomKeyStoreName="uniq2", CloudHsmClusterId=CLUSTER_B, TrustAnchorCertificate=anchor, KeyStorePassword=PIN)
    assert code(e) == "CloudHsmClusterInUseException"
    kms.delete_custom_key_store(CustomKeyStoreId=sid)


def test_unknown_stores_and_bad_key_requests(kms, anchor):
    for call in (
        lambda: kms.describe_custom_key_stores(CustomKeyStoreId="cks-00000000000000000"),
        lambda: kms.describe_custom_key_stores(CustomKeyStoreName="nobody"),
        lambda: kms.connect_custom_key_store(CustomKeyStoreId="cks-00000000000000000"),
        lambda: kms.disconnect_custom_key_store(CustomKeyStoreId="cks-00000000000000000"),
        lambda: kms.delete_custom_key_store(CustomKeyStoreId="cks-00000000000000000"),
        lambda: kms.update_custom_key_store(CustomKeyStoreId="cks-00000000000000000", NewCustomKeyStoreName="x"),
        lambda: kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-00000000000000000"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "CustomKeyStoreNotFoundException"
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM")
    assert code(e) == "ValidationException"
    sid = kms.create_custom_key_store(
        CustomKeyStoreName="spec", CloudHsmClusterId=CLUSTER_B, TrustAnchorCertificate=anchor, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=sid, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert code(e) == "UnsupportedOperationException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    kms.delete_custom_key_store(CustomKeyStoreId=sid)


def test_keys_work_after_restart_and_fail_clearly_after_token_reinit(hsm, tmp_path_factory, anchor):
    """A store CONNECTED before a restart reconnects on first use; a token re-initialised
    behind Trent's back (same label, same PIN, new objects) gives a clear error, not a crash.
    Nothing of the PIN is in the data dir in clear."""
    hsm.init_token("trent-r")
    work = tmp_path_factory.mktemp("cks-restart")
    cluster = "cluster-restartrestart"
    s = TrentServer(work / "data", work, {"SOFTHSM2_CONF": str(hsm.conf), "TRENT_PKCS11_CLUSTERS": f"{cluster}={hsm.lib}:trent-r"})
    try:
        s.start()
        kms = make_kms_client(s.base_url)
        sid = kms.create_custom_key_store(
            CustomKeyStoreName="r", CloudHsmClusterId=cluster, TrustAnchorCertificate=anchor, KeyStorePassword=PIN
        )["CustomKeyStoreId"]
        kms.connect_custom_key_store(CustomKeyStoreId=sid)
        kid = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=sid)["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=kid, Plaintext=b"across restarts")["CiphertextBlob"]
        s.restart()
        kms = make_kms_client(s.base_url)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across restarts"
        assert store_of(kms, sid)["ConnectionState"] == "CONNECTED"
        for f in (work / "data").rglob("*"):
            if f.is_file():
                assert PIN.encode() not in f.read_bytes(), f

        s.terminate()
        hsm.delete_token("trent-r")
        hsm.init_token("trent-r")
        s.start()
        kms = make_kms_client(s.base_url)
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=blob)
        assert code(e) == "KMSInvalidStateException"
        assert "not in its HSM token" in e.value.response["Error"]["Message"]
    finally:
        s.kill()


def test_the_xks_proxy_serves_hsm_backed_keys_with_gcm_in_the_token(srv, kms, hsm, anchor):
    sid = kms.create_custom_key_store(
        CustomKeyStoreName="xks-hsm", CloudHsmClusterId=CLUSTER_A, TrustAnchorCertificate=anchor, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    kid = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=sid)["KeyMetadata"]["KeyId"]
    enc = test_xks_proxy.encrypt(srv, kid, b"via xks", test_xks_proxy.AAD)
    assert enc.status == 200, enc
    d = test_xks_proxy.decrypt(srv, kid, enc.json, test_xks_proxy.AAD)
    assert d.status == 200 and d.json["plaintext"] == "dmlhIHhrcw==", d
    r = test_xks_proxy.decrypt(srv, kid, enc.json, test_xks_proxy.AAD2)
    assert (r.status, r.error) == (400, "InvalidCiphertextException"), r
    kms.disconnect_custom_key_store(CustomKeyStoreId=sid)
    r = test_xks_proxy.decrypt(srv, kid, enc.json, test_xks_proxy.AAD)
    assert (r.status, r.error) == (400, "InvalidStateException"), r
    kms.connect_custom_key_store(CustomKeyStoreId=sid)
    assert test_xks_proxy.decrypt(srv, kid, enc.json, test_xks_proxy.AAD).status == 200
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
