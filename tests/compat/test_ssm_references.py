"""Parameter Store reads Secrets Manager secrets through `/aws/reference/secretsmanager/…`."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import make_service_client


def client(service, base_url):
    return make_service_client(service, base_url)


def test_get_parameter_reads_a_secret_by_reference(trent):
    sm, ssm = client("secretsmanager", trent.base_url), client("ssm", trent.base_url)
    created = sm.create_secret(Name="ref/db-password", SecretString="first")
    sm.put_secret_value(SecretId="ref/db-password", SecretString="second")
    p = ssm.get_parameter(Name="/aws/reference/secretsmanager/ref/db-password", WithDecryption=True)["Parameter"]
    assert p["Value"] == "second"
    assert p["Type"] == "SecureString"
    assert p["ARN"] == created["ARN"]
    assert json.loads(p["SourceResult"])["Name"] == "ref/db-password"
    prev = ssm.get_parameter(Name="/aws/reference/secretsmanager/ref/db-password:AWSPREVIOUS", WithDecryption=True)
    assert prev["Parameter"]["Value"] == "first" and prev["Parameter"]["Selector"] == ":AWSPREVIOUS"
    by_version = ssm.get_parameter(Name=f"/aws/reference/secretsmanager/ref/db-password:{created['VersionId']}", WithDecryption=True)
    assert by_version["Parameter"]["Value"] == "first"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/aws/reference/secretsmanager/ref/db-password")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/aws/reference/secretsmanager/ref/missing", WithDecryption=True)
    assert e.value.response["Error"]["Code"] == "ParameterNotFound"
    both = ssm.get_parameters(
        Names=["/aws/reference/secretsmanager/ref/db-password", "/aws/reference/secretsmanager/ref/missing"], WithDecryption=True
    )
    assert [p["Value"] for p in both["Parameters"]] == ["second"]
    assert both["InvalidParameters"] == ["/aws/reference/secretsmanager/ref/missing"]
