# shellcheck shell=bash
# benches/lib_peers.sh: what run_net.sh and run_server.sh share, sourced by
# both (not run on its own): building the network peers from a copy, a fresh
# port per server, starting and stopping one server at a time.
#
# The caller sets NET_SRC (the peers' sources, from NET_PEERS), NET_DIR (the
# copy they are built in: $BUILD_DIR/netpeers) and NB ($NET_DIR/build) before
# building; PORT (starting at PORT_BASE), SLOG (a file for the server's
# output) and the array pids (what its exit trap kills) before starting
# servers; and defines die. Messages name the script that sourced this file.

# shellcheck disable=SC2034 # SKIPPED: the callers read it
declare -A SKIPPED=()
skip() { echo "${0##*/}: skipping $1: $2" >&2; SKIPPED[$1]=1; }

# What each peer needs, checked before building it; prints what is missing.
peer_missing() { # peer
    case $1 in
        go) command -v go >/dev/null 2>&1 || echo "Go: 'apt-get install golang-go'" ;;
        tokio)
            command -v cargo >/dev/null 2>&1 ||
                echo "a Rust toolchain (cargo): rustup, or 'apt-get install cargo'"
            ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1 ||
                echo "Tokio's sources in /usr/share/cargo/registry: 'apt-get install librust-tokio-dev'" ;;
        libuv) echo '#include <uv.h>' | gcc -E - >/dev/null 2>&1 ||
                   echo "libuv's headers: 'apt-get install libuv1-dev'" ;;
        nginx) command -v nginx >/dev/null 2>&1 || echo "nginx: 'apt-get install nginx-light'" ;;
        threads|ping) ;;
    esac
}

# Builds one peer with run.sh build's own command for it (run.sh builds all
# or nothing: one missing toolchain would cost every peer). nginx is
# Debian's: nothing to build.
build_peer() { # peer
    local m
    m=$(peer_missing "$1")
    if [ -n "$m" ]; then
        skip "$1" "missing $m"
        return 1
    fi
    (
        cd "$NET_DIR"
        case $1 in
            go) cd go && GOPROXY=off go build -o ../build/netpeer-go . ;;
            tokio) (cd tokio && cargo build --release --offline --quiet --target-dir ../build/tokio-target) &&
                       cp build/tokio-target/release/netpeer-tokio build/ ;;
            libuv) gcc -O2 -Wall -o build/uv_server c/uv_server.c -luv ;;
            threads) gcc -O2 -Wall -o build/thread_server c/thread_server.c -lpthread ;;
            ping) gcc -O2 -Wall -o build/ping_client c/ping_client.c -lpthread ;;
            nginx) ;;
        esac
    ) || { skip "$1" "its build failed (see above; setup: ${NET_SRC:-$NET_DIR}/run.sh setup)"; return 1; }
}

# Copies the peers' sources to NET_DIR: they may be read-only, and cargo
# writes tokio/Cargo.lock beside Cargo.toml. NET_DIR/build (the outputs,
# cargo's cache) is kept between runs.
copy_peers() {
    [ -d "$NET_SRC" ] || die "NET_PEERS=$NET_SRC: no such directory (the network peers' directory, with run.sh, c/, go/, tokio/)"
    mkdir -p "$NET_DIR"
    find "$NET_DIR" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
    cp -R "$NET_SRC/." "$NET_DIR/"
    chmod -R u+w "$NET_DIR"
    rm -f "$NET_DIR/tokio/Cargo.lock"
    mkdir -p "$NB"
}

# The peers' copy to build: a fresh one from NET_PEERS, else the copy an
# earlier run left in NET_DIR; otherwise dies naming NET_PEERS.
use_peers_copy() { # what-the-directory-holds [what-else-would-do]
    if [ -n "$NET_SRC" ]; then
        copy_peers
    elif [ -f "$NET_DIR/run.sh" ]; then
        say "NET_PEERS is not set: building the copy of the peers already in $NET_DIR"
        mkdir -p "$NB"
    else
        die "NET_PEERS is not set and $NET_DIR holds no copy of the peers: set NET_PEERS to the" \
            "peers' directory (with $1)${2:+, or $2}"
    fi
}

# Picks the next port that nothing listens on: each server gets a fresh one.
next_port() {
    while :; do
        PORT=$((PORT + 1))
        [ "$PORT" -lt 65536 ] || die "no free port above PORT_BASE=$PORT_BASE"
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 0
    done
}

# start NAME [VAR=value...] BINARY ARGS... (on $PORT): starts one server in
# the background (SPID) and waits until it accepts connections.
start() {
    local name=$1
    shift
    env "$@" >"$SLOG" 2>&1 &
    SPID=$!
    pids+=("$SPID")
    for _ in $(seq 100); do
        kill -0 "$SPID" 2>/dev/null || break
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "${0##*/}: $name did not start on port $PORT: $(cat "$SLOG")" >&2
    stop "$name"
    return 1
}

# Stops the server: eddy on SIGINT (its documented stop), the peers on
# SIGTERM (a background job of a script ignores SIGINT, and Go keeps it so).
# One that is still there after 5 s is killed, and said so.
stop() { # name
    local sig=TERM p keep=()
    case $1 in eddy*) sig=INT ;; esac
    kill -"$sig" "$SPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SPID" 2>/dev/null; then
        echo "${0##*/}: $1 (pid $SPID) still running 5 s after SIG$sig; killing it" >&2
        kill -KILL "$SPID" 2>/dev/null || true
    fi
    { wait "$SPID" || true; } 2>/dev/null
    # the exit trap must not kill a later process that got this pid
    for p in "${pids[@]}"; do [ "$p" = "$SPID" ] || keep+=("$p"); done
    pids=("${keep[@]}")
    SPID=
}
