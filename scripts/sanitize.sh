#!/usr/bin/env bash
# Builds libh4mk, the tools and all library tests with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs them. Any report fails.
# This build computes CRC-32 with libdeflate, the fallback, so both CRC-32
# implementations pass the whole library suite (build/ uses ISA-L).
# The one part that runs on two threads, the VERI chain of the writer and
# of verify(), is also built and run under ThreadSanitizer (build-tsan/,
# hash_chain_test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DH4MK_SANITIZE=ON -DH4MK_CRC32=libdeflate \
  -DH4MK_BUILD_BENCH=OFF -DH4MK_FFMPEG_BUILD= -DH4MK_FFMPEG_812_BUILD= >/dev/null
cmake --build build-asan --parallel "$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DH4MK_SANITIZE_THREAD=ON -DH4MK_CRC32=libdeflate \
  -DH4MK_BUILD_BENCH=OFF -DH4MK_FFMPEG_BUILD= -DH4MK_FFMPEG_812_BUILD= >/dev/null
cmake --build build-tsan --parallel "$(nproc)" --target hash_chain_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/tests/hash_chain_test
cd build-asan
ctest --output-on-failure --parallel "$(nproc)" "$@"
