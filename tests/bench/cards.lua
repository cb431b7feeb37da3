-- wrk script for the card-activity part of the load benchmark (see README.md in this folder).
--
--   wrk -t1 -c4 -d10s --latency -s cards.lua http://127.0.0.1:PORT/system/incomingCardActivity -- API_KEY [ITEMS]
--
-- Every request is a POST of a valid card-activity batch of ITEMS (default 1000, the most the
-- contract allows) distinct items: each item's customerId is made of a per-run nonce, the wrk
-- thread number and a per-thread counter, so every item is a new record (no replays). Every
-- item carries the same test card number, which the daemon tokenizes and masks, unless
-- CARD_PANS (environment) asks for more: then each item's card number is one of that many,
-- drawn at random. Each item's occurredAt is 1 ms after the last one's, from the start of the
-- run (activities reported in the order they happened), or with CARD_OCCURRED=same the
-- seed's one timestamp for every item.
--
-- done() prints the same key=value lines as events.lua, plus items= (items per request).

local threads = {}
local nonce

function setup(thread)
  if not nonce then
    local f = io.open("/dev/urandom", "rb")
    local b = f and f:read(6) or tostring(os.time())
    if f then f:close() end
    nonce = b:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  end
  thread:set("tid", #threads + 1)
  thread:set("nonce", nonce)
  table.insert(threads, thread)
end

-- Running phase (one Lua state per wrk thread; setup() overwrites these globals).
tid, nonce = 0, ""
counter = 0
ok_2xx, non_2xx, responses = 0, 0, 0
statuses = {}
items = 1000

local api_key
local item_fmt = '{"customerId":"c%s.%d.%d","cardId":"ca0sf8ds0af","pan":"%s",'
  .. '"activityType":"declined","reasonCode":"transactionLimitSurpassed",'
  .. '"reason":"The per transaction limit was surpassed","amount":{"value":"5555.55","currency":"USD"},'
  .. '"merchant":{"category":"shopping.other","name":"Amazon","address":{"regionCode":"WA","countryCode":"US"}},'
  .. '"occurredAt":"%s","location":"onlineMerchant"}'
local pans = math.max(1, math.floor(tonumber(os.getenv("CARD_PANS") or "1") or 1))
local rising = os.getenv("CARD_OCCURRED") ~= "same"
local start_s = os.time()

local function pan(n)
  if pans == 1 then return "4242424242424242" end
  return string.format("4%015d", math.random(0, pans - 1))
end

local function occurred(n)
  if not rising then return "2024-10-01T07:56:02.375Z" end
  local ms = n -- each thread counting up from the run's start
  return os.date("!%Y-%m-%dT%H:%M:%S", start_s + math.floor(ms / 1000)) .. string.format(".%03dZ", ms % 1000)
end

function init(args)
  api_key = args[1] or os.getenv("IH_BENCH_API_KEY") or ""
  if args[2] then items = tonumber(args[2]) end
end

function request()
  local parts = {}
  for i = 1, items do
    counter = counter + 1
    parts[i] = string.format(item_fmt, nonce, tid, counter, pan(counter), occurred(counter))
  end
  local body = '{"institutionId":"TIBURON","items":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-API-Key"] = api_key,
  }, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status >= 200 and status < 300 then
    ok_2xx = ok_2xx + 1
  else
    non_2xx = non_2xx + 1
  end
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, requests)
  local ok, bad, resp, per = 0, 0, 0, 0
  local st = {}
  for _, thread in ipairs(threads) do
    ok = ok + (thread:get("ok_2xx") or 0)
    bad = bad + (thread:get("non_2xx") or 0)
    resp = resp + (thread:get("responses") or 0)
    per = thread:get("items") or per
    for code, n in pairs(thread:get("statuses") or {}) do
      st[code] = (st[code] or 0) + n
    end
  end
  local codes = {}
  for code in pairs(st) do table.insert(codes, code) end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do table.insert(parts, code .. ":" .. st[code]) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("requests=%d\nresponses=%d\nok_2xx=%d\nnon_2xx=%d\nitems=%d\n", summary.requests, resp, ok,
    bad, per))
  io.write(string.format("statuses=%s\n", #parts > 0 and table.concat(parts, ",") or "none"))
  io.write(string.format("duration_s=%.3f\nrps=%.1f\n", secs, secs > 0 and summary.requests / secs or 0))
  io.write(string.format("p50_ms=%.3f\np90_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n", latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("errors_connect=%d\nerrors_read=%d\nerrors_write=%d\nerrors_timeout=%d\n", e.connect, e.read,
    e.write, e.timeout))
end
