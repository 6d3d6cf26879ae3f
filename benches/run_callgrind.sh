#!/usr/bin/env bash
# Instructions per operation of eddy and its peers (Tokio; Go with --go) at
# 1 worker, counted by valgrind's callgrind: the noise-free companion of
# run_peers.sh's wall times (a machine without hardware counters has no
# other exact count). Not run by CI.
#
#   benches/run_callgrind.sh [--go] [--top N] [--keep DIR] [--eddy-only]
#                            [--no-build] [--out FILE]
#
#   --go          also count Go (off by default: valgrind and Go's runtime do
#                 not mix well; a run that fails is skipped with a note, and
#                 Go's counts include its collector and sysmon threads)
#   --top N       for each workload, the N functions of eddy with the most
#                 self instructions per operation
#   --keep DIR    keep the callgrind.out files in DIR (for callgrind_annotate,
#                 e.g. to diff two runs' per-function counts); otherwise they
#                 go to a temporary directory removed at exit
#   --eddy-only   count eddy alone when the Tokio binary is missing
#   --no-build    reuse the binaries of an earlier run
#   --out FILE    write the raw lines to FILE (default: RESULTS, else
#                 $BUILD_DIR/peers/callgrind-DATE.txt)
#
# Each program runs twice under callgrind, as `PROG WORKLOAD 1 ITERS 1`
# (1 worker: Tokio current_thread, Go GOMAXPROCS=1; 1 untimed repetition),
# with ITERS=ITERS_A and ITERS=ITERS_B. What the two runs share (loading,
# starting and stopping the runtime, the warm-up) cancels out of
#   Ir/op = (Ir_B - Ir_A) / ((ITERS_B - ITERS_A) * operations per repetition)
# The operations per repetition are those of benches/micro/workloads.h
# (spawn_many_* 10000, yield_many 200000, ping_pong 1000, chained_spawn 1000,
# channel_throughput 1000000, task_switch 20000: eddy only). --top counts
# each function's self instructions the same way, from
# `callgrind_annotate --inclusive=no --auto=no --threshold=100` of both runs
# (names with their "'2" recursion and "(Nx)" suffixes stripped and merged).
#
# Knobs (environment):
#   WORKLOADS="spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn"
#   ITERS_A=2 ITERS_B=6   the repetitions of the two runs (ITERS_B > ITERS_A)
#   TIMEOUT_S=1800    a valgrind run still going after that long is killed
#                     and its workload recorded as failed (ir_per_op=-)
#   RESULTS=FILE      as --out
#   BUILD_DIR=build-bench   eddy's build directory; the peers' binaries are
#                     those run_peers.sh built in $BUILD_DIR/peers/out
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib_build.sh
. "$ROOT/benches/lib_build.sh"

WORKLOADS=${WORKLOADS-"spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn"}
ITERS_A=${ITERS_A:-2}
ITERS_B=${ITERS_B:-6}
TIMEOUT_S=${TIMEOUT_S:-1800}
RESULTS=${RESULTS:-}
BUILD_DIR=${BUILD_DIR:-build-bench}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

say() { echo "== $*" >&2; }
die() { echo "run_callgrind.sh: $*" >&2; exit 1; }

GO=0 TOP=0 KEEP="" EDDY_ONLY=0 NO_BUILD=0
while [ $# -gt 0 ]; do
    case $1 in
        --go) GO=1 ;;
        --top) [ -n "${2:-}" ] || die "--top needs a number"
               TOP=$2; shift ;;
        --top=*) TOP=${1#--top=} ;;
        --keep) [ -n "${2:-}" ] || die "--keep needs a directory"
                KEEP=$2; shift ;;
        --keep=*) KEEP=${1#--keep=}; [ -n "$KEEP" ] || die "--keep needs a directory" ;;
        --eddy-only) EDDY_ONLY=1 ;;
        --no-build) NO_BUILD=1 ;;
        --out) [ -n "${2:-}" ] || die "--out needs a file name"
               RESULTS=$2; shift ;;
        --out=*) RESULTS=${1#--out=}; [ -n "$RESULTS" ] || die "--out needs a file name" ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_callgrind.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

for v in ITERS_A ITERS_B TIMEOUT_S TOP; do
    case ${!v} in ''|*[!0-9]*) die "$v must be a whole number, got '${!v}'" ;; esac
done
[ "$ITERS_A" -ge 1 ] || die "ITERS_A must be at least 1"
[ "$ITERS_B" -gt "$ITERS_A" ] || die "ITERS_B ($ITERS_B) must be more than ITERS_A ($ITERS_A)"
[ "$TIMEOUT_S" -ge 1 ] || die "TIMEOUT_S must be at least 1"

# Operations per repetition (benches/micro/workloads.h; the peers do as many).
ops_for() { # workload
    case $1 in
        spawn_many_local|spawn_many_remote) echo 10000 ;;
        yield_many) echo 200000 ;;
        ping_pong|chained_spawn) echo 1000 ;;
        channel_throughput) echo 1000000 ;;
        task_switch) echo 20000 ;;
        *) return 1 ;;
    esac
}
for wl in $WORKLOADS; do
    ops_for "$wl" >/dev/null ||
        die "unknown workload '$wl' (spawn_many_local spawn_many_remote yield_many ping_pong chained_spawn channel_throughput task_switch)"
done

RTBENCH="$BUILD_DIR/benches/eddy_rtbench"
PEERS_DIR="$BUILD_DIR/peers"
TOKIO_BIN="$PEERS_DIR/out/tokio-target/release/rtbench-tokio"
GO_BIN="$PEERS_DIR/out/rtbench-go"

# ------------------------------------------------------------ prerequisites

command -v valgrind >/dev/null 2>&1 || die "valgrind not found: 'apt-get install valgrind'"
command -v callgrind_annotate >/dev/null 2>&1 ||
    die "callgrind_annotate not found (it comes with valgrind: 'apt-get install valgrind')"
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found"

HAVE_TOKIO=1
if [ ! -x "$TOKIO_BIN" ]; then
    HAVE_TOKIO=0
    echo "run_callgrind.sh: the Tokio peer is not built: $TOKIO_BIN is missing" >&2
    echo "run_callgrind.sh: build it with PEERS_RUNTIME=/path/to/peers/runtime benches/run_peers.sh (see its --help)" >&2
    [ "$EDDY_ONLY" = 1 ] || die "re-run with --eddy-only to count eddy alone"
    say "--eddy-only: counting eddy alone"
fi
if [ "$GO" = 1 ] && [ ! -x "$GO_BIN" ]; then
    echo "run_callgrind.sh: --go: $GO_BIN is missing (built by run_peers.sh): skipping Go" >&2
    GO=0
fi

# -------------------------------------------------------------------- build

if [ "$NO_BUILD" != 1 ]; then
    command -v cmake >/dev/null 2>&1 || die "cmake not found: 'apt-get install cmake'"
    build_eddy_benches eddy_rtbench
fi
[ -x "$RTBENCH" ] || die "$RTBENCH is missing: run without --no-build"

# ---------------------------------------------------------------------- run

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" || die "cannot create --keep directory $KEEP"
    KEEP=$(cd "$KEEP" && pwd)
    OUTS=$KEEP
else
    OUTS=$WORK
fi
mkdir -p "$PEERS_DIR"
[ -n "$RESULTS" ] || RESULTS="$PEERS_DIR/callgrind-$(date +%Y%m%d-%H%M%S).txt"
case $RESULTS in /*) ;; *) RESULTS="$PWD/$RESULTS" ;; esac
mkdir -p "$(dirname "$RESULTS")" || die "cannot create the directory of $RESULTS"
: >"$RESULTS" || die "cannot write $RESULTS"

RUNTIMES="eddy"
[ "$HAVE_TOKIO" = 1 ] && RUNTIMES="$RUNTIMES tokio"
[ "$GO" = 1 ] && RUNTIMES="$RUNTIMES go"
say "$(valgrind --version); runtimes: $RUNTIMES; 1 worker; iters $ITERS_A and $ITERS_B, 1 warm-up"
say "raw lines go to $RESULTS${KEEP:+; callgrind.out files to $KEEP}"

# One callgrind run; prints the instructions it counted, or says why not.
count() { # runtime workload iters out-file
    local rt=$1 wl=$2 iters=$3 out=$4 prog rc=0 ir
    case $rt in
        eddy) prog=$RTBENCH ;;
        tokio) prog=$TOKIO_BIN ;;
        go) prog=$GO_BIN ;;
    esac
    # EDDY_BENCH_HANG_S=0: no watchdog thread, whose wake-ups once a second
    # would add instructions that depend on the wall time (valgrind is slow).
    { EDDY_BENCH_HANG_S=0 timeout -k 10 "$TIMEOUT_S" valgrind --tool=callgrind \
        --callgrind-out-file="$out" "$prog" "$wl" 1 "$iters" 1 \
        >"$WORK/stdout" 2>"$WORK/stderr"; } 2>/dev/null || rc=$?
    if [ "$rc" != 0 ] || ! grep -q 'ns_per_op=' "$WORK/stdout"; then
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            echo "run_callgrind.sh: $rt $wl iters=$iters TIMED OUT after ${TIMEOUT_S}s (killed)" >&2
        else
            echo "run_callgrind.sh: $rt $wl iters=$iters FAILED under valgrind (exit $rc); its last output:" >&2
            { cat "$WORK/stdout"; grep -v -e '^--[0-9]*-- ' -e '^==[0-9]*== ' "$WORK/stderr"; } |
                tail -n 15 | sed 's/^/    /' >&2
        fi
        return 1
    fi
    ir=$(sed -n 's/^==[0-9]*== Collected : \([0-9][0-9]*\)$/\1/p' "$WORK/stderr" | tail -n 1)
    if [ -z "$ir" ] && [ -f "$out" ]; then
        ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }')
    fi
    if [ -z "$ir" ]; then
        echo "run_callgrind.sh: $rt $wl iters=$iters: no \"Collected :\" total in valgrind's output nor in $out" >&2
        return 1
    fi
    echo "$ir"
}

# eddy's top functions by self Ir/op: the difference of the two runs' profiles.
top_functions() { # workload out-a out-b ops
    local wl=$1 a=$2 b=$3 ops=$4
    local f i=0
    for f in "$a" "$b"; do
        i=$((i + 1))
        if ! callgrind_annotate --inclusive=no --auto=no --threshold=100 "$f" >"$WORK/ann_$i" 2>"$WORK/ann_err"; then
            echo "run_callgrind.sh: callgrind_annotate failed on $f: $(head -n 3 "$WORK/ann_err")" >&2
            return 0
        fi
    done
    echo
    echo "eddy $wl: top $TOP functions by self instructions per operation (run B - run A)"
    printf '%10s %7s  %s\n' "Ir/op" "share" "function [object]"
    awk -v div="$(((ITERS_B - ITERS_A) * ops))" -v q="'" '
    FNR == 1 { f++ }
    /PROGRAM TOTALS/ { s = $1; gsub(/,/, "", s); tot[f] = s; next }
    /^ *[0-9][0-9,]* \( *[0-9.]+%\) +/ {
        line = $0
        ir = $1; gsub(/,/, "", ir)
        sub(/^ *[0-9][0-9,]* \( *[0-9.]+%\) +/, "", line)
        obj = ""
        if (match(line, / \[[^]]*\]$/)) {
            obj = substr(line, RSTART + 2, RLENGTH - 3)
            line = substr(line, 1, RSTART - 1)
            sub(/.*\//, "", obj)
        }
        gsub(/ *\([0-9]+x\)/, "", line)   # call counts, as newer valgrinds print them
        sub(/^[^:]*:/, "", line)          # the source file (or ???)
        sub(q "[0-9]+$", "", line)       # the recursion depth: a quote and a number
        if (!(line in seen)) { seen[line] = 1; where[line] = obj; names[++n] = line }
        if (f == 1) ia[line] += ir; else ib[line] += ir
    }
    END {
        d = tot[2] - tot[1]
        for (i = 1; i <= n; i++) {
            k = names[i]
            share = d > 0 ? 100 * (ib[k] - ia[k]) / d : 0
            obj = where[k] == "" ? "" : " [" where[k] "]"
            printf "%10.2f %6.1f%%  %s%s\n", (ib[k] - ia[k]) / div, share, k, obj
        }
    }' "$WORK/ann_1" "$WORK/ann_2" | sort -b -g -r -k1,1 | sed -n "1,${TOP}p"
}

TOPS="$WORK/tops"
: >"$TOPS"
for wl in $WORKLOADS; do
    ops=$(ops_for "$wl")
    for rt in $RUNTIMES; do
        case $rt:$wl in
            go:spawn_many_remote|tokio:task_switch|go:task_switch) continue ;; # no such workload
        esac
        fa="$OUTS/callgrind.$rt.$wl.$ITERS_A.out"
        fb="$OUTS/callgrind.$rt.$wl.$ITERS_B.out"
        say "$rt $wl: iters $ITERS_A and $ITERS_B under callgrind"
        if ira=$(count "$rt" "$wl" "$ITERS_A" "$fa") && irb=$(count "$rt" "$wl" "$ITERS_B" "$fb"); then
            per=$(awk -v a="$ira" -v b="$irb" -v n="$(((ITERS_B - ITERS_A) * ops))" 'BEGIN { printf "%.1f", (b - a) / n }')
            line="workload=$wl runtime=$rt iters_a=$ITERS_A iters_b=$ITERS_B ir_a=$ira ir_b=$irb ir_per_op=$per"
            [ "$irb" -gt "$ira" ] ||
                echo "run_callgrind.sh: $rt $wl: run B ($irb) counted no more than run A ($ira): is the workload doing anything?" >&2
            if [ "$rt" = eddy ] && [ "$TOP" -gt 0 ]; then
                top_functions "$wl" "$fa" "$fb" "$ops" >>"$TOPS" ||
                    echo "run_callgrind.sh: eddy $wl: the per-function counts failed (see above)" >&2
            fi
        else
            line="workload=$wl runtime=$rt iters_a=$ITERS_A iters_b=$ITERS_B ir_a=- ir_b=- ir_per_op=-"
            [ "$rt" = go ] && echo "run_callgrind.sh: Go under valgrind failed on $wl: skipped (valgrind and Go's runtime do not mix well)" >&2
        fi
        echo "$line" | tee -a "$RESULTS" >&2
    done
done

# -------------------------------------------------------------------- table

echo
echo "instructions per operation at 1 worker (callgrind, $(valgrind --version)): (Ir_B - Ir_A) /"
echo "((iters $ITERS_B - $ITERS_A) * operations per repetition); ratio > 1: the peer executes that many"
echo "times eddy's instructions per operation. Raw lines: $RESULTS"
awk -v order="$WORKLOADS" -v go="$GO" '
{
    delete kv
    for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    v[kv["workload"], kv["runtime"]] = kv["ir_per_op"]
}
function get(wl, rt) { return ((wl, rt) in v) ? v[wl, rt] : "-" }
function ratio(p, e) { return (p == "-" || e == "-" || e + 0 <= 0) ? "-" : sprintf("%.2f", p / e) }
END {
    n = split(order, wl, " ")
    if (go) printf "%-20s %11s %11s %11s %11s %9s\n", "workload", "eddy Ir/op", "tokio Ir/op", "go Ir/op", "tokio/eddy", "go/eddy"
    else printf "%-20s %11s %11s %11s\n", "workload", "eddy Ir/op", "tokio Ir/op", "tokio/eddy"
    for (i = 1; i <= n; i++) {
        e = get(wl[i], "eddy"); t = get(wl[i], "tokio"); g = get(wl[i], "go")
        if (go) printf "%-20s %11s %11s %11s %11s %9s\n", wl[i], e, t, g, ratio(t, e), ratio(g, e)
        else printf "%-20s %11s %11s %11s\n", wl[i], e, t, ratio(t, e)
    }
}' "$RESULTS"
cat "$TOPS"
[ -z "$KEEP" ] || echo "callgrind.out files: $KEEP (callgrind.RUNTIME.WORKLOAD.ITERS.out)"
