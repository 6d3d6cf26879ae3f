-- flush (ARGV 4 G, then G pages' links: depth, parent, k, then k URLs;
-- then the lease ids of entries done): what fetchers finished
-- since the last flush, in one step. Each link as add: closes "two
-- processes find the same link and both queue it" (the seen check and
-- the queuing are one step); each end as end: closes "a late done on a
-- lease that expired and went to another process frees a slot twice".
-- A page's links come before its end (the caller keeps that order): a
-- process that dies between them has its lease expire, the page fetched
-- again and its links found again. How many links were new.
local i, G = 5, tonumber(ARGV[4])
local urls, entries, hosts = {}, {}, {}
for _ = 1, G do
  local pre = 'P\t' .. ARGV[i] .. '\t0\t0\t' .. ARGV[i + 1] .. '\t'
  local k = tonumber(ARGV[i + 2])
  i = i + 3
  for j = i, i + k - 1 do
    urls[#urls + 1] = ARGV[j]
    entries[#entries + 1] = pre .. ARGV[j] .. '\t\t'
    hosts[#hosts + 1] = string.match(ARGV[j], '^[^:]*://[^/?]*') -- url_origin_prefix
  end
  i = i + k
end
local touched, order, fresh, queues, new = {}, {}, {}, {}, {}
local function touch(h)
  if not touched[h] then touched[h] = true; order[#order + 1] = h end
end
for s = 1, #urls, 4000 do
  local part = {unpack(urls, s, math.min(s + 3999, #urls))}
  local seen = redis.call('SMISMEMBER', P .. 'seen', unpack(part))
  for j, v in ipairs(seen) do
    local n = s + j - 1
    local u, h = urls[n], hosts[n]
    if v == 0 and not fresh[u] then
      fresh[u] = true
      new[#new + 1] = u
      if not queues[h] then queues[h] = {}; touch(h) end
      local q = queues[h]
      q[#q + 1] = entries[n]
    end
  end
end
if #new > 0 then
  each_slice(new, function(...) redis.call('SADD', P .. 'seen', ...) end)
  for _, h in ipairs(order) do
    ensure_robots(h)
    each_slice(queues[h], function(...) redis.call('RPUSH', P .. 'q:' .. h, ...) end)
  end
  redis.call('HINCRBY', C, 'queued', #new)
end
local ids = {}
for j = i, #ARGV do ids[#ids + 1] = ARGV[j] end
local ended = release_many(ids)
if #ended > 0 then redis.call('HINCRBY', C, 'done', #ended) end
for _, l in ipairs(ended) do touch(l[2]) end
for _, h in ipairs(order) do resched(h) end
return #new
