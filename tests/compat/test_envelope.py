"""`trent encrypt` / `trent decrypt` against the official AWS Encryption SDK for Python and its CLI.

Files cross in both directions, for every algorithm suite, with KMS keys held by a running trentd,
with raw AES and raw RSA wrapping keys, and with several encrypted data keys per message.

The `trent` binary is `$TRENT_BIN` if set, else `<repo>/target/debug/trent` (build it with
`cargo build -p trent-cli`); the suite does not build it.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION, REPO

ALL_SUITES = list(Algorithm)
COMMITTING = [s for s in ALL_SUITES if s.is_committing()]
ALLOW = CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
PUBLIC_KEY_FIELD = "aws-crypto-public-key"


def trent_binary() -> pathlib.Path:
    env = os.environ.get("TRENT_BIN")
    path = pathlib.Path(env) if env else REPO / "target" / "debug" / "trent"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"trent binary not found at {path} "
            f"({'from $TRENT_BIN' if env else 'default location; set TRENT_BIN to override'}). "
            "Build it first (cargo build -p trent-cli); this suite does not build it.",
            pytrace=False,
        )
    return path


def aws_env(base_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_KMS": base_url,
        }
    )
    return env


@pytest.fixture
def run_trent(trent):
    """Runs `trent ...` with the admin credentials and trentd as the KMS endpoint."""

    def run(*args, check=True, stdin=None):
        r = subprocess.run(
            [str(trent_binary()), *map(str, args)],
            env=aws_env(trent.base_url),
            input=stdin,
            capture_output=True,
            timeout=120,
        )
        if check:
            assert r.returncode == 0, f"trent {' '.join(map(str, args))} failed:\n{r.stderr.decode(errors='replace')}"
        return r

    return run


@pytest.fixture
def sdk_env(trent, monkeypatch):
    """Environment for the Python SDK's KMS master key providers: a botocore session aimed at trentd."""
    for k, v in aws_env(trent.base_url).items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    return botocore.session.Session()


@pytest.fixture(scope="module")
def kms_keys(trent):
    from conftest import make_kms_client

    kms = make_kms_client(trent.base_url)
    return [kms.create_key(Description=f"envelope interop {i}")["KeyMetadata"]["Arn"] for i in range(2)]


@pytest.fixture(scope="module")
def raw_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("rawkeys")
    aes = os.urandom(32)
    (d / "aes.key").write_bytes(aes)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (d / "rsa.pem").write_bytes(pem)
    pkcs1 = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    (d / "rsa-pkcs1.pem").write_bytes(pkcs1)
    return {"dir": d, "aes": aes, "rsa_pem": pem}


def raw_provider(raw_keys, which=("aes", "rsa")):
    """Python master key providers matching `--raw-key interop-aes:aes-1:...` and `interop-rsa:rsa-1:...`."""
    keys = {
        "aes": ("interop-aes", "aes-1", WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=raw_keys["aes"],
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        )),
        "rsa": ("interop-rsa", "rsa-1", WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
            wrapping_key=raw_keys["rsa_pem"],
            wrapping_key_type=EncryptionKeyType.PRIVATE,
        )),
    }
    root = None
    for w in which:
        ns, name, wk = keys[w]

        def _get_raw_key(self, key_id, _wk=wk):
            return _wk

        p = type("InteropProvider", (RawMasterKeyProvider,), {"provider_id": ns, "_get_raw_key": _get_raw_key})()
        p.add_master_key(name)
        if root is None:
            root = p
        else:
            root.add_master_key_provider(p)
    return root


def raw_key_args(raw_keys, which=("aes", "rsa")):
    d = raw_keys["dir"]
    args = []
    if "aes" in which:
        args += ["--raw-key", f"interop-aes:aes-1:{d / 'aes.key'}"]
    if "rsa" in which:
        args += ["--raw-key", f"interop-rsa:rsa-1:{d / 'rsa.pem'}"]
    return args


def kms_provider(session, arns):
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=list(arns), botocore_session=session)


def policy_args(suite):
    return [] if suite.is_committing() else ["--commitment-policy", "FORBID_ENCRYPT_ALLOW_DECRYPT"]


def user_context(header_ec: dict) -> dict:
    return {k: v for k, v in header_ec.items() if k != PUBLIC_KEY_FIELD}


CONTEXT = {"purpose": "interop", "tenant": "trent"}
CONTEXT_ARGS = ["--context", "purpose=interop", "--context", "tenant=trent"]


@pytest.mark.parametrize("suite", ALL_SUITES, ids=lambda s: f"0x{s.algorithm_id:04X}")
def test_trent_encrypts_with_kms_and_python_sdk_decrypts_every_suite(run_trent, sdk_env, kms_keys, tmp_path, suite):
    plain = os.urandom(10_000)
    (tmp_path / "in").write_bytes(plain)
    run_trent("encrypt", "--key", kms_keys[0], "--suite", f"0x{suite.algorithm_id:04X}", *policy_args(suite),
              *CONTEXT_ARGS, "--frame-size", "1024", tmp_path / "in", "-o", tmp_path / "ct")
    ct = (tmp_path / "ct").read_bytes()
    pt, header = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=ALLOW).decrypt(
        source=ct, key_provider=kms_provider(sdk_env, kms_keys[:1])
    )
    assert pt == plain
    assert header.algorithm == suite
    assert user_context(header.encryption_context) == CONTEXT
    assert header.frame_length == 1024


@pytest.mark.parametrize("framed", [True, False], ids=["framed", "nonframed"])
@pytest.mark.parametrize("suite", ALL_SUITES, ids=lambda s: f"0x{s.algorithm_id:04X}")
def test_python_sdk_encrypts_with_kms_and_trent_decrypts_every_suite(run_trent, sdk_env, kms_keys, tmp_path, suite, framed):
    plain = os.urandom(5000)
    policy = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT if suite.is_committing() else CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    ct, _ = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy).encrypt(
        source=plain, key_provider=kms_provider(sdk_env, kms_keys[:1]), encryption_context=CONTEXT,
        algorithm=suite, frame_length=512 if framed else 0,
    )
    (tmp_path / "ct").write_bytes(ct)
    run_trent("decrypt", "--key", kms_keys[0], "--commitment-policy", "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
              *CONTEXT_ARGS, tmp_path / "ct", "-o", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == plain


@pytest.mark.parametrize("size", [0, 1000, 3000, 3001, 4096 * 3])
def test_python_sdk_reads_trent_messages_at_frame_boundaries(run_trent, raw_keys, tmp_path, size):
    # Regression: a plaintext of whole frames must end with an empty final frame; the Python SDK
    # refuses a final frame as long as the frame length.
    plain = os.urandom(size)
    (tmp_path / "in").write_bytes(plain)
    frame = "4096" if size % 4096 == 0 and size else "1000"
    run_trent("encrypt", *raw_key_args(raw_keys, ("aes",)), "--frame-size", frame, tmp_path / "in", "-o", tmp_path / "ct")
    pt, header = aws_encryption_sdk.EncryptionSDKClient().decrypt(source=(tmp_path / "ct").read_bytes(),
                                                                 key_provider=raw_provider(raw_keys, ("aes",)))
    assert pt == plain
    assert header.frame_length == int(frame)


def test_legacy_python_message_is_refused_under_the_default_policy(run_trent, sdk_env, kms_keys, tmp_path):
    ct, _ = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT).encrypt(
        source=b"old", key_provider=kms_provider(sdk_env, kms_keys[:1]),
        algorithm=Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
    )
    (tmp_path / "ct").write_bytes(ct)
    r = run_trent("decrypt", "--key", kms_keys[0], tmp_path / "ct", "-o", tmp_path / "out", check=False)
    assert r.returncode == 1
    assert b"commitment policy" in r.stderr
    assert not (tmp_path / "out").exists()


def test_several_edks_kms_aes_rsa_each_decrypts_in_both_sdks(run_trent, sdk_env, kms_keys, raw_keys, tmp_path):
    plain = os.urandom(20_000)
    (tmp_path / "in").write_bytes(plain)
    run_trent("encrypt", "--key", kms_keys[0], "--key", kms_keys[1], *raw_key_args(raw_keys), *CONTEXT_ARGS,
              tmp_path / "in", "-o", tmp_path / "ct")
    ct = (tmp_path / "ct").read_bytes()
    client = aws_encryption_sdk.EncryptionSDKClient()
    providers = [kms_provider(sdk_env, kms_keys[:1]), kms_provider(sdk_env, kms_keys[1:]),
                 raw_provider(raw_keys, ("aes",)), raw_provider(raw_keys, ("rsa",))]
    for p in providers:
        pt, header = client.decrypt(source=ct, key_provider=p)
        assert pt == plain
        assert len(header.encrypted_data_keys) == 4
    # And trent alone with each single key.
    for args in (["--key", kms_keys[0]], ["--key", kms_keys[1]], raw_key_args(raw_keys, ("aes",)),
                 raw_key_args(raw_keys, ("rsa",))):
        out = tmp_path / "out"
        run_trent("decrypt", *args, tmp_path / "ct", "-o", out)
        assert out.read_bytes() == plain
        out.unlink()


@pytest.mark.parametrize("which", [("aes",), ("rsa",), ("aes", "rsa")], ids=["aes", "rsa", "aes+rsa"])
def test_raw_keys_cross_in_both_directions(run_trent, raw_keys, tmp_path, which):
    plain = os.urandom(3000)
    (tmp_path / "in").write_bytes(plain)
    run_trent("encrypt", *raw_key_args(raw_keys, which), *CONTEXT_ARGS, tmp_path / "in", "-o", tmp_path / "ct")
    client = aws_encryption_sdk.EncryptionSDKClient()
    pt, header = client.decrypt(source=(tmp_path / "ct").read_bytes(), key_provider=raw_provider(raw_keys, which))
    assert pt == plain
    assert user_context(header.encryption_context) == CONTEXT
    ct, _ = client.encrypt(source=plain, key_provider=raw_provider(raw_keys, which), encryption_context=CONTEXT)
    (tmp_path / "py.ct").write_bytes(ct)
    run_trent("decrypt", *raw_key_args(raw_keys, which), tmp_path / "py.ct", "-o", tmp_path / "py.out")
    assert (tmp_path / "py.out").read_bytes() == plain


def test_pkcs1_pem_private_key_file_is_accepted(run_trent, raw_keys, tmp_path):
    plain = b"pkcs1 pem"
    client = aws_encryption_sdk.EncryptionSDKClient()
    ct, _ = client.encrypt(source=plain, key_provider=raw_provider(raw_keys, ("rsa",)))
    (tmp_path / "ct").write_bytes(ct)
    run_trent("decrypt", "--raw-key", f"interop-rsa:rsa-1:{raw_keys['dir'] / 'rsa-pkcs1.pem'}", tmp_path / "ct",
              "-o", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == plain


def test_discovery_decrypts_a_python_kms_message_and_the_account_filter_applies(run_trent, sdk_env, kms_keys, tmp_path):
    ct, _ = aws_encryption_sdk.EncryptionSDKClient().encrypt(source=b"discover me",
                                                            key_provider=kms_provider(sdk_env, kms_keys[1:]))
    (tmp_path / "ct").write_bytes(ct)
    run_trent("decrypt", "--discovery", tmp_path / "ct", "-o", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"discover me"
    account = kms_keys[1].split(":")[4]
    run_trent("decrypt", "--discovery", "--discovery-account", account, tmp_path / "ct", "-o", tmp_path / "out2")
    assert (tmp_path / "out2").read_bytes() == b"discover me"
    r = run_trent("decrypt", "--discovery", "--discovery-account", "999999999999", tmp_path / "ct", "-o",
                  tmp_path / "out3", check=False)
    assert r.returncode == 1 and not (tmp_path / "out3").exists()


def test_tampered_python_message_fails_and_leaves_no_output(run_trent, raw_keys, tmp_path):
    ct, _ = aws_encryption_sdk.EncryptionSDKClient().encrypt(source=os.urandom(10_000),
                                                            key_provider=raw_provider(raw_keys, ("aes",)),
                                                            frame_length=1024)
    for pos in (5, len(ct) // 2, len(ct) - 3):
        bad = bytearray(ct)
        bad[pos] ^= 0x40
        (tmp_path / "bad").write_bytes(bytes(bad))
        r = run_trent("decrypt", *raw_key_args(raw_keys, ("aes",)), tmp_path / "bad", "-o", tmp_path / "out",
                      check=False)
        assert r.returncode == 1, f"byte {pos}"
        assert not (tmp_path / "out").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".trent-")], "temporary file left behind"
    # stdout also stays empty: unverified plaintext is never released.
    bad = bytearray(ct)
    bad[len(ct) - 3] ^= 0x40
    r = run_trent("decrypt", *raw_key_args(raw_keys, ("aes",)), "-", "-o", "-", stdin=bytes(bad), check=False)
    assert r.returncode == 1 and r.stdout == b""


def test_required_context_on_decrypt_must_match(run_trent, raw_keys, tmp_path):
    (tmp_path / "in").write_bytes(b"ctx")
    run_trent("encrypt", *raw_key_args(raw_keys, ("aes",)), *CONTEXT_ARGS, tmp_path / "in", "-o", tmp_path / "ct")
    run_trent("decrypt", *raw_key_args(raw_keys, ("aes",)), "--context", "tenant=trent", tmp_path / "ct", "-o",
              tmp_path / "ok")
    r = run_trent("decrypt", *raw_key_args(raw_keys, ("aes",)), "--context", "tenant=other", tmp_path / "ct", "-o",
                  tmp_path / "no", check=False)
    assert r.returncode == 1 and b"tenant" in r.stderr and not (tmp_path / "no").exists()


def test_recursive_directories_and_stdin_stdout(run_trent, raw_keys, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(9000)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    run_trent("encrypt", "--recursive", *raw_key_args(raw_keys, ("aes",)), src, "-o", tmp_path / "enc")
    assert (tmp_path / "enc" / "sub" / "b.bin.encrypted").is_file()
    run_trent("decrypt", "--recursive", *raw_key_args(raw_keys, ("aes",)), tmp_path / "enc", "-o", tmp_path / "dec")
    for name, data in files.items():
        assert (tmp_path / "dec" / name).read_bytes() == data
    ct = run_trent("encrypt", *raw_key_args(raw_keys, ("aes",)), "-", "-o", "-", stdin=b"piped").stdout
    pt, _ = aws_encryption_sdk.EncryptionSDKClient().decrypt(source=ct, key_provider=raw_provider(raw_keys, ("aes",)))
    assert pt == b"piped"


def test_max_encrypted_data_keys_is_enforced_on_decrypt(run_trent, raw_keys, tmp_path):
    (tmp_path / "in").write_bytes(b"x")
    run_trent("encrypt", *raw_key_args(raw_keys), tmp_path / "in", "-o", tmp_path / "ct")
    r = run_trent("decrypt", *raw_key_args(raw_keys), "--max-encrypted-data-keys", "1", tmp_path / "ct", "-o",
                  tmp_path / "out", check=False)
    assert r.returncode == 1 and b"maximum" in r.stderr


# ---- the official Python CLI (aws-encryption-sdk-cli) -------------------------------------------------

def python_cli() -> str:
    exe = shutil.which("aws-encryption-cli") or str(pathlib.Path(os.sys.executable).parent / "aws-encryption-cli")
    if not os.path.exists(exe):
        pytest.skip("aws-encryption-sdk-cli is not installed")
    return exe


def run_python_cli(trent, *args):
    r = subprocess.run([python_cli(), *map(str, args)], env=aws_env(trent.base_url), capture_output=True, timeout=120)
    assert r.returncode == 0, f"aws-encryption-cli failed:\n{r.stderr.decode(errors='replace')}"
    return r


@pytest.mark.parametrize("suite", COMMITTING, ids=lambda s: f"0x{s.algorithm_id:04X}")
def test_trent_file_decrypts_with_the_python_cli(trent, run_trent, kms_keys, tmp_path, suite):
    plain = os.urandom(7000)
    (tmp_path / "in").write_bytes(plain)
    run_trent("encrypt", "--key", kms_keys[0], "--key", kms_keys[1], "--suite", suite.name, *CONTEXT_ARGS,
              tmp_path / "in", "-o", tmp_path / "ct")
    run_python_cli(trent, "--decrypt", "-i", tmp_path / "ct", "-o", tmp_path / "out", "-S",
                   "-w", f"key={kms_keys[1]}", "-c", "purpose=interop",
                   "--commitment-policy", "require-encrypt-require-decrypt")
    assert (tmp_path / "out").read_bytes() == plain


@pytest.mark.parametrize("suite", ["AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
                                   "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", "AES_128_GCM_IV12_TAG16"])
def test_python_cli_file_decrypts_with_trent(trent, run_trent, kms_keys, tmp_path, suite):
    plain = os.urandom(7000)
    (tmp_path / "in").write_bytes(plain)
    committing = "COMMIT" in suite
    policy = "require-encrypt-require-decrypt" if committing else "forbid-encrypt-allow-decrypt"
    run_python_cli(trent, "--encrypt", "-i", tmp_path / "in", "-o", tmp_path / "ct", "-S",
                   "-w", f"key={kms_keys[0]}", f"key={kms_keys[1]}", "-c", "purpose=interop",
                   "--algorithm", suite, "--commitment-policy", policy)
    run_trent("decrypt", "--key", kms_keys[1], "--commitment-policy", "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
              "--context", "purpose=interop", tmp_path / "ct", "-o", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == plain


# ---- connection settings, caching ------------------------------------------------------------------

def test_credentials_and_region_come_from_the_profile_files(trent, kms_keys, raw_keys, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n"
                     f"[envtest]\naws_access_key_id = {ADMIN_ACCESS_KEY_ID}\n"
                     f"aws_secret_access_key = {ADMIN_SECRET_ACCESS_KEY}\n")
    config = tmp_path / "config"
    config.write_text(f"[profile envtest]\nregion = {REGION}\nendpoint_url = {trent.base_url}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "envtest"})
    (tmp_path / "in").write_bytes(b"profile chain")
    key_id = kms_keys[0].rsplit("/", 1)[1]  # a bare key id: the region comes from the profile
    r = subprocess.run([str(trent_binary()), "encrypt", "--key", key_id, tmp_path / "in", "-o", tmp_path / "ct"],
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run([str(trent_binary()), "decrypt", "--key", kms_keys[0], tmp_path / "ct", "-o", tmp_path / "out"],
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "out").read_bytes() == b"profile chain"
    # The default profile's wrong key is refused by trentd, and the error names KMS's exception.
    env["AWS_PROFILE"] = "default"
    r = subprocess.run([str(trent_binary()), "encrypt", "--key", kms_keys[0], "--endpoint-url", trent.base_url,
                        tmp_path / "in", "-o", tmp_path / "ct2"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and b"UnrecognizedClientException" in r.stderr, r.stderr.decode()
    assert not (tmp_path / "ct2").exists()


def test_missing_credentials_fail_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull})
    (tmp_path / "in").write_bytes(b"x")
    r = subprocess.run([str(trent_binary()), "encrypt", "--key", "arn:aws:kms:us-east-1:000000000000:key/x",
                        tmp_path / "in", "-o", tmp_path / "ct"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and b"no AWS credentials" in r.stderr


def edk_set(path):
    from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header

    with open(path, "rb") as f:
        header, _ = deserialize_header(f)
    return {(k.key_provider.provider_id, k.key_provider.key_info, k.encrypted_data_key) for k in header.encrypted_data_keys}


def test_cache_reuses_one_kms_data_key_across_recursive_files(run_trent, kms_keys, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}").write_bytes(os.urandom(100))
    run_trent("encrypt", "--recursive", "--key", kms_keys[0], "--cache-max-age", "60", "--cache-max-messages", "2",
              src, "-o", tmp_path / "cached")
    sets = [edk_set(tmp_path / "cached" / f"f{i}.encrypted") for i in range(4)]
    assert sets[0] == sets[1] and sets[2] == sets[3], "two files per cached data key"
    assert sets[1] != sets[2]
    run_trent("encrypt", "--recursive", "--key", kms_keys[0], src, "-o", tmp_path / "uncached")
    assert len({frozenset(edk_set(tmp_path / "uncached" / f"f{i}.encrypted")) for i in range(4)}) == 4
    run_trent("decrypt", "--recursive", "--key", kms_keys[0], tmp_path / "cached", "-o", tmp_path / "dec")
    for i in range(4):
        assert (tmp_path / "dec" / f"f{i}").read_bytes() == (src / f"f{i}").read_bytes()


@pytest.mark.slow
def test_https_endpoint_with_the_servers_self_signed_certificate(trent_factory, tmp_path):
    srv = trent_factory({"TRENT_TLS_SELF_SIGNED": "true"})
    assert srv.base_url.startswith("https://")
    from conftest import make_service_client

    arn = make_service_client("kms", srv.base_url, verify=str(srv.data_dir / "tls" / "cert.pem")).create_key()[
        "KeyMetadata"]["Arn"]
    env = aws_env(srv.base_url)
    (tmp_path / "in").write_bytes(b"over tls")
    cmd = [str(trent_binary()), "encrypt", "--key", arn, tmp_path / "in", "-o", tmp_path / "ct"]
    r = subprocess.run(cmd + ["--ca-bundle", srv.data_dir / "tls" / "cert.pem"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    # Without the bundle the self-signed certificate is not trusted.
    r = subprocess.run([str(trent_binary()), "encrypt", "--key", arn, tmp_path / "in", "-o", tmp_path / "ct2"],
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and not (tmp_path / "ct2").exists()
    assert b"certificate" in r.stderr.lower() or b"invalid peer" in r.stderr.lower(), r.stderr.decode()


def test_keys_in_two_regions_each_decrypt_in_trent_and_the_python_sdk(trent, run_trent, sdk_env, kms_keys, tmp_path):
    from conftest import make_kms_client

    west = make_kms_client(trent.base_url, region="us-west-2").create_key(Description="envelope west")["KeyMetadata"]["Arn"]
    assert ":us-west-2:" in west
    plain = os.urandom(4000)
    (tmp_path / "in").write_bytes(plain)
    # The default region is us-east-1; the west key's ARN routes its calls to us-west-2.
    run_trent("encrypt", "--key", kms_keys[0], "--key", west, tmp_path / "in", "-o", tmp_path / "ct")
    for arn in (kms_keys[0], west):
        run_trent("decrypt", "--key", arn, tmp_path / "ct", "-o", tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == plain
        (tmp_path / "out").unlink()
    pt, _ = aws_encryption_sdk.EncryptionSDKClient().decrypt(source=(tmp_path / "ct").read_bytes(),
                                                            key_provider=kms_provider(sdk_env, [west]))
    assert pt == plain
