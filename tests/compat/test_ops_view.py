"""/health, /ready and Prometheus /metrics; metrics parse with the Prometheus text parser."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families


def test_health_and_ready(trent):
    assert requests.get(f"{trent.base_url}/health", timeout=5).json() == {"status": "ok"}
    r = requests.get(f"{trent.base_url}/ready", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_metrics_count_requests_by_operation_and_outcome(trent, kms, raw_call=None):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.encrypt(KeyId=key, Plaintext=b"m")
    try:
        kms.describe_key(KeyId="alias/does-not-exist")
    except kms.exceptions.NotFoundException:
        pass
    r = requests.get(f"{trent.base_url}/metrics", timeout=5)
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    requests_total = {
        (s.labels["service"], s.labels["operation"], s.labels["code"]): s.value
        for s in families["trent_requests"].samples
        if s.name == "trent_requests_total"
    }
    assert requests_total[("kms", "Encrypt", "OK")] >= 3
    assert requests_total[("kms", "DescribeKey", "NotFoundException")] >= 1
    hist = [s for s in families["trent_request_duration_seconds"].samples if s.labels.get("operation") == "Encrypt"]
    count = next(s.value for s in hist if s.name.endswith("_count"))
    inf = next(s.value for s in hist if s.name.endswith("_bucket") and s.labels["le"] == "+Inf")
    assert count == inf >= 3
    assert "trent_denied_requests" in families
