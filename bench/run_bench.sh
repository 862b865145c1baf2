#!/usr/bin/env bash
# Runs the libh4mk benchmarks pinned to one core, 5 repetitions, and prints
# every target as a ratio against the peer measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/bench_libh4mk ] || scripts/build.sh
out=${1:-build/bench/results}
mkdir -p "$out"
pin=(taskset -c "$(( $(nproc) - 1 ))")
command -v taskset >/dev/null || pin=()
reps=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2)
"${pin[@]}" build/bench/bench_primitives "${reps[@]}" --benchmark_format=json >"$out/primitives.json"
"${pin[@]}" build/bench/bench_libh4mk "${reps[@]}" --benchmark_format=json >"$out/libh4mk.json"
python3 bench/summarize.py "$out/primitives.json" "$out/libh4mk.json"
