-- The Redis frontier's shared part (frontier_redis.c; docs/crawl.md, "Many
-- processes on one frontier"). Redis runs a script alone: every step that
-- could hand a URL out twice, exceed a host's slots or lose an entry is one
-- script, this file followed by the step's own (the build embeds them:
-- CMakeLists.txt). All take ARGV[1] the key prefix ("ec:ID:"), ARGV[2]
-- per_host, ARGV[3] robots on ("1") or off, then their own arguments. Keys
-- under the prefix (HOST: "scheme://host[:port]"):
--   seen          set     every URL ever queued
--   q:HOST        list    the host's queue, oldest first (entries: frontier_redis.c)
--   sched         zset    hosts with a queued entry and a free slot, by next start (ms)
--   next:HOST     string  when the host may start its next fetch (ms, Redis's clock)
--   active:HOST   string  fetches under way on the host, all processes
--   robots:HOST   hash    st (P pending, F being fetched, R ready, - robots off),
--                         delay (Crawl-delay ms, capped; -1 none), rules (text),
--                         c (continuations in the host's queue)
--   leases        zset    lease ids by expiry (ms)
--   lease         hash    lease id -> "HOST\nSET\nPREV\nOWNER\nENTRY" (SET/PREV: the
--                         host's next start after/before it; OWNER: the process)
--   delayed       zset    "SEQ\nHOST\nENTRY" by when the retry is due
--   count         hash    queued, cont (queued continuations), leased, pages
--                         (started), done, hosts (with active > 0)
--   seq           string  lease ids and delayed members
--   def           hash    the options every process must share (--per-host ...)
-- An entry's first byte is its kind: R robots.txt, C continuation (a retry
-- or a redirect hop: outside the page budget), P page. Needs Redis 6.2 or
-- later (SMISMEMBER, LPOP with a count).
if redis.replicate_commands then redis.replicate_commands() end
local P, PH, RB = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local C = P .. 'count'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function kind(e) return string.sub(e, 1, 1) end
local function num(v) return tonumber(v or '0') or 0 end

-- unpack in slices: Lua's stack takes a few thousand values at most
local function each_slice(list, fn)
  for i = 1, #list, 4000 do
    fn(unpack(list, i, math.min(i + 3999, #list)))
  end
end

-- the host in sched (at its next start) or out of it, as its state says
local function resched(h)
  local st = redis.call('HGET', P .. 'robots:' .. h, 'st')
  local act = num(redis.call('GET', P .. 'active:' .. h))
  if act < PH and st ~= 'F' and redis.call('LLEN', P .. 'q:' .. h) > 0 then
    redis.call('ZADD', P .. 'sched', num(redis.call('GET', P .. 'next:' .. h)), h)
  else
    redis.call('ZREM', P .. 'sched', h)
  end
end

-- a host seen for the first time gets its robots.txt queued first
local function ensure_robots(h)
  local rk = P .. 'robots:' .. h
  if redis.call('EXISTS', rk) == 1 then return end
  if RB == '1' then
    redis.call('RPUSH', P .. 'q:' .. h, 'R\t0\t0\t0\t\t' .. h .. '/robots.txt\t\t')
    redis.call('HSET', rk, 'st', 'P', 'delay', -1)
    redis.call('HINCRBY', C, 'queued', 1)
  else
    redis.call('HSET', rk, 'st', '-', 'delay', -1)
  end
end

-- e on h's queue (front or tail); a robots.txt not yet fetched stays at
-- the head
local function enqueue(h, e, front)
  local rk, q = P .. 'robots:' .. h, P .. 'q:' .. h
  ensure_robots(h)
  local head = front and redis.call('LINDEX', q, 0)
  if head and kind(head) == 'R' and redis.call('HGET', rk, 'st') == 'P' then
    redis.call('LPOP', q)
    redis.call('LPUSH', q, e, head)
  elseif front then
    redis.call('LPUSH', q, e)
  else
    redis.call('RPUSH', q, e)
  end
  redis.call('HINCRBY', C, 'queued', 1)
  if kind(e) == 'C' then
    redis.call('HINCRBY', C, 'cont', 1)
    redis.call('HINCRBY', rk, 'c', 1) -- the host's: past the budget, only these go
  end
  resched(h)
end

-- a lease as stored in the lease hash, and back
local function lease_pack(h, set, prev, owner, e)
  return h .. '\n' .. set .. '\n' .. prev .. '\n' .. owner .. '\n' .. e
end
local function lease_unpack(v)
  local h, set, prev, e = string.match(v, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n[^\n]*\n(.*)$')
  return {e, h, set, prev}
end

-- ends the leases ids, freeing their slots (the caller reschedules their
-- hosts): the {e, h, set, prev} of each found. A lease not found is gone
-- (expired and handed out again): it changes nothing.
local function release_many(ids)
  if #ids == 0 then return {} end
  local found, gone, per_host = {}, {}, {}
  local vals = redis.call('HMGET', P .. 'lease', unpack(ids))
  for j, v in ipairs(vals) do
    if v then
      local l = lease_unpack(v)
      found[#found + 1] = l
      gone[#gone + 1] = ids[j]
      per_host[l[2]] = (per_host[l[2]] or 0) + 1
      local rk = P .. 'robots:' .. l[2]
      if kind(l[1]) == 'R' and redis.call('HGET', rk, 'st') == 'F' then
        redis.call('HSET', rk, 'st', 'R') -- no rules set: allow all
      end
    end
  end
  if #gone == 0 then return found end
  redis.call('HDEL', P .. 'lease', unpack(gone))
  redis.call('ZREM', P .. 'leases', unpack(gone))
  local idle = 0
  for h, n in pairs(per_host) do
    if redis.call('DECRBY', P .. 'active:' .. h, n) <= 0 then
      redis.call('DEL', P .. 'active:' .. h)
      idle = idle + 1
    end
  end
  if idle > 0 then redis.call('HINCRBY', C, 'hosts', -idle) end
  redis.call('HINCRBY', C, 'leased', -#gone)
  return found
end

local function release(id) return release_many({id})[1] end

-- ends lease id and puts its entry back at the front of its host's queue
-- (an expired lease, one given back); unstarted: it was never fetched, so
-- the host's next start goes back too unless moved since
local function requeue(id, unstarted)
  local l = release(id)
  if not l then return end
  if kind(l[1]) == 'R' then redis.call('HSET', P .. 'robots:' .. l[2], 'st', 'P') end
  if kind(l[1]) == 'P' then redis.call('HINCRBY', C, 'pages', -1) end
  local nk = P .. 'next:' .. l[2]
  if unstarted and redis.call('GET', nk) == l[3] then redis.call('SET', nk, l[4]) end
  enqueue(l[2], l[1], true)
end
