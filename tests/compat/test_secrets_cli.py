"""Secrets Manager through the AWS CLI (v1, from the venv) with --endpoint-url.

Values here never look like URLs or file references: the CLI v1 would fetch an `http://` /
`https://` / `file://` value (its paramfile feature) instead of sending it."""

from __future__ import annotations

import base64
import json
import re
import string
import uuid

import pytest

from conftest import ACCOUNT_ID, REGION

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def arn_re(name: str) -> re.Pattern:
    return re.compile(rf"^arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}$")


def text(result) -> str:
    assert result.returncode == 0, f"aws {' '.join(result.args)} failed ({result.returncode}): {result.stderr}"
    return result.stdout.rstrip("\n")


@pytest.fixture(scope="module")
def cli_secret(aws_cli):
    """cli-<hex>/db: a JSON string secret with a description and a tag, made with
    `aws secretsmanager create-secret`."""
    name = f"cli-{uuid.uuid4().hex[:10]}/db"
    value = json.dumps({"username": "app", "password": "s3cr3t-v1"})
    out = aws_cli(
        "secretsmanager", "create-secret", "--name", name, "--secret-string", value,
        "--description", "app database", "--tags", "Key=team,Value=data",
    ).json()
    assert arn_re(name).match(out["ARN"]), out
    assert out["Name"] == name
    return {"name": name, "arn": out["ARN"], "v1": out["VersionId"], "value": value}


def test_cli_get_secret_value_text_query(aws_cli, cli_secret):
    got = text(aws_cli(
        "secretsmanager", "get-secret-value", "--secret-id", cli_secret["name"], "--query", "SecretString", output="text",
    ))
    assert json.loads(got) == {"username": "app", "password": "s3cr3t-v1"}
    full = aws_cli("secretsmanager", "get-secret-value", "--secret-id", cli_secret["arn"]).json()
    assert (full["Name"], full["VersionId"], full["VersionStages"]) == (cli_secret["name"], cli_secret["v1"], ["AWSCURRENT"])


def test_cli_put_secret_value_describe_and_version_stages(aws_cli, cli_secret):
    name = f"{cli_secret['name']}-put"
    aws_cli("secretsmanager", "create-secret", "--name", name, "--secret-string", "one").json()
    put = aws_cli("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "two").json()
    assert put["VersionStages"] == ["AWSCURRENT"]
    pending = aws_cli(
        "secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "three",
        "--version-stages", "AWSPENDING",
    ).json()
    assert pending["VersionStages"] == ["AWSPENDING"]
    prev = text(aws_cli(
        "secretsmanager", "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS",
        "--query", "SecretString", output="text",
    ))
    assert prev == "one"
    d = aws_cli("secretsmanager", "describe-secret", "--secret-id", name).json()
    assert d["VersionIdsToStages"][put["VersionId"]] == ["AWSCURRENT"]
    assert d["VersionIdsToStages"][pending["VersionId"]] == ["AWSPENDING"]
    assert "RotationEnabled" not in d
    # finishSecret, the CLI way.
    r = aws_cli(
        "secretsmanager", "update-secret-version-stage", "--secret-id", name, "--version-stage", "AWSCURRENT",
        "--move-to-version-id", pending["VersionId"], "--remove-from-version-id", put["VersionId"],
    ).json()
    assert r["Name"] == name
    aws_cli(
        "secretsmanager", "update-secret-version-stage", "--secret-id", name, "--version-stage", "AWSPENDING",
        "--remove-from-version-id", pending["VersionId"],
    ).json()
    assert text(aws_cli(
        "secretsmanager", "get-secret-value", "--secret-id", name, "--query", "SecretString", output="text",
    )) == "three"
    d = aws_cli("secretsmanager", "describe-secret", "--secret-id", name).json()
    assert d["VersionIdsToStages"] == {pending["VersionId"]: ["AWSCURRENT"], put["VersionId"]: ["AWSPREVIOUS"]}
    ids = aws_cli("secretsmanager", "list-secret-version-ids", "--secret-id", name, "--include-deprecated").json()
    assert len(ids["Versions"]) == 3


def test_cli_describe_secret(aws_cli, cli_secret):
    d = aws_cli("secretsmanager", "describe-secret", "--secret-id", cli_secret["name"]).json()
    assert d["ARN"] == cli_secret["arn"]
    assert d["Description"] == "app database"
    assert d["Tags"] == [{"Key": "team", "Value": "data"}]
    assert d["VersionIdsToStages"] == {cli_secret["v1"]: ["AWSCURRENT"]}
    assert "KmsKeyId" not in d and "DeletedDate" not in d


def test_cli_list_secrets_with_filters_and_paging(aws_cli, cli_secret, sm):
    prefix = f"{cli_secret['name']}-many/"
    for i in range(7):
        sm.create_secret(Name=f"{prefix}s{i}", SecretString=str(i))
    out = aws_cli("secretsmanager", "list-secrets", "--filters", f"Key=name,Values={prefix}", "--page-size", "3").json()
    assert sorted(s["Name"] for s in out["SecretList"]) == [f"{prefix}s{i}" for i in range(7)]
    assert all("SecretVersionsToStages" in s for s in out["SecretList"])
    tagged = aws_cli(
        "secretsmanager", "list-secrets", "--filters", f"Key=name,Values={cli_secret['name']}", "Key=tag-key,Values=team",
    ).json()
    assert [s["Name"] for s in tagged["SecretList"]] == [cli_secret["name"]]
    names = text(aws_cli(
        "secretsmanager", "list-secrets", "--filters", f"Key=name,Values={prefix}", "--sort-by", "name",
        "--sort-order", "desc", "--query", "SecretList[].Name", output="text",
    ))
    assert names.split() == [f"{prefix}s{i}" for i in reversed(range(7))]


def test_cli_delete_and_restore_secret(aws_cli, cli_secret):
    name = f"{cli_secret['name']}-del"
    aws_cli("secretsmanager", "create-secret", "--name", name, "--secret-string", "bye").json()
    out = aws_cli("secretsmanager", "delete-secret", "--secret-id", name, "--recovery-window-in-days", "7").json()
    assert out["Name"] == name and "DeletionDate" in out
    gone = aws_cli("secretsmanager", "get-secret-value", "--secret-id", name)
    assert gone.returncode != 0
    assert "An error occurred (InvalidRequestException) when calling the GetSecretValue operation" in gone.stderr, gone.stderr
    listed = aws_cli("secretsmanager", "list-secrets", "--filters", f"Key=name,Values={name}").json()
    assert listed["SecretList"] == []
    planned = aws_cli(
        "secretsmanager", "list-secrets", "--filters", f"Key=name,Values={name}", "--include-planned-deletion",
    ).json()
    assert [s["Name"] for s in planned["SecretList"]] == [name]
    restored = aws_cli("secretsmanager", "restore-secret", "--secret-id", name).json()
    assert restored["Name"] == name
    assert text(aws_cli(
        "secretsmanager", "get-secret-value", "--secret-id", name, "--query", "SecretString", output="text",
    )) == "bye"
    forced = aws_cli("secretsmanager", "delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    assert forced.returncode == 0, forced.stderr
    missing = aws_cli("secretsmanager", "describe-secret", "--secret-id", name)
    assert "An error occurred (ResourceNotFoundException) when calling the DescribeSecret operation" in missing.stderr


def test_cli_binary_secret_from_a_file(aws_cli, cli_secret, tmp_path):
    blob = bytes(range(256))
    path = tmp_path / "secret.bin"
    path.write_bytes(blob)
    name = f"{cli_secret['name']}-bin"
    aws_cli("secretsmanager", "create-secret", "--name", name, "--secret-binary", f"fileb://{path}").json()
    got = text(aws_cli(
        "secretsmanager", "get-secret-value", "--secret-id", name, "--query", "SecretBinary", output="text",
    ))
    assert base64.b64decode(got) == blob


def test_cli_get_random_password(aws_cli):
    pw = text(aws_cli(
        "secretsmanager", "get-random-password", "--password-length", "40", "--exclude-punctuation",
        "--query", "RandomPassword", output="text",
    ))
    assert len(pw) == 40
    assert set(pw) <= set(string.ascii_letters + string.digits)
    assert set(pw) & set(string.ascii_lowercase) and set(pw) & set(string.ascii_uppercase) and set(pw) & set(string.digits)
    out = aws_cli("secretsmanager", "get-random-password", "--exclude-characters", "abc123").json()
    assert len(out["RandomPassword"]) == 32
    assert not set(out["RandomPassword"]) & set("abc123")
    assert set(out["RandomPassword"]) & set(PUNCTUATION)


def test_cli_errors(aws_cli, cli_secret):
    r = aws_cli("secretsmanager", "get-secret-value", "--secret-id", f"{cli_secret['name']}-never")
    assert r.returncode != 0
    assert "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation" in r.stderr, r.stderr
    dup = aws_cli("secretsmanager", "create-secret", "--name", cli_secret["name"], "--secret-string", "again")
    assert dup.returncode != 0
    assert "An error occurred (ResourceExistsException) when calling the CreateSecret operation" in dup.stderr, dup.stderr
