"""TagResource, UntagResource, ListResourceTags; GetKeyPolicy, PutKeyPolicy, ListKeyPolicies."""

import json
import uuid

import pytest

from conftest import ACCOUNT_ID, expect_error, list_all


def tags_of(kms, key_id):
    return {t["TagKey"]: t["TagValue"] for t in list_all(kms, "list_resource_tags", "Tags", KeyId=key_id)}


# ---------------------------------------------------------------- tags


def test_tag_resource_then_list_resource_tags(kms, new_key):
    kid = new_key()["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "owner", "TagValue": "alice"}, {"TagKey": "cost", "TagValue": "42"}])
    assert tags_of(kms, kid) == {"owner": "alice", "cost": "42"}


def test_new_key_has_no_tags(kms, new_key):
    kid = new_key()["KeyId"]
    resp = kms.list_resource_tags(KeyId=kid)
    assert resp["Tags"] == []
    assert resp["Truncated"] is False


def test_retagging_replaces_the_value(kms, new_key):
    kid = new_key()["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "dev"}])
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "prod"}])
    assert tags_of(kms, kid) == {"env": "prod"}


def test_untag_resource_removes_only_named_keys(kms, new_key):
    kid = new_key()["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": k, "TagValue": k.upper()} for k in ("a", "b", "c")])
    kms.untag_resource(KeyId=kid, TagKeys=["a", "c"])
    assert tags_of(kms, kid) == {"b": "B"}


def test_untag_of_absent_tag_key_is_harmless(kms, new_key):
    kid = new_key()["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "keep", "TagValue": "1"}])
    kms.untag_resource(KeyId=kid, TagKeys=["never-set"])
    assert tags_of(kms, kid) == {"keep": "1"}


def test_tags_at_length_limits_are_accepted(kms, new_key):
    kid = new_key()["KeyId"]
    long_key, long_value = "k" * 128, "v" * 256
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": long_key, "TagValue": long_value}, {"TagKey": "e", "TagValue": ""}])
    assert tags_of(kms, kid) == {long_key: long_value, "e": ""}


def test_tag_key_over_128_chars_is_validation_error(kms_unvalidated, new_key):
    kid = new_key()["KeyId"]
    expect_error("ValidationException", kms_unvalidated.tag_resource, KeyId=kid, Tags=[{"TagKey": "k" * 129, "TagValue": "v"}])


def test_empty_tag_key_is_validation_error(kms_unvalidated, new_key):
    kid = new_key()["KeyId"]
    expect_error("ValidationException", kms_unvalidated.tag_resource, KeyId=kid, Tags=[{"TagKey": "", "TagValue": "v"}])


def test_tag_value_over_256_chars_is_validation_error(kms_unvalidated, new_key):
    kid = new_key()["KeyId"]
    expect_error("ValidationException", kms_unvalidated.tag_resource, KeyId=kid, Tags=[{"TagKey": "k", "TagValue": "v" * 257}])


def test_tag_key_with_aws_prefix_is_tag_exception(kms, new_key):
    kid = new_key()["KeyId"]
    expect_error("TagException", kms.tag_resource, KeyId=kid, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    assert tags_of(kms, kid) == {}


def test_create_key_with_aws_prefixed_tag_is_tag_exception(kms):
    expect_error("TagException", kms.create_key, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])


def test_tag_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.tag_resource, KeyId=str(uuid.uuid4()), Tags=[{"TagKey": "a", "TagValue": "b"}])


def test_list_resource_tags_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.list_resource_tags, KeyId=str(uuid.uuid4()))


def test_tag_resource_by_key_arn(kms, new_key):
    md = new_key()
    kms.tag_resource(KeyId=md["Arn"], Tags=[{"TagKey": "via", "TagValue": "arn"}])
    assert tags_of(kms, md["KeyId"]) == {"via": "arn"}


def test_list_resource_tags_pages(kms, new_key):
    kid = new_key()["KeyId"]
    want = {f"t{i}": str(i) for i in range(5)}
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": k, "TagValue": v} for k, v in want.items()])
    first = kms.list_resource_tags(KeyId=kid, Limit=2)
    assert len(first["Tags"]) == 2 and first["Truncated"] is True and first["NextMarker"]
    got = list_all(kms, "list_resource_tags", "Tags", KeyId=kid, Limit=2)
    assert {t["TagKey"]: t["TagValue"] for t in got} == want
    assert len(got) == 5


# ---------------------------------------------------------------- key policy


def statements(policy: dict) -> list:
    st = policy["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(v):
    return v if isinstance(v, list) else [v]


def test_default_key_policy_lets_account_root_do_everything(kms, new_key):
    kid = new_key()["KeyId"]
    resp = kms.get_key_policy(KeyId=kid, PolicyName="default")
    policy = json.loads(resp["Policy"])
    assert policy["Version"] == "2012-10-17"
    root = f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert any(
        s.get("Effect") == "Allow"
        and "kms:*" in as_list(s.get("Action"))
        and root in as_list((s.get("Principal") or {}).get("AWS"))
        and "*" in as_list(s.get("Resource"))
        for s in statements(policy)
    ), policy


def test_get_key_policy_without_policy_name_defaults_to_default(kms, new_key):
    kid = new_key()["KeyId"]
    resp = kms.get_key_policy(KeyId=kid)
    assert json.loads(resp["Policy"]) == json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
    assert resp.get("PolicyName") == "default"


def custom_policy(marker: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": marker,
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def test_put_key_policy_then_get_key_policy_returns_it(kms, new_key):
    kid = new_key()["KeyId"]
    policy = custom_policy("put-" + uuid.uuid4().hex)
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=policy)
    got = kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]
    assert json.loads(got) == json.loads(policy)


def test_put_key_policy_without_policy_name_sets_default(kms, new_key):
    kid = new_key()["KeyId"]
    policy = custom_policy("noname-" + uuid.uuid4().hex)
    kms.put_key_policy(KeyId=kid, Policy=policy)
    assert json.loads(kms.get_key_policy(KeyId=kid)["Policy"]) == json.loads(policy)
    assert kms.list_key_policies(KeyId=kid)["PolicyNames"] == ["default"]


def test_create_key_with_policy_stores_it(kms):
    policy = custom_policy("create-" + uuid.uuid4().hex)
    kid = kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    assert json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]) == json.loads(policy)


@pytest.mark.parametrize("policy", ["{not json", "[]", '"just a string"'], ids=["garbage", "array", "string"])
def test_put_key_policy_invalid_json_is_malformed_policy_document(kms, new_key, policy):
    kid = new_key()["KeyId"]
    before = kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]
    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=kid, PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"] == before


def test_create_key_with_invalid_policy_is_malformed_policy_document(kms):
    expect_error("MalformedPolicyDocumentException", kms.create_key, Policy="{oops")


def test_list_key_policies_is_default(kms, new_key):
    kid = new_key()["KeyId"]
    resp = kms.list_key_policies(KeyId=kid)
    assert resp["PolicyNames"] == ["default"]
    assert resp["Truncated"] is False


def test_get_key_policy_unknown_key_is_not_found(kms):
    expect_error("NotFoundException", kms.get_key_policy, KeyId=str(uuid.uuid4()), PolicyName="default")
