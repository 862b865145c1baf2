#!/usr/bin/env bash
# Builds everything (library, FFmpeg with the h4mk patches) and runs every
# test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc)" "$@"
