-- next (ARGV 4 max_pages, 5 lease_ms, 6 delay_ms, 7 jitter factor
-- 0.5-1.5, 8 owner, 9 how many at most): closes "two processes take the
-- same entry" and "two processes both see a free slot on a host with one
-- left", and makes reclaiming an expired lease and re-queuing it one step
-- (a lease cannot be both reclaimed and done). {1, then lease, entry,
-- host, robots state for each entry leased}, {0, ms to wait}, or {-1}
-- when the crawl is over. One jitter factor serves the call; a host with
-- a delay gives one entry per call, one without as many as its free
-- slots allow.
local now = now_ms()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 100)) do
  requeue(id, false)
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', P .. 'delayed', m)
  local h, e = string.match(m, '^%d+\n([^\n]*)\n(.*)$')
  if h then enqueue(h, e, true) end
end
local maxp, lease_ms, delay = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local jit, owner, want = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local pages0 = num(redis.call('HGET', C, 'pages'))
local n_queued, n_cont, n_pages, n_hosts, got = 0, 0, 0, 0, 0
local out, lease_h, lease_z = {1}, {}, {}
local function spent() return maxp > 0 and pages0 + n_pages >= maxp end

-- the first entry of q that may go while the page budget is spent:
-- robots.txt and continuations (retries, redirect hops) always
local function take_unbudgeted(q)
  local n = redis.call('LLEN', q)
  for i = 0, n - 1, 1000 do
    for j, e in ipairs(redis.call('LRANGE', q, i, i + 999)) do
      if kind(e) ~= 'P' then
        redis.call('LSET', q, i + j - 1, '\0gone')
        redis.call('LREM', q, 1, '\0gone')
        return e
      end
    end
  end
  return nil
end

while got < want do
  local top = redis.call('ZRANGE', P .. 'sched', 0, 0, 'WITHSCORES')
  if #top == 0 then break end
  local h, at = top[1], tonumber(top[2])
  if at > now then
    if got == 0 then return {0, at - now} end
    break
  end
  local q, rk = P .. 'q:' .. h, P .. 'robots:' .. h
  local rs = redis.call('HMGET', rk, 'st', 'delay', 'c')
  local d = math.max(delay, num(rs[2]))
  local free = PH - num(redis.call('GET', P .. 'active:' .. h))
  local n = math.min(want - got, free)
  if d > 0 then n = math.min(n, 1) end
  local head = redis.call('LINDEX', q, 0)
  local es = {}
  if n < 1 or not head then
    es = {}
  elseif kind(head) == 'R' then
    redis.call('LPOP', q)
    es = {head}
  elseif spent() then -- only continuations, and only where the host has some
    local e = kind(head) ~= 'P' and redis.call('LPOP', q) or
              (num(rs[3]) > 0 and take_unbudgeted(q)) or nil
    if e then es = {e} end
  else
    if maxp > 0 then n = math.min(n, maxp - pages0 - n_pages) end
    es = redis.call('LPOP', q, n)
  end
  if #es == 0 then
    redis.call('ZREM', P .. 'sched', h) -- only pages beyond the budget (or no slot)
  else
    local k = #es
    if redis.call('INCRBY', P .. 'active:' .. h, k) == k then n_hosts = n_hosts + 1 end
    local prev = redis.call('GET', P .. 'next:' .. h) or '0'
    local ns = now + math.floor(d * jit)
    redis.call('SET', P .. 'next:' .. h, ns)
    if kind(es[1]) == 'R' then redis.call('HSET', rk, 'st', 'F') end
    local last = redis.call('INCRBY', P .. 'seq', k)
    local host_cont = 0
    for j, e in ipairs(es) do
      local id = last - k + j
      local ek = kind(e)
      n_queued = n_queued + 1
      if ek == 'C' then host_cont = host_cont + 1 end
      if ek == 'P' then n_pages = n_pages + 1 end
      lease_h[#lease_h + 1] = id
      lease_h[#lease_h + 1] = lease_pack(h, ns, prev, owner, e)
      lease_z[#lease_z + 1] = now + lease_ms
      lease_z[#lease_z + 1] = id
      out[#out + 1] = id
      out[#out + 1] = e
      out[#out + 1] = h
      out[#out + 1] = rs[1] or '-'
    end
    if host_cont > 0 then
      n_cont = n_cont + host_cont
      redis.call('HINCRBY', rk, 'c', -host_cont)
    end
    got = got + k
    resched(h)
  end
end
if got > 0 then
  redis.call('HSET', P .. 'lease', unpack(lease_h))
  redis.call('ZADD', P .. 'leases', unpack(lease_z))
  redis.call('HINCRBY', C, 'queued', -n_queued)
  if n_cont > 0 then redis.call('HINCRBY', C, 'cont', -n_cont) end
  if n_pages > 0 then redis.call('HINCRBY', C, 'pages', n_pages) end
  if n_hosts > 0 then redis.call('HINCRBY', C, 'hosts', n_hosts) end
  redis.call('HINCRBY', C, 'leased', got)
  return out
end
local c = redis.call('HMGET', C, 'queued', 'cont', 'leased')
if num(c[3]) == 0 and redis.call('ZCARD', P .. 'delayed') == 0 and
   (num(c[1]) == 0 or (spent() and num(c[2]) == 0)) then return {-1} end
return {0, 20}
