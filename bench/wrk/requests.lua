-- wrk script for the benchmark, configured by environment variables:
--   BENCH_METHOD  GET or POST (default GET)
--   BENCH_PATH    request path (default /ping)
--   BENCH_BODY    file whose bytes are the request body (POST)
--   BENCH_AUTH    API key sent as a Bearer token; when set, every request carries its own Idempotency-Key
--   BENCH_RUN     prefix that keeps keys unique across runs
--   BENCH_LIMIT   stop each thread after this many responses (0: run for the whole duration)
-- `done` prints one JSON line that bench/loadgen.py reads.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/ping"
local auth = os.getenv("BENCH_AUTH")
local run = os.getenv("BENCH_RUN") or "run"
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
local body = nil
local body_file = os.getenv("BENCH_BODY")
if body_file then
  local f = assert(io.open(body_file, "rb"))
  body = f:read("*a")
  f:close()
end

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

local sent = 0
local headers = { ["Content-Type"] = "application/json" }
if auth then
  headers["Authorization"] = "Bearer " .. auth
end

function request()
  sent = sent + 1
  if auth then
    headers["Idempotency-Key"] = run .. "-" .. tostring(tid) .. "-" .. tostring(sent)
  end
  return wrk.format(method, path, headers, body)
end

if limit > 0 then
  local received = 0
  function response(status, hdrs, resp_body)
    received = received + 1
    if received >= limit then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50.0), latency:percentile(99.0), latency.max))
end
