-- GET the path given on the wrk URL. env: WRK_AUTH (an Authorization header value), WRK_COOKIE.
package.path = (os.getenv("WRK_DIR") or ".") .. "/?.lua;" .. package.path
local r = require("report")
local auth, cookie = os.getenv("WRK_AUTH"), os.getenv("WRK_COOKIE")
if auth and #auth > 0 then wrk.headers["Authorization"] = auth end
if cookie and #cookie > 0 then wrk.headers["Cookie"] = cookie end
setup = r.setup
done = r.done
