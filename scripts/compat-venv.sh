#!/usr/bin/env bash
# Creates <repo>/.venv (if missing) and installs tests/compat/requirements.txt into it.
# Idempotent: the install is skipped when the requirements file is unchanged since the
# last successful install (a stamp file in the venv holds its hash).
# Prints the venv's python path as the last line of output.
#
# Usage: scripts/compat-venv.sh            then: "$(scripts/compat-venv.sh | tail -n1)" -m pytest tests/compat
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${COMPAT_VENV:-$repo/.venv}"
req="$repo/tests/compat/requirements.txt"
stamp="$venv/.compat-requirements.sha256"
python="${PYTHON:-python3}"

if [ ! -f "$req" ]; then
    echo "compat-venv: $req not found" >&2
    exit 1
fi

# (Re)create the venv when it is missing or broken (e.g. its interpreter was removed).
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "compat-venv: creating $venv" >&2
    if ! "$python" -m venv --clear "$venv"; then
        echo "compat-venv: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
        exit 1
    fi
    rm -f "$stamp"
fi

# Hash the requirements together with the venv's Python version, so a venv rebuilt on
# another interpreter reinstalls.
want="$( { cat "$req"; "$venv/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"

if [ "$want" != "$have" ]; then
    echo "compat-venv: installing $(basename "$req") into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" > "$stamp"
fi

# The AWS SDK for JavaScript v3 (tests/compat/test_js_sdk.py): npm ci from the committed lock file.
js="$repo/tests/compat/js"
if [ -f "$js/package-lock.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "compat-venv: npm not found; install Node.js (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
    js_want="$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)"
    js_have="$(cat "$js/node_modules/.compat-lock.sha256" 2>/dev/null || true)"
    if [ "$js_want" != "$js_have" ]; then
        echo "compat-venv: npm ci in $js" >&2
        (cd "$js" && npm ci --no-audit --no-fund --loglevel=error >&2)
        echo "$js_want" > "$js/node_modules/.compat-lock.sha256"
    fi
fi

# Headless Chromium for the web console's browser tests (tests/compat/test_console.py):
# Debian's package, which Playwright launches (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "compat-venv: installing chromium (apt-get)" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 ||
            echo "compat-venv: apt-get install chromium failed; test_console.py will fail" >&2
    else
        echo "compat-venv: chromium not found; install it (Debian: apt-get install chromium) for test_console.py" >&2
    fi
fi

echo "$venv/bin/python"
