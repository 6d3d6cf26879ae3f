/*
 * tools/crawl/frontier_redis_lua.h: the Lua scripts of the Redis frontier
 * (frontier_redis.c; docs/crawl.md, "Many processes on one frontier").
 * Redis runs a script alone: every step that could hand a URL out twice,
 * exceed a host's slots or lose an entry is one script. Each is
 * LUA_COMMON followed by its body; all take ARGV[1] the key prefix
 * ("ec:ID:"), ARGV[2] per_host, ARGV[3] robots on ("1") or off, then their
 * own arguments. Keys (HOST: "scheme://host[:port]"):
 *   seen          set     every URL ever queued
 *   q:HOST        list    the host's queue, oldest first (entries: frontier_redis.c)
 *   sched         zset    hosts with a queued entry and a free slot, by next start (ms)
 *   next:HOST     string  when the host may start its next fetch (ms, Redis's clock)
 *   active:HOST   string  fetches under way on the host, all processes
 *   robots:HOST   hash    st (P pending, F being fetched, R ready, - robots off),
 *                         delay (Crawl-delay ms, capped; -1 none), rules (text)
 *   leases        zset    lease ids by expiry (ms)
 *   lease:N       hash    e (the entry), h (host), owner, set/prev (next:HOST after/before)
 *   delayed       zset    "SEQ\nHOST\nENTRY" by when the retry is due
 *   count         hash    queued, cont (queued continuations), leased, pages
 *                         (started), done, hosts (with active > 0)
 *   seq           string  lease ids and delayed members
 *   def           hash    the options every process must share (--per-host ...)
 * An entry's first byte is its kind: R robots.txt, C continuation (a
 * retry or a redirect hop: outside the page budget), P page.
 */
#ifndef EDDY_CRAWL_FRONTIER_REDIS_LUA_H
#define EDDY_CRAWL_FRONTIER_REDIS_LUA_H

#define LUA_COMMON \
"if redis.replicate_commands then redis.replicate_commands() end\n" \
"local P, PH, RB = ARGV[1], tonumber(ARGV[2]), ARGV[3]\n" \
"local C = P .. 'count'\n" \
"local function now_ms()\n" \
"  local t = redis.call('TIME')\n" \
"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
"end\n" \
"local function kind(e) return string.sub(e, 1, 1) end\n" \
"local function num(v) return tonumber(v or '0') or 0 end\n" \
/* the host in sched (at its next start) or out of it, as its state says */ \
"local function resched(h)\n" \
"  local st = redis.call('HGET', P .. 'robots:' .. h, 'st')\n" \
"  local act = num(redis.call('GET', P .. 'active:' .. h))\n" \
"  if redis.call('LLEN', P .. 'q:' .. h) > 0 and act < PH and st ~= 'F' then\n" \
"    redis.call('ZADD', P .. 'sched', num(redis.call('GET', P .. 'next:' .. h)), h)\n" \
"  else\n" \
"    redis.call('ZREM', P .. 'sched', h)\n" \
"  end\n" \
"end\n" \
/* e on h's queue (front or tail); a new host gets its robots.txt first,
   and a robots.txt not yet fetched stays at the head */ \
"local function enqueue(h, e, front)\n" \
"  local rk, q = P .. 'robots:' .. h, P .. 'q:' .. h\n" \
"  if redis.call('EXISTS', rk) == 0 then\n" \
"    if RB == '1' then\n" \
"      redis.call('RPUSH', q, 'R\\t0\\t0\\t0\\t\\t' .. h .. '/robots.txt\\t\\t')\n" \
"      redis.call('HSET', rk, 'st', 'P', 'delay', -1)\n" \
"      redis.call('HINCRBY', C, 'queued', 1)\n" \
"    else\n" \
"      redis.call('HSET', rk, 'st', '-', 'delay', -1)\n" \
"    end\n" \
"  end\n" \
"  local head = front and redis.call('LINDEX', q, 0)\n" \
"  if head and kind(head) == 'R' and redis.call('HGET', rk, 'st') == 'P' then\n" \
"    redis.call('LPOP', q)\n" \
"    redis.call('LPUSH', q, e, head)\n" \
"  elseif front then\n" \
"    redis.call('LPUSH', q, e)\n" \
"  else\n" \
"    redis.call('RPUSH', q, e)\n" \
"  end\n" \
"  redis.call('HINCRBY', C, 'queued', 1)\n" \
"  if kind(e) == 'C' then redis.call('HINCRBY', C, 'cont', 1) end\n" \
"  resched(h)\n" \
"end\n" \
/* ends lease id, freeing its slot: its {e, h, set, prev}, or nil when the
   lease is gone (expired and handed out again): then nothing changes */ \
"local function release(id)\n" \
"  local lk = P .. 'lease:' .. id\n" \
"  local l = redis.call('HMGET', lk, 'e', 'h', 'set', 'prev')\n" \
"  if not l[1] then return nil end\n" \
"  redis.call('DEL', lk)\n" \
"  redis.call('ZREM', P .. 'leases', id)\n" \
"  if redis.call('DECR', P .. 'active:' .. l[2]) <= 0 then\n" \
"    redis.call('DEL', P .. 'active:' .. l[2])\n" \
"    redis.call('HINCRBY', C, 'hosts', -1)\n" \
"  end\n" \
"  redis.call('HINCRBY', C, 'leased', -1)\n" \
"  local rk = P .. 'robots:' .. l[2]\n" \
"  if kind(l[1]) == 'R' and redis.call('HGET', rk, 'st') == 'F' then\n" \
"    redis.call('HSET', rk, 'st', 'R')\n" /* no rules set: allow all */ \
"  end\n" \
"  return l\n" \
"end\n"

/* add (ARGV 4 url, 5 host, 6 entry, 7 front "1" for a redirect hop):
   closes "two processes find the same link and both queue it": one SADD
   wins, and the URL is queued in the same step (no window where it is
   seen but not queued, lost if the process dies). 1 new, 0 seen. */
#define LUA_ADD \
"if redis.call('SADD', P .. 'seen', ARGV[4]) == 0 then return 0 end\n" \
"enqueue(ARGV[5], ARGV[6], ARGV[7] == '1')\n" \
"return 1\n"

/* next (ARGV 4 max_pages, 5 lease_ms, 6 delay_ms, 7 jitter factor
   0.5-1.5, 8 owner): closes "two processes take the same entry" and
   "two processes both see a free slot on a host with one left", and
   makes reclaiming an expired lease and re-queuing it one step (a lease
   cannot be both reclaimed and done). {1, lease, entry, host, robots
   state}, {0, ms to wait}, or {-1} when the crawl is over. */
#define LUA_NEXT \
"local now = now_ms()\n" \
"for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 100)) do\n" \
"  local l = release(id)\n" \
"  if l then\n" \
"    if kind(l[1]) == 'R' then redis.call('HSET', P .. 'robots:' .. l[2], 'st', 'P') end\n" \
"    if kind(l[1]) == 'P' then redis.call('HINCRBY', C, 'pages', -1) end\n" \
"    enqueue(l[2], l[1], true)\n" \
"  end\n" \
"end\n" \
"for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'LIMIT', 0, 100)) do\n" \
"  redis.call('ZREM', P .. 'delayed', m)\n" \
"  local h, e = string.match(m, '^%d+\\n([^\\n]*)\\n(.*)$')\n" \
"  if h then enqueue(h, e, true) end\n" \
"end\n" \
"local maxp = tonumber(ARGV[4])\n" \
"local function spent() return maxp > 0 and num(redis.call('HGET', C, 'pages')) >= maxp end\n" \
/* the first entry of q that may go: robots.txt and continuations always,
   pages while the budget lasts */ \
"local function take(q)\n" \
"  local head = redis.call('LINDEX', q, 0)\n" \
"  if not head then return nil end\n" \
"  if kind(head) ~= 'P' or not spent() then redis.call('LPOP', q) return head end\n" \
"  local n = redis.call('LLEN', q)\n" \
"  for i = 0, n - 1, 1000 do\n" \
"    for j, e in ipairs(redis.call('LRANGE', q, i, i + 999)) do\n" \
"      if kind(e) ~= 'P' then\n" \
"        redis.call('LSET', q, i + j - 1, '\\0gone')\n" \
"        redis.call('LREM', q, 1, '\\0gone')\n" \
"        return e\n" \
"      end\n" \
"    end\n" \
"  end\n" \
"  return nil\n" \
"end\n" \
"while true do\n" \
"  local top = redis.call('ZRANGE', P .. 'sched', 0, 0, 'WITHSCORES')\n" \
"  if #top == 0 then break end\n" \
"  local h, at = top[1], tonumber(top[2])\n" \
"  if at > now then return {0, at - now} end\n" \
"  local e = take(P .. 'q:' .. h)\n" \
"  if not e then\n" \
"    redis.call('ZREM', P .. 'sched', h)\n" /* only pages beyond the budget */ \
"  else\n" \
"    local k = kind(e)\n" \
"    redis.call('HINCRBY', C, 'queued', -1)\n" \
"    if k == 'C' then redis.call('HINCRBY', C, 'cont', -1) end\n" \
"    if k == 'P' then redis.call('HINCRBY', C, 'pages', 1) end\n" \
"    if redis.call('INCR', P .. 'active:' .. h) == 1 then redis.call('HINCRBY', C, 'hosts', 1) end\n" \
"    redis.call('HINCRBY', C, 'leased', 1)\n" \
"    local rk = P .. 'robots:' .. h\n" \
"    local rs = redis.call('HMGET', rk, 'st', 'delay')\n" \
"    local d = math.max(tonumber(ARGV[6]), num(rs[2]))\n" \
"    local prev = redis.call('GET', P .. 'next:' .. h) or '0'\n" \
"    local ns = now + math.floor(d * tonumber(ARGV[7]))\n" \
"    redis.call('SET', P .. 'next:' .. h, ns)\n" \
"    if k == 'R' then redis.call('HSET', rk, 'st', 'F') end\n" \
"    local id = redis.call('INCR', P .. 'seq')\n" \
"    redis.call('HSET', P .. 'lease:' .. id, 'e', e, 'h', h, 'owner', ARGV[8], 'set', ns, 'prev', prev)\n" \
"    redis.call('ZADD', P .. 'leases', now + tonumber(ARGV[5]), id)\n" \
"    resched(h)\n" \
"    return {1, id, e, h, rs[1] or '-'}\n" \
"  end\n" \
"end\n" \
"local c = redis.call('HMGET', C, 'queued', 'cont', 'leased')\n" \
"if num(c[3]) == 0 and redis.call('ZCARD', P .. 'delayed') == 0 and\n" \
"   (num(c[1]) == 0 or (spent() and num(c[2]) == 0)) then return {-1} end\n" \
"return {0, 20}\n"

/* end (ARGV 4 lease id, 5 "1" when robots.txt blocked the entry): closes
   "a late done on a lease that expired and went to another process frees
   a slot twice": the lease is checked and ended in one step. A blocked
   entry was no fetch: its page is uncounted and the host's next start
   put back unless another fetch moved it since. 1, or 0 lease gone. */
#define LUA_END \
"local l = release(ARGV[4])\n" \
"if not l then return 0 end\n" \
"if ARGV[5] == '1' then\n" \
"  if kind(l[1]) == 'P' then redis.call('HINCRBY', C, 'pages', -1) end\n" \
"  local nk = P .. 'next:' .. l[2]\n" \
"  if redis.call('GET', nk) == l[3] then redis.call('SET', nk, l[4]) end\n" \
"else\n" \
"  redis.call('HINCRBY', C, 'done', 1)\n" \
"end\n" \
"resched(l[2])\n" \
"return 1\n"

/* retry (ARGV 4 lease id, 5 wait ms, 6 the entry with its retries
   counted): closes "the lease expires while the retry is queued, and the
   entry comes back twice": ending the lease and queuing the retry are
   one step, and a lease already gone queues nothing (it was re-queued
   when it expired). 1, or 0 lease gone. */
#define LUA_RETRY \
"local l = release(ARGV[4])\n" \
"if not l then return 0 end\n" \
"local id = redis.call('INCR', P .. 'seq')\n" \
"redis.call('ZADD', P .. 'delayed', now_ms() + tonumber(ARGV[5]), id .. '\\n' .. l[2] .. '\\n' .. ARGV[6])\n" \
"resched(l[2])\n" \
"return 1\n"

/* robots (ARGV 4 host, 5 crawl delay ms, 6 rules text, 7 lease id of the
   robots.txt entry): closes "an entry of the host is taken between the
   state going ready and the rules being there": both in one step. A
   lease gone (its robots.txt re-queued) stores nothing: the next fetch
   of it will. 1, or 0 lease gone. */
#define LUA_ROBOTS \
"if redis.call('EXISTS', P .. 'lease:' .. ARGV[7]) == 0 then return 0 end\n" \
"redis.call('HSET', P .. 'robots:' .. ARGV[4], 'st', 'R', 'delay', ARGV[5], 'rules', ARGV[6])\n" \
"resched(ARGV[4])\n" \
"return 1\n"

/* def (ARGV 4.. pairs: option, value): what defines the crawl, written
   by the first process, compared by the others. Closes "two processes
   start at once, both find no definition and each writes its own":
   the check and the write are one step. '' or the first option whose
   value differs. */
#define LUA_DEF \
"local k = P .. 'def'\n" \
"for i = 4, #ARGV - 1, 2 do\n" \
"  local v = redis.call('HGET', k, ARGV[i])\n" \
"  if not v then redis.call('HSET', k, ARGV[i], ARGV[i + 1])\n" \
"  elseif v ~= ARGV[i + 1] then return ARGV[i] end\n" \
"end\n" \
"return ''\n"

/* stats: the whole crawl's {queued (with retries waiting), leased, hosts
   with a fetch under way, done}, read in one step so that they agree. */
#define LUA_STATS \
"local c = redis.call('HMGET', C, 'queued', 'leased', 'hosts', 'done')\n" \
"return {num(c[1]) + redis.call('ZCARD', P .. 'delayed'), num(c[2]), num(c[3]), num(c[4])}\n"

#endif
