"""Durability: graceful restart, restart with the wrong root key, and SIGKILL under load.

Every test here runs servers of its own, on data dirs of its own."""

import base64
import json
import os
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import expect_error, list_all, make_kms_client, unique_alias

pytestmark = pytest.mark.slow


def test_graceful_restart_keeps_keys_aliases_tags_policy_and_ciphertexts(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    eu = srv.client("eu-west-1")

    plain = kms.create_key(Description="plain")["KeyMetadata"]
    tagged = kms.create_key(Description="tagged", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
    disabled = kms.create_key(Description="disabled")["KeyMetadata"]
    pending = kms.create_key(Description="pending")["KeyMetadata"]
    european = eu.create_key(Description="eu")["KeyMetadata"]

    alias = unique_alias("restart")
    kms.create_alias(AliasName=alias, TargetKeyId=plain["KeyId"])
    kms.tag_resource(KeyId=tagged["KeyId"], Tags=[{"TagKey": "team", "TagValue": "b"}, {"TagKey": "x", "TagValue": ""}])
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "restart-policy",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    kms.put_key_policy(KeyId=tagged["KeyId"], PolicyName="default", Policy=policy)

    ct_plain = kms.encrypt(KeyId=plain["KeyId"], Plaintext=b"one")["CiphertextBlob"]
    ct_ctx = kms.encrypt(KeyId=tagged["KeyId"], Plaintext=b"two", EncryptionContext={"c": "d"})["CiphertextBlob"]
    ct_disabled = kms.encrypt(KeyId=disabled["KeyId"], Plaintext=b"three")["CiphertextBlob"]
    ct_eu = eu.encrypt(KeyId=european["KeyId"], Plaintext=b"four")["CiphertextBlob"]
    dk = kms.generate_data_key(KeyId=plain["KeyId"], KeySpec="AES_256")
    kms.disable_key(KeyId=disabled["KeyId"])
    deletion_date = kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=10)["DeletionDate"]

    code = srv.terminate()
    assert code == 0, f"trentd exited with {code} on SIGTERM\n{srv.stderr()}"
    assert (srv.data_dir / "root.key").is_file(), "no root.key was made in the data dir"

    srv.start()
    kms = srv.client()
    eu = srv.client("eu-west-1")
    assert srv.base_url.startswith("http://127.0.0.1:"), srv.base_url

    for before in (plain, tagged, disabled, pending):
        after = kms.describe_key(KeyId=before["KeyId"])["KeyMetadata"]
        for field in ("Arn", "CreationDate", "Description", "CurrentKeyMaterialId", "KeySpec"):
            assert after[field] == before[field], (before["Description"], field)
    assert kms.describe_key(KeyId=disabled["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    md_pending = kms.describe_key(KeyId=pending["KeyId"])["KeyMetadata"]
    assert md_pending["KeyState"] == "PendingDeletion"
    assert md_pending["DeletionDate"] == deletion_date
    assert eu.describe_key(KeyId=european["KeyId"])["KeyMetadata"]["Arn"] == european["Arn"]
    expect_error("NotFoundException", kms.describe_key, KeyId=european["KeyId"])

    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == plain["KeyId"]
    assert alias in {a["AliasName"] for a in list_all(kms, "list_aliases", "Aliases")}
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=tagged["KeyId"])["Tags"]}
    assert tags == {"team": "b", "x": ""}
    got_policy = kms.get_key_policy(KeyId=tagged["KeyId"], PolicyName="default")["Policy"]
    assert json.loads(got_policy) == json.loads(policy)

    assert kms.decrypt(CiphertextBlob=ct_plain)["Plaintext"] == b"one"
    assert kms.decrypt(CiphertextBlob=ct_ctx, EncryptionContext={"c": "d"})["Plaintext"] == b"two"
    assert eu.decrypt(CiphertextBlob=ct_eu)["Plaintext"] == b"four"
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    kms.enable_key(KeyId=disabled["KeyId"])
    assert kms.decrypt(CiphertextBlob=ct_disabled)["Plaintext"] == b"three"

    # And the restarted server still writes.
    new = kms.create_key()["KeyMetadata"]
    assert new["KeyId"] not in {plain["KeyId"], tagged["KeyId"], disabled["KeyId"], pending["KeyId"]}


def test_restart_with_a_different_root_key_refuses_to_start(trent_factory):
    srv = trent_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=kid, Plaintext=b"x")
    assert srv.terminate() == 0, srv.stderr()

    other_root = base64.b64encode(os.urandom(32)).decode()
    proc = srv.spawn({"TRENT_ROOT_KEY": other_root})
    try:
        code = proc.wait(timeout=20)
    except Exception:
        srv.kill()
        pytest.fail(f"trentd kept running with the wrong root key\n{srv.stderr()}")
    err = srv.stderr()
    assert code != 0, f"trentd exited 0 with the wrong root key\n{err}"
    assert re.search(r"root[ _-]?key", err, re.IGNORECASE), f"stderr does not mention the root key:\n{err}"
    assert other_root not in err, "the root key itself was printed on stderr"
    assert not srv.ready_file.exists(), "trentd wrote the ready file although it refused to start"

    # The store is untouched: the right root key (root.key in the data dir) still opens it.
    srv.start()
    assert srv.client().describe_key(KeyId=kid)["KeyMetadata"]["KeyId"] == kid


def test_root_key_from_environment_is_used_across_restarts(trent_factory):
    root = base64.b64encode(os.urandom(32)).decode()
    srv = trent_factory(extra_env={"TRENT_ROOT_KEY": root})
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"env root")["CiphertextBlob"]
    assert srv.terminate() == 0, srv.stderr()
    assert root not in srv.stderr(), "the root key was printed on stderr"
    srv.start()
    assert srv.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"env root"


def test_sigkill_under_load_loses_nothing_that_was_acknowledged(trent_factory):
    srv = trent_factory()
    base = srv.base_url

    lock = threading.Lock()
    created: list[str] = []  # key ids whose CreateKey returned
    encrypted: list[tuple[str, bytes, bytes, dict]] = []  # (key id, blob, plaintext, context)
    failures_before_kill: list[str] = []
    killed = threading.Event()
    stop_at = time.monotonic() + 6.0  # hard bound on the load loop

    def worker(n: int):
        client = make_kms_client(base)
        i = 0
        while not killed.is_set() and time.monotonic() < stop_at:
            i += 1
            try:
                kid = client.create_key(Description=f"load {n}/{i}")["KeyMetadata"]["KeyId"]
                with lock:
                    created.append(kid)
                for j in range(2):
                    pt = os.urandom(16 + j)
                    ctx = {"worker": str(n), "i": str(i), "j": str(j)}
                    blob = client.encrypt(KeyId=kid, Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"]
                    with lock:
                        encrypted.append((kid, blob, pt, ctx))
            except Exception as e:  # connection refused/reset once the server is gone
                if not killed.is_set():
                    with lock:
                        failures_before_kill.append(repr(e))
                return

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(3.0)
    with lock:
        n_created_at_kill = len(created)
    srv.kill()
    killed.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "load threads did not stop"
    assert not failures_before_kill, f"requests failed before the kill: {failures_before_kill[:3]}"
    assert n_created_at_kill >= 4, f"only {n_created_at_kill} keys created in 3 s; the load did not run"

    srv.start()
    kms = srv.client()
    listed = {k["KeyId"] for k in list_all(kms, "list_keys", "Keys")}
    missing = [k for k in created if k not in listed]
    assert not missing, f"{len(missing)} of {len(created)} acknowledged keys are gone after SIGKILL"
    for kid in created:
        assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"

    bad = []
    for kid, blob, pt, ctx in encrypted:
        try:
            out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
            if out["Plaintext"] != pt or not out["KeyId"].endswith(kid):
                bad.append((kid, "wrong plaintext or key"))
        except ClientError as e:
            bad.append((kid, e.response["Error"]["Code"]))
    assert not bad, f"{len(bad)} of {len(encrypted)} acknowledged ciphertexts fail after SIGKILL: {bad[:5]}"
