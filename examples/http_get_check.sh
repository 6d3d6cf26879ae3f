#!/usr/bin/env bash
# ctest example_http_get: runs examples/http_get against the local test
# origin (tests/http/origin.py) and checks its lines. Exit 77 (skipped)
# without python3.
set -euo pipefail
bin=$1 origin=$2
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
coproc ORIGIN { exec python3 "$origin"; }
read -r _ port _ <&"${ORIGIN[0]}"
base="http://127.0.0.1:$port"
out=$("$bin" "$base/hello" "$base/redirect/2" "$base/status/404")
echo "$out"
grep -q "^200 5 .* $base/hello\$" <<<"$out"
[ "$(grep -c "^200 5 .* $base/hello\$" <<<"$out")" = 2 ]
grep -q "^404 10 .* $base/status/404\$" <<<"$out"
# a failure is reported and makes the exit status 1
if "$bin" "http://127.0.0.1:1/" >/dev/null; then echo "refused URL did not fail"; exit 1; fi
eval "exec ${ORIGIN[1]}>&-"
wait "$ORIGIN_PID" || true
echo "example_http_get: ok"
