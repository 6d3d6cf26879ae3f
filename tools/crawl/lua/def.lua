-- def (ARGV 4.. pairs: option, value): what defines the crawl, written by
-- the first process, compared by the others. Closes "two processes start
-- at once, both find no definition and each writes its own": the check
-- and the write are one step. '' or the first option whose value differs.
local k = P .. 'def'
for i = 4, #ARGV - 1, 2 do
  local v = redis.call('HGET', k, ARGV[i])
  if not v then redis.call('HSET', k, ARGV[i], ARGV[i + 1])
  elseif v ~= ARGV[i + 1] then return ARGV[i] end
end
return ''
