#!/usr/bin/env bash
# Fuzzes the HTTP server's request parser with libFuzzer for a while:
# builds tests/fuzz/fuzz_http_parse.c with http/server_parse.c and llhttp's
# C sources (Debian's node-llhttp) under ASan + UBSan, copies the committed
# seed corpus (tests/fuzz/corpus/http_parse) to a scratch directory, and
# runs there. Exits non-zero when the fuzzer finds a crash, a leak or a
# broken invariant (the input is saved in the build directory); exits 0
# with a "skipped" line when clang or llhttp's sources are missing.
#
#   FUZZ_SECONDS  how long to fuzz (default 60)
#   FUZZ_BUILD    build directory (default build-fuzz; not committed)
#   FUZZ_JOBS     parallel fuzzing processes (default 1)
#   FUZZ_ARGS     more libFuzzer flags (e.g. -seed=1)
#   FUZZ_CC       the compiler (default clang)
#
# New corpus entries stay in the scratch directory ($FUZZ_BUILD/corpus):
# the committed corpus is never grown here.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-clang}
LLHTTP_SRC=/usr/share/llhttp
LLHTTP_INC=/usr/share/include/llhttp
SEEDS=tests/fuzz/corpus/http_parse

skip() {
    echo "fuzz.sh: $*"
    echo "fuzz.sh: skipped"
    exit 0
}

command -v "$CC" >/dev/null 2>&1 || skip "$CC not found (apt-get install clang)"
for f in "$LLHTTP_SRC/llhttp.c" "$LLHTTP_SRC/api.c" "$LLHTTP_SRC/http.c" "$LLHTTP_INC/llhttp.h"; do
    [ -f "$f" ] || skip "$f not found (apt-get install node-llhttp)"
done
# a clang without the libFuzzer runtime (or not a clang at all)
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$probe/p.c"
"$CC" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1 ||
    skip "$CC cannot build a libFuzzer target (-fsanitize=fuzzer)"

mkdir -p "$BUILD"
BIN=$BUILD/fuzz_http_parse
echo "fuzz.sh: building $BIN with $CC"
flags=("-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=undefined -g -O1 -D_GNU_SOURCE)
# llhttp as the library builds it (CMakeLists.txt): strict mode, its
# warnings not ours
objs=()
for f in llhttp api http; do
    "$CC" "${flags[@]}" -w -DLLHTTP_STRICT_MODE=1 -I"$LLHTTP_INC" \
        -c "$LLHTTP_SRC/$f.c" -o "$BUILD/llhttp_$f.o"
    objs+=("$BUILD/llhttp_$f.o")
done
"$CC" "${flags[@]}" -Wall -Wextra -I. -Iinclude -I"$LLHTTP_INC" \
    tests/fuzz/fuzz_http_parse.c http/server_parse.c "${objs[@]}" -o "$BIN"

# the scratch corpus: the seeds, plus what earlier runs in this build
# directory found (kept there, never copied back)
CORPUS=$BUILD/corpus
mkdir -p "$CORPUS"
cp "$SEEDS"/* "$CORPUS"/
ARTIFACTS=$BUILD/artifacts
mkdir -p "$ARTIFACTS"

echo "fuzz.sh: fuzzing for ${FUZZ_SECONDS}s ($(find "$CORPUS" -type f | wc -l) inputs to start from)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobargs=()
if [ "$JOBS" -gt 1 ]; then jobargs=(-jobs="$JOBS" -workers="$JOBS"); fi
touch "$BUILD/.fuzz-start"
rc=0
# run in the build directory: -jobs writes its fuzz-N.log files there
# shellcheck disable=SC2086 # FUZZ_ARGS: several flags
(cd "$BUILD" && ./fuzz_http_parse corpus -max_len=4096 -max_total_time="$FUZZ_SECONDS" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=artifacts/ \
    "${jobargs[@]}" ${FUZZ_ARGS:-}) || rc=$?
# -fork with -ignore_crashes=1 (in FUZZ_ARGS) exits 0 after crashes: what
# it saved this run counts too
found=$(find "$ARTIFACTS" -type f -newer "$BUILD/.fuzz-start" | wc -l)
if [ "$rc" != 0 ] || [ "$found" -gt 0 ]; then
    echo "fuzz.sh: the fuzzer failed (exit $rc, $found new inputs saved); the inputs: $ARTIFACTS/"
    ls -lt "$ARTIFACTS" || true
    echo "fuzz.sh: reproduce with: $BIN <file>"
    exit 1
fi
echo "fuzz.sh: no crash in ${FUZZ_SECONDS}s"
