#!/usr/bin/env bash
# Builds what scripts/setup.sh runs: the Debian packages (scripts/deps.sh),
# the full patched FFmpeg 9.0.2 with ffplay (./build_ffmpeg.sh), libh4mk, the
# h4mk command line, the adapters (dsp links that FFmpeg's libavutil), the demo,
# installed to build/prefix, and the Python package (build/python-venv).
#
#   scripts/build.sh           what a user runs (scripts/setup.sh)
#   scripts/build.sh --tests   also every test and benchmark, and the lean
#                              FFmpeg 8.1.2 whose FATE tests ctest runs
#                              (scripts/test.sh)
#
# Both configure build/ alike, so the tests reuse what setup built.
# H4MK_NO_FFMPEG=1 builds the library side only.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
case "${1:-}" in
  --tests) tests=1 ;;
  "") ;;
  *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac
scripts/deps.sh
ffmpeg_build= ffmpeg_812=
if [ "${H4MK_NO_FFMPEG:-0}" != 1 ]; then
  ./build_ffmpeg.sh
  ffmpeg_build=$PWD/build/ffmpeg-9.0.2
  if [ "$tests" -eq 1 ]; then
    ./build_ffmpeg.sh --lean --ffmpeg-version 8.1.2
    ffmpeg_812=$PWD/build/ffmpeg-8.1.2-lean
  fi
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Installed to build/prefix (below), so that is where plugins are looked for.
# H4MK_FFMPEG_BUILD gives the dsp adapter its libavutil and the tests their
# ffmpeg; the same FFmpeg is the one the full-build test checks.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_INSTALL_PREFIX="$PWD/build/prefix" "${launcher[@]}" \
  -DH4MK_FFMPEG_BUILD="$ffmpeg_build" -DH4MK_FFMPEG_FULL_BUILD="$ffmpeg_build" \
  -DH4MK_FFMPEG_812_BUILD="$ffmpeg_812" -DH4MK_PYTHON_TESTS=ON >/dev/null
if [ "$tests" -eq 1 ]; then
  cmake --build build --parallel "$(nproc)"
else
  # What setup runs and installs; the optional plugins where configured.
  targets=(h4mk_shared h4mk_static h4mk_adapters_shared h4mk_adapters_static h4mk h4mk_demo
           h4mk_adapter_null)
  have=$(cmake --build build --target help)
  for t in h4mk_adapter_dsp h4mk_adapter_python; do
    grep -q "^$t:" <<<"$have" && targets+=("$t")
  done
  [ -z "$ffmpeg_build" ] || grep -q '^h4mk_adapter_dsp:' <<<"$have" ||
    { echo "build: FFmpeg's libavutil is in $ffmpeg_build, but the dsp adapter was not configured" >&2; exit 1; }
  cmake --build build --parallel "$(nproc)" --target "${targets[@]}"
fi
# The patched ffmpeg links libh4mk from build/prefix and finds the adapter
# plugins next to it (build/prefix/lib/h4mk/adapters).
cmake --install build --prefix build/prefix >/dev/null
# The Python package, over the static libh4mk just installed.
scripts/python.sh >/dev/null
