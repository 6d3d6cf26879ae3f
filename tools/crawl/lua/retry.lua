-- retry (ARGV 4 lease id, 5 wait ms, 6 the entry with its retries
-- counted): closes "the lease expires while the retry is queued, and the
-- entry comes back twice": ending the lease and queuing the retry are one
-- step, and a lease already gone queues nothing (it was re-queued when it
-- expired). 1, or 0 lease gone.
local l = release(ARGV[4])
if not l then return 0 end
local id = redis.call('INCR', P .. 'seq')
redis.call('ZADD', P .. 'delayed', now_ms() + tonumber(ARGV[5]), id .. '\n' .. l[2] .. '\n' .. ARGV[6])
resched(l[2])
return 1
