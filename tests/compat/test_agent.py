"""`trent resolve` and `trent agent` against a real trentd: CloudFormation dynamic references
rendered from Parameter Store and Secrets Manager; templates re-rendered (atomically, with
their command run) when a parameter changes and when a secret rotates; the local endpoint of
AWS's agents with its token check and TTL cache; credentials from web identity."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import stat
import subprocess
import time
import uuid

import pytest
import requests

from conftest import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION, REPO, trentd_binary


def trent_cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TRENT_BIN") or trentd_binary().parent / "trent")
    assert path.exists(), f"the trent CLI is not built at {path}"
    return path


def admin_env(base_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
        "AWS_ENDPOINT_URL": base_url, "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    env.update(extra)
    return env


def resolve(base_url: str, text: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(trent_cli()), "resolve", text], env=env or admin_env(base_url),
                          capture_output=True, text=True, timeout=60)


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def values(trent, ssm, sm):
    n = uid()
    ssm.put_parameter(Name=f"/agent/{n}/url", Value="https://db.internal:5432", Type="String")
    ssm.put_parameter(Name=f"/agent/{n}/pw", Value="p@ss word", Type="SecureString")
    sm.create_secret(Name=f"agent-{n}", SecretString=json.dumps({"username": "app", "password": "hunter2", "port": 5432}))
    return {"url": f"/agent/{n}/url", "pw": f"/agent/{n}/pw", "secret": f"agent-{n}"}


def wait_for(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- trent resolve ------------------------------------------------------------------------


def test_resolve_renders_every_reference_kind(trent, values, sm):
    s = values["secret"]
    text = (f"url={{{{resolve:ssm:{values['url']}}}}} pw={{{{resolve:ssm-secure:{values['pw']}}}}} "
            f"user={{{{resolve:secretsmanager:{s}:SecretString:username}}}} "
            f"port={{{{resolve:secretsmanager:{s}:SecretString:port}}}} ver={{{{resolve:ssm:{values['url']}:1}}}}")
    out = resolve(trent.base_url, text)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "url=https://db.internal:5432 pw=p@ss word user=app port=5432 ver=https://db.internal:5432\n"
    whole = resolve(trent.base_url, f"{{{{resolve:secretsmanager:{s}}}}}")
    assert json.loads(whole.stdout)["password"] == "hunter2"
    arn = sm.describe_secret(SecretId=s)["ARN"]
    by_arn = resolve(trent.base_url, f"{{{{resolve:secretsmanager:{arn}:SecretString:password:AWSCURRENT}}}}")
    assert by_arn.stdout == "hunter2\n", by_arn.stderr
    assert resolve(trent.base_url, "no references here").stdout == "no references here\n"


def test_resolve_fails_loudly_on_what_it_cannot_resolve(trent, values):
    for text, reason in [
        ("{{resolve:ssm:/no/such/parameter}}", "ParameterNotFound"),
        (f"{{{{resolve:ssm:{values['pw']}}}}}", "SecureString"),
        (f"{{{{resolve:secretsmanager:{values['secret']}:SecretString:nokey}}}}", "nokey"),
        ("{{resolve:secretsmanager:no-such-secret}}", "ResourceNotFoundException"),
        ("{{resolve:ssm:/x", "closing"),
        ("{{resolve:vault:x}}", "ssm, ssm-secure or secretsmanager"),
    ]:
        out = resolve(trent.base_url, text)
        assert out.returncode != 0, text
        assert out.stdout == ""
        assert reason in out.stderr, (text, out.stderr)
    denied = resolve(trent.base_url, f"{{{{resolve:ssm:{values['url']}}}}}",
                     env=admin_env(trent.base_url, AWS_SECRET_ACCESS_KEY="wrong"))
    assert denied.returncode != 0 and "InvalidSignatureException" in denied.stderr, denied.stderr
    # The secret value never appears in an error.
    assert "hunter2" not in resolve(trent.base_url, f"{{{{resolve:secretsmanager:{values['secret']}:SecretString:nokey}}}}").stderr


# -- trent agent: templates ----------------------------------------------------------------


class Agent:
    def __init__(self, base_url: str, workdir: pathlib.Path, config: str, env: dict | None = None):
        self.cfg = workdir / "agent.toml"
        self.cfg.write_text(config)
        self.log = workdir / "agent.log"
        self.proc = subprocess.Popen([str(trent_cli()), "agent", "--config", str(self.cfg)],
                                     env=env or admin_env(base_url), stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "wb"))

    def stderr(self) -> str:
        return self.log.read_text()

    def url(self) -> str:
        m = wait_for(lambda: re.search(r"listening on (http://\S+)", self.stderr()), what="the listener")
        return m.group(1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_agent_renders_and_rerenders_on_parameter_change_and_rotation(trent, ssm, sm, values, tmp_path):
    s = values["secret"]
    (tmp_path / "app.tpl").write_text(
        f"url={{{{resolve:ssm:{values['url']}}}}}\n"
        f"password={{{{resolve:secretsmanager:{s}:SecretString:password}}}}\n")
    counter = tmp_path / "ran"
    dest = tmp_path / "out" / "app.env"
    dest.parent.mkdir()
    agent = Agent(trent.base_url, tmp_path, f"""
poll_interval = "1s"
[[template]]
source = "app.tpl"
destination = "{dest}"
mode = "0640"
command = ["/bin/sh", "-c", "echo changed >> {counter}"]
""")
    try:
        wait_for(lambda: dest.exists(), what="the first render")
        assert dest.read_text() == "url=https://db.internal:5432\npassword=hunter2\n"
        assert stat.S_IMODE(dest.stat().st_mode) == 0o640
        wait_for(lambda: counter.exists() and counter.read_text().count("changed") == 1, what="the command")

        ssm.put_parameter(Name=values["url"], Value="https://db2.internal:5432", Type="String", Overwrite=True)
        wait_for(lambda: "db2.internal" in dest.read_text(), what="the parameter change")
        wait_for(lambda: counter.read_text().count("changed") == 2, what="the command after the change")

        # A rotation's new AWSCURRENT is picked up.
        sm.put_secret_value(SecretId=s, SecretString=json.dumps({"username": "app", "password": "rotated-pw", "port": 5432}))
        wait_for(lambda: "password=rotated-pw" in dest.read_text(), what="the rotated secret")
        wait_for(lambda: counter.read_text().count("changed") == 3, what="the command after rotation")

        # Nothing changes: no rewrite, no command.
        time.sleep(2.5)
        assert counter.read_text().count("changed") == 3
        # Only the destination is in its directory (atomic writes leave no temporary file).
        assert [p.name for p in dest.parent.iterdir()] == ["app.env"]

        # A value that disappears fails the template loudly; the previous file stays.
        ssm.delete_parameter(Name=values["url"])
        wait_for(lambda: "ParameterNotFound" in agent.stderr(), what="the error")
        assert dest.read_text() == "url=https://db2.internal:5432\npassword=rotated-pw\n"
        assert "rotated-pw" not in agent.stderr() and "hunter2" not in agent.stderr()
    finally:
        agent.stop()
        ssm.put_parameter(Name=values["url"], Value="https://db.internal:5432", Type="String", Overwrite=True)


def test_agent_once_exits_non_zero_when_a_template_fails(trent, tmp_path):
    (tmp_path / "bad.tpl").write_text("{{resolve:ssm:/definitely/not/there}}")
    (tmp_path / "agent.toml").write_text(f'[[template]]\nsource = "bad.tpl"\ndestination = "{tmp_path / "bad.out"}"\n')
    out = subprocess.run([str(trent_cli()), "agent", "--once", "--config", str(tmp_path / "agent.toml")],
                         env=admin_env(trent.base_url), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "ParameterNotFound" in out.stderr
    assert not (tmp_path / "bad.out").exists()
    (tmp_path / "agent.toml").write_text('bogus_key = 1\n')
    out = subprocess.run([str(trent_cli()), "agent", "--config", str(tmp_path / "agent.toml")],
                         env=admin_env(trent.base_url), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "bogus_key" in out.stderr


# -- trent agent: the endpoint -------------------------------------------------------------


def test_agent_endpoint_checks_the_token_and_caches(trent, sm, values, tmp_path):
    (tmp_path / "token").write_text("  endpoint-token-123\n")
    agent = Agent(trent.base_url, tmp_path, """
token_file = "token"
[listener]
address = "127.0.0.1:0"
[cache]
ttl = "2s"
max_entries = 10
""")
    try:
        url = agent.url()
        assert requests.get(f"{url}/ping", timeout=5).text == "healthy"
        s = values["secret"]
        get = f"{url}/secretsmanager/get?secretId={s}"
        r = requests.get(get, timeout=5)
        assert r.status_code == 401
        r = requests.get(get, headers={"X-Aws-Parameters-Secrets-Token": "wrong"}, timeout=5)
        assert r.status_code == 403
        r = requests.get(get, headers={"X-Aws-Parameters-Secrets-Token": "endpoint-token-123",
                                       "X-Forwarded-For": "10.0.0.1"}, timeout=5)
        assert r.status_code == 400
        h = {"X-Aws-Parameters-Secrets-Token": "endpoint-token-123"}
        first = requests.get(get, headers=h, timeout=5)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["Name"] == s and "VersionId" in body and "AWSCURRENT" in body["VersionStages"]
        assert json.loads(body["SecretString"])["username"] == "app"
        # Within the TTL: served from the cache, even after a change.
        sm.put_secret_value(SecretId=s, SecretString=json.dumps({"username": "app", "password": "again"}))
        assert requests.get(get, headers=h, timeout=5).json()["VersionId"] == body["VersionId"]
        stats = requests.get(f"{url}/stats", headers=h, timeout=5).json()
        assert stats["hits"] == 1 and stats["misses"] == 1 and stats["entries"] == 1
        assert requests.get(f"{url}/stats", timeout=5).status_code == 401
        # After it: refreshed.
        time.sleep(2.2)
        assert json.loads(requests.get(get, headers=h, timeout=5).json()["SecretString"])["password"] == "again"
        assert requests.get(f"{url}/stats", headers=h, timeout=5).json()["misses"] == 2
        # By stage, and an unknown secret passed through as Secrets Manager answers it.
        prev = requests.get(get + "&versionStage=AWSPREVIOUS", headers=h, timeout=5).json()
        assert "AWSPREVIOUS" in prev["VersionStages"]
        r = requests.get(f"{url}/secretsmanager/get?secretId=no-such-{uid()}", headers=h, timeout=5)
        assert r.status_code == 400 and r.json()["__type"] == "ResourceNotFoundException"
        # Parameter Store, decrypted or not.
        p = requests.get(f"{url}/systemsmanager/parameters/get?name={values['pw']}&withDecryption=true",
                         headers=h, timeout=5).json()["Parameter"]
        assert p["Value"] == "p@ss word" and p["Type"] == "SecureString"
        enc = requests.get(f"{url}/systemsmanager/parameters/get?name={values['pw']}", headers=h, timeout=5).json()
        assert enc["Parameter"]["Value"] != "p@ss word"
        assert requests.get(f"{url}/systemsmanager/parameters/get", headers=h, timeout=5).status_code == 400
        assert requests.get(f"{url}/nothing", headers=h, timeout=5).status_code == 404
        assert requests.post(get, headers=h, timeout=5).status_code == 405
    finally:
        agent.stop()


def test_agent_endpoint_needs_a_token_configured(trent, tmp_path):
    (tmp_path / "agent.toml").write_text('[listener]\naddress = "127.0.0.1:0"\n')
    env = admin_env(trent.base_url)
    env.pop("AWS_TOKEN", None)
    out = subprocess.run([str(trent_cli()), "agent", "--config", str(tmp_path / "agent.toml")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "token" in out.stderr


# -- web identity ----------------------------------------------------------------------------


def test_resolve_with_web_identity_credentials(trent, values, tmp_path):
    import boto3
    from botocore.config import Config
    from test_oidc import AUDIENCE, Issuer

    issuer = Issuer()
    try:
        iam = boto3.session.Session().client(
            "iam", endpoint_url=trent.base_url, region_name=REGION, aws_access_key_id=ADMIN_ACCESS_KEY_ID,
            aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY, config=Config(retries={"max_attempts": 1}))
        provider = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[AUDIENCE])["OpenIDConnectProviderArn"]
        role = f"agent-{uid()}"
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider},
                                                         "Action": "sts:AssumeRoleWithWebIdentity"}]}
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
        token = tmp_path / "token"
        token.write_text(issuer.token("ec1"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": role_arn,
                    "AWS_ENDPOINT_URL": trent.base_url, "AWS_DEFAULT_REGION": REGION,
                    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
        out = resolve(trent.base_url, f"{{{{resolve:secretsmanager:{values['secret']}:SecretString:username}}}}", env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "app\n"
        # The role may not read parameters.
        out = resolve(trent.base_url, f"{{{{resolve:ssm:{values['url']}}}}}", env=env)
        assert out.returncode != 0 and "AccessDenied" in out.stderr
    finally:
        issuer.close()
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider)
