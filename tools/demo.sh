#!/usr/bin/env bash
# The main job: builds eddy-bench and runs the three-model benchmark suite
# in its quick mode (about a minute on two cores: every workload under
# every model, on loopback, against its own built-in origin and load
# generator). Results, plots and report.md go to models-out/ (or $OUT).
# Arguments are passed on: `bash tools/demo.sh --full` for the report's
# sweep, `--workload mixed` for one workload.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-models-out}
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo -j "$(nproc)" --target eddy_bench
if [ $# -eq 0 ]; then set -- --quick; fi
./build-demo/benches/models/eddy-bench models --out "$OUT" "$@"
echo "report: $OUT/report.md"
