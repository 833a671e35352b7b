"""Secrets Manager resource-based policies with boto3 and the AWS CLI: Put/Get/Delete/
ValidateResourcePolicy, BlockPublicPolicy refusing broad access, malformed documents, replicas
carrying the primary's policy."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, expect_error, make_sm_client

PRIVATE = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }],
})
PUBLIC = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
})
PUBLIC_BUT_PINNED = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT_ID}},
    }],
})
NO_PRINCIPAL = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
})


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def secret(sm):
    name = uniq("policy")
    out = sm.create_secret(Name=name, SecretString="v")
    return {"name": name, "arn": out["ARN"]}


def test_put_get_delete_resource_policy_round_trip(sm, secret):
    got = sm.get_resource_policy(SecretId=secret["name"])
    assert got["ARN"] == secret["arn"] and got["Name"] == secret["name"]
    assert "ResourcePolicy" not in got
    put = sm.put_resource_policy(SecretId=secret["name"], ResourcePolicy=PRIVATE, BlockPublicPolicy=True)
    assert put["ARN"] == secret["arn"] and put["Name"] == secret["name"]
    assert json.loads(sm.get_resource_policy(SecretId=secret["arn"])["ResourcePolicy"]) == json.loads(PRIVATE)
    deleted = sm.delete_resource_policy(SecretId=secret["name"])
    assert deleted["ARN"] == secret["arn"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret["name"])


def test_block_public_policy_refuses_a_star_principal(sm, secret):
    err = expect_error("PublicPolicyException", sm.put_resource_policy, SecretId=secret["name"],
                       ResourcePolicy=PUBLIC, BlockPublicPolicy=True)
    assert "BlockPublicPolicy" in err.response["Error"]["Message"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret["name"])
    # A condition pinning the caller's account is not public.
    sm.put_resource_policy(SecretId=secret["name"], ResourcePolicy=PUBLIC_BUT_PINNED, BlockPublicPolicy=True)
    # Without BlockPublicPolicy a public policy is accepted, as on AWS.
    sm.put_resource_policy(SecretId=secret["name"], ResourcePolicy=PUBLIC)
    assert json.loads(sm.get_resource_policy(SecretId=secret["name"])["ResourcePolicy"]) == json.loads(PUBLIC)


@pytest.mark.parametrize("doc", ["{not json", "[]", NO_PRINCIPAL, json.dumps({"Version": "2012-10-17"})])
def test_malformed_policies_are_malformed_policy_document(sm, secret, doc):
    expect_error("MalformedPolicyDocumentException", sm.put_resource_policy, SecretId=secret["name"],
                 ResourcePolicy=doc)


def test_resource_policy_errors_for_missing_and_deleted_secrets(sm, secret):
    missing = uniq("missing")
    expect_error("ResourceNotFoundException", sm.put_resource_policy, SecretId=missing, ResourcePolicy=PRIVATE)
    expect_error("ResourceNotFoundException", sm.get_resource_policy, SecretId=missing)
    expect_error("ResourceNotFoundException", sm.delete_resource_policy, SecretId=missing)
    sm.delete_secret(SecretId=secret["name"], RecoveryWindowInDays=7)
    expect_error("InvalidRequestException", sm.put_resource_policy, SecretId=secret["name"], ResourcePolicy=PRIVATE)


def test_validate_resource_policy_passes_and_reports_failures(sm, secret):
    ok = sm.validate_resource_policy(SecretId=secret["name"], ResourcePolicy=PRIVATE)
    assert ok["PolicyValidationPassed"] is True and ok["ValidationErrors"] == []
    broad = sm.validate_resource_policy(ResourcePolicy=PUBLIC)
    assert broad["PolicyValidationPassed"] is False
    assert [e["CheckName"] for e in broad["ValidationErrors"]] == ["BROAD_ACCESS"]
    grammar = sm.validate_resource_policy(ResourcePolicy=NO_PRINCIPAL)
    assert grammar["PolicyValidationPassed"] is False
    assert grammar["ValidationErrors"][0]["CheckName"] == "POLICY_GRAMMAR"
    assert grammar["ValidationErrors"][0]["ErrorMessage"]
    expect_error("MalformedPolicyDocumentException", sm.validate_resource_policy, ResourcePolicy="{nope")
    expect_error("ResourceNotFoundException", sm.validate_resource_policy, SecretId=uniq("missing"),
                 ResourcePolicy=PRIVATE)


def test_an_empty_policy_is_a_validation_error(sm_unvalidated, secret):
    expect_error("ValidationException", sm_unvalidated.put_resource_policy, SecretId=secret["name"],
                 ResourcePolicy="")


def test_replicas_carry_the_primarys_policy_and_refuse_changing_it(trent):
    us = make_sm_client(trent.base_url, region="us-east-1")
    eu = make_sm_client(trent.base_url, region="eu-west-1")
    name = uniq("replicated-policy")
    us.create_secret(Name=name, SecretString="v", AddReplicaRegions=[{"Region": "eu-west-1"}])
    us.put_resource_policy(SecretId=name, ResourcePolicy=PRIVATE)
    assert json.loads(eu.get_resource_policy(SecretId=name)["ResourcePolicy"]) == json.loads(PRIVATE)
    expect_error("InvalidParameterException", eu.put_resource_policy, SecretId=name, ResourcePolicy=PRIVATE)
    us.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in eu.get_resource_policy(SecretId=name)


def test_cli_put_get_validate_delete_resource_policy(aws_cli):
    name = uniq("cli-policy")
    aws_cli("secretsmanager", "create-secret", "--name", name, "--secret-string", "v").json()
    refused = aws_cli("secretsmanager", "put-resource-policy", "--secret-id", name, "--resource-policy", PUBLIC,
                      "--block-public-policy")
    assert refused.returncode != 0 and "PublicPolicyException" in refused.stderr
    aws_cli("secretsmanager", "put-resource-policy", "--secret-id", name, "--resource-policy", PRIVATE,
            "--block-public-policy").json()
    got = aws_cli("secretsmanager", "get-resource-policy", "--secret-id", name).json()
    assert json.loads(got["ResourcePolicy"]) == json.loads(PRIVATE)
    v = aws_cli("secretsmanager", "validate-resource-policy", "--resource-policy", PUBLIC).json()
    assert v["PolicyValidationPassed"] is False
    aws_cli("secretsmanager", "delete-resource-policy", "--secret-id", name).json()
    assert "ResourcePolicy" not in aws_cli("secretsmanager", "get-resource-policy", "--secret-id", name).json()


def test_a_resource_policy_grants_and_denies_access_to_iam_users(trent):
    """A secret's resource policy is evaluated with the caller's identity policies: it may allow
    a user with no identity policy, and its explicit Deny beats an identity policy's Allow."""
    from test_iam import admin, as_user, new_user, policy

    iam = admin("iam", trent.base_url)
    sm_admin = admin("secretsmanager", trent.base_url)
    arn = sm_admin.create_secret(Name=f"policy-enforced-{uuid.uuid4().hex[:8]}", SecretString="s3cr3t")["ARN"]
    reader, reader_key = new_user(iam)
    blocked, blocked_key = new_user(
        iam, policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    )
    account = arn.split(":")[4]
    reader_sm = as_user("secretsmanager", trent.base_url, reader_key)
    blocked_sm = as_user("secretsmanager", trent.base_url, blocked_key)
    with pytest.raises(ClientError) as e:
        reader_sm.get_secret_value(SecretId=arn)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert blocked_sm.get_secret_value(SecretId=arn)["SecretString"] == "s3cr3t"

    sm_admin.put_resource_policy(
        SecretId=arn,
        ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/{reader}"},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{account}:user/{blocked}"},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        ]}),
    )
    assert reader_sm.get_secret_value(SecretId=arn)["SecretString"] == "s3cr3t"
    with pytest.raises(ClientError) as e:
        blocked_sm.get_secret_value(SecretId=arn)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "explicit deny in a resource-based policy" in e.value.response["Error"]["Message"]
    # The policy allows only GetSecretValue.
    with pytest.raises(ClientError) as e:
        reader_sm.put_secret_value(SecretId=arn, SecretString="changed")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    sm_admin.delete_resource_policy(SecretId=arn)
    with pytest.raises(ClientError) as e:
        reader_sm.get_secret_value(SecretId=arn)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
