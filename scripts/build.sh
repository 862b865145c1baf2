#!/usr/bin/env bash
# Builds everything: libh4mk, its tests and benchmarks, the demo, and FFmpeg
# with the h4mk patch series (build_ffmpeg.sh) plus the tests that drive it.
# H4MK_NO_FFMPEG=1 builds the library side only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
ffmpeg_build=
if [ "${H4MK_NO_FFMPEG:-0}" != 1 ]; then
  ./build_ffmpeg.sh
  ffmpeg_build=$PWD/build/ffmpeg-9.0.2
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DH4MK_FFMPEG_BUILD="$ffmpeg_build" >/dev/null
cmake --build build --parallel "$(nproc)"
