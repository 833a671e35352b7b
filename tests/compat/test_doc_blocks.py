"""Every shell block of README.md and docs/*.md runs as written against `trentd --dev`.

The blocks of one file run in order in one bash session (`set -euo pipefail`, so a failing
command fails the block), in a scratch directory, with `aws` (the suite's AWS CLI) and `trent`
on PATH and the environment `trentd --dev` tells the user to paste. The server listens on a free
port, so `127.0.0.1:4599` in a block is replaced by its real address: the one substitution.
A block right after `<!-- skip-test: reason -->` is not run (it needs PostgreSQL, MariaDB, a
second server or a data dir the dev server does not have); the reason must be given.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import REPO, trentd_binary

FENCE = re.compile(r"^```(sh|bash|shell)\s*$")
SKIP = re.compile(r"^<!--\s*skip-test:\s*(\S.*?)\s*-->\s*$")
ALL_DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def shell_blocks(path: pathlib.Path) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason or None) for each sh/bash block of a Markdown file."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            m = SKIP.match(lines[j]) if j >= 0 else None
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            out.append((i + 1, "\n".join(lines[i + 1 : end]), m.group(1) if m else None))
            i = end + 1
        else:
            i += 1
    return out


def test_block_extraction_sees_fences_and_skip_markers(tmp_path):
    md = tmp_path / "x.md"
    md.write_text(
        "text\n```sh\necho one\n```\n\n<!-- skip-test: needs PostgreSQL -->\n```sh\necho two\n```\n"
        "```python\nprint(3)\n```\n<!-- skip-test: -->\n```bash\necho four\n```\n"
    )
    blocks = shell_blocks(md)
    assert [(c, r) for _, c, r in blocks] == [("echo one", None), ("echo two", "needs PostgreSQL"), ("echo four", None)]


# The files with at least one block to run (the others are checked for skip reasons only).
DOCS = [p for p in ALL_DOCS if any(reason is None for _, _, reason in shell_blocks(p))]


def test_every_skip_marker_gives_its_reason_and_the_readme_has_blocks_to_run():
    for doc in ALL_DOCS:
        for line, _, reason in shell_blocks(doc):
            assert reason is None or reason.strip(), f"{doc.name}:{line}: a skip-test marker needs its reason"
    assert REPO / "README.md" in DOCS


def trent_bin() -> pathlib.Path:
    return pathlib.Path(os.environ.get("TRENT_BIN") or trentd_binary().parent / "trent")


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("devserver")
    ready = work / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRENT_", "AWS_"))}
    env["TMPDIR"] = str(work)
    proc = subprocess.Popen(
        [str(trentd_binary()), "--dev", "--listen", "127.0.0.1:0", "--ready-file", str(ready)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 30
    while not (ready.exists() and ready.read_text().endswith("\n")):
        assert proc.poll() is None, "trentd --dev exited before it was ready"
        assert time.time() < deadline, "trentd --dev was not ready within 30 s"
        time.sleep(0.05)
    url = ready.read_text().strip()
    yield url, proc
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def test_dev_banner_prints_the_export_line_with_the_real_address(dev_server):
    url, proc = dev_server
    banner = ""
    deadline = time.time() + 10
    while "export AWS_ENDPOINT_URL" not in banner and time.time() < deadline:
        banner += proc.stdout.readline()
    assert (
        f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
        "AWS_DEFAULT_REGION=us-east-1" in banner
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_shell_block_runs_as_written_against_trentd_dev(doc, dev_server, tmp_path):
    url, _ = dev_server
    runnable = [(line, code) for line, code, reason in shell_blocks(doc) if reason is None]
    for tool in ("aws", "openssl", "jq", "tar", "base64"):
        assert shutil.which(tool), f"{tool} is needed to run the documentation's examples"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "trent").symlink_to(trent_bin())
    (tmp_path / "README.md").write_text((REPO / "README.md").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRENT_", "AWS_"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
        # What the trentd --dev banner says to paste.
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_PAGER="",
    )
    script = ["set -euo pipefail"]
    for line, code in runnable:
        script.append(f"echo '>>> {doc.name}:{line}' >&2")
        script.append(code.replace("http://127.0.0.1:4599", url))
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"a shell block of {doc.name} failed (the last '>>>' line names it):\n"
        f"--- stderr ---\n{result.stderr[-4000:]}\n--- stdout ---\n{result.stdout[-2000:]}"
    )
