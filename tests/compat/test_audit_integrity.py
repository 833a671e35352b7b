"""The audit trail against truncation, end to end: trentd keeps a signed head of its chain in the
store, refuses to start on a trail cut back before it (unless `--accept-audit-truncation`, which
records the gap), `trent audit verify DATA_DIR` reports the cut, and LookupEvents pages through
the index across a restart."""

from __future__ import annotations

import json
import subprocess
import time

from conftest import make_service_client
from test_audit import trent_cli


def verify(path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([str(trent_cli()), "audit", "verify", str(path), *extra], capture_output=True, text=True,
                          timeout=60)


def trail_lines(srv) -> list[str]:
    (f,) = sorted((srv.data_dir / "audit").glob("trail-*.jsonl"))
    return f.read_text().splitlines(keepends=True)


def test_a_cut_trail_is_reported_truncated_and_stops_trentd_until_accepted(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.describe_key(KeyId=key)
    assert srv.terminate() == 0
    pub = srv.data_dir / "audit" / "signing-key.pub"
    ok = verify(srv.data_dir, "--public-key", str(pub))
    assert ok.returncode == 0 and "reaches the signed head" in ok.stdout, ok.stdout + ok.stderr

    lines = trail_lines(srv)
    (f,) = sorted((srv.data_dir / "audit").glob("trail-*.jsonl"))
    f.write_text("".join(lines[:-3]))  # the last event, the closing digest... cut
    # The trail alone still chains; its records after the last digest are flagged (exit 2).
    alone = verify(srv.data_dir / "audit")
    assert alone.returncode == 2 and "UNSEALED TAIL" in alone.stdout, alone.stdout + alone.stderr
    # With the data dir, the signed head in the store shows the cut.
    cut = verify(srv.data_dir, "--public-key", str(pub))
    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert "TRUNCATED" in cut.stdout and f"ends at sequence number {len(lines) - 3}" in cut.stdout, cut.stdout

    proc = srv.spawn()
    assert proc.wait(timeout=30) != 0
    err = srv.stderr()
    assert f"expected at least {len(lines)}" in err and "--accept-audit-truncation" in err, err

    srv.start({"TRENT_ACCEPT_AUDIT_TRUNCATION": "true"})
    kms = make_service_client("kms", srv.base_url)
    kms.describe_key(KeyId=key)
    assert srv.terminate() == 0
    gap = json.loads(trail_lines(srv)[len(lines) - 3])
    assert gap["eventName"] == "AcceptAuditTruncation" and gap["continuesAfterSequenceNumber"] == len(lines) - 3
    again = verify(srv.data_dir, "--public-key", str(pub))
    assert again.returncode == 0, again.stdout + again.stderr
    srv.start()  # the head follows the trail again
    assert srv.terminate() == 0


def test_lookup_events_pages_across_a_restart(trent_factory):
    srv = trent_factory()
    kms = make_service_client("kms", srv.base_url)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(5):
        kms.describe_key(KeyId=key)
    srv.restart()
    ct = make_service_client("cloudtrail", srv.base_url)
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}],
        PaginationConfig={"PageSize": 2})
    ids = [e["EventId"] for p in pages for e in p["Events"]]
    assert len(ids) == 5 and len(set(ids)) == 5
    start = time.time() - 3600
    recent = ct.lookup_events(StartTime=start, LookupAttributes=[{"AttributeKey": "ResourceName",
                                                                 "AttributeValue": key}])
    assert [e["EventName"] for e in recent["Events"]][-1] == "CreateKey"
