"""Shared machinery for the trentd compatibility suite.

The suite talks to a real `trentd` process with the clients people actually use against
AWS KMS: boto3, the AWS CLI (v1) and, for requests a well-behaved client would never send,
raw HTTP signed with botocore's own SigV4 signer.

The server binary is `$TRENTD_BIN` if set, else `<repo>/target/debug/trentd`. The suite never
builds it; if it is missing every test fails (at setup) with a message that says so.

Fixtures:
- `trent`            one server for the whole session (ordinary operation tests).
- `trent_factory`    starts extra servers (own data dir) for tests that stop, crash or
                     restart a server, or that move its clock; all are killed at teardown.
- `kms`              boto3 KMS client for `trent` in us-east-1.
- `kms_unvalidated`  the same with botocore's client-side parameter validation off.
- `make_client`      boto3 KMS client for any base URL / region / credentials.
- `new_key`          creates a fresh symmetric key on `trent`, returns its KeyMetadata.
- `ssm`              boto3 SSM (Parameter Store) client for `trent` in us-east-1.
- `ssm_unvalidated`  the same with botocore's client-side parameter validation off.
- `make_ssm`         boto3 SSM client for any region / base URL / credentials.
- `sm`               boto3 Secrets Manager client for `trent` in us-east-1.
- `sm_unvalidated`   the same with botocore's client-side parameter validation off.
- `make_sm`          boto3 Secrets Manager client for any region / base URL / credentials.

`aws_cli` runs any `aws <service> ...` command (KMS, SSM, Secrets Manager) against `trent`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import http.client
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from requests.structures import CaseInsensitiveDict
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = pathlib.Path(__file__).resolve().parents[2]

ADMIN_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
ADMIN_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"

READY_TIMEOUT_SECS = 20.0
STOP_TIMEOUT_SECS = 10.0

# Keep the developer's own AWS setup (profiles, default region, endpoint overrides, real
# credentials) out of every client this suite builds, in this process and in children.
for _var in list(os.environ):
    if _var.startswith("AWS_"):
        del os.environ[_var]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


# --------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------


def trentd_binary() -> pathlib.Path:
    """The trentd binary, or a test failure explaining where it was looked for."""
    env = os.environ.get("TRENTD_BIN")
    path = pathlib.Path(env) if env else REPO / "target" / "debug" / "trentd"
    if not path.is_file():
        pytest.fail(
            f"trentd binary not found at {path} "
            f"({'from $TRENTD_BIN' if env else 'default location; set TRENTD_BIN to override'}). "
            "Build it first (cargo build --bin trentd); this suite does not build it.",
            pytrace=False,
        )
    if not os.access(path, os.X_OK):
        pytest.fail(f"trentd binary at {path} is not executable", pytrace=False)
    return path


class TrentServer:
    """One trentd process on one data directory; can be stopped, killed and restarted."""

    def __init__(self, data_dir: pathlib.Path, work_dir: pathlib.Path, extra_env: dict | None = None):
        self.data_dir = data_dir
        self.work_dir = work_dir
        self.extra_env = dict(extra_env or {})
        self.ready_file = work_dir / "ready"
        self.proc: subprocess.Popen | None = None
        self.base_url: str | None = None
        self.log_path: pathlib.Path | None = None
        self._runs = 0

    # -- process control -----------------------------------------------------------------

    def env(self, extra_env: dict | None = None) -> dict:
        # trentd reads TRENT_* variables as defaults for its flags (TRENT_MAX_BODY_BYTES,
        # TRENT_ACCOUNT_ID, ...): none of the developer's may leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRENT_")}
        env["TRENT_ADMIN_ACCESS_KEY_ID"] = ADMIN_ACCESS_KEY_ID
        env["TRENT_ADMIN_SECRET_ACCESS_KEY"] = ADMIN_SECRET_ACCESS_KEY
        # Quotas are off by default (the quota tests turn them on with TRENT_QUOTAS=aws), so
        # every test also checks that the default never throttles.
        env.update(self.extra_env)
        env.update(extra_env or {})
        return env

    def spawn(self, extra_env: dict | None = None) -> subprocess.Popen:
        """Starts the process without waiting for it to become ready."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        binary = trentd_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.ready_file.exists():
            self.ready_file.unlink()
        self._runs += 1
        self.log_path = self.work_dir / f"trentd.{self._runs}.stderr"
        self.stdout_path = self.work_dir / f"trentd.{self._runs}.stdout"
        with open(self.log_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(binary),
                    "--listen", "127.0.0.1:0",
                    "--data-dir", str(self.data_dir),
                    "--ready-file", str(self.ready_file),
                    "--sweep-interval-secs", "1",
                    "--unsafe-test-clock",
                ],
                env=self.env(extra_env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=str(self.work_dir),
            )
        self.base_url = None
        return self.proc

    def start(self, extra_env: dict | None = None) -> "TrentServer":
        self.spawn(extra_env)
        self.base_url = self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECS) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_file.exists():
                text = self.ready_file.read_text()
                if text.endswith("\n") and text.strip():
                    url = text.strip()
                    assert url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")), f"unexpected ready-file content {text!r}"
                    return url
            code = self.proc.poll()
            if code is not None:
                pytest.fail(
                    f"trentd exited with code {code} before becoming ready.\n"
                    f"--- stderr ---\n{self.stderr()}",
                    pytrace=False,
                )
            time.sleep(0.02)
        self.kill()
        pytest.fail(
            f"trentd did not write {self.ready_file} within {timeout:.0f} s.\n"
            f"--- stderr ---\n{self.stderr()}",
            pytrace=False,
        )

    def stderr(self) -> str:
        if self.log_path and self.log_path.exists():
            text = self.log_path.read_text(errors="replace")
            return text[-20000:]
        return ""

    def terminate(self, timeout: float = STOP_TIMEOUT_SECS) -> int:
        """SIGTERM, and wait for the exit. Returns the exit code (negative = signal)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(
                f"trentd did not exit within {timeout:.0f} s of SIGTERM.\n--- stderr ---\n{self.stderr()}",
                pytrace=False,
            )

    def kill(self) -> None:
        """SIGKILL (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self, extra_env: dict | None = None) -> "TrentServer":
        self.terminate()
        return self.start(extra_env)

    # -- test-only endpoints -------------------------------------------------------------

    def advance_clock(self, seconds: int) -> None:
        r = requests.post(
            f"{self.base_url}/_trent/test/advance-clock", json={"seconds": seconds}, timeout=10
        )
        assert 200 <= r.status_code < 300, f"advance-clock answered {r.status_code}: {r.text}"

    def client(self, region: str = REGION, **kw):
        return make_kms_client(self.base_url, region=region, **kw)


@pytest.fixture(scope="session")
def trentd_path() -> pathlib.Path:
    return trentd_binary()


@pytest.fixture
def trent_factory(tmp_path_factory):
    """Starts servers of a test's own (each with a fresh data dir); kills them at teardown."""
    started: list[TrentServer] = []

    def factory(extra_env: dict | None = None, start: bool = True) -> TrentServer:
        work = tmp_path_factory.mktemp("trent")
        srv = TrentServer(work / "data", work, extra_env)
        started.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    for srv in started:
        srv.kill()


@pytest.fixture(scope="session")
def trent(tmp_path_factory) -> Iterable[TrentServer]:
    """The session-wide server for ordinary operation tests."""
    work = tmp_path_factory.mktemp("trent-session")
    srv = TrentServer(work / "data", work)
    try:
        srv.start()
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="session")
def base_url(trent) -> str:
    return trent.base_url


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


def make_service_client(
    service: str,
    base_url: str,
    region: str = REGION,
    access_key: str = ADMIN_ACCESS_KEY_ID,
    secret_key: str = ADMIN_SECRET_ACCESS_KEY,
    validate: bool = True,
    verify=None,
):
    """A boto3 client of `service` ("kms", "ssm", "secretsmanager") for a trentd base URL."""
    session = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=base_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        verify=verify,
        config=Config(
            retries={"max_attempts": 1},
            parameter_validation=validate,
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=16,
        ),
    )


def make_kms_client(base_url: str, **kw):
    return make_service_client("kms", base_url, **kw)


def make_ssm_client(base_url: str, **kw):
    """A boto3 SSM (Parameter Store) client for a trentd base URL."""
    return make_service_client("ssm", base_url, **kw)


def make_sm_client(base_url: str, **kw):
    """A boto3 Secrets Manager client for a trentd base URL."""
    return make_service_client("secretsmanager", base_url, **kw)


@pytest.fixture(scope="session")
def make_client(trent) -> Callable:
    def make(region: str = REGION, base_url: str | None = None, **kw):
        return make_kms_client(base_url or trent.base_url, region=region, **kw)

    return make


@pytest.fixture(scope="session")
def kms(trent):
    return make_kms_client(trent.base_url)


@pytest.fixture(scope="session")
def kms_unvalidated(trent):
    return make_kms_client(trent.base_url, validate=False)



@pytest.fixture(scope="session")
def ssm(trent):
    """boto3 SSM client for `trent` in us-east-1."""
    return make_ssm_client(trent.base_url)


@pytest.fixture(scope="session")
def ssm_unvalidated(trent):
    """The same with botocore's client-side parameter validation off."""
    return make_ssm_client(trent.base_url, validate=False)


@pytest.fixture(scope="session")
def make_ssm(trent) -> Callable:
    """boto3 SSM client for any region / base URL / credentials (default: `trent`)."""

    def make(region: str = REGION, base_url: str | None = None, **kw):
        return make_ssm_client(base_url or trent.base_url, region=region, **kw)

    return make



@pytest.fixture(scope="session")
def sm(trent):
    """boto3 Secrets Manager client for `trent` in us-east-1."""
    return make_sm_client(trent.base_url)


@pytest.fixture(scope="session")
def sm_unvalidated(trent):
    """The same with botocore's client-side parameter validation off."""
    return make_sm_client(trent.base_url, validate=False)


@pytest.fixture(scope="session")
def make_sm(trent) -> Callable:
    """boto3 Secrets Manager client for any region / base URL / credentials (default: `trent`)."""

    def make(region: str = REGION, base_url: str | None = None, **kw):
        return make_sm_client(base_url or trent.base_url, region=region, **kw)

    return make


@pytest.fixture
def new_key(kms) -> Callable[..., dict]:
    """Creates a fresh key on the session server; returns its KeyMetadata."""

    def create(**kw) -> dict:
        kw.setdefault("Description", f"compat test key {uuid.uuid4()}")
        return kms.create_key(**kw)["KeyMetadata"]

    return create


def error_code(excinfo) -> str:
    err = excinfo.value if hasattr(excinfo, "value") else excinfo
    assert isinstance(err, ClientError), f"expected a ClientError, got {err!r}"
    return err.response["Error"]["Code"]


def error_message(excinfo) -> str:
    err = excinfo.value if hasattr(excinfo, "value") else excinfo
    return err.response["Error"].get("Message", "")


def http_status(excinfo) -> int:
    err = excinfo.value if hasattr(excinfo, "value") else excinfo
    return err.response["ResponseMetadata"]["HTTPStatusCode"]


def expect_error(code: str, fn: Callable, *args, **kwargs) -> ClientError:
    """Calls fn and asserts it fails with the AWS error `code` and a 4xx status."""
    with pytest.raises(ClientError) as excinfo:
        fn(*args, **kwargs)
    got = error_code(excinfo)
    assert got == code, (
        f"expected {code}, got {got}: {error_message(excinfo)!r} "
        f"(HTTP {http_status(excinfo)})"
    )
    status = http_status(excinfo)
    assert 400 <= status < 500, f"{code} came with HTTP {status}"
    return excinfo.value


def key_arn(key_id: str, region: str = REGION, partition: str = "aws") -> str:
    return f"arn:{partition}:kms:{region}:{ACCOUNT_ID}:key/{key_id}"


def alias_arn(alias_name: str, region: str = REGION, partition: str = "aws") -> str:
    return f"arn:{partition}:kms:{region}:{ACCOUNT_ID}:{alias_name}"


def unique_alias(prefix: str = "compat") -> str:
    return f"alias/{prefix}-{uuid.uuid4().hex[:12]}"


def list_all(client, op: str, result_key: str, **kw) -> list:
    """Collects every page of a Marker/NextMarker/Truncated list operation."""
    out: list = []
    marker = None
    for _ in range(10000):
        args = dict(kw)
        if marker:
            args["Marker"] = marker
        page = getattr(client, op)(**args)
        out.extend(page[result_key])
        if page.get("Truncated"):
            marker = page.get("NextMarker")
            assert marker, f"{op}: Truncated is true but NextMarker is missing"
        else:
            return out
    raise AssertionError(f"{op}: paging did not end")


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


# --------------------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: CaseInsensitiveDict  # header names compare case-insensitively
    body: bytes
    json: Any = None

    @property
    def error_type(self) -> str | None:
        if isinstance(self.json, dict):
            t = self.json.get("__type")
            if isinstance(t, str):
                return t.rsplit("#", 1)[-1]
        return None

    @property
    def message(self) -> str:
        if isinstance(self.json, dict):
            return self.json.get("message") or self.json.get("Message") or ""
        return ""

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.body[:500]!r})"


class _SkewedSigV4Auth(botocore.auth.SigV4Auth):
    """SigV4Auth signing as if the time were `when` (works across botocore versions: the
    timestamp is put into request.context by add_auth just before this hook runs, and
    everything after it reads the timestamp from there)."""

    def __init__(self, credentials, service, region, when: _dt.datetime):
        super().__init__(credentials, service, region)
        self._when = when

    def _modify_request_before_signing(self, request):
        request.context["timestamp"] = self._when.strftime(botocore.auth.SIGV4_TIMESTAMP)
        super()._modify_request_before_signing(request)


def signed_request(
    base_url: str,
    operation: str | None,
    body: bytes | str | dict,
    *,
    region: str = REGION,
    service: str = "kms",
    access_key: str = ADMIN_ACCESS_KEY_ID,
    secret_key: str = ADMIN_SECRET_ACCESS_KEY,
    sign: bool = True,
    when: _dt.datetime | None = None,
    target: str | None = None,
    extra_headers: dict | None = None,
) -> botocore.awsrequest.AWSPreparedRequest:
    """A POST / request as boto3 would send it, signed by botocore's SigV4 signer."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is None and operation is not None:
        target = f"TrentService.{operation}"
    if target is not None:
        headers["X-Amz-Target"] = target
    headers.update(extra_headers or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=base_url.rstrip("/") + "/", data=body, headers=headers)
    if sign:
        creds = botocore.credentials.Credentials(access_key, secret_key)
        signer = (
            _SkewedSigV4Auth(creds, service, region, when)
            if when is not None
            else botocore.auth.SigV4Auth(creds, service, region)
        )
        signer.add_auth(req)
    return req.prepare()


def send(prepared, body: bytes | None = None) -> RawResponse:
    """Sends a prepared request; `body` replaces the signed body (for tampering tests)."""
    data = prepared.body if body is None else body
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    r = requests.post(prepared.url, data=data, headers=headers, timeout=30)
    try:
        parsed = r.json()
    except ValueError:
        parsed = None
    return RawResponse(r.status_code, r.headers, r.content, parsed)


def raw_call(base_url: str, operation: str | None, body: bytes | str | dict = b"{}", **kw) -> RawResponse:
    return send(signed_request(base_url, operation, body, **kw))


def send_streaming(prepared, chunk: int = 64 * 1024) -> RawResponse:
    """Sends a (large) request with http.client, tolerating the server closing its read
    side early: a server may answer 413 before reading the whole body. The response is
    still read if the server sent one."""
    url = urllib.parse.urlsplit(prepared.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    body = prepared.body if isinstance(prepared.body, bytes) else prepared.body.encode()
    send_error = None
    try:
        conn.putrequest("POST", url.path or "/", skip_host=True, skip_accept_encoding=True)
        headers = dict(prepared.headers.items())
        headers.setdefault("Host", url.netloc)
        headers["Content-Length"] = str(len(body))
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        for i in range(0, len(body), chunk):
            conn.send(body[i : i + chunk])
    except OSError as e:  # the server stopped reading: fine, if it answered first
        send_error = e
    try:
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise AssertionError(
            f"no HTTP response to an oversized request (send error: {send_error!r}, read error: {e!r})"
        ) from e
    finally:
        conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    return RawResponse(resp.status, CaseInsensitiveDict(resp.getheaders()), data, parsed)


# --------------------------------------------------------------------------------------
# AWS CLI
# --------------------------------------------------------------------------------------


def aws_cli_path() -> str:
    venv_bin = os.path.dirname(sys.executable)
    found = shutil.which("aws", path=venv_bin) or shutil.which("aws")
    if not found:
        pytest.fail(
            "the `aws` command (awscli v1) was not found next to "
            f"{sys.executable} nor on PATH; run scripts/compat-venv.sh and use its python",
            pytrace=False,
        )
    return found


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    args: list = field(default_factory=list)

    def json(self):
        assert self.returncode == 0, f"aws {' '.join(self.args)} failed ({self.returncode}): {self.stderr}"
        return json.loads(self.stdout) if self.stdout.strip() else {}


@pytest.fixture(scope="session")
def aws_cli(trent) -> Callable[..., CliResult]:
    exe = aws_cli_path()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ADMIN_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=ADMIN_SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )

    def run(*args: str, output: str = "json", cwd: str | None = None) -> CliResult:
        cmd = [exe, "--endpoint-url", trent.base_url, "--output", output, *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=cwd)
        return CliResult(p.returncode, p.stdout, p.stderr, list(args))

    return run


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
