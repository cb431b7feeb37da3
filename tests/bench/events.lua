-- wrk script for the issuerhookd load benchmark (see README.md in this folder).
--
--   wrk -t2 -c64 -d10s --latency -s events.lua http://127.0.0.1:PORT/events -- API_KEY
--
-- (the key may also come from the environment variable IH_BENCH_API_KEY).
--
-- Every request is a POST of a valid case_created event with a distinct eventId, so the daemon
-- stores one row per request instead of treating it as a replay. The eventId is a version-4
-- shaped UUID made of a per-run nonce, the wrk thread number and a per-thread counter.
--
-- done() prints machine-readable key=value lines (run.sh parses them):
--   requests, responses, ok_2xx, non_2xx, statuses, duration_s, rps, p50_ms, p90_ms, p99_ms,
--   max_ms, errors_connect, errors_read, errors_write, errors_timeout

local threads = {}

-- Setup phase (main Lua state): give each thread its number and the run nonce.
local function run_nonce()
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(7)
    f:close()
    if b and #b == 7 then
      local n1 = b:byte(1) * 16777216 + b:byte(2) * 65536 + b:byte(3) * 256 + b:byte(4)
      local n2 = (b:byte(5) * 256 + b:byte(6)) % 4096
      local n3 = (b:byte(7) * 16 + b:byte(1) % 16) % 4096
      return n1, n2, n3
    end
  end
  local t = os.time()
  return t % 4294967296, t % 4096, (t * 7) % 4096
end

local run_a, run_b, run_c -- drawn once, in the main state, at the first setup()

function setup(thread)
  if not run_a then
    run_a, run_b, run_c = run_nonce()
  end
  thread:set("tid", #threads + 1)
  thread:set("nonce_a", run_a)
  thread:set("nonce_b", run_b)
  thread:set("nonce_c", run_c)
  table.insert(threads, thread)
end

-- Running phase (one Lua state per wrk thread; its connections share these globals, which
-- setup() above overwrites: tid and the nonce must stay globals, not locals, for that).
tid, nonce_a, nonce_b, nonce_c = 0, 0, 0, 0
counter = 0
ok_2xx = 0
non_2xx = 0
responses = 0
statuses = {}

local api_key
local path
local headers = {}
local body_fmt = '{"header":{"version":"2026.1.0","eventId":"%s","generatedAt":1700000000000},'
  .. '"event":{"type":"case_created","cardholderId":"2bd52a45-129d-4723-9143-e1c5b5ed34e7",'
  .. '"cardId":"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048","caseId":"%d","caseType":"fraud",'
  .. '"createdVia":"cardholder_self_service"}}'

function init(args)
  api_key = (args and args[1]) or os.getenv("IH_BENCH_API_KEY")
  if not api_key or api_key == "" then
    error("events.lua: pass the API key after `--` or set IH_BENCH_API_KEY")
  end
  path = wrk.path
  if path == nil or path == "" or path == "/" then
    path = "/events"
  end
  headers["Content-Type"] = "application/json"
  headers["X-API-Key"] = api_key
end

function request()
  counter = counter + 1
  -- 8-4-4-4-12: nonce | thread | 4+nonce | 8+nonce | counter (48 bits, split to stay in 32-bit %x)
  local hi = math.floor(counter / 4294967296)
  local lo = counter % 4294967296
  local id = string.format("%08x-%04x-4%03x-8%03x-%04x%08x", nonce_a, tid % 65536, nonce_b, nonce_c, hi, lo)
  headers["tracing-id"] = string.format("bench-%d-%d", tid, counter)
  return wrk.format("POST", path, headers, string.format(body_fmt, id, counter))
end

function response(status, hdrs, body)
  responses = responses + 1
  if status >= 200 and status < 300 then
    ok_2xx = ok_2xx + 1
  else
    non_2xx = non_2xx + 1
  end
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

-- Done phase (main Lua state): aggregate the per-thread counters.
function done(summary, latency, requests)
  local ok, bad, resp = 0, 0, 0
  local st = {}
  for _, thread in ipairs(threads) do
    ok = ok + (thread:get("ok_2xx") or 0)
    bad = bad + (thread:get("non_2xx") or 0)
    resp = resp + (thread:get("responses") or 0)
    local ts = thread:get("statuses") or {}
    for code, n in pairs(ts) do
      st[code] = (st[code] or 0) + n
    end
  end
  local codes = {}
  for code in pairs(st) do
    table.insert(codes, code)
  end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do
    table.insert(parts, code .. ":" .. st[code])
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("responses=%d\n", resp))
  io.write(string.format("ok_2xx=%d\n", ok))
  io.write(string.format("non_2xx=%d\n", bad))
  io.write(string.format("statuses=%s\n", #parts > 0 and table.concat(parts, ",") or "none"))
  io.write(string.format("duration_s=%.3f\n", secs))
  io.write(string.format("rps=%.1f\n", secs > 0 and summary.requests / secs or 0))
  io.write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p90_ms=%.3f\n", latency:percentile(90) / 1000))
  io.write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("max_ms=%.3f\n", latency.max / 1000))
  io.write(string.format("errors_connect=%d\n", e.connect))
  io.write(string.format("errors_read=%d\n", e.read))
  io.write(string.format("errors_write=%d\n", e.write))
  io.write(string.format("errors_timeout=%d\n", e.timeout))
end
