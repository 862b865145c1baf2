#!/usr/bin/env bash
# Sets everything up and runs the main job on built-in examples: builds
# libh4mk and the patched FFmpeg, writes, verifies, seeks, cuts and repairs a
# demo file, then remuxes generated audio and video through H4MK with ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
out=build/demo
mkdir -p "$out"
build/examples/h4mk_demo "$out/demo.h4mk"

bin=build/ffmpeg-9.0.2/install/bin
echo
echo "ffmpeg: generated audio + video -> h4mk -> matroska"
"$bin/ffmpeg" -nostdin -hide_banner -v error -y -f lavfi -i sine=frequency=440:duration=5 \
  -f lavfi -i testsrc=duration=5:size=320x240:rate=25 -c:a flac -c:v mpeg4 -bf 2 "$out/av.mkv"
"$bin/ffmpeg" -nostdin -hide_banner -v error -y -i "$out/av.mkv" -map 0 -c copy "$out/av.h4mk"
"$bin/ffprobe" -v error -show_entries stream=index,codec_name,time_base:format=format_name,duration \
  -of compact "$out/av.h4mk"
"$bin/ffmpeg" -nostdin -hide_banner -v error -y -ss 3.2 -i "$out/av.h4mk" -map 0 -c copy "$out/back.mkv"
"$bin/ffmpeg" -nostdin -v error -i "$out/av.mkv" -map 0 -c copy -f framemd5 - | grep -v '^#' | md5sum | sed 's/ .*/  packets of av.mkv/'
"$bin/ffmpeg" -nostdin -v error -i "$out/av.h4mk" -map 0 -c copy -f framemd5 - | grep -v '^#' | md5sum | sed 's/ .*/  packets of av.h4mk (the same)/'
