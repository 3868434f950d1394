-- Shared wrk reporting: one JSON line, prefixed "WRKJSON ", at the end of the run, with the
-- per-thread counters the scripts keep (popped: items used from a pool; exhausted: the pool ran
-- out and the run stopped early; recorded: values written to WRK_RECORD).
local M = { threads = {} }
function M.setup(thread) table.insert(M.threads, thread) end

-- Ends the run early: stops this thread and interrupts wrk's main thread, which otherwise
-- sleeps out -d. The SIGINT is repeated every 50 ms until wrk exits: a single one can be lost
-- (sent before wrk installs its handler, or taken by a worker thread). io.popen, not
-- os.execute: system() ignores SIGINT in the caller while it waits.
function M.finish()
  wrk.thread:stop()
  io.popen("(while kill -INT $PPID 2>/dev/null; do sleep 0.05; done) >/dev/null 2>&1 &"):close()
end
function M.done(summary, latency, requests)
  local popped, recorded, exhausted = 0, 0, false
  local out = os.getenv("WRK_RECORD")
  local f = (out and #out > 0) and io.open(out, "a") or nil
  for _, t in ipairs(M.threads) do
    popped = popped + (t:get("popped") or 0)
    if t:get("exhausted") then exhausted = true end
    local rec = t:get("recorded")
    if rec then
      recorded = recorded + #rec
      if f then for _, v in ipairs(rec) do f:write(v, "\n") end end
    end
  end
  if f then f:close() end
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,"lat_mean_ms":%.3f,"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,"lat_p99_ms":%.3f,"lat_p999_ms":%.3f,"lat_max_ms":%.3f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"popped":%d,"recorded":%d,"exhausted":%s}\n',
    summary.requests, s, summary.requests / s, summary.bytes,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, popped, recorded, tostring(exhausted)))
end
return M
