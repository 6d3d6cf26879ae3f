#!/usr/bin/env bash
# Sets eddy's HTTP/1.1 server (eddy-serve, examples/http_server.c) beside the
# network peers' plaintext servers (nginx, Go net/http, Tokio, libuv, thread
# per connection; the peers' directory is given by NET_PEERS) on this
# machine: builds eddy (Release) and the peers, then measures
#   plaintext  wrk -t WRK_THREADS -c C -d DURATION --latency against each
#              server at each of CONNS: eddy-serve with WORKERS workers and a
#              listener per worker, the same with one shared listener, nginx
#              (WORKERS processes), Go (GOMAXPROCS WORKERS), Tokio (WORKERS
#              workers), libuv (one loop), a thread per connection. Per
#              server and C: median req/s [min-max], median p50 and p99, the
#              server's CPU per request (utime + stime of its processes,
#              /proc/PID/stat, around the run) and the cores it kept busy
#              (wrk takes a core of its own: a server near the rest is
#              bounded by the machine, not by itself); then eddy's req/s over
#              each peer's (ratio of the medians)
#   idle       what a server keeps per idle keep-alive connection: its VmRSS
#              (/proc; nginx: the master and its workers) once started, then
#              with N connections open and idle (benches/http_idle_clients:
#              each sent one GET and read its answer; 1 s to settle), for N in
#              IDLE_N; (after - before) * 1024 / N bytes, median over the
#              rounds. Kernel memory (socket buffers, thread stacks in the
#              kernel) is not in RSS and not counted, for any server. The
#              script raises its open-files limit to fs.nr_open (at most
#              1048576) when it may (root with CAP_SYS_RESOURCE); an N that
#              does not fit under it is not run and is reported failed (nofile)
#   all        both (the default)
# Each run is its own server process on a fresh port; rounds are interleaved
# (each round runs every server once per C or N). Raw lines (one per run)
# go to $OUT/MODE-DATE.txt, the Markdown tables to stdout and $OUT/MODE-DATE.md.
# Not run by CI.
#
#   NET_PEERS=/path/to/peers/net benches/run_server.sh [plaintext|idle|all] [--eddy-only] [--no-build]
#
#   --eddy-only   measure eddy alone (NET_PEERS not needed)
#   --no-build    reuse the binaries of an earlier run
#
# NET_PEERS is the peers' directory (the one holding run.sh, c/, go/, tokio/,
# nginx/); it is copied to $BUILD_DIR/netpeers and built there. Unset, the
# copy an earlier run (of this script or run_net.sh) left there is built.
# A peer whose toolchain is missing is skipped with a message saying what to
# install; the others run. A run that fails (a server that does not start, a
# load that fails, a server out of file descriptors) is reported as failed,
# not as a number.
#
# Knobs (environment):
#   DURATION=10        seconds of each wrk run (plaintext)
#   CONNS="64 256"     wrk connections
#   WRK_THREADS=1      wrk's threads
#   ROUNDS=5           plaintext rounds
#   WORKERS=2          eddy's workers, nginx's processes, Tokio's workers,
#                      Go's GOMAXPROCS
#   IDLE_N="10000 100000"  idle connections
#   IDLE_ROUNDS=3      idle rounds (default: ROUNDS when that is set, else 3)
#   IDLE_SETTLE=1      seconds before each RSS reading
#   IDLE_TIMEOUT=300   seconds for all N connections to be answered
#   IDLE_STALL=30      seconds without progress that fail a run (a server
#                      that stopped accepting, e.g. out of descriptors)
#   IDLE_WINDOW=256    connections being set up at once (http_idle_clients -w)
#   THREADS_IDLE_MAX=10000  the thread-per-connection server runs idle only
#                      up to this N, and is reported "not run" above it: 100,000
#                      threads is past the default pid_max (32768) and not
#                      how that model is used
#   KEEPALIVE_MS=600000  idle: eddy's --keepalive-ms and nginx's
#                      keepalive_timeout, so that no idle connection is
#                      closed during the measurement (Go, Tokio, libuv and
#                      the threads have no idle timeout)
#   EDDY_IO_BACKEND    epoll | uring: eddy's I/O backend (default: auto)
#   PORT_BASE=25000    ports are taken from here up, a fresh one per server
#   BUILD_DIR=build-bench   eddy's build directory (the peers are copied to
#                      and built in $BUILD_DIR/netpeers)
#   OUT=$BUILD_DIR/server-results   where the raw lines and tables go
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NET_SRC=${NET_PEERS:-}

DURATION=${DURATION:-10}
CONNS=${CONNS:-"64 256"}
WRK_THREADS=${WRK_THREADS:-1}
IDLE_ROUNDS=${IDLE_ROUNDS:-${ROUNDS:-3}}
ROUNDS=${ROUNDS:-5}
WORKERS=${WORKERS:-2}
IDLE_N=${IDLE_N:-"10000 100000"}
IDLE_SETTLE=${IDLE_SETTLE:-1}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-300}
IDLE_STALL=${IDLE_STALL:-30}
IDLE_WINDOW=${IDLE_WINDOW:-256}
THREADS_IDLE_MAX=${THREADS_IDLE_MAX:-10000}
KEEPALIVE_MS=${KEEPALIVE_MS:-600000}
EDDY_IO_BACKEND=${EDDY_IO_BACKEND:-}
PORT_BASE=${PORT_BASE:-25000}
BUILD_DIR=${BUILD_DIR:-build-bench}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
OUT=${OUT:-$BUILD_DIR/server-results}
case $OUT in /*) ;; *) OUT="$ROOT/$OUT" ;; esac

MODE=all EDDY_ONLY=0 NO_BUILD=0
for a in "$@"; do
    case $a in
        plaintext|idle|all) MODE=$a ;;
        --eddy-only) EDDY_ONLY=1 ;;
        --no-build) NO_BUILD=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_server.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
    esac
done

say() { echo "== $*" >&2; }
die() { echo "run_server.sh: $*" >&2; exit 1; }

case $EDDY_IO_BACKEND in
    ""|epoll|uring) ;;
    *) die "EDDY_IO_BACKEND must be epoll or uring, got '$EDDY_IO_BACKEND'" ;;
esac
for v in DURATION WRK_THREADS ROUNDS IDLE_ROUNDS WORKERS IDLE_SETTLE IDLE_TIMEOUT IDLE_STALL IDLE_WINDOW \
         THREADS_IDLE_MAX KEEPALIVE_MS PORT_BASE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
for c in $CONNS $IDLE_N; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNS and IDLE_N take numbers, got '$c'"; done

SERVE="$BUILD_DIR/examples/eddy-serve"
IDLE="$BUILD_DIR/benches/http_idle_clients"
NET_DIR="$BUILD_DIR/netpeers"
NB="$NET_DIR/build"
NGINX_CONF="$NET_DIR/nginx/nginx.conf.in"
PEERS=(nginx go tokio libuv threads)
declare -A PEER_BIN=([nginx]="$(command -v nginx || echo /usr/sbin/nginx)" [go]="$NB/netpeer-go"
                     [tokio]="$NB/netpeer-tokio" [libuv]="$NB/uv_server" [threads]="$NB/thread_server")
declare -A HAVE=()

command -v cmake >/dev/null 2>&1 || die "cmake not found: 'apt-get install cmake'"
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found"
if [ "$MODE" != idle ]; then
    command -v wrk >/dev/null 2>&1 || die "wrk not found: 'apt-get install wrk'"
fi
# rustup installs cargo under ~/.cargo/bin, which a non-login shell may lack.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

# skip, peer_missing, build_peer, copy_peers, next_port, start, stop
. "$ROOT/benches/lib_peers.sh"

# -------------------------------------------------------------------- build

if [ "$NO_BUILD" != 1 ]; then
    say "building eddy (Release) in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=OFF \
        -DEDDY_BUILD_EXAMPLES=ON -DEDDY_BUILD_BENCHES=ON >/dev/null ||
        die "cmake configure failed (Google Benchmark: 'apt-get install libbenchmark-dev g++')"
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target eddy-serve http_idle_clients >/dev/null ||
        die "eddy build failed (run: cmake --build $BUILD_DIR --target eddy-serve http_idle_clients)"
    if [ "$EDDY_ONLY" != 1 ]; then
        use_peers_copy "run.sh, c/, go/, tokio/, nginx/" "measure eddy alone (--eddy-only)"
        say "building the peers in $NET_DIR (outputs in $NB)"
        for p in "${PEERS[@]}"; do build_peer "$p" || true; done
    fi
fi
[ -x "$SERVE" ] || die "eddy-serve missing in $BUILD_DIR/examples: run without --no-build"
[ "$MODE" = plaintext ] || [ -x "$IDLE" ] ||
    die "http_idle_clients missing in $BUILD_DIR/benches: run without --no-build"
if [ "$EDDY_ONLY" = 1 ]; then
    say "--eddy-only: measuring eddy alone"
else
    for p in "${PEERS[@]}"; do
        if [ -n "${SKIPPED[$p]:-}" ]; then
            continue
        elif [ ! -x "${PEER_BIN[$p]}" ]; then
            skip "$p" "no binary at ${PEER_BIN[$p]}"
        elif [ "$p" = nginx ] && [ ! -f "$NGINX_CONF" ]; then
            skip nginx "no $NGINX_CONF (set NET_PEERS and run without --no-build)"
        else
            HAVE[$p]=1
        fi
    done
fi
have() { case $1 in eddy*) return 0 ;; esac; [ -n "${HAVE[$1]:-}" ]; }

# ------------------------------------------------------------------ servers

pids=()
TMPD=$(mktemp -d)
SLOG="$TMPD/server.log"
cleanup() {
    local p
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
PORT=$PORT_BASE
SPID=

# Open files: the idle connections need as many in the server and in the
# client. Root may raise the hard limit up to fs.nr_open (with
# CAP_SYS_RESOURCE: not in every container).
NOFILE_WANT=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
[ "$NOFILE_WANT" -le 1048576 ] || NOFILE_WANT=1048576
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$NOFILE_WANT" ] ||
    ulimit -Hn "$NOFILE_WANT" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

# The command line of server NAME (CMD) for MODE (plaintext, or idle with n
# connections). nginx's configuration is the peers' nginx.conf.in filled in
# as their run.sh does; for idle, with room for n connections (each worker
# gets its share through reuseport, give or take: a quarter more and 1024)
# and KEEPALIVE_MS of keep-alive. nginx allocates its worker_connections
# table at start: that part is in its RSS before the connections.
server_cmd() { # name mode [n]
    local d wc
    case $1 in
        eddy|eddy-shared)
            CMD=("EDDY_IO_BACKEND=$EDDY_IO_BACKEND" "$SERVE" --port "$PORT" --workers "$WORKERS"
                 --listen "$([ "$1" = eddy ] && echo per-worker || echo shared)")
            if [ "$2" = idle ]; then CMD+=(--keepalive-ms "$KEEPALIVE_MS"); fi
            ;;
        nginx)
            d="$TMPD/nginx-$PORT"
            mkdir -p "$d"
            sed "s|@PORT@|$PORT|; s|@WORKERS@|$WORKERS|; s|@DIR@|$d|g" "$NGINX_CONF" >"$d/nginx.conf"
            if [ "$2" = idle ]; then
                wc=$(($3 * 5 / (4 * WORKERS) + 1024))
                sed -i "s/worker_connections [0-9]*;/worker_connections $wc;/;
                        s/keepalive_requests \([0-9]*\);/keepalive_requests \1;\n    keepalive_timeout $((KEEPALIVE_MS / 1000))s;/" \
                    "$d/nginx.conf"
                grep -q "worker_connections $wc;" "$d/nginx.conf" &&
                    grep -q "keepalive_timeout $((KEEPALIVE_MS / 1000))s;" "$d/nginx.conf" ||
                    echo "run_server.sh: $NGINX_CONF changed: nginx keeps its worker_connections" \
                        "and keepalive_timeout (see $d/nginx.conf)" >&2
            fi
            CMD=("${PEER_BIN[nginx]}" -c "$d/nginx.conf" -p "$d")
            ;;
        go) CMD=("GOMAXPROCS=$WORKERS" "${PEER_BIN[go]}" http "$PORT") ;;
        tokio) CMD=("${PEER_BIN[tokio]}" http "$PORT" "$WORKERS") ;;
        libuv) CMD=("${PEER_BIN[libuv]}" http "$PORT") ;;
        threads) CMD=("${PEER_BIN[threads]}" http "$PORT") ;;
    esac
}

# PID and its descendants (nginx: the master and its workers).
tree_pids() { # pid
    local c
    [ -d "/proc/$1" ] || return 0
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}

# CPU seconds (user + system, all threads) of PID and its descendants.
cpu_s() { # pid
    local p
    for p in $(tree_pids "$1"); do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
        awk -v hz="$(getconf CLK_TCK)" '{t += $12 + $13} END {printf "%.2f", t / hz}'
}

# VmRSS in kB of PID and its descendants.
rss_kb() { # pid
    local p
    for p in $(tree_pids "$1"); do cat "/proc/$p/status" 2>/dev/null || true; done |
        awk '$1 == "VmRSS:" {k += $2} END {print k + 0}'
}

mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || REV="$REV+changes"
say "$(nproc) cores; open files: $NOFILE; eddy $REV; I/O backend: ${EDDY_IO_BACKEND:-auto}"

# Markdown number: 123456.7 -> 123,457
fmt_awk='function grp(x,    s, r) { s = sprintf("%.0f", x); r = ""
             while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
             return s r }
         function median(key, f,    n, i, j, t, a) {
             n = split(vals[key, f], a, " ")
             if (n == 0) return ""
             for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
             lo[key, f] = a[1]; hi[key, f] = a[n]
             return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
         }
         function parse(    i, p) {
             delete kv
             for (i = 1; i <= NF && $i != "#"; i++) { p = index($i, "="); if (p) kv[substr($i, 1, p - 1)] = substr($i, p + 1) }
         }'

# ----------------------------------------------------------------- plaintext

# wrk's latency as ms: 812.00us, 1.20ms, 1.01s
wrk_ms() { awk -v x="$1" 'BEGIN {
    v = x + 0; u = x; sub(/^[0-9.]+/, "", u)
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
    printf "%.3f", v }'; }

plain_cell() { # round conns name
    local round=$1 c=$2 name=$3 out rc=0 head cpu0 cpu1 line
    head="mode=plaintext round=$round server=$name conns=$c"
    next_port
    server_cmd "$name" plaintext
    if ! start "$name" "${CMD[@]}"; then
        echo "$head req_per_s=- failed=start # $(tr '\n' ' ' <"$SLOG" | cut -c1-300)" | tee -a "$RAW" >&2
        return
    fi
    cpu0=$(cpu_s "$SPID")
    out=$(timeout -k 5 $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$c" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$PORT/" 2>&1) || rc=$?
    cpu1=$(cpu_s "$SPID")
    local alive=1
    kill -0 "$SPID" 2>/dev/null || alive=0
    stop "$name"
    local rps reqs secs p50 p99 errs non2xx
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    # "123456 requests in 10.00s, 15.32MB read" (wrk: us, ms, s, m, h)
    read -r reqs secs < <(awk '/ requests in / {s = $4; sub(/,$/, "", s); v = s + 0; sub(/^[0-9.]+/, "", s)
        f = s == "us" ? 1e-6 : s == "ms" ? 1e-3 : s == "m" ? 60 : s == "h" ? 3600 : 1
        printf "%s %.3f\n", $1, v * f}' <<<"$out") || true
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    if [ "$rc" != 0 ] || [ -z "$rps" ] || [ -z "${reqs:-}" ] || [ "${reqs:-0}" = 0 ] || [ "$alive" = 0 ]; then
        echo "run_server.sh: wrk against $name (conns $c) failed (exit $rc$([ "$alive" = 1 ] || echo ', the server died')): $out" >&2
        echo "$head req_per_s=- failed=$([ "$alive" = 1 ] && echo load || echo server) # wrk exit $rc" | tee -a "$RAW" >&2
        return
    fi
    line="$head req_per_s=$rps requests=$reqs secs=$secs p50_ms=$(wrk_ms "$p50") p99_ms=$(wrk_ms "$p99")"
    line+=" errors=${errs:-0} non2xx=${non2xx:-0}"
    line+=" server_cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}')"
    echo "$line" | tee -a "$RAW" >&2
}

plain_summary() {
    local order="" c name
    for name in eddy eddy-shared "${PEERS[@]}"; do for c in $CONNS; do order+=" $name:$c"; done; done
    echo "## plaintext"
    echo
    echo "wrk -t$WRK_THREADS -c C -d${DURATION}s --latency, GET / (\"Hello, World!\", keep-alive);" \
        "$(nproc) cores, shared with wrk; median of $ROUNDS round(s), [min-max] of req/s;" \
        "each run a fresh server process. eddy $REV, I/O backend ${EDDY_IO_BACKEND:-auto}; $(date -u +%F)."
    echo "CPU/req: the server's user + system CPU over the run / requests; cores: its CPU s / the run's seconds."
    echo
    awk -v order="$order" -v w="$WORKERS" "$fmt_awk"'
    function label(s) {
        if (s == "eddy") return "eddy (" w " workers, listener per worker)"
        if (s == "eddy-shared") return "eddy (" w " workers, --listen shared)"
        if (s == "nginx") return "nginx (" w " workers)"
        if (s == "go") return "Go net/http (GOMAXPROCS " w ")"
        if (s == "tokio") return "Tokio (" w " workers)"
        if (s == "libuv") return "libuv (one loop)"
        if (s == "threads") return "thread per connection"
        return s
    }
    function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
    {
        parse()
        key = kv["server"] ":" kv["conns"]
        seen[key] = 1
        if (kv["req_per_s"] == "-") { failed[key]++; why[key] = kv["failed"]; next }
        vals[key, "rps"] = vals[key, "rps"] " " kv["req_per_s"]
        vals[key, "p50"] = vals[key, "p50"] " " kv["p50_ms"]
        vals[key, "p99"] = vals[key, "p99"] " " kv["p99_ms"]
        if (kv["requests"] > 0) vals[key, "us"] = vals[key, "us"] " " kv["server_cpu_s"] * 1e6 / kv["requests"]
        if (kv["secs"] > 0) vals[key, "cores"] = vals[key, "cores"] " " kv["server_cpu_s"] / kv["secs"]
        errors[key] += kv["errors"] + kv["non2xx"]
    }
    END {
        print "| server | conns | req/s median [min-max] | p50 ms | p99 ms | CPU us/req | cores | errors |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        n = split(order, keys, " ")
        for (i = 1; i <= n; i++) {
            k = keys[i]
            if (!(k in seen)) continue
            split(k, p, ":")
            m = median(k, "rps")
            if (m == "") {
                printf "| %s | %s | failed (%s) | - | - | - | - | - |\n", label(p[1]), p[2], why[k]
                continue
            }
            rps[k] = m
            printf "| %s | %s | %s [%s-%s]%s | %.2f | %.2f | %.1f | %.2f | %d |\n", label(p[1]), p[2],
                grp(m), grp(lo[k, "rps"]), grp(hi[k, "rps"]),
                failed[k] ? sprintf(" (%d run(s) failed: %s)", failed[k], why[k]) : "",
                median(k, "p50"), median(k, "p99"), median(k, "us"), median(k, "cores"), errors[k]
        }
        print ""
        print "eddy'"'"'s req/s / the peer'"'"'s (ratio of the medians; > 1: eddy ahead):"
        print ""
        print "| eddy | conns | vs nginx | vs Go | vs Tokio | vs libuv | vs threads |"
        print "|---|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            split(keys[i], p, ":")
            if (p[1] != "eddy" && p[1] != "eddy-shared") continue
            if (!(keys[i] in seen)) continue
            c = p[2]; e = rps[keys[i]]
            printf "| %s | %s | %s | %s | %s | %s | %s |\n", (p[1] == "eddy" ? "listener per worker" : "--listen shared"), c,
                ratio(e, rps["nginx:" c]), ratio(e, rps["go:" c]), ratio(e, rps["tokio:" c]),
                ratio(e, rps["libuv:" c]), ratio(e, rps["threads:" c])
        }
    }' "$RAW"
}

plaintext_mode() {
    local round c name
    RAW="$OUT/plaintext-$STAMP.txt"
    : >"$RAW"
    say "plaintext: raw lines go to $RAW"
    local maxc=0
    for c in $CONNS; do if [ "$c" -gt "$maxc" ]; then maxc=$c; fi; done
    [ "$NOFILE" -gt $((maxc + 100)) ] ||
        echo "run_server.sh: open files limited to $NOFILE: $maxc connections may fail" >&2
    for round in $(seq 1 "$ROUNDS"); do
        for c in $CONNS; do
            for name in eddy eddy-shared "${PEERS[@]}"; do
                have "$name" || continue
                plain_cell "$round" "$c" "$name"
            done
        done
    done
    echo
    plain_summary | tee "$OUT/plaintext-$STAMP.md"
    echo
    echo "raw lines: $RAW"
}

# ---------------------------------------------------------------------- idle

idle_cell() { # round n name
    local round=$1 n=$2 name=$3 head before after cpid hold out="$TMPD/idle.out" ok=0 why="" msg=""
    head="mode=idle round=$round server=$name n=$n"
    if [ "$name" = threads ] && [ "$n" -gt "$THREADS_IDLE_MAX" ]; then
        echo "$head bytes_per_conn=- skipped=cap # a thread per connection; THREADS_IDLE_MAX=$THREADS_IDLE_MAX" \
            "(pid_max $(cat /proc/sys/kernel/pid_max), threads-max $(cat /proc/sys/kernel/threads-max))" |
            tee -a "$RAW" >&2
        return
    fi
    if [ $((n + 64)) -gt "$NOFILE" ]; then
        echo "$head bytes_per_conn=- failed=nofile # open files limited to $NOFILE here (hard limit;" \
            "fs.nr_open $(cat /proc/sys/fs/nr_open)): N=$n needs $((n + 64)); raising the hard limit takes" \
            "root with CAP_SYS_RESOURCE" | tee -a "$RAW" >&2
        return
    fi
    next_port
    server_cmd "$name" idle "$n"
    if ! start "$name" "${CMD[@]}"; then
        echo "$head bytes_per_conn=- failed=start # $(tr '\n' ' ' <"$SLOG" | cut -c1-300)" | tee -a "$RAW" >&2
        return
    fi
    sleep "$IDLE_SETTLE"
    before=$(rss_kb "$SPID")
    # stdin of the client: a FIFO this script holds open; closing it (or this
    # script dying) ends the client's hold
    rm -f "$TMPD/hold"
    mkfifo "$TMPD/hold"
    exec {hold}<>"$TMPD/hold"
    "$IDLE" -w "$IDLE_WINDOW" -t "$IDLE_TIMEOUT" -s "$IDLE_STALL" 127.0.0.1 "$PORT" "$n" <"$TMPD/hold" >"$out" 2>&1 {hold}>&- &
    cpid=$!
    pids+=("$cpid")
    for _ in $(seq $(((IDLE_TIMEOUT + 10) * 10))); do
        grep -q '^ready ' "$out" && { ok=1; break; }
        kill -0 "$cpid" 2>/dev/null || break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$ok" = 1 ]; then
        sleep "$IDLE_SETTLE"
        after=$(rss_kb "$SPID")
        kill -0 "$SPID" 2>/dev/null || { ok=0; why=server; msg="the server died"; }
        kill -0 "$cpid" 2>/dev/null || { ok=0; why=client; msg="http_idle_clients exited: $(tr '\n' ' ' <"$out")"; }
    elif ! kill -0 "$SPID" 2>/dev/null; then
        why=server msg="the server died: $(tr '\n' ' ' <"$SLOG" | cut -c1-300)"
    else
        why=client msg=$(grep -v '^ready' "$out" | tr '\n' ' ' | cut -c1-400 || true)
        [ -n "$msg" ] || msg="no 'ready' within $((IDLE_TIMEOUT + 10)) s"
        [ ! -s "$SLOG" ] || msg+="; the server's log ends: $(tail -n 2 "$SLOG" | tr '\n' ' ' | cut -c1-300)"
    fi
    # end the hold: EOF on the client's stdin, then SIGTERM, then SIGKILL
    exec {hold}>&-
    for _ in $(seq 100); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$cpid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$cpid" 2>/dev/null || true
    { wait "$cpid" || true; } 2>/dev/null
    local keep=() p
    for p in "${pids[@]}"; do [ "$p" = "$cpid" ] || keep+=("$p"); done
    pids=("${keep[@]}")
    stop "$name"
    if [ "$ok" = 1 ]; then
        local closed
        closed=$(sed -n 's/^done .*closed_by_server=\([0-9]*\).*/\1/p' "$out")
        echo "$head rss_before_kb=$before rss_after_kb=$after" \
            "bytes_per_conn=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}')" \
            "closed_by_server=${closed:--}" | tee -a "$RAW" >&2
    else
        echo "run_server.sh: idle $name at N=$n failed: $msg" >&2
        echo "$head bytes_per_conn=- failed=$why # $msg" | tee -a "$RAW" >&2
    fi
}

idle_summary() {
    local order="" n name
    for name in eddy "${PEERS[@]}"; do for n in $IDLE_N; do order+=" $name:$n"; done; done
    echo "## idle"
    echo
    echo "Server RSS per idle keep-alive connection: (VmRSS with N connections open and idle - VmRSS once" \
        "started) * 1024 / N; each connection sent one GET and read its answer; median of $IDLE_ROUNDS round(s)," \
        "[min-max]. nginx: master + workers. Kernel memory (socket buffers, kernel thread stacks) is not in RSS." \
        "eddy $REV (--keepalive-ms $KEEPALIVE_MS), I/O backend ${EDDY_IO_BACKEND:-auto}; $(date -u +%F)."
    echo
    awk -v order="$order" -v w="$WORKERS" "$fmt_awk"'
    function label(s) {
        if (s == "eddy") return "eddy (" w " workers)"
        if (s == "nginx") return "nginx (" w " workers)"
        if (s == "go") return "Go net/http (GOMAXPROCS " w ")"
        if (s == "tokio") return "Tokio (" w " workers)"
        if (s == "libuv") return "libuv (one loop)"
        if (s == "threads") return "thread per connection"
        return s
    }
    {
        parse()
        key = kv["server"] ":" kv["n"]
        seen[key] = 1
        if (kv["bytes_per_conn"] == "-") {
            if (kv["skipped"] != "") skipped[key] = 1
            else { failed[key]++; why[key] = kv["failed"] }
            next
        }
        vals[key, "b"] = vals[key, "b"] " " kv["bytes_per_conn"]
        vals[key, "before"] = vals[key, "before"] " " kv["rss_before_kb"] / 1024
        vals[key, "after"] = vals[key, "after"] " " kv["rss_after_kb"] / 1024
        if (kv["closed_by_server"] > 0) closed[key] += kv["closed_by_server"]
    }
    END {
        print "| server | N | bytes/conn median [min-max] | RSS before MB | RSS after MB | vs eddy |"
        print "|---|---:|---:|---:|---:|---:|"
        n = split(order, keys, " ")
        for (i = 1; i <= n; i++) {
            k = keys[i]
            split(k, p, ":")
            if (p[1] == "eddy") eb[p[2]] = median(k, "b")
        }
        for (i = 1; i <= n; i++) {
            k = keys[i]
            if (!(k in seen)) continue
            split(k, p, ":")
            m = median(k, "b")
            if (m == "") {
                printf "| %s | %s | %s | - | - | - |\n", label(p[1]), grp(p[2]),
                    skipped[k] ? "not run (a thread each: capped at THREADS_IDLE_MAX)" : "failed (" why[k] ")"
                continue
            }
            note = failed[k] ? sprintf(" (%d run(s) failed: %s)", failed[k], why[k]) : ""
            if (closed[k]) note = note sprintf(" (%d closed by the server)", closed[k])
            printf "| %s | %s | %s [%s-%s]%s | %.1f | %.1f | %s |\n", label(p[1]), grp(p[2]), grp(m),
                grp(lo[k, "b"]), grp(hi[k, "b"]), note, median(k, "before"), median(k, "after"),
                (eb[p[2]] == "" || eb[p[2]] <= 0) ? "-" : sprintf("%.2f", m / eb[p[2]])
        }
    }' "$RAW"
    if grep -q ' server=nginx .*bytes_per_conn=[0-9]' "$RAW"; then
        echo
        echo "nginx allocates its connection table (worker_connections, here N * 5 / (4 * $WORKERS) + 1024" \
            "per worker) when it starts: that part is in its RSS before, not in bytes/conn."
    fi
    if grep -q ' failed=' "$RAW"; then
        echo
        echo "Failed runs (see $RAW):"
        echo
        grep ' failed=' "$RAW" | sed 's/^mode=idle round=[0-9]* server=\([^ ]*\) n=\([0-9]*\).*failed=\([^ ]*\) # /- \1, N=\2 (\3): /' |
            cut -c1-400 | awk '!seen[$0]++' 
    fi
}

idle_mode() {
    local round n name maxn=0
    RAW="$OUT/idle-$STAMP.txt"
    : >"$RAW"
    say "idle: raw lines go to $RAW"
    for n in $IDLE_N; do if [ "$n" -gt "$maxn" ]; then maxn=$n; fi; done
    [ "$NOFILE" -ge $((maxn + 64)) ] ||
        echo "run_server.sh: open files limited to $NOFILE (the hard limit; fs.nr_open" \
            "$(cat /proc/sys/fs/nr_open)): N above $((NOFILE - 64)) is not run and reported failed" \
            "(nofile); raising the hard limit takes root with CAP_SYS_RESOURCE" >&2
    say "idle: $(awk '{print $2 - $1 + 1}' /proc/sys/net/ipv4/ip_local_port_range) ephemeral ports;" \
        "http_idle_clients spreads its connections over 127.0.0.1..127.0.0.K, under 20,000 on each"
    for round in $(seq 1 "$IDLE_ROUNDS"); do
        for n in $IDLE_N; do
            for name in eddy "${PEERS[@]}"; do
                have "$name" || continue
                idle_cell "$round" "$n" "$name"
            done
        done
    done
    echo
    idle_summary | tee "$OUT/idle-$STAMP.md"
    echo
    echo "raw lines: $RAW"
}

case $MODE in
    plaintext) plaintext_mode ;;
    idle) idle_mode ;;
    all) plaintext_mode; idle_mode ;;
esac
