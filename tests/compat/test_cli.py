"""The AWS CLI (v1, from the venv) against trentd with --endpoint-url."""

import base64
import json
import os

import pytest

from conftest import ACCOUNT_ID, key_arn, unique_alias


@pytest.fixture(scope="module")
def cli_key(aws_cli):
    md = aws_cli("kms", "create-key", "--description", "cli key").json()["KeyMetadata"]
    return md


def test_cli_create_key_returns_key_metadata(cli_key):
    assert cli_key["Arn"] == key_arn(cli_key["KeyId"])
    assert cli_key["KeyState"] == "Enabled"
    assert cli_key["Description"] == "cli key"
    assert cli_key["AWSAccountId"] == ACCOUNT_ID


def test_cli_describe_key(aws_cli, cli_key):
    md = aws_cli("kms", "describe-key", "--key-id", cli_key["KeyId"]).json()["KeyMetadata"]
    assert md["KeyId"] == cli_key["KeyId"]
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"


def test_cli_list_keys_includes_key(aws_cli, cli_key):
    out = aws_cli("kms", "list-keys").json()  # the CLI follows NextMarker itself
    assert cli_key["KeyId"] in {k["KeyId"] for k in out["Keys"]}


def test_cli_create_alias_and_list_aliases(aws_cli, cli_key):
    alias = unique_alias("cli")
    r = aws_cli("kms", "create-alias", "--alias-name", alias, "--target-key-id", cli_key["KeyId"])
    assert r.returncode == 0, r.stderr
    out = aws_cli("kms", "list-aliases").json()
    entry = {a["AliasName"]: a for a in out["Aliases"]}[alias]
    assert entry["TargetKeyId"] == cli_key["KeyId"]
    md = aws_cli("kms", "describe-key", "--key-id", alias).json()["KeyMetadata"]
    assert md["KeyId"] == cli_key["KeyId"]


def test_cli_encrypt_then_decrypt_files_round_trip(aws_cli, cli_key, tmp_path):
    original = os.urandom(300) + b"trent"
    (tmp_path / "plain.bin").write_bytes(original)
    enc = aws_cli(
        "kms", "encrypt",
        "--key-id", cli_key["KeyId"],
        "--plaintext", "fileb://plain.bin",
        "--query", "CiphertextBlob",
        output="text",
        cwd=str(tmp_path),
    )
    assert enc.returncode == 0, enc.stderr
    (tmp_path / "cipher.bin").write_bytes(base64.b64decode(enc.stdout.strip()))

    dec = aws_cli(
        "kms", "decrypt",
        "--ciphertext-blob", "fileb://cipher.bin",
        "--query", "Plaintext",
        output="text",
        cwd=str(tmp_path),
    )
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout.strip() == base64.b64encode(original).decode()


def test_cli_encrypt_with_context_needs_context_to_decrypt(aws_cli, cli_key, tmp_path):
    (tmp_path / "p").write_bytes(b"with context")
    enc = aws_cli(
        "kms", "encrypt", "--key-id", cli_key["Arn"], "--plaintext", "fileb://p",
        "--encryption-context", "app=cli,env=test",
        "--query", "CiphertextBlob", output="text", cwd=str(tmp_path),
    )
    assert enc.returncode == 0, enc.stderr
    (tmp_path / "c").write_bytes(base64.b64decode(enc.stdout.strip()))
    bad = aws_cli("kms", "decrypt", "--ciphertext-blob", "fileb://c", cwd=str(tmp_path))
    assert bad.returncode != 0 and "InvalidCiphertextException" in bad.stderr, bad
    good = aws_cli(
        "kms", "decrypt", "--ciphertext-blob", "fileb://c", "--encryption-context", "env=test,app=cli",
        "--query", "Plaintext", output="text", cwd=str(tmp_path),
    )
    assert good.returncode == 0, good.stderr
    assert base64.b64decode(good.stdout.strip()) == b"with context"


def test_cli_generate_data_key(aws_cli, cli_key):
    out = aws_cli("kms", "generate-data-key", "--key-id", cli_key["KeyId"], "--key-spec", "AES_256").json()
    assert len(base64.b64decode(out["Plaintext"])) == 32
    assert out["KeyId"] == cli_key["Arn"]
    assert base64.b64decode(out["CiphertextBlob"])


def test_cli_schedule_and_cancel_key_deletion(aws_cli):
    kid = aws_cli("kms", "create-key").json()["KeyMetadata"]["KeyId"]
    out = aws_cli("kms", "schedule-key-deletion", "--key-id", kid, "--pending-window-in-days", "7").json()
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    assert out["KeyId"] == key_arn(kid)
    assert out["DeletionDate"]
    out = aws_cli("kms", "cancel-key-deletion", "--key-id", kid).json()
    assert out["KeyId"] == key_arn(kid)
    md = aws_cli("kms", "describe-key", "--key-id", kid).json()["KeyMetadata"]
    assert md["KeyState"] == "Disabled"


def test_cli_tag_resource_and_list_resource_tags(aws_cli, cli_key):
    r = aws_cli(
        "kms", "tag-resource", "--key-id", cli_key["KeyId"],
        "--tags", "TagKey=project,TagValue=trent", "TagKey=tier,TagValue=gold",
    )
    assert r.returncode == 0, r.stderr
    out = aws_cli("kms", "list-resource-tags", "--key-id", cli_key["KeyId"]).json()
    tags = {t["TagKey"]: t["TagValue"] for t in out["Tags"]}
    assert tags["project"] == "trent" and tags["tier"] == "gold"


def test_cli_get_key_policy(aws_cli, cli_key):
    out = aws_cli("kms", "get-key-policy", "--key-id", cli_key["KeyId"], "--policy-name", "default").json()
    policy = json.loads(out["Policy"])
    assert policy["Version"] == "2012-10-17"
    assert f"arn:aws:iam::{ACCOUNT_ID}:root" in json.dumps(policy)


def test_cli_describe_unknown_alias_fails_with_not_found(aws_cli):
    r = aws_cli("kms", "describe-key", "--key-id", "alias/nope")
    assert r.returncode != 0
    assert "NotFoundException" in r.stderr, r.stderr
    assert r.stdout.strip() == ""
