"""The AWS SDK for JavaScript v3 (its own SigV4 signer, HTTP stack and serializers) drives KMS,
Parameter Store and Secrets Manager on trentd. `scripts/compat-venv.sh` installs it (npm ci)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

JS = pathlib.Path(__file__).parent / "js"


def test_aws_sdk_for_javascript_v3_works_unchanged(trent):
    node = shutil.which("node")
    assert node, "node is needed for this test (Node.js 18+)"
    assert (JS / "node_modules" / "@aws-sdk" / "client-kms").is_dir(), "run scripts/compat-venv.sh (it runs npm ci)"
    out = subprocess.run([node, "smoke.mjs", trent.base_url], cwd=JS, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("ok ") and int(out.stdout.split()[1]) == 8, out.stdout
