"""Issue #16, "close every path around authorization": each path that returns secret material or
uses a key is authorized like the direct call, for IAM users and for the account root.

* BatchGetSecretValue needs secretsmanager:GetSecretValue on each secret (identity and resource
  policy) and kms:Decrypt on its key; with Filters also secretsmanager:ListSecrets.
* Parameter Store references (/aws/reference/secretsmanager/…) need ssm:GetParameter,
  secretsmanager:GetSecretValue on the secret and kms:Decrypt on its key.
* The account root is bound by key policies and by a secret resource policy's explicit Deny.
* `trentd admin reset-key-policy` is the break-glass for a key whose policy locks everyone out.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, error_code, error_message, make_service_client, trentd_binary
from test_audit import verify
from test_iam import admin, as_user, new_user, policy


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def dump(resp) -> str:
    return json.dumps(resp, default=str)


def test_batch_get_needs_get_secret_value_on_each_secret_not_only_batch_permission(trent):
    iam, sm = admin("iam", trent.base_url), admin("secretsmanager", trent.base_url)
    open_ = sm.create_secret(Name=uniq("bg-open"), SecretString="open-value-1")
    closed = sm.create_secret(Name=uniq("bg-closed"), SecretString="closed-value-1")
    _, k = new_user(
        iam,
        policy(
            {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": open_["ARN"]},
        ),
    )
    user_sm = as_user("secretsmanager", trent.base_url, k)
    got = user_sm.batch_get_secret_value(SecretIdList=[open_["Name"], closed["Name"]])
    assert [v["SecretString"] for v in got["SecretValues"]] == ["open-value-1"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in got["Errors"]] == [(closed["Name"], "AccessDeniedException")]
    msg = got["Errors"][0]["Message"]
    assert "secretsmanager:GetSecretValue" in msg and closed["ARN"] in msg, msg
    assert "closed-value-1" not in dump(got)
    # A name that does not exist is not told apart from one the caller may not read.
    got = user_sm.batch_get_secret_value(SecretIdList=[uniq("bg-missing")])
    assert [e["ErrorCode"] for e in got["Errors"]] == ["AccessDeniedException"]


def test_batch_get_by_filters_needs_list_secrets_and_skips_unreadable_secrets(trent):
    iam, sm = admin("iam", trent.base_url), admin("secretsmanager", trent.base_url)
    word = uniq("bgf")
    a = sm.create_secret(Name=f"{word}/a", SecretString="filter-a-value")
    b = sm.create_secret(Name=f"{word}/b", SecretString="filter-b-value")
    read_a = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": a["ARN"]}
    batch = {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"}
    _, no_list = new_user(iam, policy(batch, read_a))
    with pytest.raises(ClientError) as e:
        as_user("secretsmanager", trent.base_url, no_list).batch_get_secret_value(
            Filters=[{"Key": "name", "Values": [word]}]
        )
    assert error_code(e) == "AccessDeniedException" and "secretsmanager:ListSecrets" in error_message(e)
    assert "filter-" not in dump(e.value.response)
    _, lister = new_user(
        iam, policy(batch, read_a, {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"})
    )
    got = as_user("secretsmanager", trent.base_url, lister).batch_get_secret_value(
        Filters=[{"Key": "name", "Values": [word]}]
    )
    assert [v["Name"] for v in got["SecretValues"]] == [a["Name"]]
    assert [(x["SecretId"], x["ErrorCode"]) for x in got["Errors"]] == [(b["ARN"], "AccessDeniedException")]
    assert "filter-b-value" not in dump(got)


def test_batch_get_honours_the_secret_resource_policy_and_the_key(trent, kms):
    iam, sm = admin("iam", trent.base_url), admin("secretsmanager", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    denied_by_policy = sm.create_secret(Name=uniq("bg-rp"), SecretString="rp-value")
    sm.put_resource_policy(
        SecretId=denied_by_policy["ARN"],
        ResourcePolicy=policy(
            {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ),
    )
    under_cmk = sm.create_secret(Name=uniq("bg-cmk"), SecretString="cmk-value", KmsKeyId=key["Arn"])
    _, k = new_user(iam, policy({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}))
    got = as_user("secretsmanager", trent.base_url, k).batch_get_secret_value(
        SecretIdList=[denied_by_policy["ARN"], under_cmk["ARN"]]
    )
    assert got["SecretValues"] == []
    assert [x["ErrorCode"] for x in got["Errors"]] == ["AccessDeniedException", "AccessDeniedException"]
    assert got["Errors"][0]["Message"].endswith("with an explicit deny in a resource-based policy")
    assert got["Errors"][1]["Message"] == "Access to KMS is not allowed"
    assert "rp-value" not in dump(got) and "cmk-value" not in dump(got)
    # The same refusals on the single-secret read.
    with pytest.raises(ClientError) as e:
        as_user("secretsmanager", trent.base_url, k).get_secret_value(SecretId=under_cmk["ARN"])
    assert error_code(e) == "AccessDeniedException" and error_message(e) == "Access to KMS is not allowed"


def test_parameter_store_reference_needs_get_secret_value_and_the_secrets_key(trent, kms):
    iam, sm = admin("iam", trent.base_url), admin("secretsmanager", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    managed = sm.create_secret(Name=uniq("ref-managed"), SecretString="ref-managed-value")
    cmk = sm.create_secret(Name=uniq("ref-cmk"), SecretString="ref-cmk-value", KmsKeyId=key["Arn"])
    ref = "/aws/reference/secretsmanager/"
    ssm_read = {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "*"}
    _, ssm_only = new_user(iam, policy(ssm_read))
    u = as_user("ssm", trent.base_url, ssm_only)
    for call in (
        lambda: u.get_parameter(Name=ref + managed["Name"], WithDecryption=True),
        lambda: u.get_parameters(Names=[ref + managed["Name"]], WithDecryption=True),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "AccessDeniedException"
        assert "secretsmanager:GetSecretValue" in error_message(e) and managed["ARN"] in error_message(e)
        assert "ref-managed-value" not in dump(e.value.response)
    # With GetSecretValue, a secret under the AWS-managed key is readable; one under a
    # customer key also needs kms:Decrypt on that key (made by Secrets Manager).
    _, with_sm = new_user(
        iam, policy(ssm_read, {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    )
    u = as_user("ssm", trent.base_url, with_sm)
    assert u.get_parameter(Name=ref + managed["Name"], WithDecryption=True)["Parameter"]["Value"] == "ref-managed-value"
    with pytest.raises(ClientError) as e:
        u.get_parameter(Name=ref + cmk["Name"], WithDecryption=True)
    assert error_code(e) == "AccessDeniedException" and "ref-cmk-value" not in dump(e.value.response)
    _, with_kms = new_user(
        iam,
        policy(
            ssm_read,
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key["Arn"],
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}},
            },
        ),
    )
    u = as_user("ssm", trent.base_url, with_kms)
    assert u.get_parameter(Name=ref + cmk["Name"], WithDecryption=True)["Parameter"]["Value"] == "ref-cmk-value"


def test_account_root_is_bound_by_a_secret_resource_policy_deny_everywhere_it_reads(trent):
    sm, ssm = admin("secretsmanager", trent.base_url), admin("ssm", trent.base_url)
    s = sm.create_secret(Name=uniq("root-rp"), SecretString="root-rp-value")
    sm.put_resource_policy(
        SecretId=s["ARN"],
        ResourcePolicy=policy(
            {
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ),
    )
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=s["ARN"])
    assert error_code(e) == "AccessDeniedException"
    assert error_message(e).endswith("with an explicit deny in a resource-based policy")
    got = sm.batch_get_secret_value(SecretIdList=[s["ARN"]])
    assert got["SecretValues"] == [] and got["Errors"][0]["ErrorCode"] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/aws/reference/secretsmanager/" + s["Name"], WithDecryption=True)
    assert error_code(e) == "AccessDeniedException" and "root-rp-value" not in dump(e.value.response)
    # Metadata is not denied, and the root can still remove the policy it wrote.
    assert sm.describe_secret(SecretId=s["ARN"])["ARN"] == s["ARN"]
    sm.delete_resource_policy(SecretId=s["ARN"])
    assert sm.get_secret_value(SecretId=s["ARN"])["SecretString"] == "root-rp-value"


def test_account_root_is_bound_by_the_key_policy(trent, kms):
    sm = admin("secretsmanager", trent.base_url)
    deny = kms.create_key(
        Policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "NoDecrypt", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"},
        )
    )["KeyMetadata"]
    blob = kms.encrypt(KeyId=deny["KeyId"], Plaintext=b"root-deny-plaintext")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "AccessDeniedException"
    assert error_message(e) == (
        f"User: arn:aws:iam::{ACCOUNT_ID}:root is not authorized to perform: kms:Decrypt on resource: "
        f"{deny['Arn']} with an explicit deny in a resource-based policy"
    )
    assert b"root-deny-plaintext" not in json.dumps(e.value.response, default=str).encode()
    # The same key under a secret: Secrets Manager's decrypt for the root is refused too.
    s = sm.create_secret(Name=uniq("root-key-deny"), SecretString="under-denied-key", KmsKeyId=deny["Arn"])
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=s["ARN"])
    assert error_code(e) == "AccessDeniedException" and "under-denied-key" not in dump(e.value.response)
    # The default key policy (CreateKey without Policy) still gives the root everything.
    plain = kms.create_key()["KeyMetadata"]
    b2 = kms.encrypt(KeyId=plain["KeyId"], Plaintext=b"fine")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=b2)["Plaintext"] == b"fine"
    assert kms.describe_key(KeyId=plain["KeyId"])["KeyMetadata"]["Arn"] == plain["Arn"]


def test_admin_reset_key_policy_is_the_break_glass_for_a_locked_out_key(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    key = kms.create_key(Description="to be locked out")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"still-here")["CiphertextBlob"]
    locked = policy(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/nobody"}, "Action": "kms:*", "Resource": "*"}
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=locked, BypassPolicyLockoutSafetyCheck=True)
    for call in (
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.describe_key(KeyId=key["KeyId"]),
        lambda: kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=locked, BypassPolicyLockoutSafetyCheck=True),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "AccessDeniedException"
    cmd = [str(trentd_binary()), "admin", "reset-key-policy", "--data-dir", str(srv.data_dir), "--key-id", key["KeyId"]]
    running = subprocess.run(cmd, env=srv.env(), capture_output=True, text=True, timeout=60)
    assert running.returncode != 0 and "in use by another trentd" in running.stderr, running
    srv.terminate()
    bad = subprocess.run(
        [str(trentd_binary()), "admin", "reset-key-policy", "--data-dir", str(srv.work_dir / "nowhere"), "--key-id", key["KeyId"]],
        env=srv.env(), capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode != 0 and "trent.db" in bad.stderr, bad
    missing = subprocess.run(
        cmd[:-1] + [str(uuid.uuid4())], env=srv.env(), capture_output=True, text=True, timeout=60
    )
    assert missing.returncode != 0 and "NotFoundException" in missing.stderr, missing
    done = subprocess.run(cmd, env=srv.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    assert key["Arn"] in done.stdout
    srv.start()
    kms = make_service_client("kms", srv.base_url)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still-here"
    got = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert got["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    ct = make_service_client("cloudtrail", srv.base_url)
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutKeyPolicy"}])["Events"]
    admin_events = [json.loads(e["CloudTrailEvent"]) for e in events]
    admin_events = [e for e in admin_events if e.get("userAgent") == "trentd-admin/reset-key-policy"]
    assert len(admin_events) == 1, events
    assert admin_events[0]["additionalEventData"] == {"trentdAdmin": "reset-key-policy"}
    assert "errorCode" not in admin_events[0]
    # The admin's records continue the trail's hash chain: it still verifies.
    srv.terminate()
    ok = verify(srv.data_dir / "audit")
    assert ok.returncode == 0, ok
