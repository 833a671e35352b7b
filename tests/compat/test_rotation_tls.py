"""TLS between the built-in rotators and the database, and https:// event webhooks.

The secret chooses the TLS mode as AWS's rotation functions let it: `ssl` (AWS: true = TLS with a
verified certificate, false = plain; absent = try TLS first) or Trent's `sslmode` (libpq's names:
disable, prefer, require, verify-ca, verify-full) and `sslrootcert` (a CA file path or PEM text).

This machine's PostgreSQL has SSL on with Debian's snake-oil certificate (self-signed, SAN
localhost); its MariaDB has SSL off. A second MariaDB with TLS is started in a temporary directory
for the verified MySQL modes (skipped, with the reason printed, when the binaries are missing).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pymysql
import pytest

from conftest import error_message, expect_error, make_sm_client, make_ssm_client
from test_secrets_rotation import (  # noqa: F401  (pg_role and my_user are fixtures)
    MY,
    PG,
    _self_signed,
    current,
    my_can_login,
    my_user,
    pg_role,
    pg_verifier,
    scram_matches,
    unique,
)

SNAKEOIL = "/etc/ssl/certs/ssl-cert-snakeoil.pem"


def pg_secret(role, host="127.0.0.1", **extra):
    return json.dumps(
        {"engine": "postgres", "host": host, "port": PG["port"], "username": role,
         "password": "initial-password-1", "dbname": "postgres", **extra}
    )


def rotation_fails(sm, name, *needles):
    err = expect_error("InvalidRequestException", sm.rotate_secret, SecretId=name, RotationLambdaARN="trent-builtin")
    msg = error_message(err)
    assert "setSecret" in msg and all(n in msg for n in needles), msg
    assert "initial-password-1" not in msg
    return msg


# -- PostgreSQL (SSL on, snake-oil certificate) ---------------------------------------------------


def test_postgres_require_rotates_over_tls(sm, pg_role):
    name = unique("pg-require")
    sm.create_secret(Name=name, SecretString=pg_secret(pg_role, sslmode="require"))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin", RotationRules={"AutomaticallyAfterDays": 30})
    new = current(sm, name)
    assert new["password"] != "initial-password-1" and new["sslmode"] == "require"
    assert scram_matches(pg_verifier(pg_role), new["password"])


def test_postgres_verify_full_with_an_untrusted_certificate_fails_and_keeps_awscurrent(sm, pg_role):
    # AWS's `ssl: true`: TLS with a verified certificate; the snake-oil certificate is no CA's.
    name = unique("pg-untrusted")
    sm.create_secret(Name=name, SecretString=pg_secret(pg_role, host="localhost", ssl=True))
    rotation_fails(sm, name, "sslmode verify-full", "invalid peer certificate", "UnknownIssuer")
    assert current(sm, name)["password"] == "initial-password-1"
    assert scram_matches(pg_verifier(pg_role), "initial-password-1"), "the database is untouched"


def test_postgres_verify_full_with_the_wrong_ca_fails_and_keeps_awscurrent(sm, pg_role, tmp_path):
    other_ca, _, _ = _self_signed(tmp_path)
    name = unique("pg-wrong-ca")
    sm.create_secret(
        Name=name, SecretString=pg_secret(pg_role, host="localhost", sslmode="verify-full", sslrootcert=str(other_ca))
    )
    rotation_fails(sm, name, "sslmode verify-full", "UnknownIssuer")
    assert current(sm, name)["password"] == "initial-password-1"
    assert scram_matches(pg_verifier(pg_role), "initial-password-1")


def test_postgres_verify_full_with_the_servers_certificate_as_ca_rotates(sm, pg_role):
    if not os.path.exists(SNAKEOIL):
        pytest.skip(f"{SNAKEOIL} is missing")
    name = unique("pg-verified")
    sm.create_secret(
        Name=name, SecretString=pg_secret(pg_role, host="localhost", sslmode="verify-full", sslrootcert=SNAKEOIL)
    )
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")
    assert scram_matches(pg_verifier(pg_role), current(sm, name)["password"])


def test_postgres_verify_full_refuses_a_host_the_certificate_does_not_name(sm, pg_role):
    # The snake-oil certificate names localhost only: 127.0.0.1 passes verify-ca, not verify-full.
    name = unique("pg-name")
    sm.create_secret(Name=name, SecretString=pg_secret(pg_role, sslmode="verify-full", sslrootcert=SNAKEOIL))
    rotation_fails(sm, name, "not valid for name")
    assert current(sm, name)["password"] == "initial-password-1"
    other = unique("pg-ca")
    sm.create_secret(Name=other, SecretString=pg_secret(pg_role, sslmode="verify-ca", sslrootcert=SNAKEOIL))
    sm.rotate_secret(SecretId=other, RotationLambdaARN="trent-builtin")
    assert scram_matches(pg_verifier(pg_role), current(sm, other)["password"])


# -- MariaDB without TLS (the machine's) ----------------------------------------------------------


def my_secret(user, db, host=MY["host"], port=MY["port"], **extra):
    return json.dumps(
        {"engine": "mariadb", "host": host, "port": port, "username": user,
         "password": "initial-password-1", "dbname": db, **extra}
    )


def test_mariadb_require_fails_cleanly_when_the_server_has_no_tls(sm, my_user):
    user, db = my_user
    name = unique("my-require")
    sm.create_secret(Name=name, SecretString=my_secret(user, db, sslmode="require"))
    rotation_fails(sm, name, "sslmode require", "does not offer TLS")
    assert current(sm, name)["password"] == "initial-password-1"
    assert my_can_login(user, "initial-password-1", db), "the database is untouched"


def test_mariadb_prefer_falls_back_to_plain_tcp(sm, my_user):
    user, db = my_user
    name = unique("my-prefer")
    sm.create_secret(Name=name, SecretString=my_secret(user, db, sslmode="prefer"))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")
    new = current(sm, name)["password"]
    assert my_can_login(user, new, db) and not my_can_login(user, "initial-password-1", db)


# -- a MariaDB with TLS, started for these tests ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_mariadb(tmp_path_factory):
    install = shutil.which("mariadb-install-db")
    server = shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None)
    if not install or not server:
        reason = "mariadb-install-db / mariadbd are not installed: no TLS-enabled MariaDB to test against"
        print(reason)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("mariadb-tls")
    ca, chain, key = _self_signed(work)
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [install, "--no-defaults", f"--datadir={work / 'data'}", "--auth-root-authentication-method=normal",
         "--skip-test-db", *as_root],
        check=True, capture_output=True, timeout=120,
    )
    port = _free_port()
    log = open(work / "mariadbd.log", "wb")
    proc = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={work / 'data'}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--socket={work / 's.sock'}", f"--pid-file={work / 'pid'}", "--skip-name-resolve",
         f"--ssl-cert={chain}", f"--ssl-key={key}", f"--ssl-ca={ca}", *as_root],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=2).close()
                break
            except pymysql.err.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the TLS MariaDB did not start: {(work / 'mariadbd.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield {"port": port, "ca": str(ca)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def tls_user(tls_mariadb):
    """A user that may only log in over TLS (REQUIRE SSL), with a database it can read."""
    root = pymysql.connect(host="127.0.0.1", port=tls_mariadb["port"], user="root", password="", autocommit=True)
    user, db = unique("trent_tls"), unique("trent_db")
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (user, "initial-password-1"))
        cur.execute(f"GRANT SELECT ON `{db}`.* TO %s@'%%'", (user,))
    yield user, db
    root.close()


def tls_login(port, ca, user, password, db) -> bool:
    try:
        pymysql.connect(host="127.0.0.1", port=port, user=user, password=password, database=db,
                        ssl={"ca": ca}, connect_timeout=5).close()
        return True
    except pymysql.err.OperationalError as e:
        assert e.args[0] == 1045, e
        return False


def test_mariadb_verify_full_with_the_ca_in_the_secret_rotates_over_tls(sm, tls_mariadb, tls_user):
    user, db = tls_user
    port, ca = tls_mariadb["port"], tls_mariadb["ca"]
    name = unique("my-verified")
    with open(ca) as f:
        ca_pem = f.read()
    sm.create_secret(
        Name=name,
        SecretString=my_secret(user, db, host="localhost", port=port, sslmode="verify-full", sslrootcert=ca_pem),
    )
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")  # the user has REQUIRE SSL: only a TLS session could do it
    new = current(sm, name)["password"]
    assert tls_login(port, ca, user, new, db) and not tls_login(port, ca, user, "initial-password-1", db)


def test_mariadb_require_rotates_over_tls_without_a_ca(sm, tls_mariadb, tls_user):
    user, db = tls_user
    name = unique("my-tls-require")
    sm.create_secret(Name=name, SecretString=my_secret(user, db, port=tls_mariadb["port"], sslmode="require"))
    sm.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")
    assert tls_login(tls_mariadb["port"], tls_mariadb["ca"], user, current(sm, name)["password"], db)


def test_mariadb_verify_full_with_an_untrusted_ca_fails_and_keeps_awscurrent(sm, tls_mariadb, tls_user):
    user, db = tls_user
    name = unique("my-untrusted")
    sm.create_secret(Name=name, SecretString=my_secret(user, db, host="localhost", port=tls_mariadb["port"], ssl=True))
    rotation_fails(sm, name, "sslmode verify-full", "UnknownIssuer")
    assert current(sm, name)["password"] == "initial-password-1"
    assert tls_login(tls_mariadb["port"], tls_mariadb["ca"], user, "initial-password-1", db)


# -- https:// event webhooks -----------------------------------------------------------------------


def test_parameter_store_events_reach_an_https_webhook_trusted_through_the_ca_file(trent_factory, tmp_path):
    import ssl

    ca, chain, key = _self_signed(tmp_path)
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(chain), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        srv = trent_factory(
            {
                "TRENT_EVENT_WEBHOOKS": f"https://localhost:{server.server_port}/events",
                "TRENT_EVENT_WEBHOOK_CA_FILE": str(ca),
            }
        )
        ssm = make_ssm_client(srv.base_url)
        ssm.put_parameter(Name="/tls/hooked", Value="v1", Type="String")
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert received, "no event reached the https webhook"
        assert received[0]["detail"]["name"] == "/tls/hooked", received[0]
    finally:
        server.shutdown()


def test_an_unreadable_event_webhook_ca_file_stops_the_start(trent_factory, tmp_path):
    srv = trent_factory(
        {
            "TRENT_EVENT_WEBHOOKS": "https://localhost:9/events",
            "TRENT_EVENT_WEBHOOK_CA_FILE": str(tmp_path / "missing.pem"),
        },
        start=False,
    )
    srv.spawn()
    assert srv.proc.wait(timeout=60) != 0, "trentd started with an unreadable CA file"
    assert "--event-webhook-ca-file" in srv.stderr(), srv.stderr()
