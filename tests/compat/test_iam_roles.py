"""IAM role management end to end with boto3: the operations no other test called (issue 18:
docs/COMPATIBILITY.md cites only tests that call the operation). A role's inline policy is
read back and deleted, a managed policy's version read, attached to and detached from a role,
roles listed, and a role deleted only once nothing is attached to it."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

import boto3
from botocore.config import Config

from conftest import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION, error_code, http_status


def admin(service: str, base_url: str):
    return boto3.session.Session().client(
        service,
        endpoint_url=base_url,
        region_name=REGION,
        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 1}),
    )


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TRUST = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"})
DESCRIBE = {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}


def test_role_inline_policy_is_read_back_and_deleted(trent):
    iam = admin("iam", trent.base_url)
    role = _name("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=_doc(DESCRIBE))
    got = iam.get_role_policy(RoleName=role, PolicyName="inline")
    assert got["RoleName"] == role and got["PolicyName"] == "inline"
    doc = got["PolicyDocument"]  # boto3 decodes the URL-encoded JSON document
    assert doc["Statement"][0]["Action"] == "kms:DescribeKey", doc
    iam.delete_role_policy(RoleName=role, PolicyName="inline")
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName=role, PolicyName="inline")
    assert error_code(e) == "NoSuchEntity" and http_status(e) == 404
    with pytest.raises(ClientError) as e:
        iam.delete_role_policy(RoleName=role, PolicyName="inline")
    assert error_code(e) == "NoSuchEntity"
    iam.delete_role(RoleName=role)


def test_managed_policy_attaches_to_a_role_and_a_role_is_deleted_only_when_detached(trent):
    iam = admin("iam", trent.base_url)
    role = _name("role")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
    p = iam.create_policy(PolicyName=_name("mp"), PolicyDocument=_doc(DESCRIBE))["Policy"]
    version = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["VersionId"] == "v1" and version["IsDefaultVersion"] is True
    assert version["Document"]["Statement"][0]["Action"] == "kms:DescribeKey", version
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v9")
    assert error_code(e) == "NoSuchEntity"

    iam.attach_role_policy(RoleName=role, PolicyArn=p["Arn"])
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": p["PolicyName"], "PolicyArn": p["Arn"]}]
    names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert role in names
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role)
    assert error_code(e) == "DeleteConflict" and http_status(e) == 409

    iam.detach_role_policy(RoleName=role, PolicyArn=p["Arn"])
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    with pytest.raises(ClientError) as e:
        iam.detach_role_policy(RoleName=role, PolicyArn=p["Arn"])
    assert error_code(e) == "NoSuchEntity"
    iam.delete_role(RoleName=role)
    assert role not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role)
    assert error_code(e) == "NoSuchEntity"
    iam.delete_policy(PolicyArn=p["Arn"])
