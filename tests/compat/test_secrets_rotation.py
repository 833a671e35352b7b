"""Secrets Manager rotation against the real PostgreSQL (127.0.0.1:5432) and MariaDB
(127.0.0.1:3306) servers of this machine: RotateSecret really changes the database password,
AWSCURRENT only moves after a login with the new one worked, both AWS strategies (single user,
alternating users), custom rotation functions (executable, webhook), the schedule on the test
clock and across a restart, CancelRotateSecret, and the errors.

PostgreSQL here authenticates every local login with `trust`, so a PostgreSQL login proves
nothing about the password: the PostgreSQL tests check the role's stored SCRAM-SHA-256 verifier
in pg_authid against the old and new passwords instead. MariaDB checks passwords, so the MariaDB
tests prove that the old password fails and the new one logs in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import stat
import sys
import threading
import time
import uuid

import psycopg2
import pymysql
import pytest

from conftest import (
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    error_message,
    expect_error,
    make_sm_client,
    raw_call,
)

DAY = 86400
PG = {"host": "127.0.0.1", "port": 5432}
MY = {"host": "127.0.0.1", "port": 3306}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def current(sm, secret_id, stage="AWSCURRENT"):
    return json.loads(sm.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"])


def raw_describe(base_url, secret_id):
    r = raw_call(
        base_url, None, {"SecretId": secret_id}, service="secretsmanager", target="secretsmanager.DescribeSecret"
    )
    assert r.status == 200, r
    return r.json


# -- PostgreSQL -----------------------------------------------------------------------------------


def pg_admin():
    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user="postgres", dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


def scram_matches(verifier: str, password: str) -> bool:
    """Whether `password` is the one a SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from."""
    assert verifier.startswith("SCRAM-SHA-256$"), verifier[:20]
    head, keys = verifier[len("SCRAM-SHA-256$"):].split("$")
    iterations, salt = head.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)


def pg_verifier(role: str) -> str | None:
    with pg_admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        row = cur.fetchone()
        return row[0] if row else None


@pytest.fixture
def pg_role():
    try:
        conn = pg_admin()
    except psycopg2.OperationalError as e:
        pytest.fail(f"PostgreSQL is not running on 127.0.0.1:5432 ({e}); start it and rerun")
    role = unique("trent_rot")
    with conn.cursor() as cur:
        cur.execute("SET password_encryption = 'scram-sha-256'")
        cur.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD %s', ("initial-password-1",))
    yield role
    with conn.cursor() as cur:
        cur.execute(f'DROP ROLE IF EXISTS "{role}_clone"')
        cur.execute(f'DROP ROLE IF EXISTS "{role}"')
    conn.close()


# -- MariaDB --------------------------------------------------------------------------------------


def my_login(user, password, db=None):
    return pymysql.connect(host=MY["host"], port=MY["port"], user=user, password=password, database=db, connect_timeout=5)


def my_can_login(user, password, db=None) -> bool:
    try:
        my_login(user, password, db).close()
        return True
    except pymysql.err.OperationalError as e:
        assert e.args[0] == 1045, e  # access denied, not some other trouble
        return False


@pytest.fixture
def my_user():
    try:
        root = my_login("root", "")
    except pymysql.err.OperationalError as e:
        pytest.fail(f"MariaDB is not running on 127.0.0.1:3306 ({e}); start it and rerun")
    user, db = unique("trent_rot"), unique("trent_db")
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute(f"CREATE TABLE `{db}`.t (x INT)")
        cur.execute(f"INSERT INTO `{db}`.t VALUES (42)")
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, "initial-password-1"))
        cur.execute(f"GRANT SELECT ON `{db}`.* TO %s@'%%'", (user,))
    yield user, db
    with root.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        cur.execute("DROP USER IF EXISTS %s@'%%'", (user + "_clone",))
        cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    root.close()


def my_secret(user, db, password="initial-password-1", **extra):
    return json.dumps({"engine": "mariadb", **MY, "username": user, "password": password, "dbname": db, **extra})


def pg_secret(role, password="initial-password-1", **extra):
    return json.dumps({"engine": "postgres", **PG, "username": role, "password": password, "dbname": "postgres", **extra})


# -- the tests ------------------------------------------------------------------------------------


def test_postgres_single_user_rotation_sets_a_new_password_on_the_role(sm, pg_role, trent):
    name = unique("pg-single")
    sm.create_secret(Name=name, SecretString=pg_secret(pg_role))
    assert scram_matches(pg_verifier(pg_role), "initial-password-1")
    out = sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin", RotationRules={"AutomaticallyAfterDays": 30})
    new = current(sm, name)
    assert new["username"] == pg_role and new["password"] != "initial-password-1"
    assert len(new["password"]) == 32
    verifier = pg_verifier(pg_role)
    assert scram_matches(verifier, new["password"]), "the role's password is the new AWSCURRENT one"
    assert not scram_matches(verifier, "initial-password-1"), "the old password no longer matches"
    assert current(sm, name, "AWSPREVIOUS")["password"] == "initial-password-1"
    d = sm.describe_secret(SecretId=name)
    assert d["RotationEnabled"] is True
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert d["VersionIdsToStages"][out["VersionId"]] == ["AWSCURRENT"], "AWSPENDING is gone after finishSecret"
    assert d["NextRotationDate"] > d["LastRotatedDate"]
    assert "TrentLastRotationFailure" not in raw_describe(trent.base_url, name)


def test_postgres_alternating_users_creates_the_clone_with_the_users_privileges(sm, pg_role):
    master = unique("pg-master")
    sm.create_secret(
        Name=master, SecretString=json.dumps({"engine": "postgres", **PG, "username": "postgres", "password": ""})
    )
    name = unique("pg-multi")
    master_arn = sm.describe_secret(SecretId=master)["ARN"]
    sm.create_secret(Name=name, SecretString=pg_secret(pg_role, masterarn=master_arn))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")
    first = current(sm, name)
    assert first["username"] == f"{pg_role}_clone" and first["masterarn"] == master_arn
    assert scram_matches(pg_verifier(f"{pg_role}_clone"), first["password"])
    assert scram_matches(pg_verifier(pg_role), "initial-password-1"), "the other user is left alone"
    with pg_admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (f"{pg_role}_clone", pg_role))
        assert cur.fetchone()[0] is True, "the clone has the first user's privileges"
    sm.rotate_secret(SecretId=name)
    second = current(sm, name)
    assert second["username"] == pg_role, "the next rotation alternates back"
    assert scram_matches(pg_verifier(pg_role), second["password"])
    assert scram_matches(pg_verifier(f"{pg_role}_clone"), first["password"]), "the previous user still works"


def test_mariadb_single_user_rotation_with_the_cli_old_password_fails_new_works(sm, aws_cli, my_user):
    user, db = my_user
    name = unique("my-single")
    sm.create_secret(Name=name, SecretString=my_secret(user, db))
    assert my_can_login(user, "initial-password-1", db)
    out = aws_cli("secretsmanager", "rotate-secret", "--secret-id", name, "--rotation-lambda-arn", "trent-builtin").json()
    assert out["Name"] == name and out["VersionId"]
    new = current(sm, name)
    assert new["password"] != "initial-password-1"
    assert not my_can_login(user, "initial-password-1", db), "the old password is refused"
    conn = my_login(user, new["password"], db)
    with conn.cursor() as cur:
        cur.execute("SELECT x FROM t")
        assert cur.fetchone() == (42,)
    conn.close()
    described = aws_cli("secretsmanager", "describe-secret", "--secret-id", name).json()
    assert described["RotationEnabled"] is True and "LastRotatedDate" in described


def test_mariadb_alternating_users_never_breaks_the_credential_in_use(sm, my_user):
    user, db = my_user
    master = unique("my-master")
    sm.create_secret(Name=master, SecretString=json.dumps({"engine": "mariadb", **MY, "username": "root", "password": ""}))
    master_arn = sm.describe_secret(SecretId=master)["ARN"]
    name = unique("my-multi")
    sm.create_secret(Name=name, SecretString=my_secret(user, db, masterarn=master_arn))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:SecretsManagerRDSMariaDBRotationMultiUser")
    first = current(sm, name)
    assert first["username"] == f"{user}_clone"
    conn = my_login(first["username"], first["password"], db)
    with conn.cursor() as cur:
        cur.execute("SELECT x FROM t")
        assert cur.fetchone() == (42,), "the clone got the user's grants"
    conn.close()
    assert my_can_login(user, "initial-password-1", db), "the previous credential keeps working during the switch"
    sm.rotate_secret(SecretId=name)
    second = current(sm, name)
    assert second["username"] == user
    assert my_can_login(user, second["password"], db)
    assert not my_can_login(user, "initial-password-1", db)
    assert my_can_login(first["username"], first["password"], db), "AWSPREVIOUS still logs in"
    d = sm.describe_secret(SecretId=name)
    assert d["RotationLambdaARN"].endswith(":function:SecretsManagerRDSMariaDBRotationMultiUser")


def test_a_failing_set_secret_leaves_awscurrent_and_the_database_untouched(sm, my_user, trent):
    user, db = my_user
    name = unique("my-broken")
    # The stored password is not the user's: setSecret cannot log in.
    sm.create_secret(Name=name, SecretString=my_secret(user, db, password="not-the-real-password"))
    before = sm.get_secret_value(SecretId=name)
    err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId=name, RotationLambdaARN="trent-builtin")
    assert "setSecret" in error_message(err)
    after = sm.get_secret_value(SecretId=name)
    assert after["VersionId"] == before["VersionId"] and after["SecretString"] == before["SecretString"]
    assert my_can_login(user, "initial-password-1", db), "the database password did not change"
    pending = sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")
    assert pending["VersionId"] != before["VersionId"]
    failure = raw_describe(trent.base_url, name)["TrentLastRotationFailure"]
    assert failure["Step"] == "setSecret" and failure["VersionId"] == pending["VersionId"]
    assert "not-the-real-password" not in json.dumps(failure) and "initial-password-1" not in json.dumps(failure)
    # AWS's rule: a later RotateSecret reports the unfinished rotation.
    err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId=name)
    assert error_message(err) == "A previous rotation isn't complete. That rotation will be reattempted."
    # Fix the stored password (as an operator would) and resume the same rotation.
    sm.put_secret_value(SecretId=name, SecretString=my_secret(user, db))
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=pending["VersionId"]
    )
    sm.rotate_secret(SecretId=name)
    assert my_can_login(user, current(sm, name)["password"], db)
    assert "TrentLastRotationFailure" not in raw_describe(trent.base_url, name)


ROTATOR_SCRIPT = r'''#!{python}
"""A custom rotation function: does the four steps through the Secrets Manager API, as a
Lambda rotation function does, and fails at the step named in $FAIL_AT_FILE."""
import json, os, pathlib, sys
import boto3
event = json.loads(sys.stdin.read())
log = pathlib.Path(os.environ["ROTATOR_LOG"])
with log.open("a") as f:
    f.write(json.dumps(event) + "\n")
fail_at = pathlib.Path(os.environ["FAIL_AT_FILE"])
if fail_at.exists() and fail_at.read_text().strip() == event["Step"]:
    sys.exit(3)
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


@pytest.fixture
def exec_server(trent_factory, tmp_path):
    script = tmp_path / "rotator.py"
    script.write_text(ROTATOR_SCRIPT.replace("{python}", sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log, fail_at = tmp_path / "events.jsonl", tmp_path / "fail-at"
    srv = trent_factory(start=False)
    srv.extra_env.update(
        TRENT_ROTATION_FUNCTIONS=f"my-rotator=exec:{script}",
        ROTATOR_LOG=str(log),
        FAIL_AT_FILE=str(fail_at),
        READY_FILE=str(srv.ready_file),
        KEY_ID=ADMIN_ACCESS_KEY_ID,
        KEY_SECRET=ADMIN_SECRET_ACCESS_KEY,
    )
    srv.start()
    return srv, log, fail_at


def test_an_executable_rotation_function_gets_lambda_events_and_a_failing_test_secret_keeps_awscurrent(
    exec_server,
):
    srv, log, fail_at = exec_server
    sm = make_sm_client(srv.base_url)
    arn = sm.create_secret(Name="custom", SecretString="v1")["ARN"]
    fail_at.write_text("testSecret")
    token = str(uuid.uuid4())
    expect_error(
        "InvalidRequestException",
        sm.rotate_secret,
        SecretId="custom",
        ClientRequestToken=token,
        RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:my-rotator",
    )
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events == [
        {"SecretId": arn, "ClientRequestToken": token, "Step": "createSecret"},
        {"SecretId": arn, "ClientRequestToken": token, "Step": "setSecret"},
        {"SecretId": arn, "ClientRequestToken": token, "Step": "testSecret"},
    ]
    assert sm.get_secret_value(SecretId="custom")["SecretString"] == "v1", "AWSCURRENT untouched"
    assert sm.get_secret_value(SecretId="custom", VersionStage="AWSPENDING")["VersionId"] == token
    failure = raw_describe(srv.base_url, "custom")["TrentLastRotationFailure"]
    assert failure["Step"] == "testSecret" and "my-rotator" in failure["Message"]
    # The same token resumes the rotation once the function works.
    fail_at.unlink()
    assert sm.rotate_secret(SecretId="custom", ClientRequestToken=token)["VersionId"] == token
    assert sm.get_secret_value(SecretId="custom")["SecretString"] == f"rotated-{token}"
    assert [json.loads(line)["Step"] for line in log.read_text().splitlines()][3:] == [
        "createSecret", "setSecret", "testSecret", "finishSecret"
    ]
    versions = sm.describe_secret(SecretId="custom")["VersionIdsToStages"]
    assert versions[token] == ["AWSCURRENT"]


class _Hook(http.server.BaseHTTPRequestHandler):
    """A rotation webhook: records each signed event and, when `rotate` is set, does the
    steps through the Secrets Manager API as a Lambda rotation function would."""

    secret = b""
    received: list = []
    sm = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        good = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(good, self.headers.get("X-Trent-Signature", ""))
        event = json.loads(body)
        type(self).received.append((event, signed, self.headers.get("X-Trent-Rotation-Step")))
        if signed and self.sm is not None:
            arn, token = event["SecretId"], event["ClientRequestToken"]
            if event["Step"] == "createSecret":
                self.sm.put_secret_value(
                    SecretId=arn, ClientRequestToken=token, SecretString="hooked-" + token, VersionStages=["AWSPENDING"]
                )
            elif event["Step"] == "finishSecret":
                stages = self.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
                cur = next(v for v, s in stages.items() if "AWSCURRENT" in s)
                self.sm.update_secret_version_stage(
                    SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=cur
                )
        self.send_response(204 if signed else 401)
        self.end_headers()

    def log_message(self, *a):
        pass


def _self_signed(tmp_path):
    """A throwaway CA and a localhost certificate it issued: (CA cert, leaf chain, leaf key) paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, public_key, signing_key, ca):
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return b.sign(signing_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trent test rotation CA")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    leaf = build(leaf_name, ca_name, leaf_key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    ca_path, chain_path, key_path = tmp_path / "ca.pem", tmp_path / "hook-cert.pem", tmp_path / "hook-key.pem"
    ca_path.write_bytes(ca.public_bytes(pem))
    chain_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, chain_path, key_path


def _serve(handler, tls_files=None):
    import ssl

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls_files:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*map(str, tls_files))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_webhook_that_only_acknowledges_fails_at_create_secret(trent_factory):
    class Hook(_Hook):
        secret, received, sm = b"rotation-hook-key", [], None

    hook = _serve(Hook)
    try:
        srv = trent_factory(
            {
                "TRENT_ROTATION_FUNCTIONS": f"hook=http://127.0.0.1:{hook.server_port}/rotate",
                "TRENT_ROTATION_WEBHOOK_SECRET": "rotation-hook-key",
            }
        )
        sm = make_sm_client(srv.base_url)
        arn = sm.create_secret(Name="hooked", SecretString="v1")["ARN"]
        err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId="hooked", RotationLambdaARN="hook")
        assert "createSecret" in error_message(err)
        assert len(Hook.received) == 1
        event, signed, step_header = Hook.received[0]
        assert set(event) == {"SecretId", "ClientRequestToken", "Step"} and event["SecretId"] == arn
        assert signed and step_header == "createSecret"
        assert sm.get_secret_value(SecretId="hooked")["SecretString"] == "v1"
    finally:
        hook.shutdown()


def test_an_https_webhook_rotation_function_rotates_through_the_api(trent_factory, tmp_path):
    ca, cert, key = _self_signed(tmp_path)

    class Hook(_Hook):
        secret, received, sm = b"https-hook-key", [], None

    hook = _serve(Hook, (cert, key))
    try:
        srv = trent_factory(
            {
                "TRENT_ROTATION_FUNCTIONS": f"secure-hook=https://localhost:{hook.server_port}/rotate",
                "TRENT_ROTATION_WEBHOOK_SECRET": "https-hook-key",
                "TRENT_ROTATION_CA_FILE": str(ca),
            }
        )
        sm = make_sm_client(srv.base_url)
        Hook.sm = make_sm_client(srv.base_url)
        sm.create_secret(Name="https-hooked", SecretString="v1")
        token = sm.rotate_secret(
            SecretId="https-hooked", RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:secure-hook"
        )["VersionId"]
        assert [(e["Step"], signed) for e, signed, _ in Hook.received] == [
            ("createSecret", True), ("setSecret", True), ("testSecret", True), ("finishSecret", True)
        ]
        assert sm.get_secret_value(SecretId="https-hooked")["SecretString"] == f"hooked-{token}"
        assert sm.get_secret_value(SecretId="https-hooked", VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    finally:
        hook.shutdown()


def test_an_https_webhook_with_an_untrusted_certificate_is_refused(trent_factory, tmp_path):
    _, cert, key = _self_signed(tmp_path)

    class Hook(_Hook):
        secret, received, sm = b"k", [], None

    hook = _serve(Hook, (cert, key))
    try:
        # The system CA bundle does not trust the hook's self-signed certificate.
        srv = trent_factory({"TRENT_ROTATION_FUNCTIONS": f"untrusted=https://localhost:{hook.server_port}/rotate"})
        sm = make_sm_client(srv.base_url)
        sm.create_secret(Name="untrusted", SecretString="v1")
        err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId="untrusted", RotationLambdaARN="untrusted")
        assert "could not be reached" in error_message(err)
        assert Hook.received == [], "no event reaches a server trentd cannot authenticate"
    finally:
        hook.shutdown()


def test_scheduled_rotation_runs_on_the_test_clock(trent_factory, my_user):
    user, db = my_user
    srv = trent_factory()
    sm = make_sm_client(srv.base_url)
    sm.create_secret(Name="scheduled", SecretString=my_secret(user, db))
    sm.rotate_secret(SecretId="scheduled", RotationLambdaARN="trent-builtin", RotateImmediately=False, RotationRules={"ScheduleExpression": "rate(2 days)"})
    d = sm.describe_secret(SecretId="scheduled")
    assert d["RotationEnabled"] is True and "LastRotatedDate" not in d
    assert d["RotationRules"]["ScheduleExpression"] == "rate(2 days)"
    time.sleep(1.5)  # a sweep or two: nothing is due yet
    assert current(sm, "scheduled")["password"] == "initial-password-1"
    srv.advance_clock(2 * DAY + 60)
    wait_until(lambda: current(sm, "scheduled")["password"] != "initial-password-1")
    new = current(sm, "scheduled")["password"]
    assert my_can_login(user, new, db) and not my_can_login(user, "initial-password-1", db)
    d = sm.describe_secret(SecretId="scheduled")
    assert "LastRotatedDate" in d and d["NextRotationDate"] > d["LastRotatedDate"]


def test_a_rotation_due_while_the_server_was_down_runs_after_restart(trent_factory):
    srv = trent_factory()
    sm = make_sm_client(srv.base_url)
    sm.create_secret(Name="missed", SecretString="plain-old-value")
    sm.rotate_secret(SecretId="missed", RotationLambdaARN="trent-builtin", RotateImmediately=False, RotationRules={"AutomaticallyAfterDays": 1})
    srv.advance_clock(1)  # creates the persisted offset file
    srv.terminate()
    offset_file = srv.data_dir / "test-clock-offset-ms"
    offset_file.write_text(str(int(offset_file.read_text()) + 3 * DAY * 1000))
    srv.start()
    sm = make_sm_client(srv.base_url)
    wait_until(lambda: sm.get_secret_value(SecretId="missed")["SecretString"] != "plain-old-value")
    assert sm.get_secret_value(SecretId="missed", VersionStage="AWSPREVIOUS")["SecretString"] == "plain-old-value"
    assert len(sm.get_secret_value(SecretId="missed")["SecretString"]) == 32


def test_cancel_rotate_secret_stops_the_schedule(trent_factory):
    srv = trent_factory()
    sm = make_sm_client(srv.base_url)
    sm.create_secret(Name="cancelled", SecretString="keep-me")
    sm.rotate_secret(SecretId="cancelled", RotationLambdaARN="trent-builtin", RotateImmediately=False, RotationRules={"AutomaticallyAfterDays": 1})
    out = sm.cancel_rotate_secret(SecretId="cancelled")
    assert out["Name"] == "cancelled" and "VersionId" not in out
    d = sm.describe_secret(SecretId="cancelled")
    assert d["RotationEnabled"] is False and "NextRotationDate" not in d
    listed = [s for s in sm.list_secrets()["SecretList"] if s["Name"] == "cancelled"][0]
    assert listed["RotationEnabled"] is False
    srv.advance_clock(3 * DAY)
    time.sleep(2.5)
    assert sm.get_secret_value(SecretId="cancelled")["SecretString"] == "keep-me"


def test_rotation_errors_are_aws_errors(sm, sm_unvalidated):
    expect_error("ResourceNotFoundException", sm.rotate_secret, SecretId=unique("missing"))
    expect_error("ResourceNotFoundException", sm.cancel_rotate_secret, SecretId=unique("missing"))
    name = unique("errors")
    sm.create_secret(Name=name, SecretString="x")
    expect_error(
        "InvalidParameterException",
        sm.rotate_secret,
        SecretId=name,
        RotationRules={"AutomaticallyAfterDays": 3, "ScheduleExpression": "rate(3 days)"},
    )
    for expr in ["rate(1 hours)", "rate(3 weeks)", "cron(0 16 1 * *)", "cron(0 * * * ? *)", "cron(0 8 1 * 2 *)"]:
        expect_error("InvalidParameterException", sm.rotate_secret, SecretId=name, RotationRules={"ScheduleExpression": expr})
    expect_error(
        "InvalidParameterException",
        sm.rotate_secret,
        SecretId=name,
        RotationRules={"ScheduleExpression": "rate(6 hours)", "Duration": "8h"},
    )
    expect_error("ValidationException", sm_unvalidated.rotate_secret, SecretId=name, RotationRules={"AutomaticallyAfterDays": 1001})
    err = expect_error(
        "InvalidRequestException",
        sm.rotate_secret,
        SecretId=name,
        RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:nobody-registered-this",
    )
    assert "nobody-registered-this" in error_message(err)
    assert "RotationEnabled" not in sm.describe_secret(SecretId=name), "a refused call changes nothing"
    # As on AWS: no rotation function, no rotation (Trent's own rotators are named ones).
    err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId=name)
    assert error_message(err) == "No Lambda rotation function ARN is associated with this secret."
    # cron with AWS's fields: accepted, and the next date is where cron says.
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin", RotateImmediately=False, RotationRules={"ScheduleExpression": "cron(0 16 1,15 * ? *)", "Duration": "2h"})
    d = sm.describe_secret(SecretId=name)
    nxt = d["NextRotationDate"].astimezone(__import__("datetime").timezone.utc)
    assert nxt.day in (1, 15) and nxt.hour == 16 and nxt.minute == 0
    assert d["RotationRules"] == {"ScheduleExpression": "cron(0 16 1,15 * ? *)", "Duration": "2h"}
    # A database engine without a built-in rotator is refused rather than half-rotated.
    oracle = unique("oracle")
    sm.create_secret(Name=oracle, SecretString=json.dumps({"engine": "oracle", "host": "db", "username": "u", "password": "p1234"}))
    err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId=oracle, RotationLambdaARN="trent-builtin")
    assert "createSecret" in error_message(err) and "oracle" in error_message(err)
    assert current(sm, oracle)["password"] == "p1234"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    expect_error("InvalidRequestException", sm.rotate_secret, SecretId=name)
    expect_error("InvalidRequestException", sm.cancel_rotate_secret, SecretId=name)


def test_readers_of_awscurrent_never_see_a_broken_credential_with_alternating_users(sm, make_sm, my_user):
    """The issue's promise: an application that keeps reading AWSCURRENT and logging in never
    fails, through several rotations."""
    user, db = my_user
    master = unique("my-master")
    sm.create_secret(Name=master, SecretString=json.dumps({"engine": "mariadb", **MY, "username": "root", "password": ""}))
    name = unique("my-live")
    sm.create_secret(Name=name, SecretString=my_secret(user, db, masterarn=sm.describe_secret(SecretId=master)["ARN"]))
    reader = make_sm()
    stop, logins, failures = threading.Event(), [], []

    def app():
        while not stop.is_set():
            cred = json.loads(reader.get_secret_value(SecretId=name)["SecretString"])
            (logins if my_can_login(cred["username"], cred["password"], db) else failures).append(cred["username"])

    t = threading.Thread(target=app)
    t.start()
    try:
        for _ in range(4):
            sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(30)
    assert failures == [], f"{len(failures)} logins with AWSCURRENT failed"
    assert len(logins) > 5 and {user, f"{user}_clone"} <= set(logins)
