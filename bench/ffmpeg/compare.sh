#!/usr/bin/env bash
# The same packet stream muxed by the patched ffmpeg into h4mk, matroska, nut,
# mp4 and ogg; per-packet overhead, a bare av_read_frame loop, `ffmpeg -c copy
# -f null` throughput, random seeks and bytes read to open, each as a ratio
# against the peers measured in the same round, and against libavformat's own
# cost (lavf_bench's floor demuxer, which does nothing).
#
# This machine kind is noisy (a shared VM: the same binary moves by ±30 %
# between minutes), so every measurement runs pinned to one core, the formats
# take turns within a round, and the summary gives medians over ROUNDS rounds
# (default 5) and the median of the per-round ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=build/ffmpeg-9.0.2/install/bin  # what lavf_bench links (scripts/build.sh)
tool=build/bench/lavf_bench
[ -x "$bin/ffmpeg" ] && [ -x "$tool" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
# STREAM=opus (default): one track of 20 ms Opus packets, MINUTES long (10).
# STREAM=av: MPEG-4 video (320x240, 25 fps, a keyframe a second) and AAC
# audio, MINUTES long (2): two tracks, which h4mk's demuxer hands out in dts
# order across its per-track groups.
stream=${STREAM:-opus}
rounds=${ROUNDS:-5}
seeks=${SEEKS:-2000}
pin=(taskset -c "$(( $(nproc) - 1 ))")
command -v taskset >/dev/null || pin=()
case $stream in
  opus)
    minutes=${MINUTES:-10}
    out=build/bench/ffmpeg
    formats=(h4mk mkv nut mp4 ogg)
    src=$out/src.ogg
    encode=(-f lavfi -i "sine=frequency=300:duration=$((minutes * 60)):sample_rate=48000"
            -c:a opus -strict experimental -b:a 24k) ;;
  av)
    minutes=${MINUTES:-2}
    out=build/bench/ffmpeg/av
    formats=(h4mk mkv nut mp4)
    src=$out/src.nut
    encode=(-f lavfi -i "testsrc=duration=$((minutes * 60)):size=320x240:rate=25"
            -f lavfi -i "sine=frequency=300:duration=$((minutes * 60)):sample_rate=48000"
            -c:v mpeg4 -g 25 -q:v 5 -c:a aac -b:a 64k) ;;
  *) echo "STREAM is opus or av" >&2; exit 1 ;;
esac
mkdir -p "$out"
if [ ! -f "$src" ]; then
  echo "encoding $minutes min of the $stream stream" >&2
  "$bin/ffmpeg" -nostdin -v error -y "${encode[@]}" "$src"
fi
for ext in "${formats[@]}"; do
  [ "$ext" = ogg ] && { cp "$src" "$out/stream.ogg"; continue; }
  "$bin/ffmpeg" -nostdin -v error -y -i "$src" -map 0 -c copy "$out/stream.$ext"
done

results=$out/results.jsonl
: >"$results"
for round in $(seq "$rounds"); do
  echo "round $round of $rounds" >&2
  for ext in "${formats[@]}"; do
    f=$out/stream.$ext
    # read: best of 3 loops; seek: mean over $seeks seeks (lavf_bench).
    json=$("${pin[@]}" "$tool" "$f" 3 "$seeks")
    # copy: best of 3 runs, as the read loop (one run swings by ±30 %).
    best=
    for _ in 1 2 3; do
      t0=$(date +%s%N)
      "${pin[@]}" "$bin/ffmpeg" -nostdin -v error -i "$f" -map 0 -c copy -f null -
      t1=$(date +%s%N)
      if [ -z "$best" ] || [ $((t1 - t0)) -lt "$best" ]; then best=$((t1 - t0)); fi
    done
    echo "${json%\}},\"round\":$round,\"seeks\":$seeks,\"copy_null_s\":$best.0e-9}" >>"$results"
  done
done
python3 bench/ffmpeg/summarize.py "$results"
