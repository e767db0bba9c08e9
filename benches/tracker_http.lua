-- wrk script for benches/tracker.sh: HTTP announces from many simulated peers.
-- PATHS (env): a file of announce paths, one per simulated peer (streamp2p-loadgen
-- http-paths). Each request takes the next peer, starting at a random place per thread.
-- CLOSE=1 (env) adds "Connection: close" to every request (one TCP connection per announce).
-- Replies that carry a bencoded "failure reason" are counted and reported.

local paths = {}
local n = 0
local threads = {}

local function load()
  local f = assert(io.open(os.getenv("PATHS"), "r"))
  for line in f:lines() do
    n = n + 1
    paths[n] = line
  end
  f:close()
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  load()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  i = math.random(n)
  failures = 0
  replies = 0
  if os.getenv("CLOSE") == "1" then
    wrk.headers["Connection"] = "close"
  end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  replies = replies + 1
  if status ~= 200 or body:find("failure reason", 1, true) then
    failures = failures + 1
    if failures == 1 then first_failure = body:sub(1, 120) end
  end
end

function done(summary, latency, requests)
  local f, r, first = 0, 0, ""
  for _, t in ipairs(threads) do
    f = f + t:get("failures")
    r = r + t:get("replies")
    local ff = t:get("first_failure")
    if ff and first == "" then first = ff:gsub("[^%w%p ]", "?"):gsub('[\\"]', "'") end
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"proto": "http", "seconds": %.3f, "requests": %d, "announces_per_s": %.1f, ' ..
    '"failures": %d, "replies_seen": %d, "socket_errors": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "p999_us": %d, "max_us": %d, "first_failure": "%s"}\n',
    secs, summary.requests, (summary.requests - f) / secs, f, r,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, first))
end
