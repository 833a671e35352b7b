"""Root-key protection (`--seal`, docs/SEAL.md) against a real trentd, with boto3 and the `trent` CLI.

* `shamir:5/3`: shares printed once; a restart comes up sealed (/health 200, /ready 503 with the
  progress, AWS requests 503); `trent operator unseal` with every 3-subset of the 5 shares
  unseals, and data written before decrypts after; duplicated, corrupted, forged and foreign
  shares are refused; `trent operator seal` needs the admin's signature; the unseal endpoint is
  rate-limited; seal and unseal are in the audit trail, the shares and the root key nowhere on disk.
* `kms:KEY_ARN`: a second trentd is the KMS; the root key is decrypted at every start; the KMS's
  refusal stops the start with its error.
* A store is never opened under a seal other than the one it was created with.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    REPO,
    make_kms_client,
    make_sm_client,
    make_ssm_client,
    make_service_client,
    trentd_binary,
)

SHARE_RE = re.compile(r"Unseal share (\d+): (trent-share-[0-9a-f]+)")


def trent_cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TRENT_BIN") or trentd_binary().parent / "trent")
    assert path.exists(), f"the trent CLI is not built at {path} (cargo build --workspace)"
    return path


def shares_of(srv) -> list[str]:
    text = srv.stdout_path.read_text()
    found = SHARE_RE.findall(text)
    assert [int(i) for i, _ in found] == list(range(1, len(found) + 1)), text
    return [s for _, s in found]


def operator(srv_url: str, *args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(env or {})
    return subprocess.run(
        [str(trent_cli()), "operator", *args, "--endpoint", srv_url],
        input=stdin, capture_output=True, text=True, timeout=60, env=e,
    )


def unseal(srv_url: str, share: str) -> subprocess.CompletedProcess:
    """One share through the CLI; waits out the endpoint's rate limit if it answers 429."""
    for _ in range(50):
        r = operator(srv_url, "unseal", stdin=share + "\n")
        if "ThrottlingException" not in r.stderr:
            return r
        time.sleep(0.3)
    return r


ADMIN_ENV = {"AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY}


def seal(srv_url: str) -> None:
    r = operator(srv_url, "seal", env=ADMIN_ENV)
    assert r.returncode == 0, r.stderr
    assert "sealed: true" in r.stdout


def ready(srv_url: str) -> requests.Response:
    return requests.get(f"{srv_url}/ready", timeout=10)


# GF(256) with blahaj's polynomial x^8+x^4+x^3+x^2+1 (0x11d): rebuilds the root key from shares,
# so the test can look for it on disk.
def gf_mul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        b >>= 1
    return r


def gf_inv(a: int) -> int:
    r, e = 1, 254
    while e:
        if e & 1:
            r = gf_mul(r, a)
        a = gf_mul(a, a)
        e >>= 1
    return r


def share_fields(share: str) -> tuple[bytes, int, int, int, bytes]:
    b = bytes.fromhex(share.removeprefix("trent-share-"))
    return b[1:9], b[9], b[10], b[11], b[12:44]


def rebuild(shares: list[str]) -> bytes:
    pts = [share_fields(s)[3:] for s in shares]
    out = bytearray(32)
    for i, (xi, yi) in enumerate(pts):
        basis = 1
        for j, (xj, _) in enumerate(pts):
            if i != j:
                basis = gf_mul(basis, gf_mul(xj, gf_inv(xj ^ xi)))
        for n in range(32):
            out[n] ^= gf_mul(yi[n], basis)
    return bytes(out)


def forge(share: str, flip_value_byte: int) -> str:
    """A share whose value was changed but whose checksum was recomputed (passes decoding)."""
    b = bytearray(bytes.fromhex(share.removeprefix("trent-share-")))
    b[12 + flip_value_byte] ^= 0x5A
    body = bytes(b[:-4])
    return "trent-share-" + (body + hashlib.sha256(body).digest()[:4]).hex()


def corrupt(share: str, pos: int) -> str:
    c = share[pos]
    return share[:pos] + ("0" if c != "0" else "1") + share[pos + 1:]


def files_under(*dirs: pathlib.Path):
    for d in dirs:
        for p in d.rglob("*"):
            if p.is_file():
                yield p


@pytest.fixture
def shamir(trent_factory):
    srv = trent_factory({"TRENT_SEAL": "shamir:5/3"})
    return srv


def test_shamir_end_to_end_sealed_restart_unseal_and_nothing_on_disk(shamir):
    srv = shamir
    shares = shares_of(srv)
    assert len(shares) == 5 and len(set(shares)) == 5
    assert not (srv.data_dir / "root.key").exists()
    # First start runs unsealed: write data of each service.
    kms = make_kms_client(srv.base_url)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before the restart")["CiphertextBlob"]
    make_ssm_client(srv.base_url).put_parameter(Name="/seal/p", Value="param-secret", Type="SecureString")
    make_sm_client(srv.base_url).create_secret(Name="seal-secret", SecretString="sm-secret")
    assert ready(srv.base_url).status_code == 200

    srv.restart()
    url = srv.base_url
    # Sealed: health yes, ready no, with the progress; every AWS request 503.
    assert requests.get(f"{url}/health", timeout=10).status_code == 200
    r = ready(url)
    assert r.status_code == 503 and r.json()["sealed"] is True and r.json()["progress"] == "0/3", r.text
    with pytest.raises(ClientError) as e:
        make_kms_client(url).decrypt(CiphertextBlob=blob)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert "sealed" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        make_service_client("sts", url).get_caller_identity()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert "sealed" in e.value.response["Error"]["Message"]

    # One share: progress 1/3. The same share again: refused, progress unchanged.
    r = unseal(url, shares[0])
    assert r.returncode == 0 and "1/3" in r.stdout, r.stderr
    assert ready(url).json()["progress"] == "1/3"
    r = unseal(url, shares[0])
    assert r.returncode != 0 and "already submitted" in r.stderr, r.stderr
    # A corrupted share (one hex digit changed): refused without saying where.
    bad = corrupt(shares[1], 57)
    r = unseal(url, bad)
    assert r.returncode != 0 and "malformed or corrupted" in r.stderr
    assert "57" not in r.stderr and "byte" not in r.stderr.lower() and "position" not in r.stderr.lower()
    assert ready(url).json()["progress"] == "1/3"
    # Nothing on the command line: argv is refused by clap (no positional share).
    r = operator(url, "unseal", shares[1])
    assert r.returncode != 0
    assert unseal(url, shares[2]).returncode == 0
    r = unseal(url, shares[4])
    assert r.returncode == 0 and "sealed: false" in r.stdout, r.stdout + r.stderr
    assert ready(url).status_code == 200

    # Data written before the restart decrypts after unsealing.
    assert make_kms_client(url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"before the restart"
    p = make_ssm_client(url).get_parameter(Name="/seal/p", WithDecryption=True)["Parameter"]["Value"]
    assert p == "param-secret"
    assert make_sm_client(url).get_secret_value(SecretId="seal-secret")["SecretString"] == "sm-secret"

    # The audit trail has the unseal attempts (accepted and refused), never a share.
    srv.terminate()
    root = rebuild(shares[:3])
    assert rebuild(shares[2:]) == root and rebuild([shares[0], shares[2], shares[4]]) == root
    needles = [root, root.hex().encode(), base64.b64encode(root)]
    for s in shares + [bad]:
        needles += [s.encode(), s.removeprefix("trent-share-").encode()]
        needles.append(bytes.fromhex(s.removeprefix("trent-share-"))[12:44])
    for path in files_under(srv.data_dir, srv.work_dir):
        if path.name.endswith(".stdout"):
            continue  # the shares are printed on stdout once, by design
        data = path.read_bytes()
        for n in needles:
            assert n not in data, f"{path} holds a share or the root key"
    trail = b"".join(p.read_bytes() for p in files_under(srv.data_dir / "audit")).decode(errors="replace")
    compact = trail.replace(" ", "")
    assert '"eventName":"Unseal"' in compact, trail[-2000:]
    assert '"outcome":"refused"' in compact and '"outcome":"unsealed"' in compact


def test_every_3_subset_of_a_5_3_split_unseals_and_fewer_do_not(shamir):
    srv = shamir
    shares = shares_of(srv)
    kms = make_kms_client(srv.base_url)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    url = srv.base_url
    for subset in itertools.combinations(range(5), 3):
        seal(url)
        assert ready(url).status_code == 503
        with pytest.raises(ClientError) as e:
            make_kms_client(url).decrypt(CiphertextBlob=blob)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        for n, i in enumerate(subset):
            r = unseal(url, shares[i])
            assert r.returncode == 0, r.stderr
            if n < 2:
                assert ready(url).status_code == 503, subset
        assert ready(url).status_code == 200, subset
        assert make_kms_client(url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"x", subset


def test_foreign_and_forged_shares_are_refused_and_reset_progress(trent_factory):
    a = trent_factory({"TRENT_SEAL": "shamir:3/2"})
    b = trent_factory({"TRENT_SEAL": "shamir:3/2"})
    sa, sb = shares_of(a), shares_of(b)
    a.restart()
    r = unseal(a.base_url, sb[0])
    assert r.returncode != 0 and "another trentd deployment" in r.stderr, r.stderr
    assert ready(a.base_url).json()["progress"] == "0/2"
    # A share of the right deployment whose value was altered and checksum recomputed: accepted
    # as a share, but the two do not rebuild the root key; progress goes back to 0.
    assert unseal(a.base_url, forge(sa[0], 3)).returncode == 0
    r = unseal(a.base_url, sa[1])
    assert r.returncode != 0 and "do not rebuild" in r.stderr, r.stderr
    assert ready(a.base_url).json() == {"status": "sealed", "sealed": True, "progress": "0/2"}
    # Garbage bodies get a clear 400, never a 5xx.
    for body in [b"", b"{", b'{"share": 5}', b'{"share": "x"}', b"\xff" * 100, b"a" * 20000]:
        resp = requests.post(f"{a.base_url}/_trent/unseal", data=body, timeout=10)
        assert resp.status_code in (400, 429), (body[:10], resp.status_code, resp.text)
    time.sleep(5)  # let the rate limit refill
    assert unseal(a.base_url, sa[2]).returncode == 0
    r = unseal(a.base_url, sa[1])
    assert r.returncode == 0 and "sealed: false" in r.stdout, r.stderr


def test_seal_needs_the_admins_signature_and_unseal_is_rate_limited(shamir):
    url = shamir.base_url
    # Unsigned, and signed with a wrong secret: refused, still unsealed.
    resp = requests.post(f"{url}/_trent/seal", data=b"{}", timeout=10)
    assert resp.status_code in (400, 403) and resp.json()["__type"].startswith("MissingAuthenticationToken")
    r = operator(url, "seal", env={"AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": "wrong"})
    assert r.returncode != 0 and ("SignatureDoesNotMatch" in r.stderr or "InvalidSignature" in r.stderr), r.stderr
    assert ready(url).status_code == 200
    # An IAM user, even with every permission, is not the admin.
    iam = make_service_client("iam", url)
    iam.create_user(UserName="ops")
    iam.put_user_policy(UserName="ops", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    k = iam.create_access_key(UserName="ops")["AccessKey"]
    r = operator(url, "seal", env={"AWS_ACCESS_KEY_ID": k["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"]})
    assert r.returncode != 0 and "AccessDeniedException" in r.stderr, r.stderr
    assert ready(url).status_code == 200
    seal(url)
    # The unseal endpoint admits a burst, then throttles.
    codes = [requests.post(f"{url}/_trent/unseal", json={"share": "trent-share-00"}, timeout=10).status_code
             for _ in range(60)]
    assert 429 in codes and 400 in codes, codes
    assert set(codes) <= {400, 429}


def test_a_store_opens_only_under_its_own_seal(trent_factory):
    plain = trent_factory()
    plain.terminate()
    plain.spawn({"TRENT_SEAL": "shamir:3/2"})
    assert plain.proc.wait(30) != 0
    assert "migrate-seal" in plain.stderr()
    s = trent_factory({"TRENT_SEAL": "shamir:3/2"})
    s.terminate()
    for other in ["file", "shamir:5/3"]:
        s.spawn({"TRENT_SEAL": other})
        assert s.proc.wait(30) != 0
        assert "sealed with shamir:3/2" in s.stderr(), s.stderr()
    s.spawn({"TRENT_SEAL": "shamir:3/2", "TRENT_ROOT_KEY": base64.b64encode(b"k" * 32).decode()})
    assert s.proc.wait(30) != 0 and "TRENT_ROOT_KEY" in s.stderr()
    s.spawn({"TRENT_SEAL": "shamir:9/12"})
    assert s.proc.wait(30) == 2 and "shamir:N/K" in s.stderr()


def test_kms_seal_against_a_second_trentd(trent_factory):
    kms_srv = trent_factory()
    outer = make_kms_client(kms_srv.base_url)
    arn = outer.create_key(Description="trentd root key")["KeyMetadata"]["Arn"]
    env = {
        "TRENT_SEAL": f"kms:{arn}",
        "AWS_ENDPOINT_URL_KMS": kms_srv.base_url,
        "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
    }
    srv = trent_factory(env)
    assert not (srv.data_dir / "root.key").exists()
    kms = make_kms_client(srv.base_url)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"wrapped by the other trentd")["CiphertextBlob"]
    make_sm_client(srv.base_url).create_secret(Name="k", SecretString="v")
    srv.restart()
    assert ready(srv.base_url).status_code == 200
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"wrapped by the other trentd"
    assert make_sm_client(srv.base_url).get_secret_value(SecretId="k")["SecretString"] == "v"
    # The KMS refuses (key disabled): the start stops with the KMS's error.
    srv.terminate()
    outer.disable_key(KeyId=arn)
    srv.spawn()
    assert srv.proc.wait(30) != 0
    assert "DisabledException" in srv.stderr(), srv.stderr()
    outer.enable_key(KeyId=arn)
    # The KMS is gone: the start stops, saying it could not be reached.
    kms_srv.terminate()
    srv.spawn()
    assert srv.proc.wait(60) != 0
    assert "could not be reached" in srv.stderr(), srv.stderr()
    # Wrong credentials for the KMS: its refusal is shown.
    kms_srv.start()
    env2 = dict(env, AWS_ENDPOINT_URL_KMS=kms_srv.base_url, AWS_SECRET_ACCESS_KEY="wrong")
    srv.spawn(env2)
    assert srv.proc.wait(30) != 0
    assert "SignatureDoesNotMatch" in srv.stderr() or "InvalidSignature" in srv.stderr(), srv.stderr()
    srv.start(dict(env, AWS_ENDPOINT_URL_KMS=kms_srv.base_url))
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"wrapped by the other trentd"


SOFTHSM_MODULE = next(
    (p for p in ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                 "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"] if os.path.exists(p)),
    None,
)


@pytest.fixture
def softhsm(tmp_path):
    """A SoftHSMv2 token of the test's own (label `trent`, user PIN 1234), via SOFTHSM2_CONF."""
    assert SOFTHSM_MODULE, "SoftHSMv2 is not installed (scripts/test installs softhsm2)"
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "trent", "--pin", "1234", "--so-pin", "5678"],
                   check=True, capture_output=True, env={**os.environ, **env})
    return {"env": env, "tokens": tokens}


def test_pkcs11_seal_with_softhsm(trent_factory, softhsm):
    spec = f"pkcs11:{SOFTHSM_MODULE}:trent:trent-root"
    env = {**softhsm["env"], "TRENT_SEAL": spec, "TRENT_PKCS11_PIN": "1234"}
    srv = trent_factory(env)
    assert not (srv.data_dir / "root.key").exists()
    kms = make_kms_client(srv.base_url)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"hsm-wrapped")["CiphertextBlob"]
    make_ssm_client(srv.base_url).put_parameter(Name="/hsm/p", Value="v1", Type="SecureString")
    # The wrapping key is in the token: sensitive and not extractable.
    listed = subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", "trent", "--login",
                             "--pin", "1234", "--list-objects", "--type", "secrkey"],
                            capture_output=True, text=True, env={**os.environ, **softhsm["env"]})
    assert listed.returncode == 0, listed.stderr
    assert "trent-root" in listed.stdout and "sensitive" in listed.stdout and "never extractable" in listed.stdout, listed.stdout
    srv.restart()
    assert ready(srv.base_url).status_code == 200
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"hsm-wrapped"
    assert make_ssm_client(srv.base_url).get_parameter(Name="/hsm/p", WithDecryption=True)["Parameter"]["Value"] == "v1"
    srv.terminate()
    # A wrong PIN, and a token without the key (an HSM replaced without its key): clear refusals.
    srv.spawn({"TRENT_PKCS11_PIN": "0000"})
    assert srv.proc.wait(30) != 0 and "PIN is incorrect" in srv.stderr(), srv.stderr()
    srv.spawn({"TRENT_SEAL": f"pkcs11:{SOFTHSM_MODULE}:trent:other-label"})
    assert srv.proc.wait(30) != 0 and "sealed with pkcs11" in srv.stderr(), srv.stderr()
    for d in softhsm["tokens"].iterdir():
        shutil.rmtree(d)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "trent", "--pin", "1234", "--so-pin", "5678"],
                   check=True, capture_output=True, env={**os.environ, **softhsm["env"]})
    srv.spawn()
    assert srv.proc.wait(30) != 0 and "has no AES key labelled" in srv.stderr(), srv.stderr()


def migrate(srv, to: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    e = srv.env(env)
    return subprocess.run(
        [str(trentd_binary()), "admin", "migrate-seal", "--to", to, "--data-dir", str(srv.data_dir)],
        input=stdin, capture_output=True, text=True, timeout=60, env=e,
    )


def test_migrate_seal_file_to_shamir_to_kms_to_file(trent_factory, softhsm):
    kms_srv = trent_factory()
    arn = make_kms_client(kms_srv.base_url).create_key()["KeyMetadata"]["Arn"]
    kms_env = {"AWS_ENDPOINT_URL_KMS": kms_srv.base_url, "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
               "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY}
    srv = trent_factory()
    kms = make_kms_client(srv.base_url)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"moved")["CiphertextBlob"]
    # Refused while trentd runs (the data dir's lock).
    r = migrate(srv, "shamir:3/2")
    assert r.returncode != 0 and "in use" in r.stderr, r.stderr
    srv.terminate()
    old_root = (srv.data_dir / "root.key").read_text().strip()
    r = migrate(srv, "shamir:3/2")
    assert r.returncode == 0, r.stderr
    shares = [s for _, s in SHARE_RE.findall(r.stdout)]
    assert len(shares) == 3 and not (srv.data_dir / "root.key").exists()
    assert rebuild(shares[:2]) == base64.b64decode(old_root)
    # shamir -> kms needs K shares on stdin; too few are refused and nothing changes.
    r = migrate(srv, f"kms:{arn}", stdin=shares[0] + "\n", env=kms_env)
    assert r.returncode != 0 and "2 distinct unseal shares" in r.stderr, r.stderr
    srv.start({"TRENT_SEAL": "shamir:3/2"})
    assert unseal(srv.base_url, shares[2]).returncode == 0
    assert unseal(srv.base_url, shares[0]).returncode == 0
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"moved"
    srv.terminate()
    r = migrate(srv, f"kms:{arn}", stdin=f"{shares[1]}\n\n{shares[2]}\n", env=kms_env)
    assert r.returncode == 0, r.stderr
    srv.start({"TRENT_SEAL": f"kms:{arn}", **kms_env})
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"moved"
    srv.terminate()
    pk = f"pkcs11:{SOFTHSM_MODULE}:trent:migrated"
    r = migrate(srv, pk, env={**kms_env, **softhsm["env"], "TRENT_PKCS11_PIN": "1234"})
    assert r.returncode == 0, r.stderr
    srv.start({"TRENT_SEAL": pk, **softhsm["env"], "TRENT_PKCS11_PIN": "1234"})
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"moved"
    srv.terminate()
    r = migrate(srv, "file", env={**softhsm["env"], "TRENT_PKCS11_PIN": "1234"})
    assert r.returncode == 0, r.stderr
    assert (srv.data_dir / "root.key").read_text().strip() == old_root
    srv.start()
    assert make_kms_client(srv.base_url).decrypt(CiphertextBlob=blob)["Plaintext"] == b"moved"
    srv.terminate()
    trail = b"".join(p.read_bytes() for p in files_under(srv.data_dir / "audit")).decode(errors="replace")
    assert trail.replace(" ", "").count('"eventName":"MigrateSeal"') == 4
