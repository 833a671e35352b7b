"""docs/COMPATIBILITY.md is generated (scripts/gen-compatibility.py) from the botocore models and
the test files: it must be up to date, and every served operation must be called by a test it
cites (the script fails otherwise). The generated Rust wire contract has its own check,
`cargo run -p xtask -- gen-wire --check`, run by scripts/test."""

from __future__ import annotations

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_compatibility_table_is_current_and_cites_only_tests_that_call_the_operation():
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts/gen-compatibility.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_compatibility_script_recognises_calls_and_only_calls():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import importlib

        gen = importlib.import_module("gen-compatibility")
    finally:
        sys.path.pop(0)
    assert gen.calls("kms.create_key(Description='d')", "kms", "CreateKey")
    assert gen.calls('aws_cli("kms", "create-key")', "kms", "CreateKey")
    assert gen.calls("X-Amz-Target: TrentService.CreateKey", "kms", "CreateKey")
    assert gen.calls("body = 'Action=CreateUser&UserName=bob'", "iam", "CreateUser")
    assert gen.calls('call(&e, "CreateKey", json!({}))', "kms", "CreateKey", rust=True)
    # A mention is not a call.
    assert not gen.calls("# create_key makes a key", "kms", "CreateKey")
    assert not gen.calls("kms.create_key_pair()", "kms", "CreateKey")
    assert not gen.calls('aws_cli("kms", "generate-data-key-pair")', "kms", "GenerateDataKey")
    assert not gen.calls("TrentService.GenerateDataKeyPair", "kms", "GenerateDataKey")
    assert not gen.calls("create_user", "iam", "CreateUser", rust=True)
