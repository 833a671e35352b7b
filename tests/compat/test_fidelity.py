"""Issue #18: behaviours where Trent differed from AWS, each checked with boto3 as an unchanged
client sees it (Parameter Store names and empty lists, Secrets Manager's DescribeSecret members,
ListSecrets' word matching, error codes and texts, KMS alias names and AWS-managed keys)."""

from __future__ import annotations

import re
import uuid

import pytest

from conftest import ACCOUNT_ID, REGION, expect_error, make_kms_client, make_sm_client, make_ssm_client


def uniq(prefix: str = "f") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# -- Parameter Store ---------------------------------------------------------------------------


def test_ssm_x_and_slash_x_are_the_same_parameter_everywhere(ssm):
    bare = uniq("fid")
    ssm.put_parameter(Name="/" + bare, Value="one", Type="String")
    # The other spelling finds it, by name and by ARN, and cannot create a second one.
    assert ssm.get_parameter(Name=bare)["Parameter"]["Value"] == "one"
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{bare}"
    got = ssm.get_parameter(Name=arn)["Parameter"]
    assert got["Value"] == "one" and got["ARN"] == arn
    assert ssm.get_parameter(Name="/" + bare)["Parameter"]["ARN"] == arn
    expect_error("ParameterAlreadyExists", ssm.put_parameter, Name=bare, Value="two", Type="String")
    ssm.put_parameter(Name=bare, Value="two", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name="/" + bare)["Parameter"]["Version"] == 2
    assert [p["Value"] for p in ssm.get_parameters(Names=[bare, "/" + bare])["Parameters"]] in (["two"], ["two", "two"])
    assert len(ssm.get_parameter_history(Name=bare)["Parameters"]) == 2
    # A name without a slash is under Path "/".
    other = uniq("fidnoslash")
    ssm.put_parameter(Name=other, Value="v", Type="String")
    under_root = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/"):
        under_root += [p["Name"] for p in page["Parameters"]]
    assert other in under_root
    assert any(n.lstrip("/") == bare for n in under_root)
    ssm.delete_parameter(Name="/" + other)
    expect_error("ParameterNotFound", ssm.get_parameter, Name=other)
    ssm.delete_parameter(Name=bare)
    expect_error("ParameterNotFound", ssm.get_parameter, Name="/" + bare)


def test_ssm_empty_lists_are_returned(ssm):
    name = "/" + uniq("fid") + "/labels"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    [entry] = ssm.get_parameter_history(Name=name)["Parameters"]
    assert entry["Labels"] == []
    out = ssm.label_parameter_version(Name=name, Labels=["good"])
    assert out["InvalidLabels"] == [] and out["ParameterVersion"] == 1


def test_put_parameter_name_and_value_errors_use_awss_texts(ssm_unvalidated):
    ssm = ssm_unvalidated
    text = (
        'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can '
        "consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers "
        "and the following 3 symbols .-_"
    )
    for bad in ["awsThing", "/SSM/x", "a/b", "/a//b", "bad name!"]:
        err = expect_error("ValidationException", ssm.put_parameter, Name=bad, Value="v", Type="String")
        assert err.response["Error"]["Message"] == text, bad
    err = expect_error("ValidationException", ssm.put_parameter, Name="/" + uniq(), Value="", Type="String")
    assert err.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'value' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_describe_parameters_path_filter_is_validated_and_tags_accept_begins_with(ssm):
    base = "/" + uniq("fid")
    ssm.put_parameter(Name=f"{base}/a", Value="v", Type="String", Tags=[{"Key": "team", "Value": "payments-eu"}])
    ssm.put_parameter(Name=f"{base}/b", Value="v", Type="String", Tags=[{"Key": "team", "Value": "infra"}])
    for bad in ["no-slash", "/bad path", "/x*"]:
        err = expect_error(
            "ValidationException",
            ssm.describe_parameters,
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [bad]}],
        )
        assert err.response["Error"]["Message"].startswith(
            "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash"
        ), bad
    err = expect_error("ValidationException", ssm.get_parameters_by_path, Path="nope")
    assert "must begin with a forward slash" in err.response["Error"]["Message"]
    found = ssm.describe_parameters(
        ParameterFilters=[
            {"Key": "Path", "Option": "OneLevel", "Values": [base]},
            {"Key": "tag:team", "Option": "BeginsWith", "Values": ["pay"]},
        ]
    )["Parameters"]
    assert [p["Name"] for p in found] == [f"{base}/a"]
    equals = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Values": [base]}, {"Key": "tag:team", "Values": ["pay"]}]
    )["Parameters"]
    assert equals == []
    expect_error(
        "InvalidFilterOption",
        ssm.describe_parameters,
        ParameterFilters=[{"Key": "tag:team", "Option": "Contains", "Values": ["pay"]}],
    )


def test_a_missing_secrets_manager_reference_is_parameter_not_found_naming_the_secret(ssm):
    name = "/aws/reference/secretsmanager/" + uniq("missing")
    err = expect_error("ParameterNotFound", ssm.get_parameter, Name=name, WithDecryption=True)
    assert err.response["Error"]["Message"] == (
        f"An error occurred (ParameterNotFound) when referencing Secrets Manager: Secret {name} not found."
    )


# -- Secrets Manager ---------------------------------------------------------------------------


def test_describe_secret_leaves_out_what_aws_leaves_out(sm):
    name = uniq("fid-desc")
    created = sm.create_secret(Name=name)  # no value
    d = sm.describe_secret(SecretId=name)
    for absent in ("RotationEnabled", "PrimaryRegion", "VersionIdsToStages", "Tags"):
        assert absent not in d, absent
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert listed[0]["ARN"] == created["ARN"] and "SecretVersionsToStages" not in listed[0]
    # A value, then tags removed again: VersionIdsToStages, and Tags: [] as AWS keeps it.
    put = sm.put_secret_value(SecretId=name, SecretString="v")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}])
    sm.untag_resource(SecretId=name, TagKeys=["k"])
    d = sm.describe_secret(SecretId=name)
    assert d["VersionIdsToStages"] == {put["VersionId"]: ["AWSCURRENT"]}
    assert d["Tags"] == []
    assert "RotationEnabled" not in d and "PrimaryRegion" not in d


def test_primary_region_is_shown_and_filtered_only_for_replicated_secrets(trent):
    us = make_sm_client(trent.base_url, region="us-east-1")
    plain, replicated = uniq("fid-plain"), uniq("fid-repl")
    us.create_secret(Name=plain, SecretString="v")
    us.create_secret(Name=replicated, SecretString="v", AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert us.describe_secret(SecretId=replicated)["PrimaryRegion"] == "us-east-1"
    assert "PrimaryRegion" not in us.describe_secret(SecretId=plain)
    names = {plain, replicated}
    hits = [
        s["Name"]
        for s in us.list_secrets(Filters=[{"Key": "primary-region", "Values": ["us-east-1"]}])["SecretList"]
        if s["Name"] in names
    ]
    assert hits == [replicated]
    us.remove_regions_from_replication(SecretId=replicated, RemoveReplicaRegions=["eu-west-1"])


def test_list_secrets_all_and_description_match_word_prefixes(sm):
    w = uniq("fidwords").lower()
    sm.create_secret(Name=f"{w}/MyDatabasePassword", SecretString="v", Description="Payroll primary-DB credentials")
    sm.create_secret(Name=f"{w}/other", SecretString="v", Description="cache token")

    def names(key, value):
        flt = [{"Key": "name", "Values": [w]}, {"Key": key, "Values": [value]}]
        return sorted(s["Name"].split("/", 1)[1] for s in sm.list_secrets(Filters=flt)["SecretList"])

    # Words split at separators and case changes, each prefix-matched ignoring case.
    assert names("all", "data") == ["MyDatabasePassword"]
    assert names("all", "PASS") == ["MyDatabasePassword"]
    assert names("all", "database pass") == ["MyDatabasePassword"]
    assert names("all", "database cache") == [], "every word of a multi-word value must match"
    assert names("description", "db") == ["MyDatabasePassword"]
    assert names("description", "prim cred") == ["MyDatabasePassword"]
    assert names("description", "tok") == ["other"]
    assert names("description", "roll") == [], "a word is matched from its start"


def test_secret_version_errors_use_awss_texts(sm):
    name = uniq("fid-ver")
    first = sm.create_secret(Name=name, SecretString="one")
    token = str(uuid.uuid4())
    second = sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)
    # The same token with the same value is a retry; with another value it is refused.
    assert sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)["VersionId"] == token
    err = expect_error("ResourceExistsException", sm.put_secret_value, SecretId=name, SecretString="three",
                       ClientRequestToken=token)
    assert err.response["Error"]["Message"] == (
        f"You can't use ClientRequestToken {token} because that value is already in use for a version of secret "
        f"{first['ARN']}."
    )
    err = expect_error("InvalidRequestException", sm.get_secret_value, SecretId=name,
                       VersionId=first["VersionId"], VersionStage="AWSCURRENT")
    assert err.response["Error"]["Message"] == (
        "You provided a VersionStage that is not associated to the provided VersionId."
    )
    err = expect_error("InvalidParameterException", sm.update_secret_version_stage, SecretId=name,
                       VersionStage="AWSCURRENT", MoveToVersionId=first["VersionId"])
    assert err.response["Error"]["Message"] == (
        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to "
        f"version {second['VersionId']}, so you must explicitly reference that version in RemoveFromVersionId."
    )


def test_first_put_secret_value_is_always_awscurrent(sm):
    name = uniq("fid-first")
    sm.create_secret(Name=name)
    out = sm.put_secret_value(SecretId=name, SecretString="v", VersionStages=["CUSTOM"])
    assert sorted(out["VersionStages"]) == ["AWSCURRENT", "CUSTOM"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    # Later versions get only the stages given.
    out = sm.put_secret_value(SecretId=name, SecretString="w", VersionStages=["OTHER"])
    assert out["VersionStages"] == ["OTHER"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_force_delete_of_a_missing_secret_succeeds(sm):
    name = uniq("fid-missing")
    out = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert out["Name"] == name
    assert re.fullmatch(rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-[A-Za-z0-9]{{6}}", out["ARN"])
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-AbCdEf"
    out = sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert out["ARN"] == arn and out["Name"] == name
    # Without ForceDeleteWithoutRecovery it is still ResourceNotFoundException.
    expect_error("ResourceNotFoundException", sm.delete_secret, SecretId=name)


def test_replica_writes_and_deleting_a_primary_with_replicas_are_invalid_parameter(trent):
    us = make_sm_client(trent.base_url, region="us-east-1")
    eu = make_sm_client(trent.base_url, region="eu-west-1")
    name = uniq("fid-replica")
    created = us.create_secret(Name=name, SecretString="v", AddReplicaRegions=[{"Region": "eu-west-1"}])
    err = expect_error("InvalidParameterException", eu.put_secret_value, SecretId=name, SecretString="w")
    assert err.response["Error"]["Message"] == (
        "Operation not permitted on a replica secret. Call must be made in primary secret's region."
    )
    err = expect_error("InvalidParameterException", us.delete_secret, SecretId=name)
    assert err.response["Error"]["Message"] == (
        f"You can't delete secret {created['ARN']} that still has replica regions [eu-west-1]"
    )
    us.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["eu-west-1"])
    us.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


# -- KMS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["alias/aws/ssm", "alias/aws/secretsmanager"])
def test_an_aws_managed_alias_creates_its_key_on_first_reference(trent_factory, alias):
    srv = trent_factory()
    kms = make_kms_client(srv.base_url)
    assert alias not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["Description"].startswith("Default key that protects my")
    # The same key from then on, by alias and alias ARN, and usable.
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias}"
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == meta["KeyId"]
    blob = kms.encrypt(KeyId=alias, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == meta["Arn"]
    [listed] = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == alias]
    assert listed["TargetKeyId"] == meta["KeyId"]
    # The service uses the same key.
    if alias == "alias/aws/ssm":
        ssm = make_ssm_client(srv.base_url)
        ssm.put_parameter(Name="/fid/secure", Value="s", Type="SecureString")
        assert ssm.get_parameter(Name="/fid/secure")["Parameter"]["Value"] != "s"
        key = ssm.describe_parameters()["Parameters"][0]["KeyId"]
        assert key in (alias, meta["KeyId"], meta["Arn"])
    # Other alias/aws/ names are not created.
    expect_error("NotFoundException", kms.describe_key, KeyId="alias/aws/not-a-service")
