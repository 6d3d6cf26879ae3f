#!/usr/bin/env bash
# The main job until the benchmark demo exists: builds eddy and runs the
# example program.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=OFF -DEDDY_BUILD_BENCHES=OFF >/dev/null
cmake --build build-demo -j "$(nproc)" --target hello
./build-demo/examples/hello
