#!/usr/bin/env bash
# Soak: runs the chaos load (tests/chaos/chaos_echo.c) for N minutes on each
# I/O backend, one process per backend, and prints per backend the
# connections served, the tasks and fds left behind once the load stopped,
# and the RSS at start and end. Exits non-zero if either run failed.
#
#   tools/soak.sh [MINUTES] [SEED]      (default 10 minutes, seed 1)
#
# Environment: BUILD (build tree, default build-soak: a Release build made
# here when missing), WORKERS (2), CLIENTS (64).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
SEED=${2:-1}
BUILD=${BUILD:-build-soak}
WORKERS=${WORKERS:-2}
CLIENTS=${CLIENTS:-64}
case $MINUTES in ''|*[!0-9.]*) echo "soak.sh: MINUTES must be a number, got '$MINUTES'" >&2; exit 2;; esac

if [ ! -x "$BUILD/tests/eddy_chaos" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_BENCHES=OFF >/dev/null
    cmake --build "$BUILD" -j "$(nproc)" --target eddy_chaos >/dev/null
fi

seconds=$(awk "BEGIN { print $MINUTES * 60 }")
status=0
printf '%-7s %12s %11s %10s %9s %14s %12s %s\n' backend connections actions tasks_left fds_left rss_start_kb rss_end_kb result
for backend in epoll uring; do
    log=$(mktemp)
    if "$BUILD/tests/eddy_chaos" --seconds "$seconds" --seed "$SEED" --backend "$backend" \
        --workers "$WORKERS" --clients "$CLIENTS" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    line=$(grep '^chaos: backend=' "$log" || true)
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    printf '%-7s %12s %11s %10s %9s %14s %12s %s\n' "$backend" "$(field connections)" \
        "$(field actions)" "$(field tasks_left)" "$(field fds_left)" "$(field rss_start_kb)" \
        "$(field rss_end_kb)" "$result"
    if [ "$result" != ok ]; then
        sed 's/^/  /' "$log" | tail -25 >&2
    fi
    rm -f "$log"
done
exit $status
