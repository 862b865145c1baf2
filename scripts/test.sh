#!/usr/bin/env bash
# Runs every test: builds everything (library, CLI, FFmpeg with the h4mk
# patches, 9.0.2 and 8.1.2), every prefix of the patch series on 9.0.2
# (the short version: scripts/ffmpeg-series.sh prefixes VERSION builds each
# in full, on either release), the library and CLI tests under ASan + UBSan,
# the fuzz targets (saved corpus replayed, then FUZZ_SECONDS each, default 30;
# libh4mk's and FFmpeg's target_dem_h4mk_fuzzer),
# and finally the whole ctest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/ffmpeg-series.sh prefixes 9.0.2 --quick
scripts/sanitize.sh
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
scripts/fuzz_ffmpeg.sh "${FUZZ_SECONDS:-30}"
cd build
ctest --output-on-failure --parallel "$(nproc)" "$@"
