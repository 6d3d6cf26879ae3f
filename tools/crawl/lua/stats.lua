-- stats: the whole crawl's {queued (with retries waiting), leased, hosts
-- with a fetch under way, done}, read in one step so that they agree.
local c = redis.call('HMGET', C, 'queued', 'leased', 'hosts', 'done')
return {num(c[1]) + redis.call('ZCARD', P .. 'delayed'), num(c[2]), num(c[3]), num(c[4])}
