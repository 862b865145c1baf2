#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/), replays the
# saved corpus of each (fuzz/corpus/NAME) as a regression test, then fuzzes
# each for SECONDS (default 60). Fails on any crash, leak, timeout or sanitizer
# report; new crashing inputs are left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/deps.sh
# The dsp adapter takes FFmpeg's libavutil from the pinned build, when there
# is one (scripts/setup.sh makes it): fuzz_chain_decoder then runs it too.
ffmpeg_build=
[ -f build/ffmpeg-9.0.2/install/lib/libavutil.a ] && ffmpeg_build=$PWD/build/ffmpeg-9.0.2
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DH4MK_FUZZ=ON -DH4MK_BUILD_TESTS=OFF -DH4MK_BUILD_BENCH=OFF \
  -DH4MK_FFMPEG_BUILD="$ffmpeg_build" >/dev/null
targets=(reader packet_reader signed_reader trak chapters group compressed_group side_data unmask
  dsp_tokens chain_decoder rewrite seek_table http_request_parts http_answer audio_upload)
cmake --build build-fuzz --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"
mkdir -p build-fuzz/artifacts
total=0
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$t
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  # Regression: every saved input, once.
  # Limits low enough that an input costing memory or time out of proportion
  # to its few KiB fails (ASan's quarantine alone takes 256 MB).
  limits=(-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=512)
  "$bin" -runs=0 "${limits[@]}" fuzz/corpus/"$t" >"build-fuzz/$t.replay.log" 2>&1 ||
    { tail -n 30 "build-fuzz/$t.replay.log"; echo "fuzz: $t: a saved input fails" >&2; exit 1; }
  # Fuzzing.
  # Whole files stay small so the byte-by-byte resync scans stay fast.
  max_len=65536
  case $t in reader | packet_reader | rewrite) max_len=16384 ;; esac
  "$bin" -max_total_time="$seconds" -max_len="$max_len" "${limits[@]}" \
    -artifact_prefix="build-fuzz/artifacts/$t-" "$corpus" >"build-fuzz/$t.log" 2>&1 ||
    { tail -n 40 "build-fuzz/$t.log"; echo "fuzz: $t: crash (see build-fuzz/artifacts)" >&2; exit 1; }
  runs=$(grep -o 'Done [0-9]* runs' "build-fuzz/$t.log" | grep -o '[0-9]*' || echo 0)
  total=$((total + runs))
  echo "fuzz: $t: $runs executions in ${seconds}s, corpus $(ls "$corpus" | wc -l) inputs, no crash"
done
echo "fuzz: $total executions in all, no crash"
