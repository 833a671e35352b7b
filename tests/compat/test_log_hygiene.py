"""No plaintext, secret value, key material or secret access key ever reaches trentd's logs,
even at debug level and with JSON logs: a full round of every kind of secret is sent, then the
server's stderr is searched for each of them."""

from __future__ import annotations

import base64
import json

from botocore.exceptions import ClientError

from conftest import ADMIN_SECRET_ACCESS_KEY, make_service_client


def client(service, base_url):
    return make_service_client(service, base_url)


def assert_absent(secrets: list[bytes], text: str, where: str) -> None:
    """No secret appears in `text` raw, in base64 or in hex."""
    for s in secrets:
        for form in {s, base64.b64encode(s), s.hex().encode()}:
            try:
                needle = form.decode()
            except UnicodeDecodeError:
                continue
            assert needle not in text, f"a secret ({needle[:12]}…) appears in {where}"


def test_debug_json_logs_never_contain_secrets(trent_factory):
    srv = trent_factory({"TRENT_LOG": "debug", "TRENT_LOG_FORMAT": "json"})
    kms, ssm, sm = client("kms", srv.base_url), client("ssm", srv.base_url), client("secretsmanager", srv.base_url)
    secrets = [b"kms-plaintext-LOGCHECK-1", b"ssm-secure-LOGCHECK-2", b"sm-secret-LOGCHECK-3", b"mac-msg-LOGCHECK-4"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=secrets[0])["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == secrets[0]
    data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
    random = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    ssm.put_parameter(Name="/log/check", Type="SecureString", Value=secrets[1].decode())
    assert ssm.get_parameter(Name="/log/check", WithDecryption=True)["Parameter"]["Value"] == secrets[1].decode()
    sm.create_secret(Name="log/check", SecretString=secrets[2].decode())
    assert sm.get_secret_value(SecretId="log/check")["SecretString"] == secrets[2].decode()
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    kms.generate_mac(KeyId=hmac_key, Message=secrets[3], MacAlgorithm="HMAC_SHA_256")
    try:
        kms.decrypt(CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1]))
    except ClientError:
        pass
    srv.terminate()
    logs = srv.stderr()
    lines = [l for l in logs.splitlines() if l.strip()]
    assert lines and all(json.loads(l) for l in lines), "every log line is a JSON object"
    assert any("request_id" in l for l in lines), "debug logs carry request ids"
    root_key = (srv.data_dir / "root.key").read_text().strip()
    forbidden = secrets + [data_key, random, ADMIN_SECRET_ACCESS_KEY.encode(), root_key.encode()]
    assert_absent(forbidden, logs, "the logs")
    # The audit trail records every one of those requests, and none of their secrets.
    trail = "".join(p.read_text() for p in sorted((srv.data_dir / "audit").glob("trail-*.jsonl")))
    for op in ["Encrypt", "Decrypt", "GenerateDataKey", "GenerateRandom", "PutParameter", "GetSecretValue", "GenerateMac"]:
        assert f'"eventName":"{op}"' in trail, f"no audit event for {op}"
    assert_absent(forbidden, trail, "the audit trail")
