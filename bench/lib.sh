# Shared by bench/run, bench/peer-moto and bench/profile (sourced, not run).
# Every process started here is recorded in PIDS and stopped by its PID: bench_cleanup runs
# on any exit (the caller sets the trap with bench_traps).

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
VENV="$BENCH/.venv"
BIN="$BENCH/target/release"

# The admin key trentd is started with, and that the load generator signs with.
export TRENT_BENCH_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export TRENT_BENCH_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'

PIDS=()
WORK=""
KEEP_WORK="${KEEP_WORK:-0}"

# Stops one PID: SIGTERM, up to 10 s for a graceful exit, then SIGKILL.
stop_pid() {
    local pid="$1" _
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: PID $pid ignored SIGTERM for 10 s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

stop_and_forget() { stop_pid "$1"; forget_pid "$1"; }

bench_cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid"; done
    PIDS=()
    if [ -n "$WORK" ]; then
        if [ "$KEEP_WORK" = 1 ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
    fi
}

bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/trent-bench.XXXXXX")"
}

# wait_ready FILE PID: waits (at most 30 s) for FILE to hold a base URL, prints it.
wait_ready() {
    local file="$1" pid="$2" _
    for _ in $(seq 1 300); do
        if [ -s "$file" ]; then head -n1 "$file"; return 0; fi
        kill -0 "$pid" 2>/dev/null || { echo "bench: PID $pid exited before it was ready" >&2; return 1; }
        sleep 0.1
    done
    echo "bench: $file not written within 30 s" >&2
    return 1
}

# start_trentd BINARY [wrapper...]: starts trentd on 127.0.0.1:0 with a fresh data dir.
# Sets TRENT_PID and TRENT_URL. A wrapper (e.g. valgrind ...) runs trentd under it.
start_trentd() {
    local bin="$1"; shift
    mkdir -p "$WORK/trent"
    TRENT_ADMIN_ACCESS_KEY_ID="$TRENT_BENCH_ACCESS_KEY_ID" \
    TRENT_ADMIN_SECRET_ACCESS_KEY="$TRENT_BENCH_SECRET_ACCESS_KEY" \
    TRENT_LOG=warn \
    TRENT_QUOTAS=off \
        "$@" "$bin" --listen 127.0.0.1:0 --data-dir "$WORK/trent" --ready-file "$WORK/trent/ready" \
        >"$WORK/trentd.log" 2>&1 &
    TRENT_PID=$!
    PIDS+=("$TRENT_PID")
    TRENT_URL="$(wait_ready "$WORK/trent/ready" "$TRENT_PID")"
}

# start_baseline: sets BASE_PID and BASE_URL.
start_baseline() {
    "$BIN/bench-baseline" --listen 127.0.0.1:0 --ready-file "$WORK/baseline.ready" >"$WORK/baseline.log" 2>&1 &
    BASE_PID=$!
    PIDS+=("$BASE_PID")
    BASE_URL="$(wait_ready "$WORK/baseline.ready" "$BASE_PID")"
}

# install_moto: moto[server] into bench/.venv, skipped when it is already there.
install_moto() {
    if ! [ -x "$VENV/bin/moto_server" ] || ! "$VENV/bin/python" -c 'import moto, flask, cryptography' 2>/dev/null; then
        echo "== installing moto[server] into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
    fi
    MOTO_VERSION="$("$VENV/bin/python" -c 'import moto; print(moto.__version__)')"
    echo "== moto $MOTO_VERSION" >&2
}

# start_moto: moto's server on a free 127.0.0.1 port. Sets MOTO_PID and MOTO_URL.
start_moto() {
    local port _ ready=0
    port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    PIDS+=("$MOTO_PID")
    for _ in $(seq 1 200); do                      # up to 20 s for moto to listen
        kill -0 "$MOTO_PID" 2>/dev/null || { echo "bench: moto exited:" >&2; cat "$WORK/moto.log" >&2; return 1; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
        sleep 0.1
    done
    [ "$ready" = 1 ] || { echo "bench: moto did not listen on $port within 20 s" >&2; return 1; }
    MOTO_URL="http://127.0.0.1:$port"
}

build_bench() {
    echo "== building the bench workspace (release)" >&2
    (cd "$BENCH" && cargo build --release)
}

# build_trentd: sets TRENTD (respects a TRENTD given in the environment: no build then).
build_trentd() {
    if [ -n "${TRENTD:-}" ]; then
        echo "== using TRENTD=$TRENTD (not building trentd)" >&2
        [ -x "$TRENTD" ] || { echo "bench: $TRENTD is not executable" >&2; return 2; }
    else
        echo "== building trentd (release)" >&2
        (cd "$ROOT" && cargo build --release --bin trentd)
        TRENTD="${CARGO_TARGET_DIR:-$ROOT/target}/release/trentd"
    fi
}
