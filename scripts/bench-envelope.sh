#!/usr/bin/env bash
# Envelope encryption throughput, all measured in one run on this machine:
#   1. trent-envelope in-process (examples/throughput.rs): MB/s of encrypt_stream / decrypt_stream
#      against single-core AES-256-GCM and SHA-384 (aws-lc-rs), peak RSS.
#   2. `trent encrypt` / `trent decrypt` on a file vs the official Python aws-encryption-sdk
#      (streaming API, same raw AES key, same suite, same frame length): wall time and peak RSS.
# The Rust code is built with opt-level 3 for trent-envelope and trent-cli on top of the dev
# profile (dependencies at opt-level 1; aws-lc's AES-GCM and SHA are assembly either way), so no
# separate release build of the whole tree is needed.
#
# trent fsyncs its output before renaming it into place (all-or-nothing, durable); the Python
# SDK does not, so the file comparison is conservative for trent.
#
# Usage: scripts/bench-envelope.sh [MiB, default 1024]     (needs scripts/compat-venv.sh first)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
mib="${1:-1024}"
py="$repo/.venv/bin/python"
opt=(--config 'profile.dev.package.trent-envelope.opt-level=3' --config 'profile.dev.package.trent-cli.opt-level=3')

cargo build -q -p trent-envelope --example throughput "${opt[@]}"
cargo build -q -p trent-cli "${opt[@]}"

echo "== in-process ($mib MiB per pass)"
target/debug/examples/throughput "$mib" 4096 3

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom > "$work/aes.key"
head -c "$((mib * 1024 * 1024))" /dev/urandom > "$work/plain"
sync  # no write-back of the input competes with the runs below

measure() { # label, command...
    local label="$1"; shift
    sync
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
    read -r secs rss < "$work/time"
    awk -v l="$label" -v s="$secs" -v r="$rss" -v m="$mib" \
        'BEGIN { printf "%-44s %7.2f s  %8.0f MB/s  peak RSS %6.1f MiB\n", l, s, m*1.048576/(s>0?s:0.01), r/1024 }'
    echo "$secs" > "$work/last"
}

cat > "$work/sdk.py" <<'PY'
import sys
import aws_encryption_sdk
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider

mode, key_file, src, dst = sys.argv[1:5]
suite = int(sys.argv[5], 16) if len(sys.argv) > 5 else 0x0578
wk = WrappingKey(wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                 wrapping_key=open(key_file, "rb").read(), wrapping_key_type=EncryptionKeyType.SYMMETRIC)
P = type("P", (RawMasterKeyProvider,), {"provider_id": "bench", "_get_raw_key": lambda self, k: wk})
p = P()
p.add_master_key("k")
client = aws_encryption_sdk.EncryptionSDKClient()
kw = {"algorithm": Algorithm.get_by_id(suite), "frame_length": 4096} if mode == "e" else {}
with open(src, "rb") as fin, open(dst, "wb") as fout:
    with client.stream(mode=mode, source=fin, key_provider=p, **kw) as s:
        for chunk in s:
            fout.write(chunk)
PY

key=(--raw-key "bench:k:$work/aes.key")
for suite in 0x0578 0x0478; do
    echo "== files ($mib MiB, suite $suite, frame 4096, raw AES-256 key)"
    measure "trent encrypt" target/debug/trent encrypt --suite "$suite" "${key[@]}" "$work/plain" -o "$work/t.ct"
    te=$(cat "$work/last")
    measure "trent decrypt" target/debug/trent decrypt "${key[@]}" "$work/t.ct" -o "$work/t.pt"; td=$(cat "$work/last")
    cmp "$work/plain" "$work/t.pt"
    measure "python aws-encryption-sdk encrypt" "$py" "$work/sdk.py" e "$work/aes.key" "$work/plain" "$work/p.ct" "$suite"
    pe=$(cat "$work/last")
    measure "python aws-encryption-sdk decrypt" "$py" "$work/sdk.py" d "$work/aes.key" "$work/p.ct" "$work/p.pt"
    pd=$(cat "$work/last")
    cmp "$work/plain" "$work/p.pt"
    awk -v a="$te" -v b="$pe" -v c="$td" -v d="$pd" \
        'BEGIN { printf "trent vs Python SDK: encrypt %.1fx faster, decrypt %.1fx faster\n", b/a, d/c }'
    rm -f "$work"/t.* "$work"/p.*
done

# 3. With KMS: `trent` vs the official Python CLI (aws-encryption-cli), both against a trentd
#    started here on 127.0.0.1:0 (stopped by PID on exit), same key, default suite and frames.
trentd="${TRENTD_BIN:-$repo/target/debug/trentd}"
cli="$repo/.venv/bin/aws-encryption-cli"
if [ -x "$trentd" ] && [ -x "$cli" ]; then
    export TRENT_ADMIN_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE TRENT_ADMIN_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
    TRENT_LOG=warn "$trentd" --listen 127.0.0.1:0 --data-dir "$work/data" --ready-file "$work/ready" \
        > "$work/trentd.log" 2>&1 &
    trentd_pid=$!
    trap 'kill "$trentd_pid" 2>/dev/null || true; wait "$trentd_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
    for _ in $(seq 1 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
    url="$(head -n1 "$work/ready")"
    export AWS_ACCESS_KEY_ID="$TRENT_ADMIN_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$TRENT_ADMIN_SECRET_ACCESS_KEY"
    export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_KMS="$url"
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    arn="$("$py" -c 'import boto3; print(boto3.client("kms").create_key()["KeyMetadata"]["Arn"])')"
    echo "== files with a KMS key in trentd ($mib MiB, suite 0x0578, frame 4096)"
    measure "trent encrypt --key" target/debug/trent encrypt --key "$arn" "$work/plain" -o "$work/t.ct"; te=$(cat "$work/last")
    measure "trent decrypt --key" target/debug/trent decrypt --key "$arn" "$work/t.ct" -o "$work/t.pt"; td=$(cat "$work/last")
    cmp "$work/plain" "$work/t.pt"
    measure "aws-encryption-cli --encrypt" "$cli" --encrypt -i "$work/plain" -o "$work/p.ct" -S -w "key=$arn"
    pe=$(cat "$work/last")
    measure "aws-encryption-cli --decrypt" "$cli" --decrypt -i "$work/p.ct" -o "$work/p.pt" -S -w "key=$arn"
    pd=$(cat "$work/last")
    cmp "$work/plain" "$work/p.pt"
    awk -v a="$te" -v b="$pe" -v c="$td" -v d="$pd" \
        'BEGIN { printf "trent vs aws-encryption-cli: encrypt %.1fx faster, decrypt %.1fx faster\n", b/a, d/c }'
else
    echo "(skipping the KMS / aws-encryption-cli comparison: $trentd or $cli missing)"
fi
