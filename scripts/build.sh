#!/usr/bin/env bash
# Builds everything the tests need: libh4mk, its tests and benchmarks, the
# demo, and FFmpeg with the h4mk patch series, lean (build_ffmpeg.sh --lean:
# the components the tests use, and ffplay) plus the tests that drive it.
# The series is also built on FFmpeg 8.1.2 (its FATE tests run in ctest);
# H4MK_NO_FFMPEG=1 builds the library side only. Users' full FFmpeg is
# scripts/setup.sh's (./build_ffmpeg.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
ffmpeg_build= ffmpeg_812=
if [ "${H4MK_NO_FFMPEG:-0}" != 1 ]; then
  ./build_ffmpeg.sh --lean
  ./build_ffmpeg.sh --lean --ffmpeg-version 8.1.2
  ffmpeg_build=$PWD/build/ffmpeg-9.0.2-lean
  ffmpeg_812=$PWD/build/ffmpeg-8.1.2-lean
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Installed to build/prefix (below), so that is where plugins are looked for.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_INSTALL_PREFIX="$PWD/build/prefix" "${launcher[@]}" \
  -DH4MK_FFMPEG_BUILD="$ffmpeg_build" -DH4MK_FFMPEG_812_BUILD="$ffmpeg_812" -DH4MK_PYTHON_TESTS=ON >/dev/null
cmake --build build --parallel "$(nproc)"
# The patched ffmpeg links libh4mk from build/prefix and finds the adapter
# plugins next to it (build/prefix/lib/h4mk/adapters).
cmake --install build --prefix build/prefix >/dev/null
# The Python package, over the static libh4mk just installed.
scripts/python.sh >/dev/null
