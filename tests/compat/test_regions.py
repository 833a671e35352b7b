"""Every AWS region (and none other) is served, each with its own resources; ARNs carry the region's partition."""

import pytest
from botocore.exceptions import ClientError

from conftest import alias_arn, error_code, expect_error, key_arn, list_all, unique_alias


def test_key_from_us_east_1_is_not_visible_in_eu_west_1(make_client):
    east, west = make_client("us-east-1"), make_client("eu-west-1")
    kid = east.create_key(Description="east only")["KeyMetadata"]["KeyId"]
    expect_error("NotFoundException", west.describe_key, KeyId=kid)
    expect_error("NotFoundException", west.describe_key, KeyId=key_arn(kid, "us-east-1"))
    assert kid not in {k["KeyId"] for k in list_all(west, "list_keys", "Keys")}
    assert kid in {k["KeyId"] for k in list_all(east, "list_keys", "Keys")}


def test_key_in_eu_west_1_has_eu_west_1_arn(make_client):
    west = make_client("eu-west-1")
    md = west.create_key()["KeyMetadata"]
    assert md["Arn"] == key_arn(md["KeyId"], "eu-west-1")
    assert {k["KeyArn"] for k in list_all(west, "list_keys", "Keys") if k["KeyId"] == md["KeyId"]} == {md["Arn"]}


def test_key_in_cn_north_1_has_aws_cn_arn(make_client):
    cn = make_client("cn-north-1")
    md = cn.create_key()["KeyMetadata"]
    assert md["Arn"] == f"arn:aws-cn:kms:cn-north-1:000000000000:key/{md['KeyId']}"
    assert cn.encrypt(KeyId=md["KeyId"], Plaintext=b"x")["KeyId"] == md["Arn"]
    assert cn.describe_key(KeyId=md["Arn"])["KeyMetadata"]["KeyId"] == md["KeyId"]


def test_key_in_us_gov_west_1_has_aws_us_gov_arn(make_client):
    gov = make_client("us-gov-west-1")
    md = gov.create_key()["KeyMetadata"]
    assert md["Arn"] == f"arn:aws-us-gov:kms:us-gov-west-1:000000000000:key/{md['KeyId']}"


def test_alias_arn_in_cn_region_uses_aws_cn_partition(make_client):
    cn = make_client("cn-north-1")
    kid = cn.create_key()["KeyMetadata"]["KeyId"]
    alias = unique_alias("cn")
    cn.create_alias(AliasName=alias, TargetKeyId=kid)
    entry = {a["AliasName"]: a for a in list_all(cn, "list_aliases", "Aliases")}[alias]
    assert entry["AliasArn"] == alias_arn(alias, "cn-north-1", "aws-cn")


def test_same_alias_name_in_two_regions_is_independent(make_client):
    east, west = make_client("us-east-1"), make_client("eu-west-1")
    k_east = east.create_key()["KeyMetadata"]["KeyId"]
    k_west = west.create_key()["KeyMetadata"]["KeyId"]
    alias = unique_alias("both")
    east.create_alias(AliasName=alias, TargetKeyId=k_east)
    west.create_alias(AliasName=alias, TargetKeyId=k_west)
    assert east.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == k_east
    assert west.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == k_west


def test_alias_from_one_region_cannot_target_key_of_another(make_client):
    east, west = make_client("us-east-1"), make_client("eu-west-1")
    k_east = east.create_key()["KeyMetadata"]["KeyId"]
    expect_error("NotFoundException", west.create_alias, AliasName=unique_alias("x"), TargetKeyId=k_east)


def test_ciphertext_from_us_east_1_does_not_decrypt_in_eu_west_1(make_client):
    east, west = make_client("us-east-1"), make_client("eu-west-1")
    kid = east.create_key()["KeyMetadata"]["KeyId"]
    blob = east.encrypt(KeyId=kid, Plaintext=b"regional")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        west.decrypt(CiphertextBlob=blob)
    assert error_code(e) in ("NotFoundException", "InvalidCiphertextException"), e.value
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"regional"


def test_key_arn_naming_another_region_is_not_found(make_client):
    east = make_client("us-east-1")
    kid = east.create_key()["KeyMetadata"]["KeyId"]
    # The east key's ARN, presented to the east endpoint but with the west region inside.
    expect_error("NotFoundException", east.describe_key, KeyId=key_arn(kid, "eu-west-1"))
