#!/usr/bin/env bash
# eddy-crawl's shared Redis frontier against its in-process one (issue 15):
# pages/s with 1, 2 and 3 processes on one frontier, politeness off, over a
# local origin, and what the frontier costs per URL in Redis. Cells, in
# interleaved rounds of separate processes (the order rotates each round),
# median and range per cell:
#   inproc   eddy-crawl -c CRAWL_CONC -w 2, the in-process frontier
#   redis1   the same with --frontier redis://127.0.0.1:PORT/0
#   redis2   2 processes started together on one crawl id, -c split between
#            them (CRAWL_CONC/2 each), -w 1 each
#   redis3   3 processes likewise (CRAWL_CONC/3 each), -w 1 each
# All: -q --no-robots --delay-ms 0 --per-host 100000 (as run_http.sh crawl),
# over a site of CRAWL_PAGES pages of 10 KB with 10 links each
# (benches/gen_site.py) served by nginx (1 worker) on loopback, seeded with
# page 0. The script starts its own redis-server (free port, --save ''
# --appendonly no) and flushes it before each run; each run has its own
# --crawl-id. Pages/s: the lines of all the processes' outputs over the wall
# time from the first start to the last exit. Every run must have crawled
# each of the CRAWL_PAGES pages exactly once, with status 200, across its
# outputs: otherwise the script stops (KEEP_GOING=1: marks the run ok=0 and
# goes on; the outputs are kept).
# Per URL (a page of the site), for the redis cells, from redis-server's
# INFO (CONFIG RESETSTAT before each run):
#   sent    commands the crawlers sent (EVALSHA, EVAL, SCRIPT, SELECT, ...:
#           the commandstats of commands a Lua script does not run)
#   cmds    every command Redis ran, those inside the Lua scripts included
#           (the sum of calls over INFO commandstats)
#   bytes   total_net_input_bytes + total_net_output_bytes
#   Redis CPU s per 1000 pages (used_cpu_user + used_cpu_sys), Redis memory
#   per URL after the crawl (used_memory), and the crawlers' CPU s per 1000
#   pages (user + sys of every process, /usr/bin/time).
# Raw lines go to stdout as they come (and to RAW_OUT); the tables follow.
# Not run by CI.
#
#   ROUNDS=5 CRAWL_PAGES=20000 bash benches/run_crawl_redis.sh [--no-build]
#
# Knobs (environment): ROUNDS=5 CRAWL_PAGES=20000 CRAWL_CONC=64
#   CELLS="inproc redis1 redis2 redis3" WARMUP=1 (an untimed inproc and
#   redis1 crawl first) KEEP_GOING=0 BUILD_DIR=build-bench (Release, configured if it
#   has no cache yet; the site is generated in it) RAW_OUT=/dev/null
#   PORT_BASE=24000
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
CRAWL_PAGES=${CRAWL_PAGES:-20000}
CRAWL_CONC=${CRAWL_CONC:-64}
CELLS=${CELLS:-"inproc redis1 redis2 redis3"}
WARMUP=${WARMUP:-1}
KEEP_GOING=${KEEP_GOING:-0}
BUILD_DIR=${BUILD_DIR:-build-bench}
RAW_OUT=${RAW_OUT:-/dev/null}
PORT_BASE=${PORT_BASE:-24000}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PY=/usr/bin/python3

NO_BUILD=0
for a in "$@"; do
    case $a in
        --no-build) NO_BUILD=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_crawl_redis.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
    esac
done
say() { echo "== $*" >&2; }
die() { echo "run_crawl_redis.sh: $*" >&2; exit 1; }
raw() { echo "$*"; echo "$*" >>"$RAW_OUT"; }

for c in nginx redis-server redis-cli /usr/bin/time timeout; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install nginx-light redis-server time)"
done
for c in $CELLS; do
    case $c in inproc|redis1|redis2|redis3) ;; *) die "CELLS: unknown cell '$c'" ;; esac
done

CRAWL="$BUILD_DIR/tools/crawl/eddy-crawl"
if [ "$NO_BUILD" != 1 ]; then
    # shellcheck source=benches/lib_build.sh disable=SC1091
    . "$ROOT/benches/lib_build.sh"
    build_eddy_benches eddy-crawl
fi
[ -x "$CRAWL" ] || die "no $CRAWL (build it, or drop --no-build)"
[ "$CELLS" = inproc ] || "$CRAWL" --help 2>&1 | grep -q -- '--frontier' ||
    die "$CRAWL has no --frontier (built without hiredis? apt-get install libhiredis-dev)"

WORK=$(mktemp -d)
pids=()
RUNNING=()
cleanup() {
    for p in "${RUNNING[@]:-}" "${pids[@]:-}"; do
        if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 143' TERM INT
. "$ROOT/benches/lib_servers.sh"

start_redis() { # port
    local d="$WORK/redis"; mkdir -p "$d"
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" \
        --logfile "$d/redis.log" --daemonize no & pids+=($!)
    REDIS_PID=$!
    wait_port "$1"
    for _ in $(seq 100); do [ "$(rcli PING 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
    die "redis-server on $1 does not answer (see $d/redis.log)"
}
rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }
info_field() { # info-text field
    sed -n "s/^$2:\([0-9.]*\).*/\1/p" <<<"$1" | head -1
}

# CPU seconds the machine's CPUs have been busy, all processes (/proc/stat).
machine_busy() {
    awk '/^cpu / {printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / 100}' /proc/stat
}
# CPU seconds of this script's servers: nginx (master and worker) and
# redis-server.
servers_cpu() {
    local p t=0 v
    for p in "$NGINX_PID" $(cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null) "$REDIS_PID"; do
        v=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$p/stat" 2>/dev/null) || v=0
        t=$(awk -v a="$t" -v b="${v:-0}" 'BEGIN {print a + b}')
    done
    echo "$t"
}

# Median and range of field F over the raw lines matching PATTERN (as run_http.sh).
stat() { # file pattern field [decimals]
    local d=${4:-3}
    grep -E "$2" "$1" | sed -n "s/.* $3=\([0-9.]*\).*/\1/p" | sort -g |
        awk -v d="$d" '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
             m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
             f = "%." d "f (%." d "f-%." d "f)"; printf f, m, v[1], v[NR]}'
}

site_of() { # pages: the generated site's directory, made when missing
    local site="$BUILD_DIR/crawl-site-$1"
    if [ ! -f "$site/p/$(($1 - 1)).html" ]; then
        say "generating $1 pages of 10 KB in $site"
        "$PY" "$ROOT/benches/gen_site.py" "$site" "$1"
    fi
    echo "$site"
}

# -c of each of n processes: CRAWL_CONC split, the first ones one more.
split_conc() { # n i
    local q=$((CRAWL_CONC / $1)) r=$((CRAWL_CONC % $1))
    echo $((q + ($2 < r ? 1 : 0)))
}
conc_of() { # n: "22+21+21"
    local s="" i
    for ((i = 0; i < $1; i++)); do s+="${s:++}$(split_conc "$1" "$i")"; done
    echo "$s"
}

# Checks outputs: each page of the site exactly once, status 200. Prints
# "pages=L unique=U inrange=I ok200=S ok=0|1".
check_outputs() { # out...
    cat "$@" | awk -v n="$CRAWL_PAGES" '
        { lines++
          if (match($0, /"url":"[^"]*"/)) {
              u = substr($0, RSTART + 7, RLENGTH - 8)
              if (!(u in seen)) { seen[u] = 1; uniq++
                  if (match(u, /\/p\/[0-9]+\.html$/)) {
                      k = substr(u, RSTART + 3, RLENGTH - 8) + 0
                      if (k >= 0 && k < n) inr++ } } }
          if ($0 ~ /"status":200,/ && $0 ~ /"error":null/) ok200++ }
        END { printf "pages=%d unique=%d inrange=%d ok200=%d ok=%d\n", lines, uniq, inr, ok200,
                  (lines == n && uniq == n && inr == n && ok200 == n) }'
}

# The commandstats of INFO as "name=calls ..." (sorted by calls).
cmdstats() {
    rcli INFO commandstats | tr -d '\r' |
        sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\2 \1/p' | sort -rn |
        awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1}'
}

FAILED=0
# One run of a cell: its processes started together, waited for, checked.
run_cell() { # round cell
    local r=$1 cell=$2 n=1 w=2 fr=()
    case $cell in
        inproc) ;;
        redis1) fr=(--frontier "redis://127.0.0.1:$RPORT/0" --crawl-id "bench-$r-$cell") ;;
        redis2) n=2 w=1 fr=(--frontier "redis://127.0.0.1:$RPORT/0" --crawl-id "bench-$r-$cell") ;;
        redis3) n=3 w=1 fr=(--frontier "redis://127.0.0.1:$RPORT/0" --crawl-id "bench-$r-$cell") ;;
    esac
    local d="$WORK/run"; rm -rf "$d"; mkdir -p "$d"
    local cpu0="" mem0=0 load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    if [ ${#fr[@]} -gt 0 ]; then
        rcli FLUSHALL >/dev/null
        local i0; i0=$(rcli INFO | tr -d '\r')
        cpu0=$(awk -v u="$(info_field "$i0" used_cpu_user)" -v s="$(info_field "$i0" used_cpu_sys)" \
            'BEGIN {print u + s}')
        mem0=$(info_field "$i0" used_memory)
        rcli CONFIG RESETSTAT >/dev/null
    fi
    local cmd=() ps=() i
    local busy0 srv0; busy0=$(machine_busy); srv0=$(servers_cpu)
    local t0; t0=$(date +%s.%N)
    for ((i = 0; i < n; i++)); do
        cmd=("$CRAWL" -q --no-robots --delay-ms 0 --per-host 100000 -c "$(split_conc "$n" "$i")"
             -w "$w" "${fr[@]}" -o "$d/out$i" "http://127.0.0.1:$PORT/p/0.html")
        echo "${cmd[*]}" >"$d/cmd$i"
        # timeout leads its own process group: killing it (the exit trap)
        # takes time and the crawler with it
        timeout 600 /usr/bin/time -f "%e %U %S %M" -o "$d/time$i" "${cmd[@]}" >"$d/log$i" 2>&1 &
        ps+=($!)
    done
    RUNNING=("${ps[@]}")
    for ((i = 0; i < n; i++)); do
        local st=0
        wait "${ps[$i]}" || st=$?
        echo "$st" >"$d/rc$i"
    done
    local t1; t1=$(date +%s.%N)
    local busy1 srv1; busy1=$(machine_busy); srv1=$(servers_cpu)
    RUNNING=()
    local cpu=0 rss=0 rcs="" errs=""
    for ((i = 0; i < n; i++)); do
        local u s m
        read -r _ u s m < <(tail -n 1 "$d/time$i")
        cpu=$(awk -v a="$cpu" -v u="$u" -v s="$s" 'BEGIN {print a + u + s}')
        rss=$(awk -v a="$rss" -v m="$m" 'BEGIN {print (m / 1024 > a ? m / 1024 : a)}')
        rcs+="${rcs:+,}$(cat "$d/rc$i")"
        [ -s "$d/log$i" ] && errs+=" [p$i: $(head -c 300 "$d/log$i" | tr '\n' ' ')]"
        touch "$d/out$i"
    done
    local outs=(); for ((i = 0; i < n; i++)); do outs+=("$d/out$i"); done
    local chk; chk=$(check_outputs "${outs[@]}")
    local per=""; for ((i = 0; i < n; i++)); do per+="${per:+,}$(wc -l <"$d/out$i")"; done
    local pages; pages=$(sed -n 's/^pages=\([0-9]*\).*/\1/p' <<<"$chk")
    local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
    local line
    line="crawlredis round=$r cell=$cell procs=$n conc=$(conc_of "$n") workers=$w $chk per_proc=$per"
    line+=" wall_s=$wall pages_per_s=$(awk -v p="$pages" -v w="$wall" 'BEGIN {printf "%.0f", p / w}')"
    line+=" cpu_s=$(printf '%.2f' "$cpu") crawl_cpu_s_per_kpage=$(awk -v c="$cpu" -v p="$pages" \
        'BEGIN {printf "%.3f", p ? c * 1000 / p : 0}') rss_mb_max=$(printf '%.1f' "$rss") rc=$rcs load1=$load1"
    # what the rest of the machine (other people's builds and tests) used
    line+=" $(awk -v b0="$busy0" -v b1="$busy1" -v s0="$srv0" -v s1="$srv1" -v c="$cpu" -v w="$wall" \
        'BEGIN {o = (b1 - b0) - (s1 - s0) - c; if (o < 0) o = 0
                printf "servers_cpu_s=%.2f other_cpu_s=%.2f other_cores=%.2f", s1 - s0, o, o / w}')"
    if [ ${#fr[@]} -gt 0 ]; then
        local i1; i1=$(rcli INFO | tr -d '\r')
        local cs; cs=$(cmdstats)
        local cpu1; cpu1=$(awk -v u="$(info_field "$i1" used_cpu_user)" -v s="$(info_field "$i1" used_cpu_sys)" \
            'BEGIN {print u + s}')
        local nin nout mem1
        nin=$(info_field "$i1" total_net_input_bytes)
        nout=$(info_field "$i1" total_net_output_bytes)
        mem1=$(info_field "$i1" used_memory)
        # sent: commands a client sends and a script does not run; the
        # script's own (SADD, HSET, ...) are the rest. INFO, CONFIG and
        # FLUSHALL are this script's.
        local sums; sums=$(tr ' ' '\n' <<<"$cs" | awk -F= '
            $1 ~ /^(info|config\|.*|flushall)$/ { next }
            { all += $2 }
            $1 ~ /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro|script\|.*|function\|.*|select|hello|ping|auth|client\|.*|multi|exec|discard|quit)$/ {
                sent += $2 }
            END { printf "%d %d", sent, all }')
        local sent all; read -r sent all <<<"$sums"
        line+=" redis_sent=$sent redis_cmds=$all net_in=$nin net_out=$nout"
        line+=" redis_cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.3f", b - a}')"
        line+=" $(awk -v p="$pages" -v s="$sent" -v a="$all" -v i="$nin" -v o="$nout" -v c0="$cpu0" \
            -v c1="$cpu1" -v m0="$mem0" -v m1="$mem1" 'BEGIN { if (!p) p = 1
            printf "sent_per_url=%.2f cmds_per_url=%.1f bytes_per_url=%.0f in_per_url=%.0f out_per_url=%.0f redis_cpu_s_per_kpage=%.4f redis_mem_per_url=%.0f",
                s / p, a / p, (i + o) / p, i / p, o / p, (c1 - c0) * 1000 / p, (m1 - m0) / p }')"
        raw "cmdstats round=$r cell=$cell $cs" >>"$LOG"
    fi
    raw "$line" | tee -a "$LOG"
    local ok; ok=$(sed -n 's/.* ok=\([01]\).*/\1/p' <<<"$chk")
    if [ "$ok" != 1 ] || [ "$rcs" != "$(printf '0%.0s,' $(seq "$n") | sed 's/,$//')" ]; then
        local keep="$BUILD_DIR/crawl-redis-fail-$r-$cell-$$"
        cp -R "$d" "$keep"
        echo "run_crawl_redis.sh: FAILED: round $r $cell: $chk per_proc=$per exit=$rcs$errs" >&2
        for ((i = 0; i < n; i++)); do echo "    process $i: $(cat "$d/cmd$i")" >&2; done
        echo "    outputs, logs and commands kept in $keep" >&2
        FAILED=$((FAILED + 1))
        [ "$KEEP_GOING" = 1 ] || die "a run did not crawl every page exactly once (KEEP_GOING=1 to go on)"
    elif [ -n "$errs" ]; then
        echo "run_crawl_redis.sh: round $r $cell wrote to stderr:$errs" >&2
    fi
}

LOG=$(mktemp)
trap 'cleanup; rm -f "$LOG"' EXIT

site=$(site_of "$CRAWL_PAGES")
next_port; start_nginx "$PORT" "$site"
HPORT=$PORT
next_port; RPORT=$PORT; start_redis "$RPORT"
PORT=$HPORT
RVER=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
read -ra cells <<<"$CELLS"
say "crawl over the Redis frontier: $CRAWL_PAGES pages, nginx (1 worker) on $HPORT, redis-server $RVER on $RPORT,"
say "  $ROUNDS rounds of: ${cells[*]} (order rotating); $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$WARMUP" = 1 ]; then
    # the site into the page cache, and Redis's first allocations (its
    # script cache, ...) out of the first redis run's memory per URL
    for c in inproc redis1; do
        [[ " $CELLS " = *" $c "* ]] || continue
        say "warm-up (untimed): $c"
        run_cell 0 "$c" >/dev/null
    done
    sed -i '/round=0 /d' "$LOG"
fi
for r in $(seq "$ROUNDS"); do
    nc=${#cells[@]}
    for ((k = 0; k < nc; k++)); do
        run_cell "$r" "${cells[$(((k + r - 1) % nc))]}"
    done
    # per-round ratios to inproc
    base=$(sed -n "s/^crawlredis round=$r cell=inproc .* ok=1 .* pages_per_s=\([0-9.]*\).*/\1/p" "$LOG")
    if [ -n "$base" ]; then
        rl="ratio round=$r"
        for c in "${cells[@]}"; do
            [ "$c" = inproc ] && continue
            v=$(sed -n "s/^crawlredis round=$r cell=$c .* ok=1 .* pages_per_s=\([0-9.]*\).*/\1/p" "$LOG")
            [ -n "$v" ] && rl+=" ${c}_over_inproc=$(awk -v a="$v" -v b="$base" 'BEGIN {printf "%.3f", a / b}')"
        done
        [ "$rl" = "ratio round=$r" ] || raw "$rl" | tee -a "$LOG"
    fi
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "crawl over the Redis frontier: $CRAWL_PAGES pages of 10 KB HTML (10 links each) from nginx (1 worker),"
echo "redis-server $RVER on loopback, -q --no-robots --delay-ms 0 --per-host 100000; $ROUNDS rounds,"
echo "$(nproc) CPUs, load average $LOAD_START at the start, $LOAD_END at the end (this script's own"
echo "processes included); others_cores: CPUs the rest of the machine kept busy during the runs; median (min-max)"
printf '%-7s %5s %-9s %-7s %26s %22s %20s %20s\n' cell procs conc workers pages_per_s crawl_cpu_s rss_mb_max \
    others_cores
for c in "${cells[@]}"; do
    case $c in inproc|redis1) n=1 w=2 ;; redis2) n=2 w=1 ;; redis3) n=3 w=1 ;; esac
    p="^crawlredis round=[0-9]+ cell=$c .* ok=1 "
    printf '%-7s %5s %-9s %-7s %26s %22s %20s %20s\n' "$c" "$n" "$(conc_of "$n")" "$w$([ "$n" -gt 1 ] && echo ' each')" \
        "$(stat "$LOG" "$p" pages_per_s 0)" "$(stat "$LOG" "$p" cpu_s 2)" "$(stat "$LOG" "$p" rss_mb_max 1)" \
        "$(stat "$LOG" "$p" other_cores 2)"
done
echo
echo "pages/s as a ratio to inproc in the same round (target for redis1: at least 0.90):"
for c in "${cells[@]}"; do
    [ "$c" = inproc ] && continue
    printf '  %-7s %s\n' "$c" "$(stat "$LOG" "^ratio round" "${c}_over_inproc")"
done
echo
echo "per URL (a page crawled): sent = commands the crawlers sent, cmds = all Redis ran (Lua's included),"
echo "bytes = Redis's network in + out; CPU s per 1000 pages (Redis; the crawlers, all processes)"
printf '%-7s %18s %20s %22s %22s %24s %22s\n' cell sent cmds bytes redis_cpu_s/kpage crawl_cpu_s/kpage redis_mem_B
for c in "${cells[@]}"; do
    p="^crawlredis round=[0-9]+ cell=$c .* ok=1 "
    if [ "$c" = inproc ]; then
        printf '%-7s %18s %20s %22s %22s %24s %22s\n' "$c" - - - - "$(stat "$LOG" "$p" crawl_cpu_s_per_kpage 3)" -
        continue
    fi
    printf '%-7s %18s %20s %22s %22s %24s %22s\n' "$c" "$(stat "$LOG" "$p" sent_per_url 2)" \
        "$(stat "$LOG" "$p" cmds_per_url 1)" "$(stat "$LOG" "$p" bytes_per_url 0)" \
        "$(stat "$LOG" "$p" redis_cpu_s_per_kpage 4)" "$(stat "$LOG" "$p" crawl_cpu_s_per_kpage 3)" \
        "$(stat "$LOG" "$p" redis_mem_per_url 0)"
done
first=$(grep -m1 '^cmdstats round=[0-9]* cell=redis1 ' "$LOG" || true)
[ -n "$first" ] && echo && echo "commands in one redis1 run (calls): ${first#cmdstats }"
if [ "$FAILED" -gt 0 ]; then
    echo
    echo "$FAILED run(s) did not crawl every page exactly once (see above): left out of the tables"
    exit 1
fi
