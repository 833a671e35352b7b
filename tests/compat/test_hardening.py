"""One request must not hurt the server: invented regions, overflowing numbers, two servers on
one data dir, slow clients (the connection flood itself is tested in Rust:
crates/trent-server/tests/hardening.rs)."""

import base64
import socket
import stat
import subprocess
import time

import pytest

from conftest import expect_error, make_kms_client, make_sm_client, make_ssm_client, trentd_binary


@pytest.mark.parametrize("region", ["xx-region-0", "us-east-99", "aws-global"])
def test_a_region_aws_does_not_have_is_refused_by_every_service(trent, region):
    for make, call in [
        (make_kms_client, lambda c: c.list_keys()),
        (make_ssm_client, lambda c: c.describe_parameters()),
        (make_sm_client, lambda c: c.list_secrets()),
    ]:
        err = expect_error("InvalidSignatureException", call, make(trent.base_url, region=region))
        assert "valid region" in err.response["Error"]["Message"]
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_real_regions_of_other_partitions_are_served(trent):
    for region in ["ap-southeast-7", "us-iso-east-1", "eusc-de-east-1"]:
        assert "Keys" in make_kms_client(trent.base_url, region=region).list_keys()


def test_an_extra_region_is_served_and_others_still_refused(trent_factory):
    srv = trent_factory({"TRENT_EXTRA_REGIONS": "lab-east-1,lab-west-2"})
    md = make_kms_client(srv.base_url, region="lab-west-2").create_key()["KeyMetadata"]
    assert md["Arn"].startswith("arn:aws:kms:lab-west-2:")
    expect_error("InvalidSignatureException", make_kms_client(srv.base_url, region="lab-north-1").list_keys)


def test_replica_regions_must_be_real(trent):
    kms = make_kms_client(trent.base_url)
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    expect_error("UnsupportedOperationException", kms.replicate_key, KeyId=key, ReplicaRegion="xx-region-1")
    sm = make_sm_client(trent.base_url)
    expect_error(
        "InvalidParameterException",
        sm.create_secret,
        Name=f"hardening-{time.time_ns()}",
        SecretString="v",
        AddReplicaRegions=[{"Region": "xx-region-1"}],
    )


def test_a_policy_duration_that_overflows_is_refused(trent):
    ssm = make_ssm_client(trent.base_url)
    policies = (
        '[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-01-01T00:00:00.000Z"}},'
        '{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"9223372036854775807","Unit":"Days"}}]'
    )
    expect_error(
        "InvalidPolicyAttributeException",
        ssm.put_parameter,
        Name=f"/hardening/{time.time_ns()}",
        Value="v",
        Type="String",
        Tier="Advanced",
        Policies=policies,
    )
    ssm.put_parameter(Name=f"/hardening/ok-{time.time_ns()}", Value="v", Type="String")


def test_a_next_token_at_the_largest_offset_is_an_empty_page(trent):
    sm = make_sm_client(trent.base_url)
    token = base64.b64encode(b"offset:18446744073709551615").decode()
    assert sm.list_secrets(NextToken=token)["SecretList"] == []


def test_a_second_trentd_on_one_data_dir_exits_and_names_the_first(trent_factory):
    first = trent_factory()
    out = subprocess.run(
        [str(trentd_binary()), "--data-dir", str(first.data_dir), "--listen", "127.0.0.1:0"],
        env=first.env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert f"in use by another trentd (pid {first.proc.pid})" in out.stderr
    assert "Keys" in make_kms_client(first.base_url).list_keys()


def test_a_silent_connection_is_closed_after_the_header_timeout(trent_factory):
    srv = trent_factory({"TRENT_HEADER_READ_TIMEOUT_SECS": "1"})
    host, port = srv.base_url.removeprefix("http://").rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.settimeout(10)
    started = time.monotonic()
    assert s.recv(1) == b""
    assert time.monotonic() - started < 5
    assert "Keys" in make_kms_client(srv.base_url).list_keys()


def test_the_data_dir_is_readable_by_its_owner_only(trent_factory):
    srv = trent_factory()
    make_kms_client(srv.base_url).create_key()
    for path in [srv.data_dir, *srv.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
