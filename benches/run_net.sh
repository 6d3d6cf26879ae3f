#!/usr/bin/env bash
# Sets eddy's TCP echo server (examples/echo_server.c) beside the network
# peers (Go, Tokio, libuv, thread per connection; the peers' directory is
# given by NET_PEERS) on this machine: builds eddy (Release) and the peers,
# then measures
#   echo   examples/echo_load against each echo server: msgs/s and round-trip
#          percentiles (median over the rounds), then the ratios eddy/peer
#          and eddy's scaling from the fewest to the most workers
#   stuck  the peers' "run.sh stuck": echo round trips (their c/ping_client.c,
#          4 clients, 64 B every 2 ms each) while one task of the server spins
#          HOG_MS ms at a time without yielding, beside the same without it
#   all    both (the default)
# Not run by CI.
#
#   NET_PEERS=/path/to/peers/net benches/run_net.sh [echo|stuck|all] [--eddy-only] [--no-build]
#
#   --eddy-only   measure eddy alone (stuck still builds the peers' ping_client)
#   --no-build    reuse the binaries of an earlier run
#
# NET_PEERS is the peers' directory (the one holding run.sh, c/, go/, tokio/);
# it is copied to $BUILD_DIR/netpeers and built there. Unset, the copy an
# earlier run (of this script, run_server.sh or run_http.sh) left there is
# built.
# A peer whose toolchain is missing is skipped with a message saying what
# to install; the others run.
#
# Knobs (environment):
#   DURATION=5        seconds of each echo_load run
#   CONNS="64 1000"   echo connections
#   WORKERS="1 2"     server workers: eddy's, Tokio's (its multi-thread
#                     runtime, also at 1), Go's GOMAXPROCS; libuv (one loop)
#                     and the thread server (a thread per connection) have
#                     none and run once per CONNS
#   SIZE=64           echo message bytes
#   LOAD_WORKERS=1    echo_load's own workers
#   ROUNDS=1          interleaved rounds; each run is its own server process
#   DURATION_STUCK=4 HOG_MS=100 STUCK_WORKERS=2   stuck: seconds of pinging,
#                     the hog's spin (and sleep), the servers' workers
#   EDDY_IO_BACKEND   epoll | uring: eddy's I/O backend (default: auto)
#   URING_ROW=eddy-uring  echo: also run eddy on io_uring (the eddy-uring
#                     rows) beside its default backend; URING_ROW= skips it
#   PORT_BASE=21000   ports are taken from here up, a fresh one per server
#                     (no TIME_WAIT left by the run before)
#   BUILD_DIR=build-bench   eddy's build directory (the peers are copied to
#                     and built in $BUILD_DIR/netpeers)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NET_SRC=${NET_PEERS:-}

DURATION=${DURATION:-5}
URING_ROW=${URING_ROW-eddy-uring}
CONNS=${CONNS:-"64 1000"}
WORKERS=${WORKERS:-"1 2"}
SIZE=${SIZE:-64}
LOAD_WORKERS=${LOAD_WORKERS:-1}
ROUNDS=${ROUNDS:-1}
DURATION_STUCK=${DURATION_STUCK:-4}
HOG_MS=${HOG_MS:-100}
STUCK_WORKERS=${STUCK_WORKERS:-2}
EDDY_IO_BACKEND=${EDDY_IO_BACKEND:-}
PORT_BASE=${PORT_BASE:-21000}
BUILD_DIR=${BUILD_DIR:-build-bench}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

MODE=all EDDY_ONLY=0 NO_BUILD=0
for a in "$@"; do
    case $a in
        echo|stuck|all) MODE=$a ;;
        --eddy-only) EDDY_ONLY=1 ;;
        --no-build) NO_BUILD=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_net.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
    esac
done

say() { echo "== $*" >&2; }
die() { echo "run_net.sh: $*" >&2; exit 1; }

case $EDDY_IO_BACKEND in
    ""|epoll|uring) ;;
    *) die "EDDY_IO_BACKEND must be epoll or uring, got '$EDDY_IO_BACKEND'" ;;
esac

SERVER="$BUILD_DIR/examples/echo_server"
LOAD="$BUILD_DIR/examples/echo_load"
# The peers are built from a copy: NET_PEERS may be read-only, and cargo
# writes tokio/Cargo.lock beside Cargo.toml. Outputs go to the copy's build/,
# where run.sh puts them; it is kept between runs (cargo's cache).
NET_DIR="$BUILD_DIR/netpeers"
NB="$NET_DIR/build"
PING="$NB/ping_client"
PEERS=(go tokio libuv threads)
declare -A PEER_BIN=([go]="$NB/netpeer-go" [tokio]="$NB/netpeer-tokio"
                     [libuv]="$NB/uv_server" [threads]="$NB/thread_server")
declare -A HAVE=()

command -v cmake >/dev/null 2>&1 || die "cmake not found: 'apt-get install cmake'"
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found"
# rustup installs cargo under ~/.cargo/bin, which a non-login shell may lack.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

# -------------------------------------------------------------------- build

# skip, peer_missing, build_peer, copy_peers, next_port, start, stop
. "$ROOT/benches/lib_peers.sh"

if [ "$NO_BUILD" != 1 ]; then
    say "building eddy (Release) in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=OFF \
        -DEDDY_BUILD_EXAMPLES=ON -DEDDY_BUILD_BENCHES=ON >/dev/null ||
        die "cmake configure failed (Google Benchmark: 'apt-get install libbenchmark-dev g++')"
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target echo_server echo_load >/dev/null ||
        die "eddy build failed (run: cmake --build $BUILD_DIR --target echo_server echo_load)"
    use_peers_copy "run.sh, c/, go/, tokio/"
    say "building the peers from a copy in $NET_DIR (outputs in $NB)"
    build_peer ping || true
    if [ "$EDDY_ONLY" != 1 ]; then
        for p in "${PEERS[@]}"; do build_peer "$p" || true; done
    fi
fi
[ -x "$SERVER" ] && [ -x "$LOAD" ] || die "eddy binaries missing in $BUILD_DIR/examples: run without --no-build"
if [ "$EDDY_ONLY" = 1 ]; then
    say "--eddy-only: measuring eddy alone"
else
    for p in "${PEERS[@]}"; do
        if [ -x "${PEER_BIN[$p]}" ]; then
            HAVE[$p]=1
        elif [ -z "${SKIPPED[$p]:-}" ]; then
            skip "$p" "no binary at ${PEER_BIN[$p]}"
        fi
    done
fi
if [ "$MODE" != echo ] && [ ! -x "$PING" ]; then
    die "the stuck mode needs $PING (the peers' c/ping_client.c): run without --no-build"
fi
have() { [ -n "${HAVE[$1]:-}" ]; }

# ------------------------------------------------------------------ servers

pids=()
cleanup() {
    local p
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 143' TERM INT

PORT=$PORT_BASE
SPID=
SLOG=$(mktemp)
trap 'cleanup; rm -f "$SLOG"' EXIT

# The command line of server NAME at WORKERS (eddy, tokio, go) with HOG ms.
server_cmd() { # name workers hog
    case $1 in
        eddy) CMD=("EDDY_IO_BACKEND=$EDDY_IO_BACKEND" "HOG_MS=$3" "$SERVER" "$PORT" "$2") ;;
        eddy-uring) CMD=("EDDY_IO_BACKEND=uring" "HOG_MS=$3" "$SERVER" "$PORT" "$2") ;;
        eddy-pin) CMD=("EDDY_IO_BACKEND=$EDDY_IO_BACKEND" "PIN_WORKERS=1" "HOG_MS=$3" "$SERVER" "$PORT" "$2") ;;
        tokio) CMD=("HOG_MS=$3" "${PEER_BIN[tokio]}" echo "$PORT" "$2") ;;
        go) CMD=("HOG_MS=$3" "GOMAXPROCS=$2" "${PEER_BIN[go]}" echo "$PORT") ;;
        libuv) CMD=("HOG_MS=$3" "${PEER_BIN[libuv]}" echo "$PORT") ;;
        threads) CMD=("HOG_MS=$3" "${PEER_BIN[threads]}" echo "$PORT") ;;
    esac
}

mkdir -p "$NET_DIR"
RESULTS="$NET_DIR/results-$MODE-$(date +%Y%m%d-%H%M%S).txt"
: >"$RESULTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "$(nproc) cores; rounds=$ROUNDS; open files: $(ulimit -n); eddy I/O backend: ${EDDY_IO_BACKEND:-auto}"
say "raw lines go to $RESULTS"

# ---------------------------------------------------------------------- echo

# One echo_load run against server NAME (workers label WL); one raw line.
echo_cell() { # round conns name workers-label workers
    local round=$1 c=$2 name=$3 wl=$4 w=$5 out rc=0 head
    head="round=$round server=$name workers=$wl"
    next_port
    server_cmd "$name" "$w" 0
    if ! start "$name" "${CMD[@]}"; then
        echo "$head conns=$c msgs_per_s=- failed=start" | tee -a "$RESULTS" >&2
        return
    fi
    out=$(timeout $((DURATION + 120)) "$LOAD" 127.0.0.1 "$PORT" "$c" "$SIZE" "$DURATION" \
        "$LOAD_WORKERS" 2>&1) || rc=$?
    # the server's CPU time (all threads, user + system) for the run: the
    # cost per message, which the shared cores do not cap as they cap msgs/s
    local cpu
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$SPID/stat" 2>/dev/null ||
        echo -)
    stop "$name"
    if grep -q 'msgs_per_s=' <<<"$out"; then
        echo "$head $(grep 'msgs_per_s=' <<<"$out" | tail -1) server_cpu_s=$cpu" | tee -a "$RESULTS" >&2
        [ "$rc" = 0 ] || echo "run_net.sh: echo_load against $name exited $rc: $out" >&2
    else
        echo "run_net.sh: echo_load against $name failed (exit $rc): $out" >&2
        echo "$head conns=$c msgs_per_s=- failed=load" | tee -a "$RESULTS" >&2
    fi
}

echo_mode() {
    local maxc=0 c round name w order=""
    for c in $CONNS; do [ "$c" -gt "$maxc" ] && maxc=$c; done
    [ "$(ulimit -n)" -gt $((maxc + 100)) ] ||
        echo "run_net.sh: open files limited to $(ulimit -n): $maxc connections may fail" >&2
    for round in $(seq 1 "$ROUNDS"); do
        for c in $CONNS; do
            for w in $WORKERS; do
                for name in eddy $URING_ROW tokio go; do
                    case $name in eddy*) ;; *) have "$name" || continue ;; esac
                    echo_cell "$round" "$c" "$name" "$w" "$w"
                done
            done
            have libuv && echo_cell "$round" "$c" libuv loop 1
            have threads && echo_cell "$round" "$c" threads threads 1
        done
    done
    for c in $CONNS; do
        for name in eddy $URING_ROW tokio go; do for w in $WORKERS; do order+=" $name:$w:$c"; done; done
        order+=" libuv:loop:$c threads:threads:$c"
    done
    local wlo whi
    wlo=$(awk '{print $1}' <<<"$WORKERS") whi=$(awk '{print $NF}' <<<"$WORKERS")
    echo
    echo "echo: $(nproc) cores; echo_load: $SIZE B messages, ${DURATION} s, $LOAD_WORKERS worker(s);" \
        "median of $ROUNDS round(s); raw lines: $RESULTS"
    echo "workers: eddy workers, Tokio multi-thread workers, Go GOMAXPROCS; libuv one loop; threads: one per connection"
    echo "eddy I/O backend: ${EDDY_IO_BACKEND:-auto}"
    awk -v order="$order" -v wlo="$wlo" -v whi="$whi" '
    function median(key, f,    n, i, j, t, a) {
        n = split(vals[key, f], a, " ")
        if (n == 0) return ""
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function cell(x, fmt) { return x == "" ? "-" : sprintf(fmt, x) }
    function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
    function label(w) { return w == "loop" ? "1 loop" : w }
    {
        delete kv
        for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
        key = kv["server"] ":" kv["workers"] ":" kv["conns"]
        seen[key] = 1
        if (kv["msgs_per_s"] == "-") { failed[key]++; next }
        split("msgs_per_s p50_ms p99_ms p999_ms", fs, " ")
        for (i in fs) vals[key, fs[i]] = vals[key, fs[i]] " " kv[fs[i]]
        if (kv["server_cpu_s"] != "" && kv["server_cpu_s"] != "-" && kv["msgs"] > 0)
            vals[key, "us_msg"] = vals[key, "us_msg"] " " kv["server_cpu_s"] * 1e6 / kv["msgs"]
        errors[key] += kv["errors"]
    }
    END {
        printf "%-10s %7s %6s %11s %9s %9s %9s %10s %7s\n", "server", "workers", "conns", "msgs_per_s",
            "p50_ms", "p99_ms", "p999_ms", "cpu_us/msg", "errors"
        n = split(order, keys, " ")
        for (i = 1; i <= n; i++) {
            k = keys[i]
            if (!(k in seen)) continue
            split(k, p, ":")
            printf "%-10s %7s %6s %11s %9s %9s %9s %10s %7s%s\n", p[1], label(p[2]), p[3],
                cell(median(k, "msgs_per_s"), "%.0f"), cell(median(k, "p50_ms"), "%.3f"),
                cell(median(k, "p99_ms"), "%.3f"), cell(median(k, "p999_ms"), "%.3f"),
                cell(median(k, "us_msg"), "%.2f"), errors[k] + 0,
                failed[k] ? sprintf("  (%d run(s) failed)", failed[k]) : ""
        }
        print ""
        printf "ratios: eddy msgs/s at %s workers / the peer'"'"'s (> 1: eddy ahead; Tokio and Go at %s too);\n", whi, whi
        printf "scaling: eddy msgs/s at %s workers / at %s\n", whi, wlo
        printf "%6s %9s %9s %9s %11s %9s\n", "conns", "vs_tokio", "vs_go", "vs_libuv", "vs_threads", "scaling"
        for (i = 1; i <= n; i++) {
            split(keys[i], p, ":")
            if (p[1] != "eddy" || p[2] != whi) continue
            c = p[3]
            e = median("eddy:" whi ":" c, "msgs_per_s")
            printf "%6s %9s %9s %9s %11s %9s\n", c,
                ratio(e, median("tokio:" whi ":" c, "msgs_per_s")), ratio(e, median("go:" whi ":" c, "msgs_per_s")),
                ratio(e, median("libuv:loop:" c, "msgs_per_s")), ratio(e, median("threads:threads:" c, "msgs_per_s")),
                wlo == whi ? "-" : ratio(e, median("eddy:" wlo ":" c, "msgs_per_s"))
        }
    }' "$RESULTS"
}

# --------------------------------------------------------------------- stuck

stuck_mode() {
    local round name h out line
    echo
    echo "stuck: echo round trips, 4 clients pinging 64 B every 2 ms, $DURATION_STUCK s; hog: one task spins" \
        "${HOG_MS} ms, sleeps ${HOG_MS} ms"
    echo "eddy, Tokio: $STUCK_WORKERS workers (eddy-pin: pinned to CPUs); Go: GOMAXPROCS $STUCK_WORKERS; libuv one loop; threads: one per connection"
    printf '%-8s %8s %8s %10s %10s %10s\n' peer hog_ms pings p50_ms p99_ms max_ms
    for round in $(seq 1 "$ROUNDS"); do
        for name in eddy eddy-pin go tokio libuv threads; do
            case $name in eddy*) ;; *) have "$name" || continue ;; esac
            for h in 0 "$HOG_MS"; do
                next_port
                server_cmd "$name" "$STUCK_WORKERS" "$h"
                start "$name" "${CMD[@]}" || continue
                out=$(timeout $((DURATION_STUCK + 60)) "$PING" "$PORT" "$DURATION_STUCK" 4 2>&1 || true)
                stop "$name"
                line=$(grep 'pings=' <<<"$out" | tail -1 || true)
                echo "mode=stuck round=$round peer=$name hog_ms=$h ${line:-pings=- failed=$out}" >>"$RESULTS"
                awk -v p="$name" -v h="$h" '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
                    END {printf "%-8s %8s %8s %10s %10s %10s\n", p, h, v["pings"], v["p50_ms"], v["p99_ms"], v["max_ms"]}' <<<"$line"
                case $line in
                    *errors=0*) ;;
                    *) echo "run_net.sh: ping_client against $name (hog $h): ${out:-no output}" >&2 ;;
                esac
            done
        done
    done
}

case $MODE in
    echo) echo_mode ;;
    stuck) stuck_mode ;;
    all) echo_mode; stuck_mode ;;
esac
