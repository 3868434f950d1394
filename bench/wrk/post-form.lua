-- POST an x-www-form-urlencoded body. env: WRK_BODY (the body), WRK_BASIC (base64 of
-- client_id:secret, for HTTP Basic client authentication), WRK_COOKIE.
package.path = (os.getenv("WRK_DIR") or ".") .. "/?.lua;" .. package.path
local r = require("report")
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local basic, cookie = os.getenv("WRK_BASIC"), os.getenv("WRK_COOKIE")
if basic and #basic > 0 then wrk.headers["Authorization"] = "Basic " .. basic end
if cookie and #cookie > 0 then wrk.headers["Cookie"] = cookie end
setup = r.setup
done = r.done
