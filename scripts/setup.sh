#!/usr/bin/env bash
# Sets everything up and runs the main job on the built-in example: builds
# libh4mk, writes a demo multi-track file, verifies, seeks, cuts and repairs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
mkdir -p build/demo
build/examples/h4mk_demo build/demo/demo.h4mk
