#!/usr/bin/env bash
# Builds eddy three ways and runs the tests (what CI runs, after setup):
#   1. Release build (warnings as errors): every test.
#   2. AddressSanitizer + UBSan build: every test.
#   3. ThreadSanitizer build: the concurrency tests (label "concurrency"),
#      plus the run-queue stress test with a 4-slot ring.
# Build trees go to build-ci-*; JOBS sets the parallelism (default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
# Tests run in parallel, one per core (the tests' own workers then compete
# for the cores, which is part of what they test). TEST_JOBS=1 runs them
# one at a time.
TEST_JOBS=${TEST_JOBS:-$JOBS}
export CTEST_OUTPUT_ON_FAILURE=1

step() { printf '\n==== %s ====\n' "$*"; }

build() { # dir, extra cmake args...
    local dir=$1; shift
    cmake -S . -B "$dir" -DEDDY_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS"
}

step "Release build and tests"
build build-ci-release -DCMAKE_BUILD_TYPE=Release
ctest --test-dir build-ci-release -j "$TEST_JOBS" --timeout 600

step "AddressSanitizer + UBSan build and tests"
build build-ci-asan -DCMAKE_BUILD_TYPE=Debug -DEDDY_SANITIZE=address -DEDDY_BUILD_BENCHES=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-ci-asan -j "$TEST_JOBS" --timeout 900

step "ThreadSanitizer build and concurrency tests"
build build-ci-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDDY_SANITIZE=thread -DEDDY_BUILD_BENCHES=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-ci-tsan -L concurrency -j "$TEST_JOBS" --timeout 900

step "ThreadSanitizer, run queue with 4 slots (overflow and steal races)"
build build-ci-tsan-cap4 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDDY_SANITIZE=thread \
    -DEDDY_DEQUE_CAP=4 -DEDDY_BUILD_BENCHES=OFF -DEDDY_BUILD_EXAMPLES=OFF
TSAN_OPTIONS=halt_on_error=1 \
    ctest --test-dir build-ci-tsan-cap4 -L concurrency -j "$TEST_JOBS" --timeout 900

step "libFuzzer: the request parser, 60 s"
bash tools/fuzz.sh

step "all test configurations passed"
