#!/usr/bin/env bash
# Verified random access over plain HTTP (docs/FORMAT.md §8.2), measured
# through nginx: two 10-hour files (16-byte tokens at 50 Hz in 2 s groups;
# the same tokens with 20 KB of video per 0.5 s group) are written, signed
# and served; bench/verified_reading.cpp opens each with and without the
# key and seeks 50 times, printing requests and bytes; nginx's access log
# gives the same totals. Usage: bench/verified_reading.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
work=$(mktemp -d)
chmod 755 "$work"  # nginx's workers read it
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  [ -f "$work/nginx/nginx.pid" ] && nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s stop 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$build/bench/verified_reading" write "$work"
openssl genpkey -algorithm ed25519 -out "$work/key.pem"
openssl pkey -in "$work/key.pem" -pubout -out "$work/key.pub"
for f in tokens av; do
  "$build/tools/h4mk" sign "$work/$f.h4mk" -o "$work/$f-signed.h4mk" --private-key "$work/key.pem"
  blocks=$("$build/tools/h4mk" inspect --json "$work/$f.h4mk" |
    python3 -c 'import json,sys; print(sum(t["summary"]["block_count"] for t in json.load(sys.stdin)["tracks"]))')
  python3 - "$work/$f.h4mk" "$work/$f-signed.h4mk" "$blocks" <<'PY'
import os, sys
plain, signed, blocks = os.path.getsize(sys.argv[1]), os.path.getsize(sys.argv[2]), int(sys.argv[3])
print(f"{os.path.basename(sys.argv[1])}: {blocks} blocks, {plain} bytes; signed {signed} bytes: "
      f"+{signed - plain} (HASH pages, SIGN, ROOT), {(signed - plain) / blocks:.3f} B per block")
PY
done

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  log_format counts '\$status \$body_bytes_sent';
  access_log $work/nginx/access.log counts;
  client_body_temp_path $work/nginx;
  server { listen 127.0.0.1:$port; root $work; }
}
CONF
nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf"
for f in tokens av; do
  echo "== $f-signed.h4mk over http"
  : >"$work/nginx/access.log"
  "$build/bench/verified_reading" read "http://127.0.0.1:$port/$f-signed.h4mk" "$work/key.pub"
  awk '{n++; b+=$2} END {printf "nginx access log: %d requests, %d bytes\n", n, b}' "$work/nginx/access.log"
done
