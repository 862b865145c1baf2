#!/usr/bin/env bash
# Load test of `h4mk serve` with wrk (Debian), loopback only, bounded time:
# /block requests and ranged reads of the file. Prints requests/s and latency
# percentiles (p99 included) for each.
#   bench/serve_load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
conns=${2:-32}
tool=build/tools/h4mk
[ -x "$tool" ] || { echo "serve_load: build first (scripts/build.sh)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "serve_load: wrk is missing (scripts/deps.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$tool" build --demo -q -o "$work/demo.h4mk"
size=$(stat -c %s "$work/demo.h4mk")
"$tool" serve "$work" --host 127.0.0.1 --port 0 --quiet --threads "${THREADS:-32}" >"$work/serve.out" &
pid=$!
for _ in $(seq 50); do grep -q 'http://' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")
# Ranged reads: 4 KiB at a random offset per request.
cat >"$work/range.lua" <<LUA
math.randomseed(7)
request = function()
  local first = math.random(0, $size - 4096)
  return wrk.format("GET", "/v1/files/demo.h4mk", { Range = "bytes=" .. first .. "-" .. (first + 4095) })
end
LUA
# /block: a random block of the video track.
cat >"$work/block.lua" <<LUA
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/files/demo.h4mk/block?track=2&index=" .. math.random(0, 299))
end
LUA
echo "h4mk serve load test: $seconds s each, $conns connections, 2 wrk threads, loopback"
for what in range block; do
  echo "== $what"
  wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$work/$what.lua" "$url" |
    grep -E 'Requests/sec|Transfer/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
done
