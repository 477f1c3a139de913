#!/usr/bin/env bash
# Load runs of the demo server (examples/serve, release build) on loopback
# with wrk, bounded in time (SECONDS per cell) and connections (32).
#
#   bench/load.sh [SECONDS]          every cell below, SECONDS each (default 10)
#   ALGS=HS256 bench/load.sh 5        only some algorithms
#   ROUNDS=5 bench/load.sh 5          each cell run 5 times (default 3), the
#                                    median (by req/s) reported: one run of
#                                    /public varies by ±10 % here
#   bench/load.sh --soak MINUTES     /me with 10,000 distinct tokens (RS256) for
#                                    MINUTES, the server's RSS every 10 s
#
# For HS256, RS256 and ES256, cells:
#   /public                         no auth: the server's ceiling in this run
#   /public, same header            no auth, but each request carries the
#                                   Authorization header of the 1-token cell:
#                                   the same bytes through the kernel and
#                                   hyper, so the gap to /me is the layer and
#                                   the handler, not the longer request
#   /me 1 token                     one repeated token, cache on (default 10,000)
#   /me 10k tokens                  10,000 distinct tokens cycled, cache on
#                                   (default capacity, 10,000: a full cache)
#   /me 10k tokens, capacity 20k    the same with room to spare
#   /me 100k tokens                 100,000 distinct tokens cycled through the
#                                   default cache: each comes back after
#                                   100,000 requests, long after it was
#                                   evicted, so every request is a miss and
#                                   pays the cache's bookkeeping (lookup,
#                                   entry, insert, eviction)
#   /me 1 token, cache off          JWT_CACHE_CAPACITY=0: every request verifies
#   /me 100k tokens, cache off      the same tokens as /me 100k tokens: the
#                                   difference between the two is the
#                                   bookkeeping's cost on the miss path
# Prints req/s, p50, p99, the server's RSS after the cell, the server's CPU
# time per request (µs), and for each /me cell: its req/s over /public's
# and over /public-with-the-same-header's, and the server CPU per request of
# /public-with-the-same-header over its own (the throughput ratio the
# server alone would give, even when wrk's one core limits the req/s). With 2+ CPUs the server is pinned
# to CPU 0 with one tokio worker, and wrk to the others (taskset), so the
# server has one core.
# Needs wrk (installed from Debian's packages when missing, as root) and
# PyJWT (installed into target/bench-venv from PyPI when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

soak=""
secs=10
case "${1:-}" in
  --soak) soak="${2:?--soak needs MINUTES}" ;;
  "") ;;
  *) secs="$1" ;;
esac
port="${PORT:-18125}"
conns=32
out=target/bench-load
mkdir -p "$out"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
venv=target/bench-venv
if ! "$venv/bin/python" -c 'import jwt, cryptography' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'PyJWT[crypto]>=2.8,<3'
fi
cargo build --release -q --example serve
server_cpu=() wrk_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  # One core for the server (its runtime as users run it: one tokio
  # worker per CPU it sees), the others for wrk.
  server_cpu=(taskset -c 0) wrk_cpu=(taskset -c "1-$(($(nproc) - 1))")
fi

secret="load-test-secret-load-test-secret-0123"
fixtures=tests/fixtures
pid=""
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap stop EXIT

# start ALG [CAPACITY]: the server for ALG, with the cache capacity given.
start() {
  local alg=$1 capacity=${2:-10000} env=()
  case $alg in
    HS256) env=(JWT_SECRET="$secret") ;;
    RS256) env=(JWT_PUBLIC_KEY_PEM="$fixtures/rsa2048_public.pem") ;;
    ES256) env=(JWT_PUBLIC_KEY_PEM="$fixtures/ec256_public.pem") ;;
  esac
  env "${env[@]}" JWT_CACHE_CAPACITY="$capacity" BIND="127.0.0.1:$port" \
    "${server_cpu[@]}" target/release/examples/serve > "$out/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$out/serve.log" && return; sleep 0.1; done
  echo "serve did not start:" >&2; cat "$out/serve.log" >&2; exit 1
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

# mint ALG N: N distinct tokens for ALG into $out/ALG-N.txt (cached).
mint() {
  local alg=$1 n=$2 key file="$out/$1-$2.txt"
  case $alg in
    HS256) key=$secret ;;
    RS256) key=$fixtures/rsa2048_private.pem ;;
    ES256) key=$fixtures/ec256_private.pem ;;
  esac
  # Tokens live 2 h; mint again when the file is older than 1 h.
  if [ ! -s "$file" ] || [ -n "$(find "$file" -mmin +60)" ]; then
    "$venv/bin/python" bench/mint.py "$alg" "$key" "$n" "$file"
  fi
  echo "$file"
}

rounds="${ROUNDS:-3}"

# cell PATH [TOKENS_FILE]: ROUNDS wrk runs; prints "req/s p50 p99" of the
# median run by req/s.
cell() {
  local i
  for i in $(seq "$rounds"); do one_run "$@"; done | sort -n | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}'
}

# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

# one_run PATH [TOKENS_FILE]: one wrk run; prints "req/s p50 p99 cpu", cpu
# being the server's CPU time per request in µs (what a request costs the
# server even when wrk, on its one core, is the bottleneck).
one_run() {
  local path=$1 tokens=${2:-} args=()
  if [ -n "$tokens" ]; then
    if [ "$(wc -l < "$tokens")" -eq 1 ]; then
      args=(-H "Authorization: Bearer $(cat "$tokens")")
    else
      args=(-s bench/tokens.lua)
    fi
  fi
  local t0 t1
  t0=$(cpu_ticks)
  TOKENS_FILE="$tokens" "${wrk_cpu[@]}" wrk -t2 -c"$conns" -d"${secs}s" --latency "${args[@]}" \
    "http://127.0.0.1:$port$path" > "$out/wrk.txt"
  t1=$(cpu_ticks)
  if grep -q "Non-2xx" "$out/wrk.txt"; then
    echo "non-2xx responses on $path:" >&2; cat "$out/wrk.txt" >&2; exit 1
  fi
  awk -v ticks=$((t1 - t0)) -v tick_us="$tick_us" '/requests in/ {n=$1} /Requests\/sec/ {rps=$2}
    $1=="50%" {p50=$2} $1=="99%" {p99=$2}
    END {printf "%s %s %s %.2f\n", rps, p50, p99, ticks * tick_us / n}' "$out/wrk.txt"
}

if [ -n "$soak" ]; then
  tokens=$(mint RS256 10000)
  start RS256
  secs=$((soak * 60)) rounds=1
  echo "soak: RS256, /me with 10,000 distinct tokens, $soak min, $conns connections; RSS every 10 s"
  echo "start RSS: $(rss_kib) KiB"
  cell /me "$tokens" > "$out/soak.txt" &
  wrk_pid=$!
  t=0
  while kill -0 "$wrk_pid" 2>/dev/null; do
    sleep 10; t=$((t + 10))
    kill -0 "$pid" 2>/dev/null || { echo "server died" >&2; exit 1; }
    echo "t=${t}s RSS $(rss_kib) KiB"
  done
  wait "$wrk_pid"
  read -r rps p50 p99 _ < "$out/soak.txt"
  echo "soak: $rps req/s, p50 $p50, p99 $p99"
  exit 0
fi

echo "$(nproc) CPUs; server on ${server_cpu[*]:-any CPU}, wrk on ${wrk_cpu[*]:-any CPU}; $conns connections, ${secs}s per run, median of $rounds runs per cell"
printf '%-6s %-28s %10s %9s %9s %8s %8s %9s %9s %9s\n' alg cell "req/s" p50 p99 "RSS MiB" "CPU µs" \
  "rps÷pub" "rps÷hdr" "cpu÷hdr"
row() { # alg name rps p50 p99 cpu [public public_hdr cpu_hdr]
  local r1="" r2="" r3="" rss
  rss=$(awk -v k="$(rss_kib)" 'BEGIN {printf "%.1f", k / 1024}')
  [ -n "${7:-}" ] && r1=$(awk -v a="$3" -v b="$7" 'BEGIN {printf "%.2f", a / b}')
  [ -n "${8:-}" ] && r2=$(awk -v a="$3" -v b="$8" 'BEGIN {printf "%.2f", a / b}')
  [ -n "${9:-}" ] && r3=$(awk -v a="$6" -v b="$9" 'BEGIN {printf "%.2f", b / a}')
  printf '%-6s %-28s %10s %9s %9s %8s %8s %9s %9s %9s\n' "$1" "$2" "$3" "$4" "$5" "$rss" "$6" "$r1" "$r2" "$r3"
}
for alg in ${ALGS:-HS256 RS256 ES256}; do
  many=$(mint "$alg" 10000)
  misses=$(mint "$alg" 100000)
  one="$out/$alg-1.txt"
  head -n1 "$many" > "$one"
  start "$alg"
  curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$one")" "http://127.0.0.1:$port/me"
  read -r public p50 p99 cpu < <(cell /public)
  row "$alg" "/public" "$public" "$p50" "$p99" "$cpu"
  read -r hdr p50 p99 cpu_hdr < <(cell /public "$one")
  row "$alg" "/public, same header" "$hdr" "$p50" "$p99" "$cpu_hdr"
  r() { row "$alg" "$1" "$2" "$3" "$4" "$5" "$public" "$hdr" "$cpu_hdr"; }
  read -r rps p50 p99 cpu < <(cell /me "$one"); r "/me 1 token" "$rps" "$p50" "$p99" "$cpu"
  read -r rps p50 p99 cpu < <(cell /me "$many"); r "/me 10k tokens" "$rps" "$p50" "$p99" "$cpu"
  read -r rps p50 p99 cpu < <(cell /me "$misses"); r "/me 100k tokens" "$rps" "$p50" "$p99" "$cpu"
  stop; start "$alg" 20000
  read -r rps p50 p99 cpu < <(cell /me "$many"); r "/me 10k tokens, capacity 20k" "$rps" "$p50" "$p99" "$cpu"
  stop; start "$alg" 0
  read -r rps p50 p99 cpu < <(cell /me "$one"); r "/me 1 token, cache off" "$rps" "$p50" "$p99" "$cpu"
  read -r rps p50 p99 cpu < <(cell /me "$misses"); r "/me 100k tokens, cache off" "$rps" "$p50" "$p99" "$cpu"
  stop
done
