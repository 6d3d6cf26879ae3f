-- add (ARGV 4 url, 5 host, 6 entry, 7 front "1" for a redirect hop):
-- closes "two processes find the same link and both queue it": one SADD
-- wins, and the URL is queued in the same step (no window where it is
-- seen but not queued, lost if the process dies). 1 new, 0 seen.
if redis.call('SADD', P .. 'seen', ARGV[4]) == 0 then return 0 end
enqueue(ARGV[5], ARGV[6], ARGV[7] == '1')
return 1
