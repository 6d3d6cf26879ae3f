-- give back (ARGV 4.. lease ids): entries leased but never handed to a
-- fetcher (a drain, the end of this process) go back to the front of
-- their queues now rather than when their leases expire. The same step
-- as an expiry's (requeue).
for i = 4, #ARGV do requeue(ARGV[i], true) end
return 1
