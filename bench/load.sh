#!/usr/bin/env bash
# Load check of the demo server on loopback: /public (no auth) against /me
# (HS256 bearer token verified on every request), in one run.
#   bench/load.sh [SECONDS]      (default 10 s per route; bounded)
# Needs wrk (apt-get install wrk; installed here when missing, as root).
# Prints requests/s for both routes and the ratio /me : /public.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
port="${PORT:-18125}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --example serve -q
secret="load-test-secret-load-test-secret-0123"
JWT_SECRET="$secret" BIND="127.0.0.1:$port" target/release/examples/serve > /tmp/serve-load.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "listening on" /tmp/serve-load.log && break; sleep 0.1; done
token=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps({"sub": "load", "scope": "read", "exp": int(time.time()) + 3600}).encode())
s = b(hmac.new(sys.argv[1].encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
print(f"{h}.{p}.{s}")
PY
)
curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/me"
run() { wrk -t2 -c32 -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
public=$(run "http://127.0.0.1:$port/public")
me=$(run -H "Authorization: Bearer $token" "http://127.0.0.1:$port/me")
echo "/public  $public req/s"
echo "/me      $me req/s"
python3 -c "print(f'/me : /public = {float(\"$me\") / float(\"$public\"):.2f}')"
