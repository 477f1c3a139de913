-- wrk script: each request carries the next token of $TOKENS_FILE (one per
-- line), so the server sees many distinct tokens. Used by bench/load.sh.
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  -- Threads start half-way apart, not in lock step.
  i = math.floor(#tokens * (tonumber(os.getenv("WRK_OFFSET") or "0") or 0))
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = tokens[i] })
end
