"""The request path honours a change on the very next request (issue #17's guard for caches).

Whatever the request path keeps between requests (key records, unwrapped material, policies),
a disabled key, a changed key policy, a revoked grant and a removed identity policy must take
effect on the next request — for a non-root IAM user whose policies are evaluated, directly
against KMS and through Parameter Store (kms:ViaService).
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, error_code
from test_iam import admin, as_user, denied, new_user, policy


def key_policy_for(user_arn: str | None) -> str:
    statements = [
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if user_arn:
        statements.append(
            {
                "Sid": "User",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
            }
        )
    return policy(*statements)


def test_a_disabled_key_refuses_the_very_next_request_and_an_enabled_one_serves_it(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    _, ukey = new_user(iam, policy({"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key["Arn"]}))
    user_kms = as_user("kms", trent.base_url, ukey)
    # Warm whatever the path keeps: several uses of the key, then disable it.
    for _ in range(3):
        blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert error_code(e) == "DisabledException"
    with pytest.raises(ClientError) as e:
        user_kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_changed_key_policy_takes_effect_on_the_very_next_request(trent, kms):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    key = kms.create_key(Policy=key_policy_for(user_arn))["KeyMetadata"]
    user_kms = as_user("kms", trent.base_url, ukey)
    blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=key_policy_for(None))
    with pytest.raises(ClientError) as e:
        user_kms.decrypt(CiphertextBlob=blob)
    assert "kms:Decrypt" in denied(e)
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=key_policy_for(user_arn))
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_revoked_grant_refuses_the_very_next_request(trent, kms):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    key = kms.create_key()["KeyMetadata"]
    g = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/{user}", Operations=["Encrypt", "Decrypt"]
    )
    user_kms = as_user("kms", trent.base_url, ukey)
    blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    with pytest.raises(ClientError) as e:
        user_kms.decrypt(CiphertextBlob=blob)
    denied(e)


def test_a_removed_via_service_permission_refuses_the_next_parameter_read(trent, kms):
    # Parameter Store decrypts for its caller with kms:ViaService; the check runs on every read,
    # before anything is decrypted.
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    prefix = f"/reqpath/{uuid.uuid4().hex[:8]}"
    ssm_part = {
        "Effect": "Allow",
        "Action": ["ssm:PutParameter", "ssm:GetParameter"],
        "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{prefix}/*",
    }
    kms_part = {
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": key["Arn"],
        "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}},
    }
    user, ukey = new_user(iam, policy(ssm_part, kms_part))
    user_ssm = as_user("ssm", trent.base_url, ukey)
    user_ssm.put_parameter(Name=f"{prefix}/p", Value="v", Type="SecureString", KeyId=key["KeyId"])
    for _ in range(2):
        assert user_ssm.get_parameter(Name=f"{prefix}/p", WithDecryption=True)["Parameter"]["Value"] == "v"
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy(ssm_part))
    with pytest.raises(ClientError) as e:
        user_ssm.get_parameter(Name=f"{prefix}/p", WithDecryption=True)
    assert "kms:Decrypt" in denied(e)
    # Reading without decryption needs no key.
    assert user_ssm.get_parameter(Name=f"{prefix}/p")["Parameter"]["Type"] == "SecureString"
