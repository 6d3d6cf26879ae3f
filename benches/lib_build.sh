# shellcheck shell=bash
# benches/lib_build.sh: building eddy's bench programs for the scripts that
# run them (run_peers.sh, run_callgrind.sh), sourced, not run. The caller
# sets ROOT and BUILD_DIR and defines say and die.

# Configures BUILD_DIR (Release) if it has no cache yet, then builds the
# targets given. An existing build directory is not reconfigured: options
# passed here would flip the cache of a directory also used for other
# things (its tests).
build_eddy_benches() { # target...
    if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
        grep -q '^EDDY_BUILD_BENCHES:BOOL=OFF' "$BUILD_DIR/CMakeCache.txt" &&
            die "$BUILD_DIR was configured with EDDY_BUILD_BENCHES=OFF: reconfigure it with -DEDDY_BUILD_BENCHES=ON, or set BUILD_DIR to another directory"
        grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD_DIR/CMakeCache.txt" ||
            echo "${0##*/}: warning: $BUILD_DIR is not a Release build ($(grep '^CMAKE_BUILD_TYPE:' "$BUILD_DIR/CMakeCache.txt" || echo 'no CMAKE_BUILD_TYPE')): its figures are not eddy's" >&2
        say "building $* in $BUILD_DIR (configured earlier)"
    else
        say "configuring eddy (Release) in $BUILD_DIR"
        cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
            die "cmake configure failed (see above; the benches need Google Benchmark: 'apt-get install libbenchmark-dev g++')"
        say "building $* in $BUILD_DIR"
    fi
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target "$@" >/dev/null ||
        die "eddy build failed (run: cmake --build $BUILD_DIR --target $*)"
}
