-- Issues tokens until WRK_N of them were answered 200 (fills a database; untimed).
-- env: WRK_BODY, WRK_BASIC, WRK_N.
package.path = (os.getenv("WRK_DIR") or ".") .. "/?.lua;" .. package.path
local r = require("report")
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. (os.getenv("WRK_BASIC") or "")
local want = tonumber(os.getenv("WRK_N") or "1000")
popped = 0
local stopped = false
function response(status, headers, body)
  if status == 200 then popped = popped + 1 end
  if popped >= want and not stopped then
    stopped = true; r.finish()
  end
end
setup = r.setup
done = r.done
