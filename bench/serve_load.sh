#!/usr/bin/env bash
# Load test of `h4mk serve` with wrk (Debian), loopback only, bounded time.
# Ranged reads of a file are measured against nginx serving the same file in
# the same run (the peer); /block, /stream and the upload endpoints on their
# own. Prints requests/s, p50 and p99 per endpoint, the ranged-read ratios to
# nginx, and the server's peak memory.
#   bench/serve_load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
conns=${2:-32}
tool=build/tools/h4mk
[ -x "$tool" ] || { echo "serve_load: build first (scripts/build.sh)" >&2; exit 1; }
for c in wrk nginx python3; do
  command -v "$c" >/dev/null || { echo "serve_load: $c is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as an unprivileged user
pid= npid=
trap 'kill $pid $npid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$tool" build --demo -q -o "$work/demo.h4mk"
size=$(stat -c %s "$work/demo.h4mk")
head -c 65536 /dev/urandom >"$work/upload.raw"
chmod 644 "$work/demo.h4mk"
# 0.5 s of a 440 Hz tone, 16 kHz s16le, for the audio endpoints.
python3 -c "
import math, struct, sys
sys.stdout.buffer.write(b''.join(struct.pack('<h', int(12000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(8000)))
" >"$work/tone.pcm"

"$tool" serve "$work" --host 127.0.0.1 --port 0 --quiet --allow-upload >"$work/serve.out" &
pid=$!
for _ in $(seq 50); do grep -q 'http://' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")

# nginx on a free port, 2 workers (the machine's cores), sendfile, no log.
nport=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$nport; root $work; } }
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
npid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$nport/demo.h4mk" && break; sleep 0.1; done

# Ranged reads: 4 KiB at a random offset per request (the same sequence for both).
range_lua() {
  cat <<LUA
math.randomseed(7)
request = function()
  local first = math.random(0, $size - 4096)
  return wrk.format("GET", "$1", { Range = "bytes=" .. first .. "-" .. (first + 4095) })
end
LUA
}
range_lua /v1/files/demo.h4mk >"$work/range.lua"
range_lua /demo.h4mk >"$work/range_nginx.lua"
cat >"$work/block.lua" <<LUA
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/files/demo.h4mk/block?track=2&index=" .. math.random(0, 299))
end
LUA
cat >"$work/stream.lua" <<LUA
request = function()
  return wrk.format("GET", "/v1/files/demo.h4mk/stream?track=2&from=1s&to=3s")
end
LUA
post_lua() {  # target, body file
  cat <<LUA
local f = io.open("$2", "rb")
local body = f:read("*a")
f:close()
request = function()
  return wrk.format("POST", "$1", { ["Content-Type"] = "application/octet-stream" }, body)
end
LUA
}
post_lua "/v1/export?block_size=4096" "$work/upload.raw" >"$work/export.lua"
post_lua "/v1/video/stream?block_size=4096" "$work/upload.raw" >"$work/video_stream.lua"
post_lua "/v1/audio/stream?sample_rate=16000&frame_size=512" "$work/tone.pcm" >"$work/audio_stream.lua"
post_lua "/v1/audio/export?sample_rate=16000&frame_size=512" "$work/tone.pcm" >"$work/audio_export.lua"

# One wrk run: prints "requests/s p50_ms p99_ms non2xx".
measure() {  # lua, base url, connections
  wrk -t2 -c"$3" -d"${seconds}s" --latency -s "$work/$1" "$2" >"$work/$1.out" 2>&1
  python3 - "$work/$1.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
print("%.0f %.3f %.3f %s %s" % (rps, ms(50), ms(99), bad.group(1) if bad else "0",
                                 "errors:" + err.group(1).replace(" ", "") if err else ""))
PY
}

echo "h4mk serve load test: $seconds s each, $conns connections (uploads: 8), 2 wrk threads, loopback, $(nproc) cores"
printf "%-44s %10s %9s %9s %s\n" endpoint "req/s" "p50 ms" "p99 ms" "non-2xx"
# An endpoint that answered errors has no throughput to report: the run fails.
failed=()
row() {
  printf "%-44s %10s %9s %9s %s %s\n" "$1" $2
  local fields=($2)
  [ "${fields[3]}" = 0 ] || failed+=("$1")
}
h=$(measure range.lua "$url" "$conns");        row "ranged 4 KiB reads, h4mk serve" "$h"
n=$(measure range_nginx.lua "http://127.0.0.1:$nport" "$conns"); row "ranged 4 KiB reads, nginx (peer)" "$n"
row "/v1/files/demo.h4mk/block (random index)" "$(measure block.lua "$url" "$conns")"
row "/v1/files/demo.h4mk/stream (2 s of video)" "$(measure stream.lua "$url" "$conns")"
row "POST /v1/export (64 KiB)" "$(measure export.lua "$url" 8)"
row "POST /v1/video/stream (64 KiB)" "$(measure video_stream.lua "$url" 8)"
row "POST /v1/audio/stream (0.5 s, 16 kHz)" "$(measure audio_stream.lua "$url" 8)"
row "POST /v1/audio/export (0.5 s, 16 kHz)" "$(measure audio_export.lua "$url" 8)"
read -r hr hp50 hp99 _ <<<"$h"
read -r nr np50 np99 _ <<<"$n"
python3 -c "print('ranged reads, h4mk serve / nginx: throughput %.2fx, p50 %.2fx, p99 %.2fx' % ($hr / $nr, $hp50 / $np50, $hp99 / $np99))"
echo "h4mk serve peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'serve_load: answered errors (non-2xx), so no figure: %s\n' "${failed[@]}" >&2
  echo "serve_load: the audio endpoints need the dsp adapter of a full build (scripts/build.sh)" >&2
  exit 1
fi
