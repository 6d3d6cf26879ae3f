-- robots (ARGV 4 host, 5 crawl delay ms, 6 rules text, 7 lease id of the
-- robots.txt entry): closes "an entry of the host is taken between the
-- state going ready and the rules being there": both in one step. A lease
-- gone (its robots.txt re-queued) stores nothing: the next fetch of it
-- will. 1, or 0 lease gone.
if redis.call('HEXISTS', P .. 'lease', ARGV[7]) == 0 then return 0 end
redis.call('HSET', P .. 'robots:' .. ARGV[4], 'st', 'R', 'delay', ARGV[5], 'rules', ARGV[6])
resched(ARGV[4])
return 1
