-- Mints authorization codes ahead of a timed run: GETs the authorization URL given on the wrk
-- command line with a signed-in session cookie (consent remembered), and records the code from
-- each redirect until WRK_N codes are recorded. env: WRK_COOKIE, WRK_N, WRK_RECORD.
package.path = (os.getenv("WRK_DIR") or ".") .. "/?.lua;" .. package.path
local r = require("report")
wrk.headers["Cookie"] = os.getenv("WRK_COOKIE")
local want = tonumber(os.getenv("WRK_N") or "1000")
recorded = {}
local stopped = false
function response(status, headers, body)
  local loc = headers["Location"] or headers["location"]
  if status >= 300 and status < 400 and loc then
    local code = loc:match("[?&]code=([^&]+)")
    if code and #recorded < want then recorded[#recorded + 1] = code end
  end
  if #recorded >= want and not stopped then
    stopped = true; r.finish()
  end
end
setup = r.setup
done = r.done
