#!/usr/bin/env bash
# The consumer ctest: installs the build tree at $1 into a temporary prefix,
# copies the consumer project (app.c and its CMakeLists.txt) to a temporary
# directory outside the tree, and builds and runs it twice: with pkg-config
# and with find_package(eddy). Then the same against a second install with a
# Debian multiarch libdir (lib/<triplet>, one level deeper than lib): a
# library-only build of the sources at $2 (tests, examples and benchmarks
# off). Last, checks that only eddy_* symbols leave libeddy.so.
#
#   run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
    sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
build=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs a command quietly; shows its output when it fails.
quiet() {
    if ! "$@" >"$tmp/log" 2>&1; then
        echo "consumer: failed: $*" >&2
        cat "$tmp/log" >&2
        return 1
    fi
}
# A value of the build's CMake cache.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

# The consumer project, outside the tree.
mkdir "$tmp/app"
cp "$here/app.c" "$here/CMakeLists.txt" "$tmp/app/"

# Builds and runs the consumer against the install at prefix, whose library
# directory is prefix/rel: with pkg-config, then with find_package(eddy)
# (further arguments go to the consumer's CMake configure).
check_install() {
    local prefix=$1 rel=$2 label=$3
    shift 3
    local libdir=$prefix/$rel
    if [ ! -f "$libdir/libeddy.so" ] || [ ! -f "$libdir/pkgconfig/eddy.pc" ]; then
        echo "consumer ($label): no libeddy.so or pkgconfig/eddy.pc in $libdir" >&2
        exit 1
    fi

    # 1. pkg-config: eddy.pc finds the prefix from its own place
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    local inc lib
    inc=$(realpath -m "$(pkg-config --variable=includedir eddy)")
    lib=$(realpath -m "$(pkg-config --variable=libdir eddy)")
    if [ "$inc" != "$(realpath "$prefix/include")" ] || [ "$lib" != "$(realpath "$libdir")" ]; then
        echo "consumer ($label): eddy.pc gives includedir $inc and libdir $lib," \
             "want $prefix/include and $libdir" >&2
        exit 1
    fi
    # shellcheck disable=SC2046 # pkg-config's output is a list of words
    cc -std=c11 -Wall -Wextra -pedantic -Werror "$tmp/app/app.c" -o "$tmp/app-pc-$label" \
        $(pkg-config --cflags --libs eddy) -Wl,-rpath,"$libdir"
    "$tmp/app-pc-$label"
    # a dynamic link needs no .pc file but libcurl's (the headers include
    # curl.h): jemalloc's and liburing's -dev packages are for static links
    local only="$tmp/pc-only-$label"
    mkdir -p "$only"
    cp "$libdir/pkgconfig/eddy.pc" "$only/"
    cp "$(pkg-config --variable=pcfiledir libcurl)/libcurl.pc" "$only/"
    if ! PKG_CONFIG_LIBDIR="$only" PKG_CONFIG_PATH= pkg-config --cflags --libs eddy >/dev/null; then
        echo "consumer ($label): pkg-config needs more .pc files than eddy's and libcurl's:" >&2
        PKG_CONFIG_LIBDIR="$only" PKG_CONFIG_PATH= pkg-config --cflags --libs eddy >&2 || true
        exit 1
    fi

    # 2. CMake package
    quiet cmake -S "$tmp/app" -B "$tmp/app-cmake-$label" -DCMAKE_PREFIX_PATH="$prefix" "$@"
    quiet cmake --build "$tmp/app-cmake-$label"
    "$tmp/app-cmake-$label/app"
}

# ---- the build tree's own install (libdir as configured, usually lib)
quiet cmake --install "$build" --prefix "$tmp/prefix"
libeddy=$(find "$tmp/prefix" -name libeddy.so | head -1)
check_install "$tmp/prefix" "$(dirname "${libeddy#"$tmp/prefix/"}")" default

# ---- a multiarch libdir: lib/<triplet>
triplet=$(cc -print-multiarch 2>/dev/null || true)
find_args=()
if [ -z "$triplet" ]; then
    # not a multiarch system: CMake would not look in lib/<triplet>, so the
    # consumer is pointed at the package; pkg-config is tested all the same
    triplet=$(uname -m)-linux-gnu
    find_args=(-Deddy_DIR="$tmp/prefix-multiarch/lib/$triplet/cmake/eddy")
fi
quiet cmake -S "$src" -B "$tmp/build-multiarch" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_INSTALL_LIBDIR="lib/$triplet" -DCMAKE_C_COMPILER="$(cache CMAKE_C_COMPILER)" \
    -DEDDY_JEMALLOC="$(cache EDDY_JEMALLOC)" -DEDDY_IO_URING="$(cache EDDY_IO_URING)" \
    -DEDDY_BUILD_TESTS=OFF -DEDDY_BUILD_EXAMPLES=OFF -DEDDY_BUILD_BENCHES=OFF
quiet cmake --build "$tmp/build-multiarch" -j "$(nproc)"
quiet cmake --install "$tmp/build-multiarch" --prefix "$tmp/prefix-multiarch"
check_install "$tmp/prefix-multiarch" "lib/$triplet" multiarch "${find_args[@]}"

# ---- 3. only eddy_* symbols leave the shared library
leak=$(nm -D --defined-only "$libeddy" | awk '$2 ~ /[TDBRW]/ {print $3}' | grep -v '^eddy_' || true)
if [ -n "$leak" ]; then
    echo "libeddy.so exports non-eddy symbols: $leak" >&2
    exit 1
fi
echo "consumer: pkg-config and find_package builds passed (libdir $(dirname "${libeddy#"$tmp/prefix/"}") and lib/$triplet)"
