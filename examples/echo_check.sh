#!/usr/bin/env bash
# Starts echo_server on a free loopback port, drives it with echo_load for a
# second, and checks that echoes came back with no error; then stops it.
# Ports are picked below the ephemeral range (32768+), so a test running
# beside this one cannot hold the port; a taken one is retried.
set -euo pipefail
server=$1 load=$2
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -f "$log"' EXIT
for attempt in 1 2 3 4 5; do
    port=$(( 20000 + RANDOM % 12000 ))
    "$server" "$port" 2 > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        grep -q "port $port" "$log" && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    grep -q "port $port" "$log" && break
    echo "echo_check: server did not start on $port: $(cat "$log")" >&2
    wait $pid 2>/dev/null || true
    pid=
done
[ -n "$pid" ] || { echo "echo_check: no port found" >&2; exit 1; }
out=$("$load" 127.0.0.1 "$port" 16 64 1 1)
echo "$out"
echo "$out" | grep -q "errors=0"
msgs=$(echo "$out" | sed -E 's/.* msgs=([0-9]+).*/\1/')
[ "$msgs" -gt 100 ]
kill -INT $pid
wait $pid
pid=
