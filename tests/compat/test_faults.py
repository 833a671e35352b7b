"""Faults under load: rounds of kill -9 at a random moment under a mixed write load on one
SQLite node. After every round the node restarts on the same data dir and everything that was
acknowledged must be there: keys (and their scheduled deletions), ciphertexts that decrypt,
SecureString parameter versions with their values, secret versions with their values, the
custom staging label on the last version it was acknowledged on (or on one a request in flight
at the kill moved it to), IAM users and their policies. At the end the audit trail verifies
(`trent audit verify`).

CI runs the short form (TRENT_FAULT_ROUNDS, default 3 rounds). `scripts/fault-campaign ROUNDS`
runs the long form and writes its result (rounds, requests acknowledged, what was checked) to
TRENT_FAULT_REPORT.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import random
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

import boto3
from botocore.config import Config

from conftest import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION, REPO

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("TRENT_FAULT_ROUNDS", "3"))
REPORT = os.environ.get("TRENT_FAULT_REPORT")
WRITERS = 4
SECRETS = 3
LABEL = "FAULT-LABEL"


def trent_cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TRENT_BIN") or REPO / "target" / "debug" / "trent")
    assert path.exists(), f"the trent CLI is not built at {path} (cargo build --workspace)"
    return path


class Acked:
    """What the server acknowledged (and, for label moves, what was in flight), across rounds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: set[str] = set()
        self.pending_deletion: set[str] = set()
        self.ciphertexts: list[tuple[str, bytes, bytes]] = []
        self.params: dict[str, dict[int, str]] = {}
        self.secret_versions: dict[str, dict[str, str]] = {}
        # Per secret: the version the label was last acknowledged on, and every version a move
        # was attempted to since then (a request in flight at the kill may or may not commit).
        self.label_ok: dict[str, str] = {}
        self.label_tried: dict[str, set[str]] = {}
        self.users: dict[str, str] = {}
        self.requests = 0


_SESSION = None


def clients(base_url: str):
    """KMS, SSM, Secrets Manager and IAM clients, from one boto3 session (its loaded models are
    shared, so a round's clients are made in well under a second)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
    return tuple(
        _SESSION.client(
            name,
            endpoint_url=base_url,
            region_name=REGION,
            aws_access_key_id=ADMIN_ACCESS_KEY_ID,
            aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
            config=config,
        )
        for name in ("kms", "ssm", "secretsmanager", "iam")
    )


def writer(conns, acked: Acked, stop: threading.Event, seed: int, errors: list) -> None:
    rnd = random.Random(seed)
    kms, ssm, sm, iam = conns
    n = 0
    while not stop.is_set():
        n += 1
        op = rnd.choice(["key", "encrypt", "encrypt", "param", "param", "secret", "stage", "delete", "iam"])
        try:
            if op == "key":
                kid = kms.create_key(Description=f"fault {seed}-{n}")["KeyMetadata"]["KeyId"]
                with acked.lock:
                    acked.keys.add(kid)
            elif op == "encrypt":
                with acked.lock:
                    usable = sorted(acked.keys - acked.pending_deletion)
                if not usable:
                    continue
                kid = rnd.choice(usable)
                pt = os.urandom(rnd.randint(1, 64))
                try:
                    blob = kms.encrypt(KeyId=kid, Plaintext=pt)["CiphertextBlob"]
                except ClientError as e:
                    # Another writer scheduled its deletion meanwhile.
                    if e.response["Error"]["Code"] == "KMSInvalidStateException" and kid in acked.pending_deletion:
                        continue
                    raise
                with acked.lock:
                    acked.ciphertexts.append((kid, blob, pt))
            elif op == "param":
                name = f"/fault/p{rnd.randint(0, 5)}"
                value = base64.b64encode(os.urandom(12)).decode()
                v = ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)["Version"]
                with acked.lock:
                    acked.params.setdefault(name, {})[v] = value
            elif op == "secret":
                sid = f"fault-s{rnd.randint(0, SECRETS - 1)}"
                value = base64.b64encode(os.urandom(12)).decode()
                vid = sm.put_secret_value(SecretId=sid, SecretString=value)["VersionId"]
                with acked.lock:
                    acked.secret_versions.setdefault(sid, {})[vid] = value
            elif op == "stage":
                sid = f"fault-s{rnd.randint(0, SECRETS - 1)}"
                with acked.lock:
                    versions = sorted(acked.secret_versions.get(sid, {}))
                    current = acked.label_ok.get(sid)
                if not versions:
                    continue
                target = rnd.choice(versions)
                kw = {"SecretId": sid, "VersionStage": LABEL, "MoveToVersionId": target}
                if current:
                    kw["RemoveFromVersionId"] = current
                with acked.lock:
                    acked.label_tried.setdefault(sid, set()).add(target)
                try:
                    sm.update_secret_version_stage(**kw)
                except ClientError as e:
                    # Another writer moved it first: not an acknowledgement, not a failure.
                    if e.response["Error"]["Code"] != "InvalidParameterException":
                        raise
                    continue
                with acked.lock:
                    acked.label_ok[sid] = target
                    acked.label_tried[sid] = {target}
            elif op == "delete":
                with acked.lock:
                    usable = sorted(acked.keys - acked.pending_deletion)
                if len(usable) < 4:
                    continue
                kid = rnd.choice(usable)
                with acked.lock:
                    acked.pending_deletion.add(kid)  # in flight counts: either state is then fine
                kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=30)
            elif op == "iam":
                user = f"fault-u{seed}-{n}"
                iam.create_user(UserName=user)
                doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]})
                iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc)
                with acked.lock:
                    acked.users[user] = doc
            with acked.lock:
                acked.requests += 1
        except Exception as e:  # the kill: connection refused / reset; anything else is a failure
            # `stop` is set just before the kill: an error after it is the kill's.
            if not stop.is_set():
                errors.append(f"{op}: {type(e).__name__}: {e}")
            return


def check(srv, acked: Acked, rnd: random.Random) -> dict:
    kms, ssm, sm, iam = clients(srv.base_url)
    problems: list[str] = []
    for kid in sorted(acked.keys):
        state = kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"]
        allowed = {"Enabled", "PendingDeletion"} if kid in acked.pending_deletion else {"Enabled"}
        if state not in allowed:
            problems.append(f"key {kid} is {state}")
    # Every acknowledged ciphertext decrypts (a sample per round; all of them at the end).
    sample = acked.ciphertexts if len(acked.ciphertexts) < 200 else rnd.sample(acked.ciphertexts, 200)
    for kid, blob, pt in sample:
        try:
            out = kms.decrypt(CiphertextBlob=blob)
            if out["Plaintext"] != pt or not out["KeyId"].endswith(kid):
                problems.append(f"ciphertext of {kid}: wrong plaintext")
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if not (code == "KMSInvalidStateException" and kid in acked.pending_deletion):
                problems.append(f"ciphertext of {kid}: {code}")
    for name, versions in acked.params.items():
        history = {p["Version"]: p["Value"] for p in paged(ssm, "get_parameter_history", "Parameters", Name=name, WithDecryption=True)}
        current = ssm.get_parameter(Name=name)["Parameter"]["Version"]
        for v, value in versions.items():
            # Parameter Store keeps the last 100 versions (the oldest goes when the 101st comes).
            if v <= current - 100:
                continue
            if history.get(v) != value:
                problems.append(f"parameter {name} version {v}: {'missing' if v not in history else 'wrong value'}")
        if current < max(versions):
            problems.append(f"parameter {name} is at {current} below the acknowledged {max(versions)}")
    for sid, versions in acked.secret_versions.items():
        # Secrets Manager keeps at most 100 versions, dropping the oldest unlabelled ones: the
        # last 90 acknowledged (10 spare for requests in flight at a kill) must all be there.
        for vid, value in list(versions.items())[-90:]:
            try:
                got = sm.get_secret_value(SecretId=sid, VersionId=vid)["SecretString"]
                if got != value:
                    problems.append(f"secret {sid} {vid}: wrong value")
            except ClientError as e:
                problems.append(f"secret {sid} {vid}: {e.response['Error']['Code']}")
        listed = sm.list_secret_version_ids(SecretId=sid, IncludeDeprecated=True)["Versions"]
        current = [v["VersionId"] for v in listed if "AWSCURRENT" in v.get("VersionStages", [])]
        if len(current) != 1:
            problems.append(f"secret {sid} has {len(current)} AWSCURRENT versions")
        labelled = [v["VersionId"] for v in listed if LABEL in v.get("VersionStages", [])]
        if sid in acked.label_ok:
            ok = acked.label_tried.get(sid, set()) | {acked.label_ok[sid]}
            if len(labelled) != 1 or labelled[0] not in ok:
                problems.append(f"secret {sid}: {LABEL} on {labelled}, acknowledged on {acked.label_ok[sid]}")
            elif labelled[0] != acked.label_ok[sid]:
                # A move in flight at the kill committed: that is now the label's place.
                acked.label_ok[sid] = labelled[0]
                acked.label_tried[sid] = {labelled[0]}
    for user, doc in acked.users.items():
        try:
            got = iam.get_user_policy(UserName=user, PolicyName="p")["PolicyDocument"]
            got = got if isinstance(got, str) else json.dumps(got)
            if json.loads(got) != json.loads(doc):
                problems.append(f"user {user}: wrong policy")
        except ClientError as e:
            problems.append(f"user {user}: {e.response['Error']['Code']}")
    assert not problems, f"{len(problems)} acknowledged writes wrong after kill -9: {problems[:10]}"
    return {"keys": len(acked.keys), "ciphertexts_checked": len(sample), "params": len(acked.params), "users": len(acked.users)}


def paged(client, method: str, member: str, **kw) -> list:
    out, token = [], None
    while True:
        page = getattr(client, method)(**kw, **({"NextToken": token} if token else {}))
        out += page[member]
        token = page.get("NextToken")
        if not token:
            return out


def test_kill_minus_9_rounds_under_mixed_write_load_lose_nothing_acknowledged(trent_factory):
    rnd = random.Random(int(os.environ.get("TRENT_FAULT_SEED", str(int(time.time())))))
    srv = trent_factory()
    kms, ssm, sm, iam = clients(srv.base_url)
    acked = Acked()
    for i in range(SECRETS):
        v = sm.create_secret(Name=f"fault-s{i}", SecretString="initial")["VersionId"]
        acked.secret_versions[f"fault-s{i}"] = {v: "initial"}
    started = time.monotonic()
    for round_no in range(ROUNDS):
        stop = threading.Event()
        errors: list[str] = []
        # Clients are made before the load starts (making one takes longer than a round).
        conns = [clients(srv.base_url) for _ in range(WRITERS)]
        before = acked.requests
        threads = [
            threading.Thread(target=writer, args=(c, acked, stop, rnd.randrange(1 << 30), errors), daemon=True)
            for c in conns
        ]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(0.3, 2.0))
        # Writers see `stop` only between requests: the ones in flight are cut by the kill.
        stop.set()
        srv.kill()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "writers did not stop"
        assert not errors, f"round {round_no}: requests failed before the kill: {errors[:5]}"
        assert acked.requests > before, f"round {round_no}: no write was acknowledged before the kill"
        srv.start()
        checked = check(srv, acked, rnd)
    assert acked.requests >= ROUNDS, f"only {acked.requests} writes acknowledged in {ROUNDS} rounds"
    # The audit trail of every run (each cut by a kill) verifies.
    assert srv.terminate() == 0, srv.stderr()
    out = subprocess.run([str(trent_cli()), "audit", "verify", str(srv.data_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"trent audit verify failed after {ROUNDS} kills:\n{out.stdout}\n{out.stderr}"
    if REPORT:
        result = {
            "campaign": "kill -9 under mixed write load, one SQLite node",
            "rounds": ROUNDS,
            "seconds": round(time.monotonic() - started, 1),
            "acknowledged_requests": acked.requests,
            "checked_after_last_round": checked,
            "audit_verify": out.stdout.strip().splitlines()[-1:],
            "result": "pass",
        }
        with open(REPORT, "a") as f:
            f.write(json.dumps(result) + "\n")
