#!/usr/bin/env bash
# Installs the build tree at $1 into a temporary prefix, then builds and runs
# tests/consumer/app.c twice: with pkg-config and with find_package(eddy).
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name libeddy.so | head -1)")

# 1. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Wextra -pedantic -Werror "$here/app.c" -o "$tmp/app-pc" \
    $(pkg-config --cflags --libs eddy) -Wl,-rpath,"$libdir"
"$tmp/app-pc"

# 2. CMake package
cmake -S "$here" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/app"

# 3. only eddy_* symbols leave the shared library
leak=$(nm -D --defined-only "$libdir/libeddy.so" | awk '$2 ~ /[TDBRW]/ {print $3}' | grep -v '^eddy_' || true)
if [ -n "$leak" ]; then
    echo "libeddy.so exports non-eddy symbols: $leak" >&2
    exit 1
fi
echo "consumer: pkg-config and find_package builds passed"
