#!/usr/bin/env bash
# eddy's HTTP client beside its peers on this machine, interleaved rounds of
# separate processes, median and range per cell:
#   fanout     N GETs to a delay origin (the peers' Go origin: every GET
#              answered after DELAY_MS) at concurrencies CONC: eddy with 1
#              and 2 workers beside the peers' fan-out clients (Go, curl
#              multi, curl thread per request, Python asyncio and threads):
#              wall time as a ratio to the ideal N*DELAY/C, CPU s, peak RSS
#   keepalive  client overhead: keep-alive GETs against nginx (1 worker) at
#              KA_CONC in flight for KA_SECONDS: eddy on 1 worker beside a bare
#              curl multi_socket + epoll loop (benches/curl_raw.c)
#   crawl      eddy-crawl with politeness off over a generated static site
#              (CRAWL_PAGES pages of 10 KB, benches/gen_site.py) served by nginx
#   crawlmem   what a crawl keeps per URL: peak RSS of eddy-crawl over sites
#              of CRAWL_MEM_PAGES ("5000 50000") pages in interleaved rounds;
#              the slope between the two is the bytes each URL costs
#   all        fanout, keepalive and crawl
# Raw lines go to stdout as they come (and to RAW_OUT); the tables follow.
# Not run by CI.
#
#   NET_PEERS=/path/to/peers/net benches/run_http.sh [fanout|keepalive|crawl|all] [--no-build]
#
# NET_PEERS is the network peers' directory (the one holding run.sh, c/, go/,
# python/); fanout needs it (keepalive, crawl and crawlmem do not): it is
# copied to $BUILD_DIR/netpeers and its fan-out clients built there. Unset,
# the copy an earlier run (of this script, run_net.sh or run_server.sh) left
# there is built.
#
# Knobs (environment): ROUNDS=5 N=10000 CONC="100 1000" DELAY_MS=20
#   KA_CONC=100 KA_SECONDS=5 CRAWL_PAGES=20000 CRAWL_CONC=64
#   CRAWL_MEM_PAGES="5000 50000"
#   BUILD_DIR=build-bench RAW_OUT=/dev/null PORT_BASE=23000
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NET_SRC=${NET_PEERS:-}
ROUNDS=${ROUNDS:-5}
N=${N:-10000}
CONC=${CONC:-"100 1000"}
DELAY_MS=${DELAY_MS:-20}
KA_CONC=${KA_CONC:-100}
KA_SECONDS=${KA_SECONDS:-5}
CRAWL_PAGES=${CRAWL_PAGES:-20000}
CRAWL_CONC=${CRAWL_CONC:-64}
CRAWL_MEM_PAGES=${CRAWL_MEM_PAGES:-"5000 50000"}
BUILD_DIR=${BUILD_DIR:-build-bench}
RAW_OUT=${RAW_OUT:-/dev/null}
PORT_BASE=${PORT_BASE:-23000}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PY=/usr/bin/python3 # Debian's: the peers' aiohttp and requests live there

MODE=all NO_BUILD=0
for a in "$@"; do
    case $a in
        fanout|keepalive|crawl|crawlmem|all) MODE=$a ;;
        --no-build) NO_BUILD=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_http.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
    esac
done
say() { echo "== $*" >&2; }
die() { echo "run_http.sh: $*" >&2; exit 1; }
raw() { echo "$*"; echo "$*" >>"$RAW_OUT"; }

NET_DIR="$BUILD_DIR/netpeers"
NB="$NET_DIR/build"
B="$BUILD_DIR/benches"

if [ "$NO_BUILD" != 1 ]; then
    say "building eddy (Release) in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=OFF \
        -DEDDY_BUILD_BENCHES=ON >/dev/null || die "cmake configure failed"
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target eddy_http_fanout eddy_http_keepalive \
        curl_raw eddy-crawl >/dev/null || die "eddy build failed"
    if [ "$MODE" = fanout ] || [ "$MODE" = all ]; then
        if [ -n "$NET_SRC" ]; then
            [ -d "$NET_SRC" ] || die "NET_PEERS=$NET_SRC: no such directory (the network peers' directory," \
                "with run.sh, c/, go/, python/)"
            say "building the fan-out peers from a copy in $NET_DIR"
            mkdir -p "$NB"
            cp -R "$NET_SRC/." "$NET_DIR/" && chmod -R u+w "$NET_DIR"
        elif [ -f "$NET_DIR/run.sh" ]; then
            say "NET_PEERS is not set: building the copy of the peers already in $NET_DIR"
            mkdir -p "$NB"
        else
            die "NET_PEERS is not set and $NET_DIR holds no copy of the peers: set NET_PEERS to the" \
                "network peers' directory (with run.sh, c/, go/, python/), or run keepalive, crawl or crawlmem alone"
        fi
        (cd "$NET_DIR/go" && GOPROXY=off go build -o ../build/netpeer-go .) ||
            die "Go peer: 'bash ${NET_SRC:-$NET_DIR}/run.sh setup' (golang-go)"
        gcc -O2 -Wall -o "$NB/curl_fanout" "$NET_DIR/c/curl_fanout.c" -lcurl -lpthread ||
            die "curl peer build failed"
    fi
fi

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'cleanup; exit 143' TERM INT
. "$ROOT/benches/lib_servers.sh"

# One timed run: prints "<label> <wall> <cpu_s> <rss_mb> <extra...>" (raw).
timed() { # label cmd...
    local label=$1; shift
    local t; t=$(mktemp)
    /usr/bin/time -f "%e %U %S %M" -o "$t" timeout 600 "$@" >"$t.out" 2>&1 || true
    read -r e u s m < <(tail -n 1 "$t")
    local wall; wall=$(sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' "$t.out" | head -1)
    local extra; extra=$(tr '\n' ' ' <"$t.out" | sed 's/  */ /g')
    raw "$label wall_s=${wall:-$e} cpu_s=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') rss_mb=$(awk -v m="$m" 'BEGIN{printf "%.1f", m/1024}') $extra"
    rm -f "$t" "$t.out"
}

# Median and range of field F over the raw lines matching PATTERN.
stat() { # file pattern field
    grep -E "$2" "$1" | sed -n "s/.* $3=\([0-9.]*\).*/\1/p" | sort -g |
        awk '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
             m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
             printf "%.3f (%.3f-%.3f)", m, v[1], v[NR]}'
}

LOG=$(mktemp)
trap 'cleanup; rm -f "$LOG"' EXIT

fanout() {
    ulimit -n "$(ulimit -Hn)"
    next_port
    "$NB/netpeer-go" origin "$PORT" "$DELAY_MS" 1024 & pids+=($!)
    wait_port "$PORT"
    local p="http://127.0.0.1:$PORT/"
    say "fanout: N=$N DELAY_MS=$DELAY_MS CONC=\"$CONC\", $ROUNDS rounds"
    for r in $(seq "$ROUNDS"); do
        for c in $CONC; do
            for cl in eddy-1w eddy-2w go curl-multi curl-threads python-asyncio python-threads; do
                case $cl in
                    eddy-1w) cmd=("$B/eddy_http_fanout" "$p" "$N" "$c" 1) ;;
                    eddy-2w) cmd=("$B/eddy_http_fanout" "$p" "$N" "$c" 2) ;;
                    go) cmd=("$NB/netpeer-go" fanout "$p" "$N" "$c") ;;
                    curl-multi) cmd=("$NB/curl_fanout" multi "$p" "$N" "$c") ;;
                    curl-threads) cmd=("$NB/curl_fanout" threads "$p" "$N" "$c") ;;
                    python-asyncio) cmd=("$PY" "$NET_DIR/python/fanout_asyncio.py" "$p" "$N" "$c") ;;
                    python-threads) cmd=("$PY" "$NET_DIR/python/fanout_threads.py" "$p" "$N" "$c") ;;
                esac
                timed "fanout round=$r conc=$c client=$cl" "${cmd[@]}" | tee -a "$LOG"
            done
        done
    done
    echo
    echo "fanout: N=$N, DELAY_MS=$DELAY_MS, ideal wall = N*DELAY/C; median (min-max) of $ROUNDS rounds"
    printf '%-15s %5s %24s %22s %22s %22s\n' client conc wall_s wall_over_ideal cpu_s rss_mb
    for c in $CONC; do
        local ideal; ideal=$(awk -v n="$N" -v d="$DELAY_MS" -v c="$c" 'BEGIN {print n*d/1000/c}')
        for cl in eddy-1w eddy-2w go curl-multi curl-threads python-asyncio python-threads; do
            local pat="conc=$c client=$cl "
            local w; w=$(stat "$LOG" "$pat" wall_s)
            local ratio; ratio=$(grep -E "$pat" "$LOG" | sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' |
                awk -v i="$ideal" '{print $1/i}' | sort -g | awk '{v[NR]=$1} END {if (!NR) {print "-"; exit}
                    m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.2f (%.2f-%.2f)", m, v[1], v[NR]}')
            printf '%-15s %5s %24s %22s %22s %22s\n' "$cl" "$c" "$w" "$ratio" \
                "$(stat "$LOG" "$pat" cpu_s)" "$(stat "$LOG" "$pat" rss_mb)"
        done
    done
}

keepalive() {
    next_port
    start_nginx "$PORT"
    local u="http://127.0.0.1:$PORT/"
    say "keepalive: nginx (1 worker), $KA_CONC in flight, $KA_SECONDS s, $ROUNDS rounds"
    for r in $(seq "$ROUNDS"); do
        timed "keepalive round=$r client=curl-raw" "$B/curl_raw" "$u" "$KA_CONC" "$KA_SECONDS" | tee -a "$LOG"
        timed "keepalive round=$r client=eddy" "$B/eddy_http_keepalive" "$u" "$KA_CONC" "$KA_SECONDS" | tee -a "$LOG"
    done
    echo
    echo "keepalive: $KA_CONC in flight against nginx (1 worker); median (min-max) of $ROUNDS rounds"
    printf '%-10s %26s %22s\n' client req_per_s cpu_us_per_req
    for cl in curl-raw eddy; do
        printf '%-10s %26s %22s\n' "$cl" "$(stat "$LOG" "keepalive .*client=$cl " req_per_s)" \
            "$(stat "$LOG" "keepalive .*client=$cl " cpu_us_per_req)"
    done
}

site_of() { # pages: the generated site's directory, made when missing
    local site="$BUILD_DIR/crawl-site-$1"
    if [ ! -f "$site/p/$(($1 - 1)).html" ]; then
        say "generating $1 pages of 10 KB in $site"
        "$PY" "$ROOT/benches/gen_site.py" "$site" "$1"
    fi
    echo "$site"
}

crawl() {
    local site; site=$(site_of "$CRAWL_PAGES")
    next_port
    start_nginx "$PORT" "$site"
    say "crawl: $CRAWL_PAGES pages, eddy-crawl -c $CRAWL_CONC --workers 2, politeness off, $ROUNDS rounds"
    for r in $(seq "$ROUNDS"); do
        local out; out=$(mktemp)
        local t0; t0=$(date +%s.%N)
        timed "crawl round=$r workers=2" "$BUILD_DIR/tools/crawl/eddy-crawl" -q --no-robots \
            --delay-ms 0 --per-host 100000 -c "$CRAWL_CONC" --workers 2 -o "$out" \
            "http://127.0.0.1:$PORT/p/0.html" | tee -a "$LOG"
        local t1; t1=$(date +%s.%N)
        local pages; pages=$(wc -l <"$out")
        raw "crawl round=$r pages=$pages pages_per_s=$(awk -v p="$pages" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", p/(b-a)}')" | tee -a "$LOG"
        rm -f "$out"
    done
    echo
    echo "crawl: $CRAWL_PAGES pages of 10 KB HTML with link extraction, 2 workers; median (min-max)"
    echo "pages/s $(stat "$LOG" "^crawl round=[0-9]+ pages=" pages_per_s)  cpu_s $(stat "$LOG" "^crawl round=[0-9]+ workers" cpu_s)  rss_mb $(stat "$LOG" "^crawl round=[0-9]+ workers" rss_mb)"
}

crawlmem() {
    local small big; read -r small big <<<"$CRAWL_MEM_PAGES"
    [ -n "$big" ] && [ "$big" -gt "$small" ] || die "CRAWL_MEM_PAGES: two sizes, smaller first"
    local sites=() ports=()
    for n in "$small" "$big"; do
        sites+=("$(site_of "$n")")
        next_port
        start_nginx "$PORT" "${sites[-1]}"
        ports+=("$PORT")
    done
    say "crawlmem: peak RSS over $small and $big pages, -c $CRAWL_CONC --workers 2, $ROUNDS rounds"
    for r in $(seq "$ROUNDS"); do
        local rss=() n=("$small" "$big")
        for i in 0 1; do
            local out; out=$(mktemp)
            local line; line=$(timed "crawlmem-run round=$r pages=${n[$i]}" \
                "$BUILD_DIR/tools/crawl/eddy-crawl" -q --no-robots --delay-ms 0 --per-host 100000 \
                -c "$CRAWL_CONC" --workers 2 -o "$out" "http://127.0.0.1:${ports[$i]}/p/0.html")
            local got; got=$(wc -l <"$out"); rm -f "$out"
            [ "$got" -eq "${n[$i]}" ] || die "crawlmem: $got of ${n[$i]} pages crawled"
            echo "$line"
            rss+=("$(sed -n 's/.* rss_mb=\([0-9.]*\).*/\1/p' <<<"$line")")
        done
        raw "crawlmem round=$r rss_small_mb=${rss[0]} rss_big_mb=${rss[1]} bytes_per_url=$(awk \
            -v a="${rss[0]}" -v b="${rss[1]}" -v s="$small" -v l="$big" \
            'BEGIN {printf "%.0f", (b - a) * 1048576 / (l - s)}')" | tee -a "$LOG"
    done
    echo
    echo "crawlmem: eddy-crawl peak RSS, $small vs $big pages, 2 workers; median (min-max)"
    echo "rss_mb $small: $(stat "$LOG" "^crawlmem round" rss_small_mb)  $big: $(stat "$LOG" "^crawlmem round" rss_big_mb)  bytes per URL: $(stat "$LOG" "^crawlmem round" bytes_per_url)"
}

case $MODE in
    fanout) fanout ;;
    crawlmem) crawlmem ;;
    keepalive) keepalive ;;
    crawl) crawl ;;
    all) fanout; keepalive; crawl ;;
esac
