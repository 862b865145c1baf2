#!/usr/bin/env bash
# A seek over plain HTTP, as a player makes it: `ffmpeg -ss 300 -i URL -t 2
# -c copy -f null -` on a 10-minute H.264 + AAC remux in h4mk, matroska and
# mp4, served by nginx; its access log counts the range requests and bytes
# each format costs (open, seek and 2 s of packets).
# Usage: bench/ffmpeg/http_seek.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=build/ffmpeg-9.0.2/install/bin  # the full build: Debian's x264 (scripts/setup.sh)
[ -x "$bin/ffmpeg" ] || { echo "run scripts/setup.sh first" >&2; exit 1; }
minutes=${1:-10}
work=$(mktemp -d)
. bench/nginx.sh
trap 'nginx_stop; rm -rf "$work"' EXIT

ff() { "$bin/ffmpeg" -nostdin -hide_banner -v error -y "$@"; }
ff -f lavfi -i "testsrc=duration=$((minutes * 60)):size=320x240:rate=25" \
  -f lavfi -i "sine=frequency=300:duration=$((minutes * 60)):sample_rate=48000" \
  -c:v libx264 -preset ultrafast -g 50 -c:a aac -b:a 64k "$work/src.mkv"
for ext in h4mk mkv mp4; do ff -i "$work/src.mkv" -map 0 -c copy "$work/a.$ext"; done

nginx_serve "$work"
echo "| format | file bytes | range requests | bytes read | packets |"
echo "|---|---|---|---|---|"
for ext in h4mk mkv mp4; do
  nginx_reset_log
  packets=$("$bin/ffmpeg" -nostdin -v error -ss 300 -i "http://127.0.0.1:$nginx_port/a.$ext" -t 2 \
    -c copy -f framecrc - | grep -vc '^#')
  read -r requests bytes < <(nginx_totals)
  echo "| $ext | $(stat -c %s "$work/a.$ext") | $requests | $bytes | $packets |"
done
