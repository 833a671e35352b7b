"""Several trentd nodes on one PostgreSQL database (`--store postgres://…`), driven with boto3.

Three nodes share one fresh database (`trent_test_<random>`, made and dropped here with `psql`)
and one root key. Clients talk to different nodes at once: versions, aliases and secret versions
must come out unique and gap-free, a change on one node must hold on the others, and killing a
node under load must lose no acknowledged write.

PostgreSQL: 127.0.0.1:5432, user postgres (TRENT_TEST_PG_HOST / TRENT_TEST_PG_PORT / TRENT_TEST_PG_USER
override). If it is unreachable these tests FAIL, unless TRENT_SKIP_POSTGRES=1.
"""

from __future__ import annotations

import base64
import os
import pathlib
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import expect_error, list_all, make_kms_client, make_sm_client, make_ssm_client, unique_alias

pytestmark = pytest.mark.slow

PG_HOST = os.environ.get("TRENT_TEST_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("TRENT_TEST_PG_PORT", "5432")
PG_USER = os.environ.get("TRENT_TEST_PG_USER", "postgres")
NODES = 3


def pages(client, op: str, result_key: str, **kw) -> list:
    """Every item of a NextToken-paged operation."""
    out, token = [], None
    for _ in range(1000):
        page = getattr(client, op)(**kw, **({"NextToken": token} if token else {}))
        out.extend(page[result_key])
        token = page.get("NextToken")
        if not token:
            return out
    raise AssertionError(f"{op}: paging did not end")


def psql(sql: str) -> None:
    exe = shutil.which("psql")
    if exe is None:
        pytest.fail("psql (postgresql-client) is needed to make a test database; set TRENT_SKIP_POSTGRES=1 to skip",
                    pytrace=False)
    r = subprocess.run(
        [exe, "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        capture_output=True, text=True, timeout=60,
    )
    if r.returncode != 0:
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} refused `{sql}`: {r.stderr.strip()} "
                    "(start it, or set TRENT_SKIP_POSTGRES=1)", pytrace=False)


@pytest.fixture
def pg_url():
    if os.environ.get("TRENT_SKIP_POSTGRES") == "1":
        pytest.skip("TRENT_SKIP_POSTGRES=1")
    name = f"trent_test_{secrets.token_hex(8)}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}?sslmode=disable"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def nodes(trent_factory, pg_url):
    """Three trentd processes on one database with one root key, started one after another."""
    env = {"TRENT_STORE": pg_url, "TRENT_ROOT_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    return [trent_factory(env) for _ in range(NODES)]


def test_each_node_reads_what_another_wrote(nodes):
    kms = [make_kms_client(n.base_url) for n in nodes]
    ssm = [make_ssm_client(n.base_url) for n in nodes]
    sm = [make_sm_client(n.base_url) for n in nodes]

    key = kms[0].create_key(Description="made on node 0")["KeyMetadata"]["KeyId"]
    assert kms[1].describe_key(KeyId=key)["KeyMetadata"]["Description"] == "made on node 0"
    blob = kms[2].encrypt(KeyId=key, Plaintext=b"from node 2")["CiphertextBlob"]
    assert kms[0].decrypt(CiphertextBlob=blob)["Plaintext"] == b"from node 2"

    ssm[1].put_parameter(Name="/nodes/p", Value="v", Type="SecureString", KeyId=key)
    got = ssm[2].get_parameter(Name="/nodes/p", WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Version"]) == ("v", 1)

    arn = sm[2].create_secret(Name="nodes/s", SecretString="s3cret", KmsKeyId=key)["ARN"]
    assert sm[0].get_secret_value(SecretId=arn)["SecretString"] == "s3cret"


def test_concurrent_put_parameter_on_three_nodes_gives_each_version_once(nodes):
    ssm = [make_ssm_client(n.base_url) for n in nodes]
    writes_per_thread, threads_per_node = 8, 3

    def writer(node: int, thread: int) -> list[tuple[int, str]]:
        out = []
        for i in range(writes_per_thread):
            value = f"n{node}-t{thread}-{i}"
            r = ssm[node].put_parameter(Name="/race/param", Value=value, Type="String", Overwrite=True)
            out.append((r["Version"], value))
        return out

    with ThreadPoolExecutor(NODES * threads_per_node) as pool:
        futures = [pool.submit(writer, n, t) for n in range(NODES) for t in range(threads_per_node)]
        acked = [v for f in futures for v in f.result()]
    total = NODES * threads_per_node * writes_per_thread
    assert sorted(v for v, _ in acked) == list(range(1, total + 1)), "versions must be unique and gap-free"

    history = pages(ssm[1], "get_parameter_history", "Parameters", Name="/race/param")
    assert {(h["Version"], h["Value"]) for h in history} == set(acked), "every acknowledged value is its version"
    assert ssm[2].get_parameter(Name="/race/param")["Parameter"]["Version"] == total


def test_concurrent_put_secret_value_on_three_nodes_loses_no_version(nodes):
    sm = [make_sm_client(n.base_url) for n in nodes]
    sm[0].create_secret(Name="race/secret", SecretString="initial")
    per_node = 10

    def writer(node: int) -> list[tuple[str, str]]:
        out = []
        for i in range(per_node):
            token, value = str(uuid.uuid4()), f"node {node} value {i}"
            r = sm[node].put_secret_value(SecretId="race/secret", SecretString=value, ClientRequestToken=token)
            assert r["VersionId"] == token
            out.append((token, value))
        return out

    with ThreadPoolExecutor(NODES * 2) as pool:
        futures = [pool.submit(writer, n) for n in list(range(NODES)) * 2]
        acked = [v for f in futures for v in f.result()]
    assert len({t for t, _ in acked}) == len(acked) == NODES * 2 * per_node

    for token, value in acked:
        node = hash(token) % NODES
        assert sm[node].get_secret_value(SecretId="race/secret", VersionId=token)["SecretString"] == value
    versions = pages(sm[1], "list_secret_version_ids", "Versions", SecretId="race/secret", IncludeDeprecated=True)
    current = [v for v in versions if "AWSCURRENT" in v.get("VersionStages", [])]
    previous = [v for v in versions if "AWSPREVIOUS" in v.get("VersionStages", [])]
    assert len(current) == 1 and len(previous) == 1, versions
    assert current[0]["VersionId"] in {t for t, _ in acked}


def test_the_same_alias_created_on_three_nodes_at_once_exists_once(nodes):
    kms = [make_kms_client(n.base_url) for n in nodes]
    keys = [kms[i].create_key()["KeyMetadata"]["KeyId"] for i in range(NODES)]
    names = [unique_alias("race") for _ in range(8)]
    barrier = threading.Barrier(NODES)

    def creator(node: int) -> list[str]:
        won = []
        barrier.wait()
        for name in names:
            try:
                kms[node].create_alias(AliasName=name, TargetKeyId=keys[node])
                won.append(name)
            except ClientError as e:
                assert e.response["Error"]["Code"] == "AlreadyExistsException", e.response
        return won

    with ThreadPoolExecutor(NODES) as pool:
        won = [n for f in [pool.submit(creator, i) for i in range(NODES)] for n in f.result()]
    assert sorted(won) == sorted(names), "each alias was created by exactly one node"
    listed = [a["AliasName"] for a in list_all(kms[2], "list_aliases", "Aliases") if a["AliasName"] in names]
    assert sorted(listed) == sorted(names)


def test_disable_key_on_one_node_stops_encrypt_on_the_others_within_a_second(nodes):
    kms = [make_kms_client(n.base_url) for n in nodes]
    key = kms[0].create_key()["KeyMetadata"]["KeyId"]
    for k in kms:
        k.encrypt(KeyId=key, Plaintext=b"warm any cache")
    kms[0].disable_key(KeyId=key)
    time.sleep(1.0)
    for k in kms[1:]:
        expect_error("DisabledException", k.encrypt, KeyId=key, Plaintext=b"x")


def test_an_access_key_deactivated_on_one_node_is_refused_by_the_others_within_a_second(nodes):
    from test_iam import admin, as_user, new_user, policy

    iam = admin("iam", nodes[0].base_url)
    user, key = new_user(iam, policy({"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}))
    users = [as_user("kms", n.base_url, key) for n in nodes]
    for u in users:
        u.list_keys()  # every node has the credential cached now
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    time.sleep(1.2)
    for u in users[1:]:
        expect_error("UnrecognizedClientException", u.list_keys)
    admin("iam", nodes[1].base_url).update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Active")
    time.sleep(1.2)
    for u in users:
        u.list_keys()


def test_killing_one_node_under_load_loses_no_acknowledged_write(nodes):
    ssm = [make_ssm_client(n.base_url) for n in nodes]
    stop = threading.Event()
    acked: list[list[str]] = [[] for _ in range(NODES)]
    failures_on_survivors: list[str] = []

    def load(node: int, thread: int) -> None:
        i = 0
        while not stop.is_set() and i < 2000:
            i += 1
            name = f"/load/n{node}/t{thread}/{i}"
            try:
                ssm[node].put_parameter(Name=name, Value=name, Type="String")
            except Exception as e:  # the killed node's connections fail: that is expected
                if node != 0:
                    failures_on_survivors.append(f"{name}: {e}")
                if node == 0:
                    return
                continue
            acked[node].append(name)

    threads = [threading.Thread(target=load, args=(n, t)) for n in range(NODES) for t in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    nodes[0].kill()  # SIGKILL mid-load
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not failures_on_survivors, failures_on_survivors[:5]
    assert len(acked[0]) >= 2, f"the killed node acknowledged too little load to mean anything: {len(acked[0])}"
    assert all(len(a) >= 2 for a in acked[1:]), "the surviving nodes kept serving"

    for names in acked:
        for name in names:
            assert ssm[1].get_parameter(Name=name)["Parameter"]["Value"] == name, f"acknowledged {name} lost"


# -- background work runs once -------------------------------------------------------------------

DAY = 86400


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout:.0f} s")


def log_lines(servers, needle: str) -> list[str]:
    """The stderr lines of every run of every server that contain `needle`."""
    out = []
    for s in servers:
        for path in sorted(s.work_dir.glob("trentd.*.stderr")):
            out += [line for line in path.read_text(errors="replace").splitlines() if needle in line]
    return out


def test_a_key_due_for_deletion_is_deleted_exactly_once_by_three_schedulers(nodes):
    kms = [make_kms_client(n.base_url) for n in nodes]
    key = kms[0].create_key()["KeyMetadata"]["KeyId"]
    kms[1].schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    for n in nodes:
        n.advance_clock(8 * DAY)

    def gone() -> bool:
        try:
            kms[2].describe_key(KeyId=key)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "NotFoundException"

    wait_until(gone, what="the key's deletion")
    time.sleep(3)  # three more sweeps on every node
    deleted = [line for line in log_lines(nodes, "deleted KMS key at the end of its waiting period") if key in line]
    assert len(deleted) == 1, deleted
    for k in kms:
        expect_error("NotFoundException", k.describe_key, KeyId=key)


def test_a_scheduled_secret_rotation_runs_exactly_once_with_three_schedulers(nodes):
    sm = [make_sm_client(n.base_url) for n in nodes]
    first = sm[0].create_secret(Name="nodes/scheduled", SecretString="before-rotation")["VersionId"]
    sm[1].rotate_secret(SecretId="nodes/scheduled", RotationLambdaARN="trent-builtin", RotateImmediately=False,
                        RotationRules={"AutomaticallyAfterDays": 1})
    for n in nodes:
        n.advance_clock(DAY + 60)
    wait_until(lambda: sm[2].get_secret_value(SecretId="nodes/scheduled")["SecretString"] != "before-rotation",
               what="the scheduled rotation")
    time.sleep(3)  # three more sweeps on every node: nothing else may happen
    versions = pages(sm[0], "list_secret_version_ids", "Versions", SecretId="nodes/scheduled", IncludeDeprecated=True)
    assert len(versions) == 2, versions
    stages = {v["VersionId"]: v["VersionStages"] for v in versions}
    assert stages[first] == ["AWSPREVIOUS"], stages
    (new,) = [v for v in stages if v != first]
    assert stages[new] == ["AWSCURRENT"], stages
    assert len(log_lines(nodes, "secret rotated")) == 1


HANGING_ROTATOR = r'''#!{python}
"""A rotation function doing the four steps through the Secrets Manager API. With $HANG_AT set,
it logs that step and then waits until the trentd that started it dies (then fails)."""
import json, os, pathlib, sys, time
import boto3
event = json.loads(sys.stdin.read())
with pathlib.Path(os.environ["ROTATOR_LOG"]).open("a") as f:
    f.write(json.dumps({**event, "Node": os.environ["NODE_NAME"]}) + "\n")
if os.environ.get("HANG_AT") == event["Step"]:
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.1)
    sys.exit(9)
url = pathlib.Path(os.environ["READY_FILE"]).read_text().strip()
sm = boto3.client("secretsmanager", endpoint_url=url, region_name=os.environ["AWS_REGION"],
                  aws_access_key_id=os.environ["KEY_ID"], aws_secret_access_key=os.environ["KEY_SECRET"])
arn, token = event["SecretId"], event["ClientRequestToken"]
if event["Step"] == "createSecret":
    try:
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    except sm.exceptions.ResourceNotFoundException:
        sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString="rotated-" + token,
                            VersionStages=["AWSPENDING"])
elif event["Step"] == "finishSecret":
    meta = sm.describe_secret(SecretId=arn)
    cur = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s)
    if cur != token:
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=cur)
'''


def test_a_rotation_half_done_by_a_killed_node_is_finished_once_by_another(trent_factory, pg_url, tmp_path):
    import json
    import stat
    import sys

    from conftest import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

    script = tmp_path / "rotator.py"
    script.write_text(HANGING_ROTATOR.replace("{python}", sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "events.jsonl"
    root = base64.b64encode(secrets.token_bytes(32)).decode()
    servers = []
    for i in range(NODES):
        srv = trent_factory(start=False)
        srv.extra_env.update(
            TRENT_STORE=pg_url, TRENT_ROOT_KEY=root, TRENT_ROTATION_FUNCTIONS=f"my-rotator=exec:{script}",
            ROTATOR_LOG=str(log), READY_FILE=str(srv.ready_file), NODE_NAME=f"n{i}",
            KEY_ID=ADMIN_ACCESS_KEY_ID, KEY_SECRET=ADMIN_SECRET_ACCESS_KEY,
            **({"HANG_AT": "setSecret"} if i == 0 else {}),
        )
        servers.append(srv.start())
    sm = [make_sm_client(s.base_url) for s in servers]
    first = sm[0].create_secret(Name="nodes/resumed", SecretString="v1")["VersionId"]
    sm[0].rotate_secret(SecretId="nodes/resumed", RotateImmediately=False,
                        RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:my-rotator",
                        RotationRules={"AutomaticallyAfterDays": 1})
    # RotateImmediately=False has run testSecret once on a temporary copy (AWS's behaviour):
    # only the events after it belong to the scheduled rotation.
    done = len(log.read_text().splitlines()) if log.exists() else 0
    events = lambda: [json.loads(line) for line in log.read_text().splitlines()[done:]] if log.exists() else []

    # Node 0 alone sees the rotation due; it claims the rotation sweep and hangs in setSecret.
    servers[0].advance_clock(DAY + 60)
    wait_until(lambda: any(e["Step"] == "setSecret" for e in events()), what="node 0 reaching setSecret")
    token = events()[0]["ClientRequestToken"]
    assert [(e["Node"], e["Step"]) for e in events()] == [("n0", "createSecret"), ("n0", "setSecret")]
    assert sm[1].get_secret_value(SecretId="nodes/resumed", VersionStage="AWSPENDING")["VersionId"] == token

    # The others see it due too, but node 0 holds the job: they leave it alone.
    for s in servers[1:]:
        s.advance_clock(DAY + 60)
    time.sleep(3)
    assert len(events()) == 2, events()

    servers[0].kill()  # SIGKILL mid-rotation: its database session, and with it the claim, goes
    wait_until(lambda: sm[1].get_secret_value(SecretId="nodes/resumed")["VersionId"] == token,
               what="another node finishing the rotation")
    time.sleep(3)
    resumed = events()[2:]
    assert {e["ClientRequestToken"] for e in resumed} == {token}, "resumed with the recorded version id"
    assert len({e["Node"] for e in resumed}) == 1 and resumed[0]["Node"] != "n0", resumed
    assert [e["Step"] for e in resumed] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    versions = pages(sm[2], "list_secret_version_ids", "Versions", SecretId="nodes/resumed", IncludeDeprecated=True)
    stages = {v["VersionId"]: v["VersionStages"] for v in versions}
    assert stages == {first: ["AWSPREVIOUS"], token: ["AWSCURRENT"]}, "one new version, made once"
    assert sm[2].get_secret_value(SecretId="nodes/resumed")["SecretString"] == f"rotated-{token}"
    assert "LastRotatedDate" in sm[1].describe_secret(SecretId="nodes/resumed")


# -- quotas per deployment -----------------------------------------------------------------------


def test_two_nodes_share_one_deployment_quota(trent_factory, pg_url):
    env = {"TRENT_STORE": pg_url, "TRENT_ROOT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
           "TRENT_QUOTAS": "aws", "TRENT_QUOTA_OVERRIDES": "kms:symmetric=10"}
    pair = [trent_factory(env) for _ in range(2)]
    kms = [make_kms_client(n.base_url) for n in pair]
    key = kms[0].create_key()["KeyMetadata"]["KeyId"]
    wait_until(lambda: all(log_lines([n], "live_nodes=2") for n in pair), what="both nodes counting two nodes")
    time.sleep(1.5)  # let any bucket filled earlier settle at its share
    duration, admitted, throttled = 3.0, [0, 0], [0, 0]
    lock = threading.Lock()

    def hammer(node: int) -> None:
        client = make_kms_client(pair[node].base_url)
        end = time.monotonic() + duration
        while time.monotonic() < end:
            try:
                client.encrypt(KeyId=key, Plaintext=b"x")
                with lock:
                    admitted[node] += 1
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ThrottlingException", e.response
                with lock:
                    throttled[node] += 1

    # Four clients per node: well above a node's 5/s share even on a busy machine.
    threads = [threading.Thread(target=hammer, args=(n,)) for n in (0, 1) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(admitted)
    assert all(throttled), f"the load must exceed each node's share: admitted {admitted}, throttled {throttled}"
    # 10/s for the deployment: one second of burst (5 per node) plus 10/s × 3 s ≈ 40. Two
    # full per-node quotas would let through about 80.
    assert 25 <= total <= 50, f"admitted {admitted} in {duration} s"
    assert all(a >= 8 for a in admitted), f"each node admits its share: {admitted}"


# -- backup and restore --------------------------------------------------------------------------


def trent_cli() -> str:
    from conftest import REPO

    path = pathlib.Path(os.environ.get("TRENT_BIN") or REPO / "target" / "debug" / "trent")
    if not path.is_file():
        pytest.fail(f"the trent CLI is not at {path}: cargo build -p trent-cli (or set TRENT_BIN)", pytrace=False)
    return str(path)


def test_trent_backup_of_a_running_sqlite_node_restores_into_postgres_and_serves_everything(
    trent_factory, pg_url, tmp_path
):
    from conftest import ADMIN_ACCESS_KEY_ID as ADMIN_KEY_ID, ADMIN_SECRET_ACCESS_KEY as ADMIN_SECRET

    root = base64.b64encode(secrets.token_bytes(32)).decode()
    lite = trent_factory({"TRENT_ROOT_KEY": root})
    kms, ssm, sm = make_kms_client(lite.base_url), make_ssm_client(lite.base_url), make_sm_client(lite.base_url)
    key = kms.create_key(Description="moved")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/moved", TargetKeyId=key)
    blob = kms.encrypt(KeyId="alias/moved", Plaintext=b"encrypted on sqlite")["CiphertextBlob"]
    ssm.put_parameter(Name="/moved/plain", Value="v1", Type="String")
    ssm.put_parameter(Name="/moved/plain", Value="v2", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/moved/secure", Value="hidden", Type="SecureString", KeyId=key)
    sm.create_secret(Name="moved/secret", SecretString="s3cret", KmsKeyId=key)

    file = tmp_path / "deployment.trentbackup"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENT_")}
    r = subprocess.run([trent_cli(), "backup", "--store", "sqlite", "--data-dir", str(lite.data_dir), "-o", str(file)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "rows in" in r.stderr and file.stat().st_mode & 0o077 == 0
    assert b"encrypted on sqlite" not in file.read_bytes() and b"s3cret" not in file.read_bytes()
    lite.terminate()

    r = subprocess.run([trent_cli(), "restore", "--store", pg_url, "--audit-dir", str(lite.data_dir / "audit"),
                        "--audit-public-key", str(lite.data_dir / "audit" / "signing-key.pub"),
                        str(file)], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "imported" in r.stderr and "audit records" in r.stderr, r.stderr
    again = subprocess.run([trent_cli(), "restore", "--store", pg_url, str(file)],
                           capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode != 0 and "not empty" in again.stderr, again.stderr

    pg = trent_factory({"TRENT_STORE": pg_url, "TRENT_ROOT_KEY": root})  # a new data dir
    kms, ssm, sm = make_kms_client(pg.base_url), make_ssm_client(pg.base_url), make_sm_client(pg.base_url)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"encrypted on sqlite"
    assert kms.describe_key(KeyId="alias/moved")["KeyMetadata"]["Description"] == "moved"
    p = ssm.get_parameter(Name="/moved/plain")["Parameter"]
    assert (p["Value"], p["Version"]) == ("v2", 2)
    assert ssm.get_parameter(Name="/moved/secure", WithDecryption=True)["Parameter"]["Value"] == "hidden"
    assert sm.get_secret_value(SecretId="moved/secret")["SecretString"] == "s3cret"
    assert not (pg.data_dir / "trent.db").exists(), "served from PostgreSQL"
    # The SQLite node's audit events moved too: LookupEvents on PostgreSQL sees them, and every
    # chain in the store (the imported one and the new node's) verifies.
    import boto3

    ct = boto3.client("cloudtrail", endpoint_url=pg.base_url, region_name="us-east-1",
                      aws_access_key_id=ADMIN_KEY_ID, aws_secret_access_key=ADMIN_SECRET)
    moved = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAlias"}])
    assert [e["EventName"] for e in moved["Events"]] == ["CreateAlias"]
    pg.terminate()
    v = subprocess.run([trent_cli(), "audit", "verify", "--store", pg_url], capture_output=True, text=True,
                       timeout=60, env=env)
    assert v.returncode == 0, v.stdout + v.stderr
    assert v.stdout.count("audit trail verified") == 2, v.stdout
