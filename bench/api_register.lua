-- api_register.lua -- wrk script: POST /api/device_register with a new
-- token every request (so every call inserts a device), users cycling
-- over 100,000, a timezone, a locale and one topic unless
-- REGISTER_CHANNELS=0; counts replies that are not {"result":...}.
-- REGISTER_TOKENS=N: the same N tokens over and over instead (devices
-- registered again, as apps do at every start; token i always of user
-- i), so a group often holds a token twice.
local threads = {}
local counter = 0

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    errors = 0
    wrk.method = "POST"
    wrk.path = "/api/device_register"
    wrk.headers["Authorization"] = "apikey bench-key"
    wrk.headers["Content-Type"] = "application/json"
end

local channels = os.getenv("REGISTER_CHANNELS") ~= "0"
local tokens = tonumber(os.getenv("REGISTER_TOKENS") or "0") or 0

function request()
    counter = counter + 1
    local extra = channels and ',"timezone":"Europe/Berlin","locale":"de",' ..
        '"topics":["news"]' or ''
    local body
    if tokens > 0 then
        local i = math.random(tokens)
        body = string.format('{"provider":"fcm","token":"bench-again-%d",' ..
            '"platform":"android","user":"user-%d"%s}', i, i % 100000, extra)
    else
        body = string.format('{"provider":"fcm","token":"bench-%d-%d-%d",' ..
            '"platform":"android","user":"user-%d"%s}',
            id or 0, os.time(), counter, counter % 100000, extra)
    end
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, '"result"', 1, true) then
        errors = errors + 1
    end
end

function done(summary, latency, requests)
    local e = 0
    for _, t in ipairs(threads) do
        e = e + t:get("errors")
    end
    io.write(string.format("api errors: %d\n", e))
    io.write(string.format("latency ms: p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
        latency.max / 1000))
end
