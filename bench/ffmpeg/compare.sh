#!/usr/bin/env bash
# The same packet stream muxed by the patched ffmpeg into h4mk, matroska, nut,
# mp4 and ogg; per-packet overhead, a bare av_read_frame loop, `ffmpeg -c copy
# -f null` throughput (one core), random seeks and bytes read to open, each as
# a ratio against the peers measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=build/ffmpeg-9.0.2/install/bin
tool=build/bench/lavf_bench
[ -x "$bin/ffmpeg" ] && [ -x "$tool" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
minutes=${MINUTES:-10}
out=build/bench/ffmpeg
mkdir -p "$out"
pin=(taskset -c "$(( $(nproc) - 1 ))")
command -v taskset >/dev/null || pin=()

src=$out/src.ogg
if [ ! -f "$src" ]; then
  echo "encoding $minutes min of 20 ms Opus packets" >&2
  "$bin/ffmpeg" -nostdin -v error -y -f lavfi -i "sine=frequency=300:duration=$((minutes * 60)):sample_rate=48000" \
    -c:a opus -strict experimental -b:a 24k "$src"
fi
for ext in h4mk mkv nut mp4 ogg; do
  [ "$ext" = ogg ] && { cp "$src" "$out/stream.ogg"; continue; }
  "$bin/ffmpeg" -nostdin -v error -y -i "$src" -map 0 -c copy "$out/stream.$ext"
done

results=$out/results.jsonl
: >"$results"
for ext in h4mk mkv nut mp4 ogg; do
  f=$out/stream.$ext
  json=$("${pin[@]}" "$tool" "$f" 5 2000)
  # ffmpeg -c copy -f null: median wall time of 5 runs.
  times=()
  for i in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "${pin[@]}" "$bin/ffmpeg" -nostdin -v error -i "$f" -map 0 -c copy -f null -
    times+=("$(( $(date +%s%N) - t0 ))")
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  echo "${json%\}},\"copy_null_s\":$median.0e-9}" >>"$results"
done
python3 bench/ffmpeg/summarize.py "$results"
