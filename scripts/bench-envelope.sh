#!/usr/bin/env bash
# Envelope encryption end to end, side by side in one run (issue 25):
#   - the primitives on one core: `openssl speed -evp aes-256-gcm` and `sha384` (16 KiB blocks);
#   - `trent encrypt` / `trent decrypt` (release build) against the official `aws-encryption-cli`,
#     both with a KMS key in a trentd started here (127.0.0.1:0, stopped by PID on exit), same
#     suite, frame length 4096, for 0x0478 and 0x0578 on a file of $MIB MiB (default 256) in the
#     page cache: best of three wall-clock runs (process start, the KMS call, read, encrypt,
#     write; trent also fsyncs its output before renaming it into place, the Python CLI does not),
#     and the peak RSS of the three (GNU time's "Maximum resident set size", as `time -v` prints);
#   - trent on a $BIG_MIB MiB file (default 1024), once per suite;
#   - a directory of $NFILES files of 4 KiB (default 10000) with --recursive, trent and the CLI, once.
# Numbers on a shared machine are noisy: the load average is printed with them. Not a test.
#
# Usage: scripts/bench-envelope.sh     (env: MIB, BIG_MIB, NFILES, BENCH_DIR (default /tmp),
#        TRENT_BIN (else a release build), TRENTD_BIN (else the debug build), COMPAT_VENV (else
#        ./.venv, made by scripts/compat-venv.sh), TRENT_ENVELOPE_THREADS (default: all cores))
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
mib="${MIB:-256}"
big_mib="${BIG_MIB:-1024}"
nfiles="${NFILES:-10000}"
venv="${COMPAT_VENV:-$repo/.venv}"
py="$venv/bin/python"
cli="$venv/bin/aws-encryption-cli"
tgt="${CARGO_TARGET_DIR:-$repo/target}"
if [ -z "${TRENT_BIN:-}" ]; then
    cargo_cmd=(cargo)
    [ -x /work/bin/cargo-slot ] && cargo_cmd=(/work/bin/cargo-slot)
    "${cargo_cmd[@]}" build -q --release -p trent-cli
fi
trent="${TRENT_BIN:-$tgt/release/trent}"
trentd="${TRENTD_BIN:-$tgt/debug/trentd}"
for b in "$trent" "$trentd" "$cli"; do
    [ -x "$b" ] || { echo "missing $b (build trentd; make the venv with scripts/compat-venv.sh)" >&2; exit 1; }
done

work="$(mktemp -d "${BENCH_DIR:-/tmp}/trent-bench.XXXXXX")"
trentd_pid=""
cleanup() {
    if [ -n "$trentd_pid" ]; then kill "$trentd_pid" 2>/dev/null || true; wait "$trentd_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   trent $("$trent" --version 2>/dev/null || echo '?'), $("$cli" --version 2>&1 | head -n1)"

# One-core primitive speeds in MB/s (openssl speed prints thousands of bytes per second).
speed() { openssl speed -evp "$1" -bytes 16384 -seconds 3 2>/dev/null | tail -n1 | awk '{ v=$NF; sub(/k$/, "", v); printf "%.0f", v/1000 }'; }
aes_mbs="$(speed aes-256-gcm)"
sha_mbs="$(speed sha384)"
echo "   openssl speed, one core, 16 KiB blocks: AES-256-GCM $aes_mbs MB/s, SHA-384 $sha_mbs MB/s"

# trentd with one symmetric KMS key.
export TRENT_ADMIN_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE TRENT_ADMIN_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
TRENT_QUOTAS=off TRENT_LOG=warn "$trentd" --listen 127.0.0.1:0 --data-dir "$work/data" --ready-file "$work/ready" \
    > "$work/trentd.log" 2>&1 &
trentd_pid=$!
for _ in $(seq 1 400); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "trentd did not start:" >&2; cat "$work/trentd.log" >&2; exit 1; }
url="$(head -n1 "$work/ready")"
export AWS_ACCESS_KEY_ID="$TRENT_ADMIN_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$TRENT_ADMIN_SECRET_ACCESS_KEY"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_KMS="$url"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
arn="$("$py" -c 'import boto3; print(boto3.client("kms").create_key()["KeyMetadata"]["Arn"])')"

# best <runs> <command...>: prints "<best seconds> <peak RSS KiB over the runs>".
best() {
    local runs="$1"; shift
    local b="" m=0 s r
    for _ in $(seq 1 "$runs"); do
        /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
        read -r s r < "$work/time"
        b="$(awk -v a="$b" -v s="$s" 'BEGIN { print (a == "" || s < a) ? s : a }')"
        [ "$r" -gt "$m" ] && m="$r"
    done
    echo "$b $m"
}
mbs() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%.0f", m * 1.048576 / (s > 0 ? s : 0.001) }'; }
row() { # label, MiB, "secs rss"
    local s r; read -r s r <<< "$3"
    printf "   %-36s %7.2f s %7s MB/s   peak RSS %6.1f MiB\n" "$1" "$s" "$(mbs "$2" "$s")" "$(awk -v r="$r" 'BEGIN { print r/1024 }')"
}
secs() { echo "${1%% *}"; }

head -c "$((mib * 1024 * 1024))" /dev/urandom > "$work/plain"
cat "$work/plain" > /dev/null
sync
declare -A name=([0x0478]=AES_256_GCM_HKDF_SHA512_COMMIT_KEY [0x0578]=AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384)
for suite in 0x0478 0x0578; do
    echo "== $mib MiB, suite $suite, frame 4096, KMS key in trentd, best of 3"
    te="$(best 3 "$trent" encrypt --key "$arn" --suite "$suite" "$work/plain" -o "$work/t.ct")"
    td="$(best 3 "$trent" decrypt --key "$arn" "$work/t.ct" -o "$work/t.pt")"
    cmp "$work/plain" "$work/t.pt"
    ce="$(best 3 "$cli" -e -S -q -w "key=$arn" --algorithm "${name[$suite]}" --frame-length 4096 -i "$work/plain" -o "$work/c.ct")"
    cd_="$(best 3 "$cli" -d -S -q -w "key=$arn" -i "$work/c.ct" -o "$work/c.pt")"
    cmp "$work/plain" "$work/c.pt"
    # The other side reads each one's output (interop, outside the timings).
    "$trent" decrypt --key "$arn" "$work/c.ct" -o "$work/x.pt" && cmp "$work/plain" "$work/x.pt"
    "$cli" -d -S -q -w "key=$arn" -i "$work/t.ct" -o "$work/x.pt" && cmp "$work/plain" "$work/x.pt"
    row "trent encrypt" "$mib" "$te"
    row "trent decrypt" "$mib" "$td"
    row "aws-encryption-cli encrypt" "$mib" "$ce"
    row "aws-encryption-cli decrypt" "$mib" "$cd_"
    if [ "$suite" = 0x0478 ]; then prim="$aes_mbs"; pname="AES-256-GCM"; else prim="$sha_mbs"; pname="SHA-384"; fi
    awk -v te="$(secs "$te")" -v td="$(secs "$td")" -v ce="$(secs "$ce")" -v cd="$(secs "$cd_")" \
        -v m="$mib" -v p="$prim" -v pn="$pname" 'BEGIN {
        printf "   trent vs aws-encryption-cli: encrypt %.1fx, decrypt %.1fx\n", ce/te, cd/td
        printf "   trent vs one-core %s (%d MB/s): encrypt %.2fx, decrypt %.2fx\n", pn, p,
            m*1.048576/te/p, m*1.048576/td/p }'
    rm -f "$work"/t.* "$work"/c.* "$work"/x.*
done

echo "== $big_mib MiB, trent only, once per suite"
rm -f "$work/plain"
head -c "$((big_mib * 1024 * 1024))" /dev/urandom > "$work/plain"
sync
for suite in 0x0478 0x0578; do
    row "trent encrypt $suite" "$big_mib" "$(best 1 "$trent" encrypt --key "$arn" --suite "$suite" "$work/plain" -o "$work/t.ct")"
    row "trent decrypt $suite" "$big_mib" "$(best 1 "$trent" decrypt --key "$arn" "$work/t.ct" -o "$work/t.pt")"
    cmp "$work/plain" "$work/t.pt"
    rm -f "$work"/t.*
done
rm -f "$work/plain"

echo "== $nfiles files of 4 KiB, --recursive, default suite (0x0578), once"
mkdir -p "$work/dir"
"$py" - "$work/dir" "$nfiles" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sub = os.path.join(d, f"d{i // 1000:02d}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"f{i:05d}"), "wb") as f:
        f.write(os.urandom(4096))
PY
sync
dir_mib="$(awk -v n="$nfiles" 'BEGIN { print n * 4096 / 1048576 }')"
row "trent encrypt --recursive" "$dir_mib" "$(best 1 "$trent" encrypt --recursive --key "$arn" "$work/dir" -o "$work/t.enc")"
row "trent decrypt --recursive" "$dir_mib" "$(best 1 "$trent" decrypt --recursive --key "$arn" "$work/t.enc" -o "$work/t.dec")"
diff -r "$work/dir" "$work/t.dec" > /dev/null
mkdir -p "$work/c.enc" "$work/c.dec"
row "aws-encryption-cli --recursive enc" "$dir_mib" \
    "$(best 1 "$cli" -e -r -S -q -w "key=$arn" --frame-length 4096 -i "$work/dir" -o "$work/c.enc")"
row "aws-encryption-cli --recursive dec" "$dir_mib" \
    "$(best 1 "$cli" -d -r -S -q -w "key=$arn" -i "$work/c.enc" -o "$work/c.dec")"
echo "   (files per second: divide $nfiles by the seconds; each file is one GenerateDataKey / Decrypt call)"
echo "== done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
