-- wrk script: each request carries the next token of $TOKENS_FILE (one per
-- line), so the server sees many distinct tokens. Used by bench/load.sh,
-- which runs wrk with 2 threads: each thread starts at its own half of the
-- list, so the two never send the same token close together.
local requests = {}
local i = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  -- Formatted once here, not per request: wrk has one core, and the
  -- server should be the bottleneck.
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    requests[#requests + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line })
  end
  i = math.floor(#requests * (id or 0) / 2)
end

function request()
  i = i % #requests + 1
  return requests[i]
end
