#!/usr/bin/env bash
# FFmpeg's own fuzz target for the h4mk demuxer (tools/target_dem_h4mk_fuzzer:
# probing, reading, seeking through an AVIOContext with fuzzed buffer sizes and
# seekability), built with clang, libFuzzer and AddressSanitizer against a
# libh4mk built the same way, statically (the per-demuxer target references
# ff_h4mk_demuxer, so it cannot link against a shared libavformat). Replays the
# saved corpus (fuzz/corpus/lavf_h4mk, plus the reader corpus and the test
# vectors), then fuzzes for SECONDS (default 60). Fails on any crash, leak or
# sanitizer report; crashing inputs land in build-fuzz-ffmpeg/artifacts/.
# (FFmpeg's generic BSF target cannot give h4mask a key or timestamps, so
# hostile envelopes are fuzzed in libh4mk instead: fuzz/fuzz_unmask.cpp.)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
root=$PWD
out=$root/build-fuzz-ffmpeg
src=$root/build/ffmpeg-9.0.2/src

# The patched source tree (build_ffmpeg.sh unpacks, verifies and patches it).
[ -d "$src/libavformat" ] && [ -f "$src/libavformat/h4mkdec.c" ] || ./build_ffmpeg.sh

# libh4mk and libh4mk-adapters, static, with the fuzzer's coverage and ASan.
flags="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g"
CC=clang CXX=clang++ cmake -S . -B "$out/libh4mk" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DH4MK_BUILD_TESTS=OFF \
  -DH4MK_BUILD_BENCH=OFF >/dev/null
cmake --build "$out/libh4mk" --target h4mk_static h4mk_shared h4mk_adapters_static \
  h4mk_adapters_shared h4mk >/dev/null
cmake --install "$out/libh4mk" --prefix "$out/prefix" >/dev/null
find "$out/prefix" -name 'libh4mk*.so*' -delete  # link the static libraries
pcdir=$(dirname "$(find "$out/prefix" -name h4mk.pc | head -n 1)")

# FFmpeg: the h4mk demuxer, nothing else.
mkdir -p "$out/obj"
# Every source of the demuxer (its side-data and shared files too) and libh4mk's headers.
stamp=$( { cat "$src/libavformat/"h4mk*.[ch] "$src/libavcodec/h4mk.h" \
             "$out/prefix/include/h4mk/"*.h; } | sha256sum)
if [ ! -f "$out/obj/.stamp" ] || [ "$(cat "$out/obj/.stamp")" != "$stamp" ]; then
  echo "fuzz_ffmpeg: configuring FFmpeg with clang, ASan and libFuzzer"
  (cd "$out/obj" && PKG_CONFIG_PATH="$pcdir" "$src/configure" --toolchain=clang-asan-fuzz \
    --enable-ossfuzz --disable-shared --enable-static --disable-programs --disable-doc \
    --disable-asm --pkg-config-flags=--static --enable-libh4mk --disable-everything \
    --enable-demuxer=h4mk --enable-protocol=file >configure.log 2>&1) ||
    { tail -n 30 "$out/obj/configure.log"; exit 1; }
  echo "fuzz_ffmpeg: building"
  mkdir -p "$out/obj/tools"  # out-of-tree builds without programs do not make it
  (cd "$out/obj" && make -j"$(nproc)" tools/target_dem_h4mk_fuzzer >make.log 2>&1) ||
    { tail -n 30 "$out/obj/make.log"; exit 1; }
  echo "$stamp" >"$out/obj/.stamp"
fi

mkdir -p "$out/artifacts"
bin=$out/obj/tools/target_dem_h4mk_fuzzer
saved=fuzz/corpus/lavf_h4mk
corpus=$out/corpus
mkdir -p "$corpus" "$saved"
cp -n "$saved"/* fuzz/corpus/reader/* tests/vectors/*.h4mk "$corpus"/ 2>/dev/null || true
# Regression: every saved input, once.
"$bin" -runs=0 "$saved" >"$out/replay.log" 2>&1 ||
  { tail -n 30 "$out/replay.log"; echo "fuzz_ffmpeg: a saved input fails" >&2; exit 1; }
"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$out/artifacts/dem_h4mk-" "$corpus" >"$out/fuzz.log" 2>&1 ||
  { tail -n 40 "$out/fuzz.log"; echo "fuzz_ffmpeg: crash (see $out/artifacts)" >&2; exit 1; }
runs=$(grep -o 'Done [0-9]* runs' "$out/fuzz.log" | grep -o '[0-9]*' || echo 0)
echo "fuzz_ffmpeg: target_dem_h4mk_fuzzer: $runs executions in ${seconds}s," \
  "corpus $(ls "$corpus" | wc -l) inputs, no crash"
