-- end (ARGV 4 lease id, 5 "1" when robots.txt blocked the entry): closes
-- "a late done on a lease that expired and went to another process frees
-- a slot twice": the lease is checked and ended in one step. A blocked
-- entry was no fetch: its page is uncounted and the host's next start put
-- back unless another fetch moved it since. 1, or 0 lease gone.
local l = release(ARGV[4])
if not l then return 0 end
if ARGV[5] == '1' then
  if kind(l[1]) == 'P' then redis.call('HINCRBY', C, 'pages', -1) end
  local nk = P .. 'next:' .. l[2]
  if redis.call('GET', nk) == l[3] then redis.call('SET', nk, l[4]) end
else
  redis.call('HINCRBY', C, 'done', 1)
end
resched(l[2])
return 1
