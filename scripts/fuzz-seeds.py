#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target> from real artifacts (run once; the output is
committed): a trentd --dev started here produces real ciphertext blobs, audit trail lines and a
backup file; request bodies come from the services' own member names; policies from
crates/trent-policy/tests/policies.json; Encryption SDK messages from trent-envelope's vectors.

    TRENTD_BIN=target/debug/trentd TRENT_BIN=target/debug/trent scripts/fuzz-seeds.py
"""

import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
CORPUS = REPO / "fuzz" / "corpus"
sys.path.insert(0, str(REPO / "tests" / "compat"))


def put(target: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def operations(crate: str) -> list[str]:
    text = (REPO / "crates" / crate / "src" / "lib.rs").read_text()
    return re.findall(r"^    ([A-Z][A-Za-z0-9]*) => ", text, re.M)


def main() -> None:
    from conftest import make_service_client  # noqa: E402 (the compat suite's clients)

    # Encryption SDK messages.
    for f in sorted((REPO / "crates" / "trent-envelope" / "tests" / "vectors").glob("*.bin")):
        put("envelope_message", f.read_bytes())
    # Policies.
    for p in json.loads((REPO / "crates" / "trent-policy" / "tests" / "policies.json").read_text()).values():
        put("policy_document", json.dumps(p).encode())
    # awsQuery bodies.
    for body in [
        "Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F",
        "Action=PutUserPolicy&UserName=alice&PolicyName=p&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D",
        "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=s&DurationSeconds=900",
        "Action=TagUser&UserName=a&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=x",
        "Action=ListUsers&MaxItems=10&Marker=abc",
        "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Tags.member.1.Key=k",
    ]:
        put("aws_query", body.encode())

    work = pathlib.Path(tempfile.mkdtemp())
    data = work / "data"
    ready = work / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENT_")}
    env.update(
        TRENT_ADMIN_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        TRENT_ADMIN_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        TRENT_QUOTAS="off",
    )
    proc = subprocess.Popen(
        [os.environ["TRENTD_BIN"], "--listen", "127.0.0.1:0", "--data-dir", str(data), "--ready-file", str(ready)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(500):
            if ready.exists() and ready.read_text().endswith("\n"):
                break
            time.sleep(0.02)
        url = ready.read_text().strip()
        kms = make_service_client("kms", url)
        ssm = make_service_client("ssm", url)
        sm = make_service_client("secretsmanager", url)
        kid = kms.create_key(Description="seed")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/seed", TargetKeyId=kid)
        for pt, ctx in [(b"x", {}), (b"seed plaintext", {"app": "billing"}), (os.urandom(200), {"a": "b", "c": ""})]:
            put("ciphertext_blob", kms.encrypt(KeyId=kid, Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"])
        ssm.put_parameter(Name="/seed/p", Value="v", Type="SecureString")
        sm.create_secret(Name="seed-secret", SecretString="s")
        # awsJson bodies: byte 0 the service, bytes 1..3 the operation index (see aws_json.rs).
        bodies = {
            "trent-kms": [{}, {"KeyId": kid}, {"KeyId": "alias/seed", "Plaintext": "AAEC"},
                          {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, {"Limit": 5}],
            "trent-ssm": [{}, {"Name": "/seed/p", "WithDecryption": True}, {"Path": "/seed", "Recursive": True},
                          {"Name": "/seed/q", "Value": "v", "Type": "String", "Overwrite": True}],
            "trent-secrets": [{}, {"SecretId": "seed-secret"}, {"SecretId": "seed-secret", "VersionStage": "AWSCURRENT"},
                              {"Name": "seed-2", "SecretString": "{\"a\":1}"}],
        }
        for service, crate in enumerate(["trent-kms", "trent-ssm", "trent-secrets"]):
            for i, _ in enumerate(operations(crate)):
                for body in bodies[crate]:
                    put("aws_json", bytes([service]) + i.to_bytes(2, "big") + json.dumps(body).encode())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # Audit lines: each line alone, and the first lines as a chain.
    trail = sorted((data / "audit").glob("*.jsonl")) if (data / "audit").is_dir() else []
    lines = [l for f in trail for l in f.read_text().splitlines(keepends=True)]
    for line in lines[:40]:
        put("audit_line", line.encode())
    if lines:
        put("audit_line", "".join(lines[:12]).encode())
    # A backup file of that deployment.
    out = work / "seed.trentbackup"
    subprocess.run([os.environ["TRENT_BIN"], "backup", "--data-dir", str(data), "-o", str(out)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    put("backup_restore", out.read_bytes())
    shutil.rmtree(work)
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()
