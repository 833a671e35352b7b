"""Secrets Manager replication across regions of one deployment, with boto3 and the AWS CLI:
us-east-1 primary, eu-west-1 and ap-south-1 replicas. Replicas carry the primary's ARN with their
own region, follow every change of the primary (re-encrypted under their own region's key), are
read-only, and can be removed or promoted to standalone secrets."""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import ACCOUNT_ID, expect_error, make_kms_client, make_sm_client, raw_call

PRIMARY, EU, AP = "us-east-1", "eu-west-1", "ap-south-1"
REPLICA_WRITE = "Operation not permitted on a replica secret. Call must be made in primary secret's region."


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def clients(trent):
    return {r: make_sm_client(trent.base_url, region=r) for r in (PRIMARY, EU, AP)}


def in_region(arn: str, region: str) -> str:
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def status_of(sm, name: str) -> dict:
    return {s["Region"]: s for s in sm.describe_secret(SecretId=name).get("ReplicationStatus", [])}


def test_create_with_add_replica_regions_reads_the_same_value_in_each_region(clients):
    us = clients[PRIMARY]
    name = uniq("repl")
    out = us.create_secret(
        Name=name, SecretString="v1", AddReplicaRegions=[{"Region": EU}, {"Region": AP}]
    )
    assert {s["Region"]: s["Status"] for s in out["ReplicationStatus"]} == {EU: "InSync", AP: "InSync"}
    assert all(s["KmsKeyId"] == "alias/aws/secretsmanager" for s in out["ReplicationStatus"])
    for region in (EU, AP):
        sm = clients[region]
        got = sm.get_secret_value(SecretId=name)
        assert got["SecretString"] == "v1"
        assert got["VersionId"] == out["VersionId"]
        assert got["ARN"] == in_region(out["ARN"], region)
        assert got["ARN"].startswith(f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-")
        d = sm.describe_secret(SecretId=got["ARN"])
        assert d["PrimaryRegion"] == PRIMARY
        assert "ReplicationStatus" not in d
        listed = [e for e in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]]
        assert listed[0]["PrimaryRegion"] == PRIMARY
    d = us.describe_secret(SecretId=name)
    assert d["PrimaryRegion"] == PRIMARY
    assert sorted(s["Region"] for s in d["ReplicationStatus"]) == [AP, EU]
    # Each replica was read in its region: its LastAccessedDate is that day (a date, as AWS).
    for s in d["ReplicationStatus"]:
        accessed = s["LastAccessedDate"]
        assert (accessed.hour, accessed.minute, accessed.second) == (0, 0, 0), s
    assert "LastAccessedDate" not in d, "never read in the primary's region"
    # The replica's value is under the replica region's own AWS-managed key.
    eu_kms = make_kms_client(us.meta.endpoint_url, region=EU)
    alias = [a for a in eu_kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/secretsmanager"]
    assert alias and alias[0]["AliasArn"].startswith(f"arn:aws:kms:{EU}:")


def test_put_secret_value_on_the_primary_moves_replica_versions_and_stages(clients):
    us, eu = clients[PRIMARY], clients[EU]
    name = uniq("follow")
    first = us.create_secret(Name=name, SecretString="one", AddReplicaRegions=[{"Region": EU}])
    second = us.put_secret_value(SecretId=name, SecretString="two")
    pending = us.put_secret_value(SecretId=name, SecretString="three", VersionStages=["AWSPENDING"])
    replica = eu.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert replica == us.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert replica[first["VersionId"]] == ["AWSPREVIOUS"]
    assert replica[second["VersionId"]] == ["AWSCURRENT"]
    assert replica[pending["VersionId"]] == ["AWSPENDING"]
    assert eu.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    assert eu.get_secret_value(SecretId=name, VersionId=pending["VersionId"])["SecretString"] == "three"
    us.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=second["VersionId"],
    )
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "three"
    us.update_secret(SecretId=name, Description="now described")
    us.tag_resource(SecretId=name, Tags=[{"Key": "team", "Value": "data"}])
    d = eu.describe_secret(SecretId=name)
    assert d["Description"] == "now described"
    assert d["Tags"] == [{"Key": "team", "Value": "data"}]
    us.untag_resource(SecretId=name, TagKeys=["team"])
    assert eu.describe_secret(SecretId=name)["Tags"] == [], "AWS keeps Tags: [] after the last tag is removed"


def test_writes_on_a_replica_are_refused_with_awss_error(clients):
    us, eu = clients[PRIMARY], clients[EU]
    name = uniq("readonly")
    us.create_secret(Name=name, SecretString="v", AddReplicaRegions=[{"Region": EU}])
    writes = [
        (eu.put_secret_value, dict(SecretId=name, SecretString="x")),
        (eu.update_secret, dict(SecretId=name, Description="x")),
        (eu.tag_resource, dict(SecretId=name, Tags=[{"Key": "k", "Value": "v"}])),
        (eu.untag_resource, dict(SecretId=name, TagKeys=["k"])),
        (eu.delete_secret, dict(SecretId=name, ForceDeleteWithoutRecovery=True)),
        (eu.rotate_secret, dict(SecretId=name)),
        (eu.replicate_secret_to_regions, dict(SecretId=name, AddReplicaRegions=[{"Region": AP}])),
        (eu.delete_resource_policy, dict(SecretId=name)),
    ]
    for fn, kw in writes:
        err = expect_error("InvalidParameterException", fn, **kw)
        assert err.response["Error"]["Message"] == REPLICA_WRITE, fn
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_a_replica_under_a_disabled_key_fails_and_the_primary_is_unaffected(clients, trent):
    us, eu = clients[PRIMARY], clients[EU]
    eu_kms = make_kms_client(trent.base_url, region=EU)
    key = eu_kms.create_key(Description="eu replica key")["KeyMetadata"]["KeyId"]
    name = uniq("failed")
    out = us.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": EU, "KmsKeyId": key}])
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert out["ReplicationStatus"][0]["KmsKeyId"] == key
    eu_kms.disable_key(KeyId=key)
    us.put_secret_value(SecretId=name, SecretString="v2")
    assert us.get_secret_value(SecretId=name)["SecretString"] == "v2"
    st = status_of(us, name)[EU]
    assert st["Status"] == "Failed"
    assert "disabled" in st["StatusMessage"], st
    # The replica itself cannot be decrypted under its disabled key.
    expect_error("DecryptionFailure", eu.get_secret_value, SecretId=name)
    eu_kms.enable_key(KeyId=key)
    us.put_secret_value(SecretId=name, SecretString="v3")
    assert status_of(us, name)[EU]["Status"] == "InSync"
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "v3"


def test_a_name_taken_in_the_replica_region_fails_unless_force_overwrite(clients):
    us, eu = clients[PRIMARY], clients[EU]
    name = uniq("taken")
    eu.create_secret(Name=name, SecretString="local")
    us.create_secret(Name=name, SecretString="global")
    out = us.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": EU}])
    assert out["ReplicationStatus"][0]["Status"] == "Failed"
    assert "already exists" in out["ReplicationStatus"][0]["StatusMessage"]
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "local"
    us.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[EU])
    out = us.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": EU}], ForceOverwriteReplicaSecret=True
    )
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "global"
    assert eu.describe_secret(SecretId=name)["PrimaryRegion"] == PRIMARY


def test_remove_regions_from_replication_deletes_the_replica(clients):
    us, eu, ap = clients[PRIMARY], clients[EU], clients[AP]
    name = uniq("remove")
    created = us.create_secret(Name=name, SecretString="v", AddReplicaRegions=[{"Region": EU}, {"Region": AP}])
    err = expect_error("InvalidParameterException", us.delete_secret, SecretId=name)
    assert err.response["Error"]["Message"] == (
        f"You can't delete secret {created['ARN']} that still has replica regions [{EU}, {AP}]"
    )
    out = us.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[AP])
    assert out["ARN"] == created["ARN"]
    assert [s["Region"] for s in out["ReplicationStatus"]] == [EU]
    expect_error("ResourceNotFoundException", ap.get_secret_value, SecretId=name)
    expect_error("InvalidParameterException", us.remove_regions_from_replication, SecretId=name,
                 RemoveReplicaRegions=[AP])
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "v"
    us.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[EU])
    assert "ReplicationStatus" not in us.describe_secret(SecretId=name)
    us.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_stop_replication_to_replica_promotes_a_standalone_writable_secret(clients):
    us, eu = clients[PRIMARY], clients[EU]
    name = uniq("promote")
    created = us.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": EU}])
    expect_error("InvalidRequestException", us.stop_replication_to_replica, SecretId=name)
    out = eu.stop_replication_to_replica(SecretId=in_region(created["ARN"], EU))
    assert out["ARN"] == in_region(created["ARN"], EU)
    d = eu.describe_secret(SecretId=name)
    assert "PrimaryRegion" not in d, "a promoted replica is a secret of its own, no longer replicated"
    assert "ReplicationStatus" not in us.describe_secret(SecretId=name)
    eu.put_secret_value(SecretId=name, SecretString="eu-own")
    us.put_secret_value(SecretId=name, SecretString="us-own")
    assert eu.get_secret_value(SecretId=name)["SecretString"] == "eu-own"
    assert us.get_secret_value(SecretId=name)["SecretString"] == "us-own"
    eu.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    us.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_generic_rotation_on_the_primary_reaches_the_replicas(clients):
    us = clients[PRIMARY]
    name = uniq("rotate")
    value = json.dumps({"username": "app", "password": "initial-password"})
    us.create_secret(Name=name, SecretString=value, AddReplicaRegions=[{"Region": EU}, {"Region": AP}])
    rotated = us.rotate_secret(SecretId=name, RotationLambdaARN="trent-builtin")
    current = us.get_secret_value(SecretId=name)
    assert current["VersionId"] == rotated["VersionId"]
    assert json.loads(current["SecretString"])["password"] != "initial-password"
    for region in (EU, AP):
        got = clients[region].get_secret_value(SecretId=name)
        assert got["VersionId"] == rotated["VersionId"]
        assert got["SecretString"] == current["SecretString"]
        stages = clients[region].describe_secret(SecretId=name)["VersionIdsToStages"]
        assert stages[rotated["VersionId"]] == ["AWSCURRENT"]
        assert "AWSPENDING" not in sum(stages.values(), [])


def test_replication_request_errors_are_awss(clients):
    us = clients[PRIMARY]
    name = uniq("errors")
    us.create_secret(Name=name, SecretString="v")
    expect_error("InvalidParameterException", us.replicate_secret_to_regions, SecretId=name,
                 AddReplicaRegions=[{"Region": PRIMARY}])
    expect_error("InvalidParameterException", us.replicate_secret_to_regions, SecretId=name,
                 AddReplicaRegions=[{"Region": EU}, {"Region": EU}])
    expect_error("ResourceNotFoundException", us.replicate_secret_to_regions, SecretId=uniq("missing"),
                 AddReplicaRegions=[{"Region": EU}])
    expect_error("InvalidParameterException", us.remove_regions_from_replication, SecretId=name,
                 RemoveReplicaRegions=[EU])
    expect_error("ResourceNotFoundException", us.stop_replication_to_replica, SecretId=uniq("missing"))


def test_a_region_outside_awss_pattern_is_a_validation_error(trent):
    resp = raw_call(trent.base_url, None, {"SecretId": "x", "AddReplicaRegions": [{"Region": "Not A Region"}]},
                    service="secretsmanager", target="secretsmanager.ReplicateSecretToRegions")
    assert resp.status == 400 and resp.error_type == "ValidationException", resp


def test_cli_replicates_reads_in_each_region_and_promotes(aws_cli):
    name = uniq("cli-repl")
    out = aws_cli("secretsmanager", "create-secret", "--name", name, "--secret-string", "cli-value",
                  "--add-replica-regions", f"Region={EU}", f"Region={AP}").json()
    assert sorted(s["Region"] for s in out["ReplicationStatus"]) == [AP, EU]
    for region in (EU, AP):
        got = aws_cli("--region", region, "secretsmanager", "get-secret-value", "--secret-id", name).json()
        assert got["SecretString"] == "cli-value"
    refused = aws_cli("--region", EU, "secretsmanager", "put-secret-value", "--secret-id", name,
                      "--secret-string", "nope")
    assert refused.returncode != 0 and "InvalidParameterException" in refused.stderr
    aws_cli("secretsmanager", "remove-regions-from-replication", "--secret-id", name,
            "--remove-replica-regions", AP).json()
    gone = aws_cli("--region", AP, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
    aws_cli("--region", EU, "secretsmanager", "stop-replication-to-replica", "--secret-id", name).json()
    d = aws_cli("--region", EU, "secretsmanager", "describe-secret", "--secret-id", name).json()
    assert "PrimaryRegion" not in d
    d = aws_cli("secretsmanager", "describe-secret", "--secret-id", name).json()
    assert "ReplicationStatus" not in d
