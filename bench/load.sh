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
#   /me 1 token, cache off          JWT_CACHE_CAPACITY=0: every request verifies
#   /me 10k tokens, cache off       the same, 10,000 distinct tokens
#   /me 10k tokens, capacity 1      a cache that (almost) never hits: its
#                                   bookkeeping cost on the miss path
# Prints req/s, p50, p99, the server's RSS after the cell, and each /me
# cell's ratio to both /public cells of the same run. With 2+ CPUs the server is pinned
# to CPU 0 and wrk to the others (taskset), so the server has one core.
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

# one_run PATH [TOKENS_FILE]: one wrk run; prints "req/s p50 p99".
one_run() {
  local path=$1 tokens=${2:-} args=()
  if [ -n "$tokens" ]; then
    if [ "$(wc -l < "$tokens")" -eq 1 ]; then
      args=(-H "Authorization: Bearer $(cat "$tokens")")
    else
      args=(-s bench/tokens.lua)
    fi
  fi
  TOKENS_FILE="$tokens" "${wrk_cpu[@]}" wrk -t2 -c"$conns" -d"${secs}s" --latency "${args[@]}" \
    "http://127.0.0.1:$port$path" > "$out/wrk.txt"
  if grep -q "Non-2xx" "$out/wrk.txt"; then
    echo "non-2xx responses on $path:" >&2; cat "$out/wrk.txt" >&2; exit 1
  fi
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print rps, p50, p99}' "$out/wrk.txt"
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
  read -r rps p50 p99 < "$out/soak.txt"
  echo "soak: $rps req/s, p50 $p50, p99 $p99"
  exit 0
fi

echo "$(nproc) CPUs; server on ${server_cpu[*]:-any CPU}, wrk on ${wrk_cpu[*]:-any CPU}; $conns connections, ${secs}s per run, median of $rounds runs per cell"
printf '%-6s %-30s %10s %9s %9s %9s %10s %10s\n' alg cell "req/s" p50 p99 "RSS MiB" "/ /public" "/ same hdr"
row() { # alg name rps p50 p99 [public public_hdr]
  local ratio="" ratio_hdr="" rss
  rss=$(awk -v k="$(rss_kib)" 'BEGIN {printf "%.1f", k / 1024}')
  [ -n "${6:-}" ] && ratio=$(awk -v a="$3" -v b="$6" 'BEGIN {printf "%.2f", a / b}')
  [ -n "${7:-}" ] && ratio_hdr=$(awk -v a="$3" -v b="$7" 'BEGIN {printf "%.2f", a / b}')
  printf '%-6s %-30s %10s %9s %9s %9s %10s %10s\n' "$1" "$2" "$3" "$4" "$5" "$rss" "$ratio" "$ratio_hdr"
}
for alg in ${ALGS:-HS256 RS256 ES256}; do
  many=$(mint "$alg" 10000)
  one="$out/$alg-1.txt"
  head -n1 "$many" > "$one"
  start "$alg"
  curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$one")" "http://127.0.0.1:$port/me"
  read -r public p50 p99 < <(cell /public)
  row "$alg" "/public" "$public" "$p50" "$p99"
  read -r hdr p50 p99 < <(cell /public "$one")
  row "$alg" "/public, same header" "$hdr" "$p50" "$p99"
  r() { row "$alg" "$1" "$2" "$3" "$4" "$public" "$hdr"; }
  read -r rps p50 p99 < <(cell /me "$one"); r "/me 1 token" "$rps" "$p50" "$p99"
  read -r rps p50 p99 < <(cell /me "$many"); r "/me 10k tokens" "$rps" "$p50" "$p99"
  stop; start "$alg" 20000
  read -r rps p50 p99 < <(cell /me "$many"); r "/me 10k tokens, capacity 20k" "$rps" "$p50" "$p99"
  stop; start "$alg" 0
  read -r rps p50 p99 < <(cell /me "$one"); r "/me 1 token, cache off" "$rps" "$p50" "$p99"
  read -r rps p50 p99 < <(cell /me "$many"); r "/me 10k tokens, cache off" "$rps" "$p50" "$p99"
  stop; start "$alg" 1
  read -r rps p50 p99 < <(cell /me "$many"); r "/me 10k tokens, capacity 1" "$rps" "$p50" "$p99"
  stop
done
