#!/usr/bin/env bash
# Runs every test: builds everything (scripts/build.sh --tests: the library,
# CLI, adapters, the full patched FFmpeg 9.0.2 that scripts/setup.sh builds
# too, and the lean 8.1.2 for its FATE tests), that 8.1.2's ported patches
# are those of 9.0.2 (scripts/ffmpeg-series.sh port), every prefix of the patch
# series in that lean 8.1.2 tree (the short version: patch 1 is only
# configured; scripts/ffmpeg-series.sh prefixes VERSION [--full] builds each
# in full, on either release, and is run by hand), the library and CLI tests
# under ASan + UBSan, the fuzz targets (saved corpus replayed, then
# FUZZ_SECONDS each, default 20; libh4mk's and FFmpeg's
# target_dem_h4mk_fuzzer), and finally the whole ctest suite.
# Each step prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
timed() {
  local name=$1 start=$SECONDS; shift
  "$@" || { echo "test: step '$name' failed after $((SECONDS - start)) s" >&2; return 1; }
  echo "test: step '$name' took $((SECONDS - start)) s"
}
timed build scripts/build.sh --tests
timed "series port" scripts/ffmpeg-series.sh port 8.1.2 --check
timed "series prefixes" scripts/ffmpeg-series.sh prefixes 8.1.2 --quick
timed sanitizers scripts/sanitize.sh
timed fuzz scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
timed "fuzz ffmpeg" scripts/fuzz_ffmpeg.sh "${FUZZ_SECONDS:-20}"
cd build
timed ctest ctest --output-on-failure --parallel "$(nproc)" "$@"
