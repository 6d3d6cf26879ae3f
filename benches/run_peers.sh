#!/usr/bin/env bash
# Sets eddy beside its peers (Tokio, Go: ../shared/peers/runtime) on this
# machine: builds eddy (Release) and the peer programs, runs the same
# workloads on all three in interleaved rounds, and prints ns/op with the
# ratios tokio/eddy and go/eddy (> 1: eddy is that many times faster).
# Not run by CI.
#
#   benches/run_peers.sh [--skip-idle] [--eddy-only] [--no-build]
#
#   --skip-idle   skip many_idle (1,000,000 sleeping tasks, slow)
#   --eddy-only   run eddy alone when a peer toolchain is missing
#   --no-build    reuse the binaries of an earlier run
#
# Knobs (environment), named as in the peers' run.sh:
#   ROUNDS=2          interleaved rounds; each measurement is its own process
#   ITERS=20 WARMUP=3 peers: timed repetitions (median) and untimed ones
#   WORKERS="1 2"     worker counts
#   WORKLOADS="spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn channel_throughput"
#   IDLE_SLEEPS_MS="10000"  many_idle sleeps (10 s: every task parked at once)
#   EDDY_MIN_TIME=0.5 EDDY_REPS=3  eddy_micro: --benchmark_min_time and
#                     --benchmark_repetitions (eddy's figure is the median of
#                     the repetitions' means)
#   HANG_S=30         eddy_micro's watchdog: a repetition stuck that long is a hang
#   RETRIES=2         extra attempts of an eddy cell that hung (counted in the table)
#   BUILD_DIR=build-bench   eddy's build directory (peers go to $BUILD_DIR/peers)
#
# eddy's ns/op is 1e9 / items_per_second of eddy_micro (wall time per
# operation, averaged over a run of repetitions); the peers' is the median of
# ITERS repetitions of the same workload (see ../shared/peers/runtime/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_SRC=$(cd "$ROOT/.." && pwd)/shared/peers/runtime

ROUNDS=${ROUNDS:-2}
ITERS=${ITERS:-20}
WARMUP=${WARMUP:-3}
WORKERS=${WORKERS:-"1 2"}
WORKLOADS=${WORKLOADS-"spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn channel_throughput"}
IDLE_SLEEPS_MS=${IDLE_SLEEPS_MS-"10000"}
EDDY_MIN_TIME=${EDDY_MIN_TIME:-0.5}
EDDY_REPS=${EDDY_REPS:-3}
HANG_S=${HANG_S:-30}
RETRIES=${RETRIES:-2}
BUILD_DIR=${BUILD_DIR:-build-bench}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

SKIP_IDLE=0 EDDY_ONLY=0 NO_BUILD=0
for a in "$@"; do
    case $a in
        --skip-idle) SKIP_IDLE=1 ;;
        --eddy-only) EDDY_ONLY=1 ;;
        --no-build) NO_BUILD=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_peers.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
    esac
done
[ "$SKIP_IDLE" = 1 ] && IDLE_SLEEPS_MS=""

say() { echo "== $*" >&2; }
die() { echo "run_peers.sh: $*" >&2; exit 1; }

MICRO="$BUILD_DIR/benches/eddy_micro"
IDLE="$BUILD_DIR/benches/eddy_many_idle"
# The peers are built from a copy: run.sh builds in place, and cargo writes
# tokio/Cargo.lock next to Cargo.toml, which must not happen inside
# ../shared (read-only to us). run.sh also resolves BUILD_DIR from inside
# tokio/ and go/ as "../$BUILD_DIR", so it must be a relative path: an
# absolute one would land under ../shared/peers/runtime.
PEERS_DIR="$BUILD_DIR/peers"
PEERS_COPY="$PEERS_DIR/src"
PEERS_OUT_REL=../out # relative to $PEERS_COPY, as run.sh wants
TOKIO_BIN="$PEERS_DIR/out/tokio-target/release/rtbench-tokio"
GO_BIN="$PEERS_DIR/out/rtbench-go"

# ------------------------------------------------------------ prerequisites

# rustup installs cargo under ~/.cargo/bin, which a non-login shell may lack.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
missing=()
[ -d "$PEERS_SRC" ] || missing+=("the peer programs: $PEERS_SRC does not exist")
command -v cargo >/dev/null 2>&1 ||
    missing+=("a Rust toolchain (cargo): rustup, or 'apt-get install cargo'")
ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1 ||
    missing+=("Tokio's sources in /usr/share/cargo/registry: 'apt-get install librust-tokio-dev'")
command -v go >/dev/null 2>&1 || missing+=("Go: 'apt-get install golang-go'")
HAVE_PEERS=1
if [ ${#missing[@]} -gt 0 ]; then
    HAVE_PEERS=0
    {
        echo "run_peers.sh: cannot build the Tokio and Go peers; missing:"
        for m in "${missing[@]}"; do echo "  - $m"; done
        echo "The Debian packages install with (as root): $PEERS_SRC/run.sh setup"
        echo "(apt-get install librust-tokio-dev golang-go; a Rust toolchain comes from rustup or 'apt-get install cargo')."
    } >&2
    [ "$EDDY_ONLY" = 1 ] || die "re-run with --eddy-only to measure eddy alone"
    say "--eddy-only: measuring eddy alone"
fi
command -v cmake >/dev/null 2>&1 || die "cmake not found: 'apt-get install cmake'"
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found"

# -------------------------------------------------------------------- build

if [ "$NO_BUILD" != 1 ]; then
    say "building eddy (Release) in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=OFF >/dev/null ||
        die "cmake configure failed (Google Benchmark: 'apt-get install libbenchmark-dev g++')"
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target eddy_micro eddy_many_idle >/dev/null ||
        die "eddy build failed (run: cmake --build $BUILD_DIR)"
    if [ "$HAVE_PEERS" = 1 ]; then
        say "building the peers from a copy in $PEERS_COPY (outputs in $PEERS_DIR/out)"
        rm -rf "$PEERS_COPY"
        mkdir -p "$PEERS_DIR"
        cp -R "$PEERS_SRC" "$PEERS_COPY"
        chmod -R u+w "$PEERS_COPY"
        rm -rf "$PEERS_COPY/build" "$PEERS_COPY/tokio/Cargo.lock"
        BUILD_DIR="$PEERS_OUT_REL" "$PEERS_COPY/run.sh" build ||
            die "building the peers failed (see above; setup: $PEERS_SRC/run.sh setup)"
    fi
fi
[ -x "$MICRO" ] && [ -x "$IDLE" ] || die "eddy binaries missing in $BUILD_DIR/benches: run without --no-build"
if [ "$HAVE_PEERS" = 1 ]; then
    [ -x "$TOKIO_BIN" ] && [ -x "$GO_BIN" ] || die "peer binaries missing in $PEERS_DIR/out: run without --no-build"
fi

# ---------------------------------------------------------------------- run

mkdir -p "$PEERS_DIR"
RESULTS="$PEERS_DIR/results-$(date +%Y%m%d-%H%M%S).txt"
: >"$RESULTS"
say "$(nproc) cores; rounds=$ROUNDS; peers: iters=$ITERS warmup=$WARMUP; eddy: min_time=$EDDY_MIN_TIME repetitions=$EDDY_REPS"
say "raw lines go to $RESULTS"

record() { # round command... (the command prints one key=value line)
    local round=$1 line
    shift
    if line=$(timeout 900 "$@"); then
        echo "round=$round $line" | tee -a "$RESULTS" >&2
    else
        echo "run_peers.sh: failed (exit $?): $*" >&2
    fi
}

# eddy_micro's median items_per_second for one benchmark, from its JSON.
# The format is one field per line; the aggregate rows carry aggregate_name.
eddy_ips() { # json-file
    awk '
        /"run_type": "aggregate"/ { agg = 1 }
        /"aggregate_name":/ { gsub(/[",]/, "", $2); name = $2 }
        /"items_per_second":/ { gsub(/,/, "", $2); ips = $2 }
        /^    }/ {
            if (ips != "" && (!agg || name == "median")) { last = ips }
            agg = 0; name = ""; ips = ""
        }
        END { if (last != "") print last }' "$1"
}

# One eddy cell: its own process, retried when the watchdog reports a hang.
eddy_cell() { # round workload workers
    local round=$1 wl=$2 w=$3 hangs=0 attempt json err rc ips
    json=$(mktemp) err=$(mktemp)
    for attempt in $(seq 0 "$RETRIES"); do
        rc=0
        # (the outer 2>/dev/null only silences bash's "Aborted" notice)
        { EDDY_BENCH_HANG_S=$HANG_S timeout $((HANG_S * 4 + 600)) "$MICRO" \
            --benchmark_filter="^$wl/workers:$w/" --benchmark_format=json \
            --benchmark_min_time="$EDDY_MIN_TIME" --benchmark_repetitions="$EDDY_REPS" \
            >"$json" 2>"$err"; } 2>/dev/null || rc=$?
        if [ "$rc" = 0 ] && ips=$(eddy_ips "$json") && [ -n "$ips" ]; then
            local line
            line=$(awk -v ips="$ips" -v wl="$wl" -v w="$w" -v h="$hangs" 'BEGIN {
                printf "workload=%s workers=%s ns_per_op=%.1f items_per_second=%.0f hangs=%d runtime=eddy",
                    wl, w, 1e9 / ips, ips, h }')
            echo "round=$round $line" | tee -a "$RESULTS" >&2
            rm -f "$json" "$err"
            return
        fi
        if grep -q "HANG" "$err"; then
            hangs=$((hangs + 1))
            echo "run_peers.sh: eddy $wl workers=$w HUNG (attempt $((attempt + 1))):" >&2
            sed 's/^/    /' "$err" | grep -v "^    \*\*\*WARNING" >&2
        else
            echo "run_peers.sh: eddy $wl workers=$w failed (exit $rc):" >&2
            { sed 's/^/    /' "$err"; grep '"error_message"' "$json" || true; } >&2
            break
        fi
    done
    echo "round=$round workload=$wl workers=$w ns_per_op=- hangs=$hangs runtime=eddy" | tee -a "$RESULTS" >&2
    rm -f "$json" "$err"
}

for round in $(seq 1 "$ROUNDS"); do
    for wl in $WORKLOADS; do
        for w in $WORKERS; do
            eddy_cell "$round" "$wl" "$w"
            [ "$HAVE_PEERS" = 1 ] || continue
            record "$round" "$TOKIO_BIN" "$wl" "$w" "$ITERS" "$WARMUP"
            # Go has no spawn from outside the scheduler: every go statement runs on a P.
            [ "$wl" = spawn_many_remote ] && continue
            record "$round" "$GO_BIN" "$wl" "$w" "$ITERS" "$WARMUP"
        done
    done
    for ms in $IDLE_SLEEPS_MS; do
        for w in $WORKERS; do
            record "$round" "$IDLE" "$w" "$ms"
            [ "$HAVE_PEERS" = 1 ] || continue
            record "$round" "$TOKIO_BIN" many_idle "$w" "$ms"
            record "$round" "$GO_BIN" many_idle "$w" "$ms"
        done
    done
done

# -------------------------------------------------------------------- table

echo
echo "eddy vs Tokio vs Go on $(nproc) cores; ns per operation, median over $ROUNDS round(s);"
echo "ratio = peer ns / eddy ns (> 1: eddy is that many times faster); raw lines: $RESULTS"
echo "workers=1: Tokio current_thread, Go GOMAXPROCS=1, eddy 1 worker; workers=N: N workers / GOMAXPROCS=N"
awk -v order="$WORKLOADS" -v workers="$WORKERS" '
function median(key,    n, i, j, t, a) {
    n = split(vals[key], a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function cell(x) { return x == "" ? "-" : sprintf("%.1f", x) }
function ratio(p, e) { return (p == "" || e == "" || e == 0) ? "-" : sprintf("%.2f", p / e) }
{
    delete kv
    for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    if (kv["workload"] == "many_idle") {
        idle[++ni] = sprintf("%-6s %7s %7s %5s %9s %9s %9s %10s %14s %14s %10s %12s",
            kv["runtime"], kv["sleep_ms"], kv["workers"], kv["round"], kv["wall_ms"], kv["spawn_ms"],
            sprintf("%.0f", kv["peak_rss_kb"] / 1024), kv["bytes_per_task"], kv["ns_per_op"],
            kv["done_at_spawn_end"], kv["parked_ms"] == "" ? "-" : kv["parked_ms"],
            kv["done_at_all_parked"] == "" ? "-" : kv["done_at_all_parked"])
        next
    }
    key = kv["workload"] SUBSEP kv["workers"] SUBSEP kv["runtime"]
    if (kv["ns_per_op"] != "-") vals[key] = vals[key] " " kv["ns_per_op"]
    if (kv["runtime"] == "eddy") hangs[kv["workload"], kv["workers"]] += kv["hangs"]
}
END {
    nw = split(order, wl, " "); nk = split(workers, wk, " ")
    if (nw > 0) printf "%-20s %7s %10s %10s %10s %11s %9s %6s\n", "workload", "workers", "eddy", "tokio", "go",
        "tokio/eddy", "go/eddy", "hangs"
    for (i = 1; i <= nw; i++) for (j = 1; j <= nk; j++) {
        e = median(wl[i] SUBSEP wk[j] SUBSEP "eddy")
        t = median(wl[i] SUBSEP wk[j] SUBSEP "tokio")
        g = median(wl[i] SUBSEP wk[j] SUBSEP "go")
        printf "%-20s %7s %10s %10s %10s %11s %9s %6d\n", wl[i], wk[j], cell(e), cell(t), cell(g),
            ratio(t, e), ratio(g, e), hangs[wl[i], wk[j]]
    }
    if (nw > 0) print "hangs: eddy_micro runs of that cell aborted by the watchdog (a stuck repetition), then retried"
    if (ni > 0) {
        print ""
        print "many_idle: 1,000,000 tasks each sleeping sleep_ms; excess_ns/task = (wall - sleep) / 1e6;"
        print "done@spawn_end > 0: tasks finished before the last was spawned; eddy also reports parked_ms (first"
        print "spawn to the last task asleep) and done@parked (finished by then: 0 = all parked at once)"
        printf "%-6s %7s %7s %5s %9s %9s %9s %10s %14s %14s %10s %12s\n", "rt", "sleep", "workers", "round",
            "wall_ms", "spawn_ms", "peak_MiB", "bytes/task", "excess_ns/task", "done@spawn_end", "parked_ms",
            "done@parked"
        for (i = 1; i <= ni; i++) print idle[i]
    }
}' "$RESULTS"
