"""IAM and STS over awsQuery, and policies enforced on KMS / SSM requests: an admin (the account
root) creates users, keys, roles and policies with the AWS CLI and boto3; those principals'
boto3 calls succeed exactly where their policies allow and get AccessDenied elsewhere."""

from __future__ import annotations

import json
import pathlib
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    REGION,
    error_code,
    error_message,
    http_status,
)

SECOND_ACCOUNT = "222233334444"
SECOND_KEY_ID = "AKIASECONDACCOUNT001"
SECOND_SECRET = "second-account-secret-0123456789abcdefgh"


def client(service: str, base_url: str, key: str, secret: str, token: str | None = None):
    return boto3.session.Session().client(
        service,
        endpoint_url=base_url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def admin(service: str, base_url: str):
    return client(service, base_url, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY)


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def new_user(iam, doc: str | None = None) -> tuple[str, dict]:
    user = name("user")
    iam.create_user(UserName=user)
    if doc:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return user, key


def as_user(service: str, base_url: str, key: dict):
    return client(service, base_url, key["AccessKeyId"], key["SecretAccessKey"])


def denied(excinfo) -> str:
    assert error_code(excinfo) == "AccessDeniedException", excinfo.value.response
    return error_message(excinfo)


def test_cli_admin_gives_a_user_encrypt_on_one_key_only(trent, aws_cli, kms):
    key_a = kms.create_key()["KeyMetadata"]
    key_b = kms.create_key()["KeyMetadata"]
    user = name("cli-user")
    created = aws_cli("iam", "create-user", "--user-name", user).json()["User"]
    assert created["UserName"] == user
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    assert created["UserId"].startswith("AIDA")
    doc = policy({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key_a["Arn"]})
    put = aws_cli("iam", "put-user-policy", "--user-name", user, "--policy-name", "enc", "--policy-document", doc)
    assert put.returncode == 0, put.stderr
    got = aws_cli("iam", "get-user-policy", "--user-name", user, "--policy-name", "enc").json()
    assert got["PolicyDocument"] == json.loads(doc)
    key = aws_cli("iam", "create-access-key", "--user-name", user).json()["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40

    user_kms = as_user("kms", trent.base_url, key)
    blob = user_kms.encrypt(KeyId=key_a["KeyId"], Plaintext=b"hello")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"

    with pytest.raises(ClientError) as e:
        user_kms.decrypt(CiphertextBlob=blob)
    assert denied(e) == (
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{user} is not authorized to perform: kms:Decrypt on resource: "
        f"{key_a['Arn']} because no identity-based policy allows the kms:Decrypt action"
    )
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key_b["KeyId"], Plaintext=b"x")
    assert f"kms:Encrypt on resource: {key_b['Arn']}" in denied(e)
    with pytest.raises(ClientError) as e:
        as_user("ssm", trent.base_url, key).get_parameter(Name="/any/param")
    assert "ssm:GetParameter" in denied(e)
    with pytest.raises(ClientError) as e:
        user_kms.create_key()
    assert "kms:CreateKey" in denied(e)


def test_get_caller_identity_names_root_user_and_role_session(trent):
    iam, sts = admin("iam", trent.base_url), admin("sts", trent.base_url)
    me = sts.get_caller_identity()
    assert me["Account"] == ACCOUNT_ID and me["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    user, key = new_user(iam)
    u = as_user("sts", trent.base_url, key).get_caller_identity()
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    assert u["UserId"] == iam.get_user(UserName=user)["User"]["UserId"]


def make_role(iam, trust_principal: str, *statements: dict) -> dict:
    role = name("role")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": trust_principal}, "Action": "sts:AssumeRole"})
    r = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]
    if statements:
        iam.put_role_policy(RoleName=role, PolicyName="perm", PolicyDocument=policy(*statements))
    return r


def test_assume_role_gives_session_credentials_that_carry_the_roles_policies(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    user, ukey = new_user(iam)
    role = make_role(
        iam, f"arn:aws:iam::{ACCOUNT_ID}:user/{user}", {"Effect": "Allow", "Action": "kms:*", "Resource": key["Arn"]}
    )
    got = iam.get_role(RoleName=role["RoleName"])["Role"]
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    assert got["MaxSessionDuration"] == 3600

    resp = as_user("sts", trent.base_url, ukey).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    creds = resp["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role['RoleName']}/s1"
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    who = client("sts", trent.base_url, *session).get_caller_identity()
    assert who["Arn"] == resp["AssumedRoleUser"]["Arn"]
    assert who["UserId"] == f"{role['RoleId']}:s1"
    role_kms = client("kms", trent.base_url, *session)
    blob = role_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"via role")["CiphertextBlob"]
    assert role_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via role"
    # The user itself has no KMS permission.
    with pytest.raises(ClientError) as e:
        as_user("kms", trent.base_url, ukey).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    denied(e)


def test_assume_role_is_denied_when_the_trust_policy_does_not_name_the_caller(trent):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    role = make_role(iam, f"arn:aws:iam::{ACCOUNT_ID}:user/someone-else")
    with pytest.raises(ClientError) as e:
        as_user("sts", trent.base_url, ukey).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_code(e) == "AccessDenied" and http_status(e) == 403
    assert error_message(e).startswith(
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{user} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    )
    # A trust policy naming the account delegates to IAM: the user's identity policy must allow too.
    acct_role = make_role(iam, f"arn:aws:iam::{ACCOUNT_ID}:root")
    with pytest.raises(ClientError) as e:
        as_user("sts", trent.base_url, ukey).assume_role(RoleArn=acct_role["Arn"], RoleSessionName="sess")
    assert error_code(e) == "AccessDenied"
    iam.put_user_policy(
        UserName=user,
        PolicyName="assume",
        PolicyDocument=policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": acct_role["Arn"]}),
    )
    ok = as_user("sts", trent.base_url, ukey).assume_role(RoleArn=acct_role["Arn"], RoleSessionName="sess")
    assert ok["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_assume_role_duration_is_bounded_by_900_and_the_roles_max_session(trent):
    iam, sts = admin("iam", trent.base_url), admin("sts", trent.base_url)
    role = make_role(iam, f"arn:aws:iam::{ACCOUNT_ID}:root")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess", DurationSeconds=7200)
    assert error_code(e) == "ValidationError"
    assert "MaxSessionDuration" in error_message(e)
    ok = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess", DurationSeconds=900)
    assert ok["Credentials"]["Expiration"]


def test_forged_and_tampered_session_tokens_are_refused(trent):
    iam, sts = admin("iam", trent.base_url), admin("sts", trent.base_url)
    role = make_role(iam, f"arn:aws:iam::{ACCOUNT_ID}:root")
    c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess")["Credentials"]
    tampered = c["SessionToken"][:-2] + ("AA" if not c["SessionToken"].endswith("AA") else "BB")
    for token in (tampered, "forged-token", None):
        with pytest.raises(ClientError) as e:
            client("sts", trent.base_url, c["AccessKeyId"], c["SecretAccessKey"], token).get_caller_identity()
        assert error_code(e) == "InvalidClientTokenId" and http_status(e) == 403, token
    with pytest.raises(ClientError) as e:
        client("kms", trent.base_url, c["AccessKeyId"], c["SecretAccessKey"], tampered).list_keys()
    assert error_code(e) == "UnrecognizedClientException"
    # A long-term key presented with a session token is refused too.
    with pytest.raises(ClientError) as e:
        client("sts", trent.base_url, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, c["SessionToken"]).get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"
    # The genuine token still works.
    ok = client("sts", trent.base_url, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    assert ":assumed-role/" in ok["Arn"]


def test_session_credentials_expire_by_the_server_clock(trent_factory):
    srv = trent_factory()
    iam, sts = admin("iam", srv.base_url), admin("sts", srv.base_url)
    role = make_role(iam, f"arn:aws:iam::{ACCOUNT_ID}:root", {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"})
    c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess", DurationSeconds=900)["Credentials"]
    session = client("sts", srv.base_url, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert session.get_caller_identity()["Account"] == ACCOUNT_ID
    session_kms = client("kms", srv.base_url, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert session_kms.list_keys()["Keys"] == []
    srv.advance_clock(901)
    with pytest.raises(ClientError) as e:
        session.get_caller_identity()
    assert error_code(e) == "ExpiredToken"
    assert "expired" in error_message(e)
    with pytest.raises(ClientError) as e:
        session_kms.list_keys()
    assert error_code(e) == "ExpiredTokenException"


def test_explicit_deny_beats_allow(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    _, ukey = new_user(
        iam,
        policy(
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": key["Arn"]},
        ),
    )
    user_kms = as_user("kms", trent.base_url, ukey)
    blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        user_kms.decrypt(CiphertextBlob=blob)
    assert denied(e).endswith("with an explicit deny in an identity-based policy")


def test_encryption_context_condition_limits_decrypt(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    _, ukey = new_user(
        iam,
        policy(
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": key["Arn"],
                "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}},
            }
        ),
    )
    user_kms = as_user("kms", trent.base_url, ukey)
    blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"app": "billing"})["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "billing"})["Plaintext"] == b"p"
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"app": "payroll"})
    denied(e)
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")
    denied(e)


def test_key_policy_naming_the_user_allows_without_an_identity_policy(trent, kms):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    key_policy = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "kms:Encrypt", "Resource": "*"},
    )
    key = kms.create_key(Policy=key_policy)["KeyMetadata"]
    out = as_user("kms", trent.base_url, ukey).encrypt(KeyId=key["KeyId"], Plaintext=b"k")
    assert out["KeyId"] == key["Arn"]


def test_put_key_policy_that_locks_the_caller_out_is_malformed_unless_bypassed(kms):
    key = kms.create_key()["KeyMetadata"]
    lockout = policy(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}
    )
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=lockout)
    assert error_code(e) == "MalformedPolicyDocumentException"
    assert error_message(e) == "The new key policy will not allow you to update the key policy in the future."
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
    # Bypassed, the policy is in force, and as on AWS it binds this account's root too: the key
    # can no longer be read or managed from this account (`trentd admin reset-key-policy` is the
    # break-glass).
    with pytest.raises(ClientError) as e:
        kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    assert "because no resource-based policy allows the kms:GetKeyPolicy action" in denied(e)


def test_managed_policy_attached_to_a_user_grants_and_detaching_revokes(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    user, ukey = new_user(iam)
    p = iam.create_policy(
        PolicyName=name("mp"), PolicyDocument=policy({"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"})
    )["Policy"]
    assert p["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:policy/{p['PolicyName']}" and p["DefaultVersionId"] == "v1"
    iam.attach_user_policy(UserName=user, PolicyArn=p["Arn"])
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert attached == [{"PolicyName": p["PolicyName"], "PolicyArn": p["Arn"]}]
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["AttachmentCount"] == 1
    user_kms = as_user("kms", trent.base_url, ukey)
    assert user_kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Arn"] == key["Arn"]
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=p["Arn"])
    assert error_code(e) == "DeleteConflict"
    iam.detach_user_policy(UserName=user, PolicyArn=p["Arn"])
    with pytest.raises(ClientError) as e:
        user_kms.describe_key(KeyId=key["KeyId"])
    denied(e)
    iam.delete_policy(PolicyArn=p["Arn"])
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=p["Arn"])
    assert error_code(e) == "NoSuchEntity" and http_status(e) == 404


def test_iam_errors_follow_aws(trent):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=user)
    assert error_code(e) == "EntityAlreadyExists" and http_status(e) == 409
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name("nobody"))
    assert error_code(e) == "NoSuchEntity" and http_status(e) == 404
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=user, PolicyName="bad", PolicyDocument='{"Statement": 5}')
    assert error_code(e) == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    assert error_code(e) == "DeleteConflict"
    iam.create_access_key(UserName=user)
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=user)
    assert error_code(e) == "LimitExceeded"
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bad name!")
    assert error_code(e) == "ValidationError"


def test_access_key_lifecycle_inactive_keys_are_refused(trent):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [ukey["AccessKeyId"]] and listed[0]["Status"] == "Active"
    sts_user = as_user("sts", trent.base_url, ukey)
    assert sts_user.get_caller_identity()["Arn"].endswith(f":user/{user}")
    iam.update_access_key(UserName=user, AccessKeyId=ukey["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        sts_user.get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"
    iam.delete_access_key(UserName=user, AccessKeyId=ukey["AccessKeyId"])
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    iam.delete_user(UserName=user)
    assert user not in [u["UserName"] for u in iam.list_users()["Users"]]


def test_user_without_iam_permissions_cannot_manage_iam(trent):
    iam = admin("iam", trent.base_url)
    user, ukey = new_user(iam)
    with pytest.raises(ClientError) as e:
        as_user("iam", trent.base_url, ukey).create_user(UserName=name("x"))
    assert error_code(e) == "AccessDenied" and http_status(e) == 403
    assert error_message(e).startswith(
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{user} is not authorized to perform: iam:CreateUser"
    )


def test_iam_secrets_never_reach_the_audit_trail(trent_factory):
    srv = trent_factory()
    iam, sts = admin("iam", srv.base_url), admin("sts", srv.base_url)
    user, key = new_user(iam)
    role = make_role(iam, f"arn:aws:iam::{ACCOUNT_ID}:root")
    c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess")["Credentials"]
    client("sts", srv.base_url, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    srv.terminate()
    text = "".join(p.read_text() for p in pathlib.Path(srv.data_dir, "audit").rglob("*") if p.is_file())
    for secret in (key["SecretAccessKey"], c["SecretAccessKey"], c["SessionToken"]):
        assert secret not in text
    events = [json.loads(line) for line in text.splitlines() if '"eventSource"' in line]
    sources = {e.get("eventSource") or e.get("event", {}).get("eventSource") for e in events}
    assert "iam.amazonaws.com" in json.dumps(events) and "sts.amazonaws.com" in json.dumps(events), sources


def test_cross_account_key_use_needs_the_key_policy_and_the_identity_policy(trent_factory):
    srv = trent_factory({"TRENT_EXTRA_ADMIN_KEYS": f"{SECOND_ACCOUNT}:{SECOND_KEY_ID}:{SECOND_SECRET}"})
    owner_kms = admin("kms", srv.base_url)
    other_iam = client("iam", srv.base_url, SECOND_KEY_ID, SECOND_SECRET)
    assert client("sts", srv.base_url, SECOND_KEY_ID, SECOND_SECRET).get_caller_identity()["Account"] == SECOND_ACCOUNT
    key = owner_kms.create_key()["KeyMetadata"]
    user = name("xacct")
    other_iam.create_user(UserName=user)
    other_iam.put_user_policy(
        UserName=user,
        PolicyName="use-shared-key",
        PolicyDocument=policy({"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key["Arn"]}),
    )
    k = other_iam.create_access_key(UserName=user)["AccessKey"]
    user_kms = as_user("kms", srv.base_url, k)
    # The default key policy trusts only the owner account: denied by the key policy.
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert denied(e).endswith("because no resource-based policy allows the kms:Encrypt action")
    shared = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SECOND_ACCOUNT}:root"},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
        },
    )
    owner_kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=shared)
    blob = user_kms.encrypt(KeyId=key["Arn"], Plaintext=b"shared")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    assert owner_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    # The second account's root uses the shared key too (its root needs no identity policy).
    other_root_kms = client("kms", srv.base_url, SECOND_KEY_ID, SECOND_SECRET)
    assert other_root_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    # Management of the key stays with its owner.
    with pytest.raises(ClientError) as e:
        other_root_kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert error_code(e) == "AccessDeniedException"
    # Without the identity policy, the key policy alone is not enough across accounts.
    other_iam.delete_user_policy(UserName=user, PolicyName="use-shared-key")
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert denied(e).endswith("because no identity-based policy allows the kms:Encrypt action")


def test_grant_allows_its_operations_within_its_constraints_until_revoked(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    user, ukey = new_user(iam)
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    user_kms = as_user("kms", trent.base_url, ukey)
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "billing"})
    denied(e)
    g = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=user_arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"app": "billing"}},
        Name="billing-grant",
    )
    assert len(g["GrantId"]) == 64 and g["GrantToken"]
    # Usable at once, with the grant token or without it.
    blob = user_kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "billing", "x": "y"}, GrantTokens=[g["GrantToken"]]
    )["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "billing", "x": "y"})["Plaintext"] == b"x"
    # Outside the constraint, or an operation the grant does not name: denied.
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "payroll"})
    denied(e)
    with pytest.raises(ClientError) as e:
        user_kms.describe_key(KeyId=key["KeyId"])
    denied(e)
    # The same Name and parameters return the same grant.
    again = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=user_arn,
        Operations=["Decrypt", "Encrypt"],
        Constraints={"EncryptionContextSubset": {"app": "billing"}},
        Name="billing-grant",
    )
    assert again["GrantId"] == g["GrantId"]
    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [x["GrantId"] for x in grants] == [g["GrantId"]]
    assert grants[0]["GranteePrincipal"] == user_arn and grants[0]["KeyId"] == key["Arn"]
    assert grants[0]["Constraints"] == {"EncryptionContextSubset": {"app": "billing"}}
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "billing"})
    denied(e)


def test_retiring_principal_retires_a_grant_by_token_and_others_cannot(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    grantee, gkey = new_user(iam)
    retirer, rkey = new_user(iam)
    g = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/{grantee}",
        RetiringPrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/{retirer}",
        Operations=["GenerateDataKey"],
    )
    dk = as_user("kms", trent.base_url, gkey).generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    retirable = kms.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/{retirer}")["Grants"]
    assert [x["GrantId"] for x in retirable] == [g["GrantId"]]
    with pytest.raises(ClientError) as e:
        as_user("kms", trent.base_url, gkey).retire_grant(GrantToken=g["GrantToken"])
    denied(e)
    as_user("kms", trent.base_url, rkey).retire_grant(GrantToken=g["GrantToken"])
    with pytest.raises(ClientError) as e:
        kms.retire_grant(GrantToken=g["GrantToken"])
    assert error_code(e) == "InvalidGrantTokenException"
    with pytest.raises(ClientError) as e:
        as_user("kms", trent.base_url, gkey).generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    denied(e)


def test_parameter_store_use_of_a_customer_key_needs_kms_permission_via_ssm(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    prefix = f"/iam-test/{uuid.uuid4().hex[:8]}"
    ssm_only = {
        "Effect": "Allow",
        "Action": ["ssm:PutParameter", "ssm:GetParameter"],
        "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{prefix}/*",
    }
    _, ukey = new_user(iam, policy(ssm_only))
    user_ssm = as_user("ssm", trent.base_url, ukey)
    # The AWS-managed key (alias/aws/ssm) is usable by the account's principals through SSM.
    user_ssm.put_parameter(Name=f"{prefix}/default", Value="v1", Type="SecureString")
    assert user_ssm.get_parameter(Name=f"{prefix}/default", WithDecryption=True)["Parameter"]["Value"] == "v1"
    # A customer key needs kms:Encrypt / kms:Decrypt for the caller.
    with pytest.raises(ClientError) as e:
        user_ssm.put_parameter(Name=f"{prefix}/cmk", Value="v2", Type="SecureString", KeyId=key["KeyId"])
    assert "kms:Encrypt" in denied(e)
    # Outside the parameter path the SSM policy itself denies.
    with pytest.raises(ClientError) as e:
        user_ssm.get_parameter(Name="/elsewhere/x")
    assert "ssm:GetParameter" in denied(e)
    _, ukey2 = new_user(
        iam,
        policy(
            ssm_only,
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": key["Arn"],
                "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}},
            },
        ),
    )
    user2_ssm = as_user("ssm", trent.base_url, ukey2)
    user2_ssm.put_parameter(Name=f"{prefix}/cmk", Value="v2", Type="SecureString", KeyId=key["KeyId"])
    assert user2_ssm.get_parameter(Name=f"{prefix}/cmk", WithDecryption=True)["Parameter"]["Value"] == "v2"
    # The ViaService condition keeps the same permission from working directly against KMS.
    with pytest.raises(ClientError) as e:
        as_user("kms", trent.base_url, ukey2).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    denied(e)
    # The first user can read the parameter's metadata but not decrypt it.
    with pytest.raises(ClientError) as e:
        user_ssm.get_parameter(Name=f"{prefix}/cmk", WithDecryption=True)
    assert "kms:Decrypt" in denied(e)


def test_cross_account_assume_role_needs_the_trust_policy_and_the_callers_identity_policy(trent_factory):
    srv = trent_factory({"TRENT_EXTRA_ADMIN_KEYS": f"{SECOND_ACCOUNT}:{SECOND_KEY_ID}:{SECOND_SECRET}"})
    owner_iam = admin("iam", srv.base_url)
    other_iam = client("iam", srv.base_url, SECOND_KEY_ID, SECOND_SECRET)
    role = make_role(owner_iam, f"arn:aws:iam::{SECOND_ACCOUNT}:root")
    user = name("visitor")
    other_iam.create_user(UserName=user)
    k = other_iam.create_access_key(UserName=user)["AccessKey"]
    visitor_sts = as_user("sts", srv.base_url, k)
    with pytest.raises(ClientError) as e:
        visitor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert error_code(e) == "AccessDenied"
    other_iam.put_user_policy(
        UserName=user,
        PolicyName="assume",
        PolicyDocument=policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}),
    )
    got = visitor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role['RoleName']}/visit"
    c = got["Credentials"]
    who = client("sts", srv.base_url, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    assert who["Account"] == ACCOUNT_ID
    # Replacing the trust policy takes effect at once.
    owner_iam.update_assume_role_policy(
        RoleName=role["RoleName"],
        PolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}
        ),
    )
    with pytest.raises(ClientError) as e:
        visitor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert error_code(e) == "AccessDenied"


def test_source_ip_condition_applies_to_direct_and_via_service_key_use(trent, kms):
    iam = admin("iam", trent.base_url)
    key = kms.create_key()["KeyMetadata"]
    prefix = f"/iam-ip/{uuid.uuid4().hex[:8]}"
    statements = [
        {"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{prefix}/*"},
        {
            "Effect": "Allow",
            "Action": "kms:Encrypt",
            "Resource": key["Arn"],
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
    ]
    _, far = new_user(iam, policy(*statements))
    with pytest.raises(ClientError) as e:
        as_user("ssm", trent.base_url, far).put_parameter(
            Name=f"{prefix}/p", Value="v", Type="SecureString", KeyId=key["KeyId"]
        )
    assert "kms:Encrypt" in denied(e)
    with pytest.raises(ClientError) as e:
        as_user("kms", trent.base_url, far).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    denied(e)
    statements[1]["Condition"] = {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}
    _, near = new_user(iam, policy(*statements))
    as_user("ssm", trent.base_url, near).put_parameter(Name=f"{prefix}/p", Value="v", Type="SecureString", KeyId=key["KeyId"])
    assert as_user("kms", trent.base_url, near).encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]
