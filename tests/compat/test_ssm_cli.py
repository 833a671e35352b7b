"""Parameter Store through the AWS CLI (v1, from the venv) with --endpoint-url.

Values here never look like URLs: the CLI v1 would fetch an `http://` / `https://` value
(its paramfile feature) instead of sending it."""

from __future__ import annotations

import uuid

import pytest

from conftest import ACCOUNT_ID, REGION


def arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{name}"


@pytest.fixture(scope="module")
def cli_tree(aws_cli):
    """/cli-<hex>/{db/password (SecureString, 2 versions, v1 labelled "stable"), db/host,
    app/flags (StringList), app/deep/setting}, created with `aws ssm put-parameter`."""
    root = f"/cli-{uuid.uuid4().hex[:10]}"
    out = aws_cli(
        "ssm", "put-parameter", "--name", f"{root}/db/password", "--value", "s3cr3t-v1",
        "--type", "SecureString", "--description", "database password",
    ).json()
    assert out == {"Version": 1, "Tier": "Standard"}
    out = aws_cli(
        "ssm", "put-parameter", "--name", f"{root}/db/password", "--value", "s3cr3t-v2",
        "--type", "SecureString", "--overwrite",
    ).json()
    assert out["Version"] == 2
    aws_cli("ssm", "put-parameter", "--name", f"{root}/db/host", "--value", "db.internal:5432", "--type", "String",
            "--tags", "Key=team,Value=data").json()
    aws_cli("ssm", "put-parameter", "--name", f"{root}/app/flags", "--value", "a,b,c", "--type", "StringList").json()
    aws_cli("ssm", "put-parameter", "--name", f"{root}/app/deep/setting", "--value", "42", "--type", "String").json()
    return root


def test_cli_get_parameters_by_path_recursive_with_decryption(aws_cli, cli_tree):
    r = cli_tree
    out = aws_cli("ssm", "get-parameters-by-path", "--path", r, "--recursive", "--with-decryption").json()
    got = {p["Name"]: p for p in out["Parameters"]}
    assert set(got) == {f"{r}/db/password", f"{r}/db/host", f"{r}/app/flags", f"{r}/app/deep/setting"}
    assert got[f"{r}/db/password"]["Value"] == "s3cr3t-v2"
    assert got[f"{r}/db/password"]["Type"] == "SecureString"
    assert got[f"{r}/db/password"]["Version"] == 2
    assert got[f"{r}/db/host"]["Value"] == "db.internal:5432"
    assert got[f"{r}/app/flags"]["Type"] == "StringList"
    assert got[f"{r}/app/deep/setting"]["ARN"] == arn(f"{r}/app/deep/setting")
    # Without --recursive only direct children; the CLI pages through small pages too.
    one = aws_cli("ssm", "get-parameters-by-path", "--path", f"{r}/app", "--page-size", "1").json()
    assert [p["Name"] for p in one["Parameters"]] == [f"{r}/app/flags"]
    # Without --with-decryption the SecureString comes back encrypted.
    enc = aws_cli("ssm", "get-parameters-by-path", "--path", f"{r}/db").json()
    assert {p["Name"]: p["Value"] for p in enc["Parameters"]}[f"{r}/db/password"] != "s3cr3t-v2"


def test_cli_paged_listing_of_many_parameters(aws_cli, cli_tree, ssm):
    """The CLI follows NextToken itself: 23 parameters come back in one listing."""
    base = f"{cli_tree}-many"
    for i in range(23):
        ssm.put_parameter(Name=f"{base}/p{i:02d}", Value=str(i), Type="String")
    out = aws_cli("ssm", "get-parameters-by-path", "--path", base, "--recursive").json()
    assert sorted(p["Name"] for p in out["Parameters"]) == [f"{base}/p{i:02d}" for i in range(23)]


def test_cli_label_then_get_parameter_with_label_selector(aws_cli, cli_tree):
    name = f"{cli_tree}/db/password"
    out = aws_cli("ssm", "label-parameter-version", "--name", name, "--parameter-version", "1", "--labels", "stable").json()
    assert out["ParameterVersion"] == 1
    assert out.get("InvalidLabels", []) == []
    p = aws_cli("ssm", "get-parameter", "--name", f"{name}:stable", "--with-decryption").json()["Parameter"]
    assert (p["Value"], p["Version"], p["Selector"]) == ("s3cr3t-v1", 1, ":stable")
    text = aws_cli("ssm", "get-parameter", "--name", name, "--with-decryption", "--query", "Parameter.Value", output="text")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == "s3cr3t-v2"
    bad = aws_cli("ssm", "label-parameter-version", "--name", name, "--labels", "aws-reserved", "9lives").json()
    assert sorted(bad["InvalidLabels"]) == ["9lives", "aws-reserved"]


def test_cli_get_parameter_history(aws_cli, cli_tree):
    name = f"{cli_tree}/db/password"
    aws_cli("ssm", "label-parameter-version", "--name", name, "--parameter-version", "2", "--labels", "latest").json()
    out = aws_cli("ssm", "get-parameter-history", "--name", name, "--with-decryption").json()
    hist = out["Parameters"]
    assert [h["Version"] for h in hist] == [1, 2]
    assert [h["Value"] for h in hist] == ["s3cr3t-v1", "s3cr3t-v2"]
    assert "latest" in hist[1]["Labels"]
    assert all(h["Description"] == "database password" for h in hist)
    assert all(h["LastModifiedUser"] == f"arn:aws:iam::{ACCOUNT_ID}:root" for h in hist)
    assert all(h["KeyId"] for h in hist)


def test_cli_describe_parameters(aws_cli, cli_tree):
    r = cli_tree
    out = aws_cli(
        "ssm", "describe-parameters", "--parameter-filters", f"Key=Name,Option=BeginsWith,Values={r}/db/",
    ).json()
    metas = out["Parameters"]
    assert [m["Name"] for m in metas] == [f"{r}/db/host", f"{r}/db/password"]
    assert all("Value" not in m for m in metas)
    pw = metas[1]
    assert (pw["Type"], pw["Version"], pw["Description"], pw["Tier"]) == ("SecureString", 2, "database password", "Standard")
    typed = aws_cli(
        "ssm", "describe-parameters", "--parameter-filters",
        f"Key=Path,Option=Recursive,Values={r}", "Key=Type,Values=StringList",
    ).json()
    assert [m["Name"] for m in typed["Parameters"]] == [f"{r}/app/flags"]
    tags = aws_cli("ssm", "list-tags-for-resource", "--resource-type", "Parameter", "--resource-id", f"{r}/db/host").json()
    assert tags["TagList"] == [{"Key": "team", "Value": "data"}]


def test_cli_delete_parameter(aws_cli, cli_tree):
    base = f"{cli_tree}-del"
    for leaf in ("one", "two", "three"):
        aws_cli("ssm", "put-parameter", "--name", f"{base}/{leaf}", "--value", leaf, "--type", "String").json()
    r = aws_cli("ssm", "delete-parameter", "--name", f"{base}/one")
    assert r.returncode == 0, r.stderr
    gone = aws_cli("ssm", "get-parameter", "--name", f"{base}/one")
    assert gone.returncode != 0
    assert "An error occurred (ParameterNotFound) when calling the GetParameter operation" in gone.stderr, gone.stderr
    out = aws_cli("ssm", "delete-parameters", "--names", f"{base}/two", f"{base}/never").json()
    assert out["DeletedParameters"] == [f"{base}/two"]
    assert out["InvalidParameters"] == [f"{base}/never"]
    left = aws_cli("ssm", "get-parameters-by-path", "--path", base).json()
    assert [p["Name"] for p in left["Parameters"]] == [f"{base}/three"]


def test_cli_put_existing_without_overwrite_fails(aws_cli, cli_tree):
    r = aws_cli("ssm", "put-parameter", "--name", f"{cli_tree}/db/host", "--value", "other", "--type", "String")
    assert r.returncode != 0
    assert "An error occurred (ParameterAlreadyExists) when calling the PutParameter operation" in r.stderr, r.stderr
