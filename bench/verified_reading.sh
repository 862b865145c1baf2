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
. "$root/bench/nginx.sh"
trap 'nginx_stop; rm -rf "$work"' EXIT

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

nginx_serve "$work"
for f in tokens av; do
  echo "== $f-signed.h4mk over http"
  nginx_reset_log
  "$build/bench/verified_reading" read "http://127.0.0.1:$nginx_port/$f-signed.h4mk" "$work/key.pub"
  read -r requests bytes < <(nginx_totals)
  echo "nginx access log: $requests requests, $bytes bytes"
done
