"""Policy documents are checked with the policy engine's own grammar when they are written, so a
policy the engine could not read (and would then silently ignore) is never stored: KMS key
policies (CreateKey, PutKeyPolicy), Secrets Manager resource policies (PutResourcePolicy) and
IAM identity and trust policies (CreatePolicy, PutUserPolicy, PutRolePolicy, CreateRole,
UpdateAssumeRolePolicy), each refused with the service's own error code and message."""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import ACCOUNT_ID, expect_error, make_service_client

ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."


def doc(*statements: dict, version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def iam(trent):
    return make_service_client("iam", trent.base_url)


# Documents refused everywhere, with the message IAM gives (KMS and Secrets Manager carry it too,
# except where they have their own; see the per-service tests).
ANY_KIND = [
    pytest.param("not json", SYNTAX, id="not-json"),
    pytest.param("[]", SYNTAX, id="array"),
    pytest.param(json.dumps({"Version": "2012-10-17", "Statment": []}), SYNTAX, id="unknown-top-level-element"),
    pytest.param(json.dumps({"Version": "2012-10-17"}), SYNTAX, id="no-statement"),
    pytest.param(json.dumps({"Version": "2012-10-17", "Statement": "Allow"}), SYNTAX, id="statement-a-string"),
    pytest.param(doc({"Effect": "Allow"}, version="2012-10-18"), LEGACY, id="bad-version"),
]


def key_statement(**kw) -> dict:
    s = {"Effect": "Allow", "Principal": ROOT, "Action": "kms:*", "Resource": "*"}
    s.update(kw)
    return {k: v for k, v in s.items() if v is not None}


KEY_POLICIES = ANY_KIND + [
    pytest.param(doc(key_statement(Action="Encrypt")), VENDOR, id="action-without-kms-prefix"),
    pytest.param(doc(key_statement(Effect="allow")), LEGACY, id="effect-lower-case"),
    pytest.param(doc(key_statement(Principal=None)), "Missing required field Principal", id="no-principal"),
    pytest.param(doc(key_statement(Principal={"AWS": "bob"})),
                 "Policy contains a statement with one or more invalid principals.", id="invalid-principal"),
    # (NotPrincipal naming someone other than the caller, so the lockout check passes first.)
    pytest.param(doc(key_statement(Principal=None, NotPrincipal={"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/nobody"})),
                 "NotPrincipal", id="not-principal-with-allow"),
    pytest.param(doc(key_statement(Condition={"StringEqualz": {"kms:ViaService": "x"}})),
                 "Invalid Condition type : StringEqualz", id="unknown-condition-operator"),
    pytest.param(doc(key_statement(Oops=1)), SYNTAX, id="unknown-statement-element"),
]


@pytest.mark.parametrize("policy,message", KEY_POLICIES)
def test_put_key_policy_refuses_what_the_engine_cannot_read(kms, new_key, policy, message):
    kid = new_key()["KeyId"]
    before = kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]
    err = expect_error("MalformedPolicyDocumentException", kms.put_key_policy,
                       KeyId=kid, PolicyName="default", Policy=policy)
    assert message in err.response["Error"]["Message"], err.response["Error"]
    assert kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"] == before


@pytest.mark.parametrize("policy,message", KEY_POLICIES)
def test_create_key_refuses_what_the_engine_cannot_read(kms, policy, message):
    err = expect_error("MalformedPolicyDocumentException", kms.create_key, Policy=policy)
    assert message in err.response["Error"]["Message"], err.response["Error"]


def test_key_policy_with_kms_prefix_is_accepted_and_the_key_works(kms, new_key):
    kid = new_key()["KeyId"]
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=doc(key_statement(Action=["kms:Encrypt", "kms:Decrypt",
                                                                                          "kms:PutKeyPolicy",
                                                                                          "kms:GetKeyPolicy"])))
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_key_policy_over_32_kb_is_limit_exceeded(kms, new_key):
    kid = new_key()["KeyId"]
    base = doc(key_statement(Sid=""))
    big = doc(key_statement(Sid="x" * (32_769 - len(base))))
    assert len(big) == 32_769
    err = expect_error("LimitExceededException", kms.put_key_policy, KeyId=kid, PolicyName="default", Policy=big)
    assert "32768" in err.response["Error"]["Message"]
    expect_error("LimitExceededException", kms.create_key, Policy=big)
    at_quota = doc(key_statement(Sid="x" * (32_768 - len(base))))
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=at_quota)


def test_put_key_policy_name_must_be_default(kms, new_key):
    kid = new_key()["KeyId"]
    expect_error("NotFoundException", kms.put_key_policy, KeyId=kid, PolicyName="custom",
                 Policy=doc(key_statement()))


# ------------------------------------------------------------------ Secrets Manager


@pytest.fixture(scope="module")
def secret(sm):
    return sm.create_secret(Name=uid("polval"), SecretString="s")["ARN"]


def sm_statement(**kw) -> dict:
    s = {"Effect": "Allow", "Principal": ROOT, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    s.update(kw)
    return {k: v for k, v in s.items() if v is not None}


@pytest.mark.parametrize("policy,message", [
    pytest.param("not json", "This resource policy contains a syntax error.", id="not-json"),
    pytest.param(doc(sm_statement(Principal={"AWS": "bob"})),
                 "This resource policy contains an unsupported principal.", id="invalid-principal"),
    pytest.param(doc(sm_statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/*"})),
                 "This resource policy contains an unsupported principal.", id="wildcard-in-arn"),
    pytest.param(doc(sm_statement(Action="GetSecretValue")), VENDOR, id="action-without-prefix"),
    pytest.param(doc(sm_statement(Principal=None)), "Missing required field Principal", id="no-principal"),
    pytest.param(doc(sm_statement(Effect="Maybe")), LEGACY, id="bad-effect"),
    pytest.param(doc(sm_statement(Principal=None, NotPrincipal=ROOT)), "NotPrincipal", id="not-principal-with-allow"),
])
def test_put_resource_policy_refuses_malformed_policies(sm, secret, policy, message):
    err = expect_error("MalformedPolicyDocumentException", sm.put_resource_policy,
                       SecretId=secret, ResourcePolicy=policy)
    assert message in err.response["Error"]["Message"], err.response["Error"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret)


def test_resource_policy_over_20480_characters_is_a_validation_error(sm_unvalidated, secret):
    base = doc(sm_statement(Sid=""))
    big = doc(sm_statement(Sid="x" * (20_481 - len(base))))
    expect_error("ValidationException", sm_unvalidated.put_resource_policy, SecretId=secret, ResourcePolicy=big)


def test_validate_resource_policy_reports_the_grammar_error(sm):
    out = sm.validate_resource_policy(ResourcePolicy=doc(sm_statement(Principal={"AWS": "bob"})))
    assert out["PolicyValidationPassed"] is False
    assert out["ValidationErrors"] == [{"CheckName": "POLICY_GRAMMAR",
                                        "ErrorMessage": "This resource policy contains an unsupported principal."}]


# ------------------------------------------------------------------ IAM


def identity_statement(**kw) -> dict:
    s = {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}
    s.update(kw)
    return {k: v for k, v in s.items() if v is not None}


IDENTITY_POLICIES = ANY_KIND + [
    pytest.param(doc(identity_statement(Action="Encrypt")), VENDOR, id="action-without-prefix"),
    pytest.param(doc(identity_statement(Condition={"StringEquals": {"username": "a"}})), VENDOR,
                 id="condition-key-without-prefix"),
    pytest.param(doc(identity_statement(Principal="*")), "Policy document should not specify a principal.",
                 id="principal-in-identity-policy"),
    pytest.param(doc(identity_statement(Effect="allow")), LEGACY, id="effect-lower-case"),
    pytest.param(doc(identity_statement(Resource=None)), "Policy statement must contain resources.", id="no-resource"),
    pytest.param(doc(identity_statement(Action=None)), "Policy statement must contain actions.", id="no-action"),
    pytest.param(doc(identity_statement(Resource="key/1")), 'Resource key/1 must be in ARN format or "*".',
                 id="resource-not-an-arn"),
    pytest.param(doc(identity_statement(Condition={"StringEqualz": {"aws:username": "a"}})),
                 "Invalid Condition type : StringEqualz", id="unknown-condition-operator"),
    pytest.param(doc(identity_statement(Sid="allow-encrypt")),
                 "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
                 "[0-9A-Za-z]*", id="sid-not-alphanumeric"),
    pytest.param(doc(identity_statement(Sid="A"), identity_statement(Sid="A")),
                 "Statement IDs (SID) in a single policy must be unique.", id="duplicate-sid"),
]


def expect_malformed(fn, message, **kw):
    err = expect_error("MalformedPolicyDocument", fn, **kw)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.response["Error"]["Message"] == message, err.response["Error"]


@pytest.fixture(scope="module")
def iam_user(iam):
    user = uid("polval")
    iam.create_user(UserName=user)
    return user


TRUST = doc({"Effect": "Allow", "Principal": ROOT, "Action": "sts:AssumeRole"})


@pytest.fixture(scope="module")
def iam_role(iam):
    role = uid("polval")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    return role


@pytest.mark.parametrize("policy,message", IDENTITY_POLICIES)
def test_create_policy_refuses_malformed_documents(iam, policy, message):
    name = uid("p")
    expect_malformed(iam.create_policy, message, PolicyName=name, PolicyDocument=policy)
    assert name not in [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]


@pytest.mark.parametrize("policy,message", IDENTITY_POLICIES)
def test_put_user_policy_refuses_malformed_documents(iam, iam_user, policy, message):
    expect_malformed(iam.put_user_policy, message, UserName=iam_user, PolicyName="p", PolicyDocument=policy)
    assert iam.list_user_policies(UserName=iam_user)["PolicyNames"] == []


@pytest.mark.parametrize("policy,message", IDENTITY_POLICIES)
def test_put_role_policy_refuses_malformed_documents(iam, iam_role, policy, message):
    expect_malformed(iam.put_role_policy, message, RoleName=iam_role, PolicyName="p", PolicyDocument=policy)
    assert iam.list_role_policies(RoleName=iam_role)["PolicyNames"] == []


def trust_statement(**kw) -> dict:
    s = {"Effect": "Allow", "Principal": ROOT, "Action": "sts:AssumeRole"}
    s.update(kw)
    return {k: v for k, v in s.items() if v is not None}


TRUST_POLICIES = ANY_KIND + [
    pytest.param(doc(trust_statement(Principal=None)), "Missing required field Principal", id="no-principal"),
    pytest.param(doc(trust_statement(Principal={"AWS": "bob"})), 'Invalid principal in policy: "AWS":"bob"',
                 id="invalid-principal"),
    pytest.param(doc(trust_statement(Principal={"Service": "bob"})), 'Invalid principal in policy: "Service":"bob"',
                 id="invalid-service-principal"),
    pytest.param(doc(trust_statement(Resource="*")), "Has prohibited field Resource", id="resource"),
    pytest.param(doc(trust_statement(Action="AssumeRole")), VENDOR, id="action-without-prefix"),
]


@pytest.mark.parametrize("policy,message", TRUST_POLICIES)
def test_create_role_refuses_malformed_trust_policies(iam, policy, message):
    role = uid("r")
    expect_malformed(iam.create_role, message, RoleName=role, AssumeRolePolicyDocument=policy)
    expect_error("NoSuchEntity", iam.get_role, RoleName=role)


@pytest.mark.parametrize("policy,message", TRUST_POLICIES)
def test_update_assume_role_policy_refuses_malformed_trust_policies(iam, iam_role, policy, message):
    before = iam.get_role(RoleName=iam_role)["Role"]["AssumeRolePolicyDocument"]
    expect_malformed(iam.update_assume_role_policy, message, RoleName=iam_role, PolicyDocument=policy)
    assert iam.get_role(RoleName=iam_role)["Role"]["AssumeRolePolicyDocument"] == before


def sized(n: int) -> str:
    """An identity policy of exactly n characters once white space is taken out."""
    base = doc(identity_statement(Resource="arn:aws:kms:us-east-1:111122223333:key/"))
    stripped = "".join(base.split())
    out = doc(identity_statement(Resource="arn:aws:kms:us-east-1:111122223333:key/" + "a" * (n - len(stripped))))
    assert len("".join(out.split())) == n
    return out


def test_iam_size_quotas_ignore_white_space_and_answer_limit_exceeded(iam, iam_user, iam_role):
    iam.create_policy(PolicyName=uid("fits"), PolicyDocument=sized(6144))
    err = expect_error("LimitExceeded", iam.create_policy, PolicyName=uid("big"), PolicyDocument=sized(6145))
    assert err.response["Error"]["Message"] == "Cannot exceed quota for PolicySize: 6144"
    err = expect_error("LimitExceeded", iam.put_user_policy, UserName=iam_user, PolicyName="big",
                       PolicyDocument=sized(2049))
    assert err.response["Error"]["Message"] == f"Maximum policy size of 2048 bytes exceeded for user {iam_user}"
    err = expect_error("LimitExceeded", iam.put_role_policy, RoleName=iam_role, PolicyName="big",
                       PolicyDocument=sized(10241))
    assert err.response["Error"]["Message"] == f"Maximum policy size of 10240 bytes exceeded for role {iam_role}"
