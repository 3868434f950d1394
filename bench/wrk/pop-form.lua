-- POST a form whose body uses each line of a pool file once: single-use credentials (codes,
-- refresh tokens) minted before the timed part. When the pool runs out the run stops early
-- (reported as "exhausted"; the rate stays right: wrk measures the shorter time).
-- env: WRK_POOL (file, one value a line), WRK_SKIP (lines already used by earlier runs),
--      WRK_BODY (the body, "{}" stands for the value), WRK_BASIC,
--      WRK_RECORD_FIELD (a JSON string field of 200 responses to record into WRK_RECORD).
package.path = (os.getenv("WRK_DIR") or ".") .. "/?.lua;" .. package.path
local r = require("report")
local template = os.getenv("WRK_BODY") or "grant_type=authorization_code&code={}"
local field = os.getenv("WRK_RECORD_FIELD")
local basic = os.getenv("WRK_BASIC")
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
if basic and #basic > 0 then headers["Authorization"] = "Basic " .. basic end
local before, after = template:match("^(.-){}(.*)$")
local pool = {}
popped, exhausted = 0, false
recorded = {}

function init(args)
  local skip = tonumber(os.getenv("WRK_SKIP") or "0")
  local n = 0
  for line in io.lines(os.getenv("WRK_POOL")) do
    n = n + 1
    if n > skip and #line > 0 then pool[#pool + 1] = line end
  end
end

function request()
  if popped >= #pool then
    if not exhausted then exhausted = true; r.finish() end
    return wrk.format("GET", "/.well-known/openid-configuration")
  end
  popped = popped + 1
  return wrk.format("POST", wrk.path, headers, before .. pool[popped] .. after)
end

if field and #field > 0 then
  local pattern = '"' .. field .. '"%s*:%s*"([^"]+)"'
  function response(status, hdrs, body)
    if status == 200 then
      local v = body:match(pattern)
      if v then recorded[#recorded + 1] = v end
    end
  end
end

setup = r.setup
done = r.done
