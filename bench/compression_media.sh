#!/usr/bin/env bash
# Per-group compression on real media, beside bench/compression_ratio's token
# sets: a minute of espeak-ng speech as dsp tokens (the h4core encoder) and a
# minute of mpeg4 + aac remuxed from Matroska with -c copy, each compressed
# as `h4mk compress` does against zstd -3 of the whole file and deflate -6 of
# its payloads. Usage: bench/compression_media.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
ffmpeg=$build/ffmpeg-9.0.2/install/bin/ffmpeg
[ -x "$ffmpeg" ] || { echo "no $ffmpeg: run scripts/setup.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
text="Model tokens travel in an h4mk container. Each group of blocks is checked, \
indexed and, when it shrinks, compressed on its own, so a reader can seek to any \
of them without reading the rest. The quick brown fox jumps over the lazy dog."
for _ in 1 2 3 4; do printf '%s ' "$text"; done >speech.txt
espeak-ng -w speech.wav -f speech.txt
ff() { "$ffmpeg" -nostdin -hide_banner -v error -y "$@"; }
ff -i speech.wav -c:a h4core -f h4mk speech-dsp.h4mk
ff -f lavfi -i testsrc2=size=640x360:rate=25:duration=60 -f lavfi -i sine=frequency=440:duration=60 \
  -c:v mpeg4 -q:v 4 -c:a aac -b:a 128k av.mkv
ff -i av.mkv -map 0 -c copy mpeg4-aac.h4mk
"$build/bench/compression_ratio" 0 speech-dsp.h4mk mpeg4-aac.h4mk
