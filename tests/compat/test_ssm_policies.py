"""Parameter policies are applied on trentd's scheduler, driven by the test clock, and every
change and policy action lands in the events file as an EventBridge-shaped event."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import make_service_client

pytestmark = pytest.mark.slow

DAY = 86400


def ssm_client(base_url: str):
    return make_service_client("ssm", base_url)


def events(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def policy_actions(path, kind):
    return [e for e in events(path) if e["detail-type"] == "Parameter Store Policy Action" and e["detail"]["policy-type"] == kind]


def test_expiration_policy_notifies_then_deletes_on_the_test_clock(trent_factory, tmp_path):
    events_file = tmp_path / "events.jsonl"
    srv = trent_factory({"TRENT_EVENTS_FILE": str(events_file)})
    ssm = ssm_client(srv.base_url)
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policies = [
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": expires}},
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "1", "Unit": "Days"}},
    ]
    out = ssm.put_parameter(Name="/temp/token", Type="SecureString", Value="t0k3n", Tier="Advanced", Policies=json.dumps(policies))
    assert out["Tier"] == "Advanced"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/temp/token"]}])["Parameters"][0]
    assert sorted(p["PolicyType"] for p in meta["Policies"]) == ["Expiration", "ExpirationNotification"]
    created = wait_for(lambda: [e for e in events(events_file) if e["detail"].get("operation") == "Create"])
    assert created[0]["detail-type"] == "Parameter Store Change"
    assert created[0]["source"] == "aws.ssm"
    assert created[0]["resources"] == ["arn:aws:ssm:us-east-1:000000000000:parameter/temp/token"]

    srv.advance_clock(2 * DAY + 3600)
    notice = wait_for(lambda: policy_actions(events_file, "ExpirationNotification"))
    assert notice[0]["detail"]["parameter-name"] == "/temp/token"
    assert ssm.get_parameter(Name="/temp/token", WithDecryption=True)["Parameter"]["Value"] == "t0k3n"

    srv.advance_clock(DAY)
    def gone():
        try:
            ssm.get_parameter(Name="/temp/token")
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "ParameterNotFound"
    wait_for(gone)
    assert policy_actions(events_file, "Expiration")
    assert len(policy_actions(events_file, "ExpirationNotification")) == 1, "the notification is sent once"


def test_no_change_notification_fires_after_the_period(trent_factory, tmp_path):
    events_file = tmp_path / "events.jsonl"
    srv = trent_factory({"TRENT_EVENTS_FILE": str(events_file)})
    ssm = ssm_client(srv.base_url)
    policies = [{"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "2", "Unit": "Hours"}}]
    ssm.put_parameter(Name="/stale/config", Type="String", Value="v", Tier="Advanced", Policies=json.dumps(policies))
    time.sleep(1.5)
    assert not policy_actions(events_file, "NoChangeNotification")
    srv.advance_clock(3 * 3600)
    wait_for(lambda: policy_actions(events_file, "NoChangeNotification"))
    assert ssm.get_parameter(Name="/stale/config")["Parameter"]["Value"] == "v", "a notification deletes nothing"


def test_policies_need_the_advanced_tier_and_valid_attributes(trent_factory):
    srv = trent_factory()
    ssm = ssm_client(srv.base_url)
    good = json.dumps([{"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "2", "Unit": "Hours"}}])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/p/std", Type="String", Value="v", Tier="Standard", Policies=good)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    bad = json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "soon"}}])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/p/adv", Type="String", Value="v", Tier="Advanced", Policies=bad)
    assert e.value.response["Error"]["Code"] == "InvalidPolicyAttributeException"
    unknown = json.dumps([{"Type": "Rotate", "Version": "1.0", "Attributes": {}}])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/p/adv", Type="String", Value="v", Tier="Advanced", Policies=unknown)
    assert e.value.response["Error"]["Code"] == "InvalidPolicyTypeException"
