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
