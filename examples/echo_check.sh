#!/usr/bin/env bash
# Starts echo_server on a free loopback port, drives it with echo_load for a
# second, and checks that echoes came back with no error; then stops it.
set -euo pipefail
server=$1 load=$2
port=$(( 20000 + RANDOM % 20000 ))
"$server" "$port" 2 > /tmp/echo_check.$$.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f /tmp/echo_check.$$.log' EXIT
for _ in $(seq 50); do grep -q "port $port" /tmp/echo_check.$$.log && break; sleep 0.1; done
out=$("$load" 127.0.0.1 "$port" 16 64 1 1)
echo "$out"
echo "$out" | grep -q "errors=0"
msgs=$(echo "$out" | sed -E 's/.* msgs=([0-9]+).*/\1/')
[ "$msgs" -gt 100 ]
kill -INT $pid
wait $pid
