"""Request quotas: token buckets per account, region and quota, ThrottlingException (HTTP 400)
before any work is done, and the SDK's standard retry recovering."""

from __future__ import annotations

import math
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from conftest import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION
from test_audit import events


def client(service: str, base_url: str, region: str = REGION, retries: dict | None = None):
    """A boto3 client; by default one that never retries, so each throttled call is seen."""
    return boto3.session.Session().client(
        service,
        endpoint_url=base_url,
        region_name=region,
        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        config=Config(retries=retries or {"total_max_attempts": 1}),
    )


def retrying_client(service: str, base_url: str, region: str = REGION):
    """The SDK's standard retry mode, as applications use it."""
    return client(service, base_url, region, {"mode": "standard", "max_attempts": 10})


def burst(call, n: int, rate: float) -> tuple[int, list[ClientError]]:
    """Makes n calls back to back; checks that no more got through than a token bucket of
    `rate` per second (holding one second's worth, at least one) allows in the time they took,
    whatever the machine's speed. Returns (successes, throttled errors)."""
    ok, throttled = 0, []
    start = time.monotonic()
    for _ in range(n):
        try:
            call()
            ok += 1
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("ThrottlingException", "Throttling"):  # IAM/STS: Throttling
                raise
            throttled.append(e)
    allowed = math.floor(max(rate, 1.0) + rate * (time.monotonic() - start))
    assert allowed < n, f"the machine is too slow for this burst to mean anything ({allowed} >= {n})"
    assert ok <= allowed, f"{ok} calls got through a quota that allows {allowed}"
    assert ok >= min(n, math.floor(max(rate, 1.0))), f"only {ok} calls got through: the bucket starts full"
    return ok, throttled


def test_a_burst_past_the_quota_is_throttled_and_the_sdk_retry_recovers(trent_factory):
    srv = trent_factory({"TRENT_QUOTAS": "aws", "TRENT_QUOTA_OVERRIDES": "kms:symmetric=5"})
    kms = client("kms", srv.base_url)
    ok, throttled = burst(lambda: kms.generate_random(NumberOfBytes=16), 40, 5)
    e = throttled[0]
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.response["Error"]["Message"] == (
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    )
    # The quota is per region: eu-west-1's bucket is full.
    eu = client("kms", srv.base_url, region="eu-west-1")
    assert len(eu.generate_random(NumberOfBytes=16)["Plaintext"]) == 16
    # Encrypt, Decrypt and GenerateDataKey share the symmetric quota; with the SDK's standard
    # retry every call eventually succeeds.
    retrying = retrying_client("kms", srv.base_url)
    key = retrying.create_key()["KeyMetadata"]["KeyId"]
    for i in range(15):
        blob = retrying.encrypt(KeyId=key, Plaintext=b"p%d" % i)["CiphertextBlob"]
        assert retrying.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p%d" % i
    # Throttled requests are audited and counted.
    throttled_events = [ev for ev in events(srv, "GenerateRandom") if ev.get("errorCode") == "ThrottlingException"]
    assert len(throttled_events) == len(throttled)
    metrics = requests.get(srv.base_url + "/metrics", timeout=10).text
    samples = {s.name: s.value for fam in text_string_to_metric_families(metrics) for s in fam.samples}
    assert samples["trent_throttled_requests_total"] >= len(throttled)
    assert "trent_audit_queue_depth" in samples
    # 30 Encrypt/Decrypt calls with one key: its material was unwrapped once, then cached.
    hits = next(s.value for fam in text_string_to_metric_families(metrics) for s in fam.samples
                if s.name == "trent_key_cache_requests_total" and s.labels == {"result": "hit"})
    assert hits >= 25


def test_a_throttled_request_does_nothing(trent_factory):
    srv = trent_factory({"TRENT_QUOTAS": "aws", "TRENT_QUOTA_OVERRIDES": "kms:CreateKey=0.1"})
    kms = client("kms", srv.base_url)
    ok, throttled = burst(lambda: kms.create_key(), 5, 0.1)
    assert len(kms.list_keys()["Keys"]) == ok
    # A throttled state change never reached the operation, so it wrote no intent either.
    created = events(srv, "CreateKey")
    assert sum("errorCode" not in ev for ev in created) == ok
    assert sum(ev.get("errorCode") == "ThrottlingException" for ev in created) == len(throttled)


def test_aws_default_quotas_apply_without_overrides(trent_factory):
    srv = trent_factory({"TRENT_QUOTAS": "aws"})
    ssm = client("ssm", srv.base_url)
    # AWS's default PutParameter throughput is 3 per second.
    ok, throttled = burst(lambda: ssm.put_parameter(Name="/q/p", Value="v", Type="String", Overwrite=True), 30, 3)
    assert throttled[0].response["Error"]["Message"] == "Rate exceeded"
    # Other quotas are untouched by PutParameter's.
    assert ssm.get_parameter(Name="/q/p")["Parameter"]["Value"] == "v"
    # GetParametersForImport: one every four seconds.
    kms = client("kms", srv.base_url)
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    burst(
        lambda: kms.get_parameters_for_import(
            KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        ),
        3,
        0.25,
    )


def test_quotas_off_never_throttle(trent_factory):
    srv = trent_factory({"TRENT_QUOTAS": "off", "TRENT_QUOTA_OVERRIDES": "ssm:PutParameter=0.1"})
    ssm = client("ssm", srv.base_url)
    for _ in range(10):
        ssm.put_parameter(Name="/q/off", Value="v", Type="String", Overwrite=True)


@pytest.mark.parametrize("bad", ["kms:symmetric", "kms:symmetric=0", "nope:x=1", "kms:symmetric=fast"])
def test_bad_quota_overrides_stop_the_server_with_a_message(trent_factory, bad):
    srv = trent_factory({"TRENT_QUOTA_OVERRIDES": bad}, start=False)
    proc = srv.spawn()
    assert proc.wait(timeout=20) != 0
    assert "quota" in srv.stderr().lower() or "rate" in srv.stderr().lower(), srv.stderr()


def test_quotas_are_off_by_default(trent_factory):
    """Issue #18: ordinary client code (four PutParameter calls, GetParameter loops, IAM calls)
    must not be throttled by a server started without --quotas."""
    srv = trent_factory()
    assert "TRENT_QUOTAS" not in srv.env()
    ssm = client("ssm", srv.base_url)
    for i in range(30):  # AWS's default is 3/s
        ssm.put_parameter(Name="/q/default", Value=f"v{i}", Type="String", Overwrite=True)
    for _ in range(30):
        ssm.get_parameters_by_path(Path="/q")
    iam = client("iam", srv.base_url)
    sts = client("sts", srv.base_url)
    for _ in range(30):
        iam.list_users()
        sts.get_caller_identity()
    assert len(ssm.get_parameter_history(Name="/q/default")["Parameters"]) == 30


def test_aws_quotas_give_iam_and_sts_their_rates_and_every_operation_can_be_set(trent_factory):
    srv = trent_factory({"TRENT_QUOTAS": "aws",
                         "TRENT_QUOTA_OVERRIDES": "iam:ListUsers=1,sts:GetCallerIdentity=2,ssm:GetParametersByPath=1"})
    iam = client("iam", srv.base_url)
    sts = client("sts", srv.base_url)
    # IAM's other actions keep the shared IAM quota (100/s), not the old 2/s fallback.
    for _ in range(20):
        iam.list_roles()
    # An operation given its own quota leaves the shared one: ListUsers 1/s, AWS's code `Throttling`.
    ok, throttled = burst(lambda: iam.list_users(), 6, 1)
    assert throttled[0].response["Error"]["Code"] == "Throttling"
    assert throttled[0].response["Error"]["Message"] == "Rate exceeded"
    # STS: its own override; the rest of STS (600/s) is untouched.
    burst(lambda: sts.get_caller_identity(), 8, 2)
    # GetParametersByPath leaves ssm:GetParameter: GetParameter still has its 40/s.
    ssm = client("ssm", srv.base_url)
    ssm.put_parameter(Name="/q/x", Value="v", Type="String")
    burst(lambda: ssm.get_parameters_by_path(Path="/q"), 6, 1)
    for _ in range(10):
        ssm.get_parameter(Name="/q/x")


@pytest.mark.parametrize("bad", ["kms:Encrypts=5", "ssm:GetParameterz=1", "iam:NotAnAction=1", "sts:x=1"])
def test_a_quota_name_that_names_no_operation_stops_the_server(trent_factory, bad):
    srv = trent_factory({"TRENT_QUOTAS": "aws", "TRENT_QUOTA_OVERRIDES": bad}, start=False)
    proc = srv.spawn()
    assert proc.wait(timeout=20) != 0
    assert "unknown quota name" in srv.stderr(), srv.stderr()
