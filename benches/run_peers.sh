#!/usr/bin/env bash
# Sets eddy beside its peers (the Tokio and Go programs of the directory
# PEERS_RUNTIME) on this machine: builds eddy (Release) and the peer
# programs, runs the same workloads on all three in interleaved rounds, and
# prints ns/op with the ratios tokio/eddy and go/eddy (> 1: eddy is that many
# times faster). Not run by CI.
#
#   benches/run_peers.sh [--skip-idle] [--eddy-only] [--no-build] [--out FILE]
#
#   --skip-idle   skip many_idle (1,000,000 sleeping tasks, slow)
#   --eddy-only   run eddy alone when the peers cannot be had (PEERS_RUNTIME
#                 unset and nothing built earlier, or a toolchain missing)
#   --no-build    reuse the binaries of an earlier run
#   --out FILE    write the raw lines to FILE (default: RESULTS, else
#                 $BUILD_DIR/peers/results-DATE.txt)
#
# Knobs (environment), named as in the peers' run.sh:
#   PEERS_RUNTIME=DIR the peer programs' directory (its run.sh, tokio/, go/);
#                     they are built from a copy in $BUILD_DIR/peers. Unset:
#                     the binaries an earlier run built there are reused
#   ROUNDS=5          interleaved rounds; each measurement is its own process,
#                     and the order of eddy, tokio and go in a cell turns by
#                     one from round to round (no runtime always goes first)
#   ITERS=20 WARMUP=3 timed repetitions (their median is the process's
#                     ns/op) and untimed ones before them, for all three
#   WORKERS="1 2"     worker counts
#   WORKLOADS="spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn channel_throughput"
#   IDLE_SLEEPS_MS="10000"  many_idle sleeps (10 s: every task parked at once)
#   TIMEOUT_S=600     a process still running after that long is killed and
#                     its cell recorded as failed (ns_per_op=-)
#   EDDY_BENCH_HANG_S=60  eddy_rtbench's watchdog: a repetition stuck that
#                     long aborts the process with a report (a hang)
#   RESULTS=FILE      as --out
#   BUILD_DIR=build-bench   eddy's build directory (peers go to $BUILD_DIR/peers)
#   EDDY_BASE=PATH    optional: a second eddy_rtbench (e.g. built from an
#                     older commit), measured as a fourth runtime "eddy-base"
#                     in the same rotation, with the same arguments, timeout
#                     and watchdog (its lines are recorded as
#                     runtime=eddy-base). The table then adds its column and
#                     base/eddy (> 1: the current eddy is that many times
#                     faster) with its within-round range, b/e range. Not
#                     used for many_idle (that is eddy_many_idle). Unset: as
#                     without it
#
# All three are measured by one method: a process per (runtime, workload,
# workers, round) runs WARMUP untimed repetitions, then ITERS timed ones, and
# prints the median wall time per operation (eddy: benches/eddy_rtbench; the
# peers: rtbench-tokio, rtbench-go; see the README.md of PEERS_RUNTIME). The
# table gives, per cell, the median and the range over the rounds of those
# per-process medians, the ratios of the medians, and the range of the ratio
# tokio/eddy (and go/eddy) taken within each round.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib_build.sh
. "$ROOT/benches/lib_build.sh"
PEERS_RUNTIME=${PEERS_RUNTIME:-}

ROUNDS=${ROUNDS:-5}
ITERS=${ITERS:-20}
WARMUP=${WARMUP:-3}
WORKERS=${WORKERS:-"1 2"}
WORKLOADS=${WORKLOADS-"spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn channel_throughput"}
IDLE_SLEEPS_MS=${IDLE_SLEEPS_MS-"10000"}
TIMEOUT_S=${TIMEOUT_S:-600}
EDDY_BENCH_HANG_S=${EDDY_BENCH_HANG_S:-60}
RESULTS=${RESULTS:-}
BUILD_DIR=${BUILD_DIR:-build-bench}
EDDY_BASE=${EDDY_BASE:-}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

say() { echo "== $*" >&2; }
die() { echo "run_peers.sh: $*" >&2; exit 1; }

SKIP_IDLE=0 EDDY_ONLY=0 NO_BUILD=0
while [ $# -gt 0 ]; do
    case $1 in
        --skip-idle) SKIP_IDLE=1 ;;
        --eddy-only) EDDY_ONLY=1 ;;
        --no-build) NO_BUILD=1 ;;
        --out) [ -n "${2:-}" ] || die "--out needs a file name"
               RESULTS=$2; shift ;;
        --out=*) RESULTS=${1#--out=}; [ -n "$RESULTS" ] || die "--out needs a file name" ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_peers.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$SKIP_IDLE" = 1 ] && IDLE_SLEEPS_MS=""

for v in ROUNDS ITERS WARMUP TIMEOUT_S EDDY_BENCH_HANG_S; do
    case ${!v} in ''|*[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
[ "$ITERS" -ge 1 ] || die "ITERS must be at least 1"
[ "$TIMEOUT_S" -ge 1 ] || die "TIMEOUT_S must be at least 1"
if [ -n "$EDDY_BASE" ]; then
    case $EDDY_BASE in /*) ;; *) EDDY_BASE="$PWD/$EDDY_BASE" ;; esac
    [ -e "$EDDY_BASE" ] || die "EDDY_BASE=$EDDY_BASE: no such file (it must be an eddy_rtbench binary)"
    [ -f "$EDDY_BASE" ] || die "EDDY_BASE=$EDDY_BASE is not a regular file (it must be an eddy_rtbench binary)"
    [ -x "$EDDY_BASE" ] || die "EDDY_BASE=$EDDY_BASE is not executable (it must be an eddy_rtbench binary)"
fi
[ "$ROUNDS" -ge 5 ] || say "ROUNDS=$ROUNDS: fewer than 5 rounds, the ranges say little about noise"

RTBENCH="$BUILD_DIR/benches/eddy_rtbench"
IDLE="$BUILD_DIR/benches/eddy_many_idle"
# The peers are built from a copy: run.sh builds in place, and cargo writes
# tokio/Cargo.lock next to Cargo.toml, which must not happen inside
# PEERS_RUNTIME (it may be read-only, or someone else's). run.sh also
# resolves BUILD_DIR from inside tokio/ and go/ as "../$BUILD_DIR", so it
# must be a relative path: an absolute one would land under PEERS_RUNTIME.
PEERS_DIR="$BUILD_DIR/peers"
PEERS_COPY="$PEERS_DIR/src"
PEERS_OUT_REL=../out # relative to $PEERS_COPY, as run.sh wants
TOKIO_BIN="$PEERS_DIR/out/tokio-target/release/rtbench-tokio"
GO_BIN="$PEERS_DIR/out/rtbench-go"

# ------------------------------------------------------------ prerequisites

peers_built() { [ -x "$TOKIO_BIN" ] && [ -x "$GO_BIN" ]; }

# rustup installs cargo under ~/.cargo/bin, which a non-login shell may lack.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

# HAVE_PEERS: the peers are measured; BUILD_PEERS: they are (re)built first.
HAVE_PEERS=1 BUILD_PEERS=0
no_peers() { # why...
    HAVE_PEERS=0
    { for m in "$@"; do echo "run_peers.sh: $m"; done; } >&2
    [ "$EDDY_ONLY" = 1 ] || die "re-run with --eddy-only to measure eddy alone"
    say "--eddy-only: measuring eddy alone"
}
if [ "$NO_BUILD" = 1 ]; then
    peers_built || no_peers "the peer binaries are missing: $TOKIO_BIN, $GO_BIN" \
        "set PEERS_RUNTIME to the peer programs' directory (its run.sh, tokio/, go/) and run without --no-build"
elif [ -z "$PEERS_RUNTIME" ]; then
    if peers_built; then
        say "PEERS_RUNTIME unset: reusing the peer binaries built earlier in $PEERS_DIR/out"
    else
        no_peers "PEERS_RUNTIME is not set, and no peer binaries were built earlier in $PEERS_DIR/out" \
            "set PEERS_RUNTIME to the peer programs' directory (the one holding run.sh, tokio/ and go/), e.g." \
            "  PEERS_RUNTIME=/path/to/peers/runtime benches/run_peers.sh"
    fi
else
    case $PEERS_RUNTIME in /*) ;; *) PEERS_RUNTIME="$PWD/$PEERS_RUNTIME" ;; esac
    [ -d "$PEERS_RUNTIME" ] || die "PEERS_RUNTIME=$PEERS_RUNTIME: no such directory"
    for f in run.sh tokio go; do
        [ -e "$PEERS_RUNTIME/$f" ] ||
            die "PEERS_RUNTIME=$PEERS_RUNTIME is not the peer programs' directory: it must hold run.sh, tokio/ and go/ (no $f)"
    done
    missing=()
    command -v cargo >/dev/null 2>&1 ||
        missing+=("a Rust toolchain (cargo): rustup, or 'apt-get install cargo'")
    ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1 ||
        missing+=("Tokio's sources in /usr/share/cargo/registry: 'apt-get install librust-tokio-dev'")
    command -v go >/dev/null 2>&1 || missing+=("Go: 'apt-get install golang-go'")
    if [ ${#missing[@]} -eq 0 ]; then
        BUILD_PEERS=1
    else
        {
            echo "run_peers.sh: cannot build the Tokio and Go peers; missing:"
            for m in "${missing[@]}"; do echo "  - $m"; done
            echo "The Debian packages install with (as root): $PEERS_RUNTIME/run.sh setup"
            echo "(apt-get install librust-tokio-dev golang-go; a Rust toolchain comes from rustup or 'apt-get install cargo')."
        } >&2
        if peers_built; then
            say "reusing the peer binaries built earlier in $PEERS_DIR/out"
        else
            no_peers "no peer binaries were built earlier in $PEERS_DIR/out either"
        fi
    fi
fi
command -v cmake >/dev/null 2>&1 || die "cmake not found: 'apt-get install cmake'"
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found"

# -------------------------------------------------------------------- build

if [ "$NO_BUILD" != 1 ]; then
    build_eddy_benches eddy_rtbench eddy_many_idle
    if [ "$BUILD_PEERS" = 1 ]; then
        say "building the peers from a copy in $PEERS_COPY (outputs in $PEERS_DIR/out)"
        rm -rf "$PEERS_COPY"
        mkdir -p "$PEERS_DIR"
        cp -R "$PEERS_RUNTIME" "$PEERS_COPY"
        chmod -R u+w "$PEERS_COPY"
        rm -rf "$PEERS_COPY/build" "$PEERS_COPY/tokio/Cargo.lock"
        BUILD_DIR="$PEERS_OUT_REL" "$PEERS_COPY/run.sh" build ||
            die "building the peers failed (see above; setup: $PEERS_RUNTIME/run.sh setup)"
    fi
fi
[ -x "$RTBENCH" ] || die "$RTBENCH is missing: run without --no-build"
if [ -n "$IDLE_SLEEPS_MS" ] && [ ! -x "$IDLE" ]; then
    die "$IDLE is missing: run without --no-build (or --skip-idle)"
fi
if [ "$HAVE_PEERS" = 1 ]; then
    peers_built || die "peer binaries missing in $PEERS_DIR/out after the build"
fi

# ---------------------------------------------------------------------- run

mkdir -p "$PEERS_DIR"
[ -n "$RESULTS" ] || RESULTS="$PEERS_DIR/results-$(date +%Y%m%d-%H%M%S).txt"
case $RESULTS in /*) ;; *) RESULTS="$PWD/$RESULTS" ;; esac
mkdir -p "$(dirname "$RESULTS")" || die "cannot create the directory of $RESULTS"
: >"$RESULTS" || die "cannot write $RESULTS"
say "$(nproc) cores; rounds=$ROUNDS iters=$ITERS warmup=$WARMUP; timeout ${TIMEOUT_S}s a process, eddy's watchdog ${EDDY_BENCH_HANG_S}s"
[ -z "$EDDY_BASE" ] || say "eddy-base: $EDDY_BASE (measured beside eddy: $RTBENCH)"
say "raw lines go to $RESULTS"

ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT

# One measurement, its own process: records its line, or ns_per_op=- and
# why (status=timeout|hang|failed) when it timed out, hung or failed.
measure() { # round pos runtime workload workers command...
    local round=$1 pos=$2 rt=$3 wl=$4 w=$5 line rc=0 status why=
    shift 5
    # (the outer 2>/dev/null only silences bash's "Aborted" notice)
    { line=$(EDDY_BENCH_HANG_S=$EDDY_BENCH_HANG_S timeout -k 10 "$TIMEOUT_S" "$@" 2>"$ERR"); } 2>/dev/null || rc=$?
    line=$(printf '%s\n' "$line" | grep -m1 'ns_per_op=' || true)
    if [ "$rc" = 0 ] && [ -n "$line" ]; then
        # eddy-base is an eddy_rtbench too, and says runtime=eddy
        if [ "$rt" = eddy-base ]; then
            case " $line " in
                *" runtime="*) line=$(printf '%s\n' "$line" | sed -E 's/(^| )runtime=[^ ]*/\1runtime=eddy-base/') ;;
                *) line="$line runtime=eddy-base" ;;
            esac
        fi
        echo "round=$round pos=$pos $line" | tee -a "$RESULTS" >&2
        return
    fi
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status=timeout
        echo "run_peers.sh: $rt $wl workers=$w round $round TIMED OUT after ${TIMEOUT_S}s (killed): $*" >&2
    elif grep -q 'HANG' "$ERR"; then
        status=hang
        echo "run_peers.sh: $rt $wl workers=$w round $round HUNG (watchdog, exit $rc): $*" >&2
    else
        status=failed
        [ -n "$line" ] || why=", no result line"
        echo "run_peers.sh: $rt $wl workers=$w round $round FAILED (exit $rc$why): $*" >&2
    fi
    head -n 30 "$ERR" | sed 's/^/    /' >&2
    echo "round=$round pos=$pos workload=$wl workers=$w ns_per_op=- status=$status runtime=$rt" | tee -a "$RESULTS" >&2
}

# The runtimes of a timed workload. Go has no spawn from outside the
# scheduler (every go statement runs on a P); task_switch is eddy's own.
# eddy-base (EDDY_BASE) runs right after eddy in the rotation, so the two
# are measured close together.
runtimes_for() { # workload
    local rts=(eddy)
    [ -z "$EDDY_BASE" ] || rts+=(eddy-base)
    if [ "$HAVE_PEERS" = 1 ] && [ "$1" != task_switch ]; then
        rts+=(tokio)
        [ "$1" = spawn_many_remote ] || rts+=(go)
    fi
    echo "${rts[@]}"
}

# Runs one cell's runtimes in an order turned left by (round - 1).
cell() { # round workload workers [sleep_ms: many_idle]
    local round=$1 wl=$2 w=$3 ms=${4:-} rts n i rt
    if [ -n "$ms" ]; then
        rts=(eddy)
        [ "$HAVE_PEERS" = 1 ] && rts+=(tokio go)
    else
        read -r -a rts <<<"$(runtimes_for "$wl")"
    fi
    n=${#rts[@]}
    for ((i = 0; i < n; i++)); do
        rt=${rts[$(((i + round - 1) % n))]}
        case $rt:$wl in
            eddy:many_idle) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$IDLE" "$w" "$ms" ;;
            tokio:many_idle) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$TOKIO_BIN" many_idle "$w" "$ms" ;;
            go:many_idle) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$GO_BIN" many_idle "$w" "$ms" ;;
            eddy:*) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$RTBENCH" "$wl" "$w" "$ITERS" "$WARMUP" ;;
            eddy-base:*) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$EDDY_BASE" "$wl" "$w" "$ITERS" "$WARMUP" ;;
            tokio:*) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$TOKIO_BIN" "$wl" "$w" "$ITERS" "$WARMUP" ;;
            go:*) measure "$round" $((i + 1)) "$rt" "$wl" "$w" "$GO_BIN" "$wl" "$w" "$ITERS" "$WARMUP" ;;
        esac
    done
}

for round in $(seq 1 "$ROUNDS"); do
    say "round $round of $ROUNDS"
    for wl in $WORKLOADS; do
        for w in $WORKERS; do
            cell "$round" "$wl" "$w"
        done
    done
    for ms in $IDLE_SLEEPS_MS; do
        for w in $WORKERS; do
            cell "$round" many_idle "$w" "$ms"
        done
    done
done

# -------------------------------------------------------------------- table

echo
echo "eddy vs Tokio vs Go on $(nproc) cores; ns per operation: median [min-max] over $ROUNDS round(s) of"
echo "each process's median of $ITERS repetitions; tokio/eddy, go/eddy = ratio of those medians (> 1: eddy is"
echo "that many times faster); t/e range, g/e range = least and most of the ratio within one round"
echo "raw lines: $RESULTS"
echo "workers=1: Tokio current_thread, Go GOMAXPROCS=1, eddy 1 worker; workers=N: N workers / GOMAXPROCS=N"
if [ -n "$EDDY_BASE" ]; then
    echo "eddy-base: $EDDY_BASE (run like eddy); base/eddy = ratio of the medians eddy-base/eddy"
    echo "(> 1: the current eddy is that many times faster); b/e range = least and most of it within one round"
fi
awk -v order="$WORKLOADS" -v workers="$WORKERS" -v base="${EDDY_BASE:+1}" '
function sort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, n) { return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2 }
# "median [min-max]" of a space-separated list; med[] gets the median
function summary(list, key,    n, a) {
    n = split(list, a, " ")
    if (n == 0) return "-"
    sort(a, n)
    med[key] = median(a, n)
    return sprintf("%.1f [%.1f-%.1f]", med[key], a[1], a[n])
}
function ratio(p, e) { return (p == "" || e == "" || e == 0) ? "-" : sprintf("%.2f", p / e) }
# least and most of the ratio peer/eddy over the rounds in which both have a figure
function range(c, peer,    r, n, a) {
    n = 0
    for (r = 1; r <= maxround; r++)
        if ((c, "eddy", r) in ns && (c, peer, r) in ns && ns[c, "eddy", r] > 0)
            a[++n] = ns[c, peer, r] / ns[c, "eddy", r]
    if (n == 0) return "-"
    sort(a, n)
    return sprintf("%.2f-%.2f", a[1], a[n])
}
{
    delete kv
    for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    if (kv["workload"] == "many_idle") {
        if (kv["ns_per_op"] == "-")
            idle[++ni] = sprintf("%-6s %7s %7s %5s  %s", kv["runtime"], "-", kv["workers"], kv["round"],
                kv["status"] " (no figures)")
        else
            idle[++ni] = sprintf("%-6s %7s %7s %5s %9s %9s %9s %10s %14s %14s %10s %12s",
                kv["runtime"], kv["sleep_ms"], kv["workers"], kv["round"], kv["wall_ms"], kv["spawn_ms"],
                sprintf("%.0f", kv["peak_rss_kb"] / 1024), kv["bytes_per_task"], kv["ns_per_op"],
                kv["done_at_spawn_end"], kv["parked_ms"] == "" ? "-" : kv["parked_ms"],
                kv["done_at_all_parked"] == "" ? "-" : kv["done_at_all_parked"])
        next
    }
    c = kv["workload"] SUBSEP kv["workers"]
    if (kv["round"] + 0 > maxround) maxround = kv["round"] + 0
    if (kv["ns_per_op"] == "-") { fails[c]++; next }
    vals[c, kv["runtime"]] = vals[c, kv["runtime"]] " " kv["ns_per_op"]
    ns[c, kv["runtime"], kv["round"] + 0] = kv["ns_per_op"]
}
END {
    nw = split(order, wl, " "); nk = split(workers, wk, " ")
    if (base)
        nc = split("workload|workers|eddy|eddy-base|tokio|go|base/eddy|tokio/eddy|go/eddy|b/e range|t/e range|g/e range|fails", head, "|")
    else
        nc = split("workload|workers|eddy|tokio|go|tokio/eddy|go/eddy|t/e range|g/e range|fails", head, "|")
    rows = 0
    for (i = 1; i <= nw; i++) for (j = 1; j <= nk; j++) {
        c = wl[i] SUBSEP wk[j]
        delete med
        rows++
        k = 0
        f[rows, ++k] = wl[i]; f[rows, ++k] = wk[j]
        f[rows, ++k] = summary(vals[c, "eddy"], "eddy")
        if (base) f[rows, ++k] = summary(vals[c, "eddy-base"], "eddy-base")
        f[rows, ++k] = summary(vals[c, "tokio"], "tokio")
        f[rows, ++k] = summary(vals[c, "go"], "go")
        if (base) f[rows, ++k] = ratio(med["eddy-base"], med["eddy"])
        f[rows, ++k] = ratio(med["tokio"], med["eddy"])
        f[rows, ++k] = ratio(med["go"], med["eddy"])
        if (base) f[rows, ++k] = range(c, "eddy-base")
        f[rows, ++k] = range(c, "tokio")
        f[rows, ++k] = range(c, "go")
        f[rows, ++k] = fails[c] + 0
    }
    if (rows > 0) {
        for (k = 1; k <= nc; k++) { wd[k] = length(head[k]); f[0, k] = head[k] }
        for (r = 1; r <= rows; r++) for (k = 1; k <= nc; k++) if (length(f[r, k]) > wd[k]) wd[k] = length(f[r, k])
        for (r = 0; r <= rows; r++) {
            line = sprintf("%-" wd[1] "s", f[r, 1])
            for (k = 2; k <= nc; k++) line = line sprintf("  %" wd[k] "s", f[r, k])
            print line
        }
        print "fails: processes of that cell (any runtime) that timed out, hung or failed (ns_per_op=- in the raw"
        print "lines): left out of the figures, and their rounds out of the ranges of the ratio"
    }
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
