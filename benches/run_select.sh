#!/usr/bin/env bash
# eddy_select against a plain receive, beside Go's select: builds
# benches/select_bench.c (Release) and benches/go_select/, runs both in
# interleaved rounds (each run its own process; which one goes first turns
# from round to round) and prints, per case, the median and the range over
# the rounds of each process's median ns per received element, and each
# select's cost over its runtime's plain receive. Not run by CI.
#
#   benches/run_select.sh [--no-build]
#
# Knobs (environment): ROUNDS=5, ITERS=20, WARMUP=3, CAP=1024 (0: every
# element a rendezvous), MSGS=1000000, BUILD_DIR=build-bench, RESULTS=FILE
# (raw lines; default $BUILD_DIR/select-results-DATE.txt). Without go on
# the PATH, eddy runs alone.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5} ITERS=${ITERS:-20} WARMUP=${WARMUP:-3}
CAP=${CAP:-1024} MSGS=${MSGS:-1000000}
BUILD_DIR=${BUILD_DIR:-build-bench}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
RESULTS=${RESULTS:-$BUILD_DIR/select-results-$(date +%Y%m%d-%H%M%S).txt}
EDDY=$BUILD_DIR/benches/eddy_select_bench
GO=$BUILD_DIR/go_select

if [ "${1:-}" != "--no-build" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_BENCHES=ON >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target eddy_select_bench >/dev/null
    if command -v go >/dev/null; then
        (cd "$ROOT/benches/go_select" && GOPROXY=off GOFLAGS=-mod=mod go build -o "$GO" .)
    fi
fi
runners=("$EDDY")
[ -x "$GO" ] && runners+=("$GO")

: >"$RESULTS"
for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < ${#runners[@]}; k++)); do
        bin=${runners[$(((k + r) % ${#runners[@]}))]}
        "$bin" "$ITERS" "$WARMUP" "$CAP" "$MSGS" | sed "s/\$/ round=$r/" | tee -a "$RESULTS"
    done
done
echo "raw lines: $RESULTS"

awk '
function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = f["runtime"] SUBSEP f["case"]
    v[key, ++n[key]] = f["ns_per_op"]
    byround[key, f["round"]] = f["ns_per_op"]; rounds[f["round"]] = 1
    rts[f["runtime"]] = 1; cs[f["case"]] = 1
}
END {
    printf "%-8s %-8s %-24s %s\n", "runtime", "case", "ns/op median [min-max]",
           "x its recv [range of the ratio within a round]"
    for (rt in rts) for (c in cs) {
        key = rt SUBSEP c; m = n[key]; if (!m) continue
        lo = 1e18; hi = 0
        for (i = 1; i <= m; i++) { a[i] = v[key, i]; lo = a[i] < lo ? a[i] : lo; hi = a[i] > hi ? a[i] : hi }
        md[key] = med(a, m)
        line[rt, c] = sprintf("%.1f [%.1f-%.1f]", md[key], lo, hi)
    }
    split("recv select2 select8", order, " ")
    for (rt in rts) for (k = 1; k <= 3; k++) {
        c = order[k]; if (!((rt, c) in line)) continue
        rlo = 1e18; rhi = 0
        for (r in rounds) {
            if (!((rt SUBSEP c, r) in byround) || !((rt SUBSEP "recv", r) in byround)) continue
            q = byround[rt SUBSEP c, r] / byround[rt SUBSEP "recv", r]
            rlo = q < rlo ? q : rlo; rhi = q > rhi ? q : rhi
        }
        printf "%-8s %-8s %-24s %.2f [%.2f-%.2f]\n", rt, c, line[rt, c],
               md[rt SUBSEP c] / md[rt SUBSEP "recv"], rlo, rhi
    }
}' "$RESULTS"
