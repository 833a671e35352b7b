# Shared by bench/run, bench/peer-moto and bench/profile (sourced, not run).
# Every process started here is recorded in PIDS and stopped by its PID: bench_cleanup runs
# on any exit (the caller sets the trap with bench_traps).

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
VENV="$BENCH/.venv"
# The bench workspace's build output (CARGO_TARGET_DIR is honoured, as cargo does).
BENCH_TARGET="${CARGO_TARGET_DIR:-$BENCH/target}"
BIN="$BENCH_TARGET/release"

# The admin key trentd is started with, and that the load generator signs with.
export TRENT_BENCH_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export TRENT_BENCH_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'

PIDS=()
WORK=""
# Prefixes for the servers under test and for the load generator: empty by default, `taskset
# -c CPU` in pinned mode (bench_pin), so that every server gets the same one core.
SERVER_PIN=()
CLIENT_PIN=()
PINNING="none"
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

# bench_pin SERVER_CPU CLIENT_CPU: every server started from now on runs on SERVER_CPU only,
# and the load generator (run behind "${CLIENT_PIN[@]}") on CLIENT_CPU only.
bench_pin() {
    local server_cpu="$1" client_cpu="$2"
    command -v taskset >/dev/null || { echo "bench: --pinned needs taskset (util-linux)" >&2; return 2; }
    taskset -c "$server_cpu" true 2>/dev/null || { echo "bench: cannot pin to CPU $server_cpu" >&2; return 2; }
    taskset -c "$client_cpu" true 2>/dev/null || { echo "bench: cannot pin to CPU $client_cpu" >&2; return 2; }
    SERVER_PIN=(taskset -c "$server_cpu")
    CLIENT_PIN=(taskset -c "$client_cpu")
    PINNING="each server on CPU $server_cpu only, the load generator on CPU $client_cpu only (taskset)"
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_listen PORT PID NAME LOG: waits (at most 20 s) until 127.0.0.1:PORT accepts connections.
wait_listen() {
    local port="$1" pid="$2" name="$3" log="$4" _
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited:" >&2; cat "$log" >&2; return 1; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "bench: $name did not listen on $port within 20 s" >&2
    return 1
}

# start_baseline: sets BASE_PID and BASE_URL.
start_baseline() {
    "${SERVER_PIN[@]+"${SERVER_PIN[@]}"}" "$BIN/bench-baseline" --listen 127.0.0.1:0 --ready-file "$WORK/baseline.ready" >"$WORK/baseline.log" 2>&1 &
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
    local port
    port="$(free_port)"
    "${SERVER_PIN[@]+"${SERVER_PIN[@]}"}" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    PIDS+=("$MOTO_PID")
    wait_listen "$port" "$MOTO_PID" moto "$WORK/moto.log"
    MOTO_URL="http://127.0.0.1:$port"
}

# install_nginx: Debian's nginx, when the machine has none. Its system service is not used (on
# images with a policy-rc.d that denies it, it is not even started); if installing it did start
# one, that one is stopped again, so only the nginx started by start_nginx (by PID) serves.
install_nginx() {
    command -v nginx >/dev/null && return 0
    echo "== installing nginx (apt-get)" >&2
    local had_pid=0 log="${WORK:-/tmp}/nginx-install.log"
    [ -e /run/nginx.pid ] && had_pid=1
    if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
        || { apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx; }; } >"$log" 2>&1; then
        echo "bench: could not install nginx:" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
    if [ "$had_pid" = 0 ] && [ -s /run/nginx.pid ]; then
        nginx -s quit 2>/dev/null || true
    fi
    command -v nginx >/dev/null
}

# start_nginx: nginx as a second HTTP ceiling. One process (`master_process off`, so the PID
# measured is the one serving, as `worker_processes 1` would), `return 200` with the same canned
# Encrypt answer as bench-baseline (`bench-baseline --print-canned`), no access log, keep-alive
# without a request limit, on a free 127.0.0.1 port; config, logs and temp files in $WORK/nginx.
# Sets NGINX_PID and NGINX_URL.
start_nginx() {
    local port body dir="$WORK/nginx"
    port="$(free_port)"
    mkdir -p "$dir"
    body="$("$BIN/bench-baseline" --print-canned)"
    case "$body" in *"'"* | *'$'* | *'\'*) echo "bench: the canned body cannot be quoted for nginx" >&2; return 1 ;; esac
    cat >"$dir/nginx.conf" <<EOF
# Written by bench/lib.sh (start_nginx) for one benchmark run.
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    server_tokens off;
    server {
        listen 127.0.0.1:$port;
        default_type application/x-amz-json-1.1;
        location / {
            add_header x-amzn-requestid 00000000-0000-4000-8000-000000000000;
            return 200 '$body';
        }
    }
}
EOF
    "${SERVER_PIN[@]+"${SERVER_PIN[@]}"}" nginx -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" >"$WORK/nginx.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_listen "$port" "$NGINX_PID" nginx "$WORK/nginx.log"
    NGINX_URL="http://127.0.0.1:$port"
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
