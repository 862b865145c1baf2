#!/usr/bin/env bash
# Runs the libh4mk benchmarks pinned to one core, 5 repetitions (the
# threaded VERI writer also on two cores), and prints
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
# On one core the writer keeps VERI in place: its threaded runs are left to the two-core run.
"${pin[@]}" build/bench/bench_libh4mk "${reps[@]}" --benchmark_format=json \
  --benchmark_filter='-/2/real_time$' >"$out/libh4mk.json"
# The writer (and verify, for files with a record per block) hashes VERI on a
# second thread when it may use two CPUs: that run gets two cores, SHA-256
# measured beside it, interleaved.
two=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  taskset -c "$(( $(nproc) - 2 )),$(( $(nproc) - 1 ))" build/bench/bench_libh4mk "${reps[@]}" \
    --benchmark_enable_random_interleaving=true --benchmark_format=json \
    --benchmark_filter='BM_(Write|WriteRun|Verify)/[0-9]/[12](/real_time)?$|BM_Sha256/' \
    >"$out/libh4mk_two_cpus.json"
  two=("two_cpus=$out/libh4mk_two_cpus.json")
fi
python3 bench/summarize.py "$out/primitives.json" "$out/libh4mk.json" "${two[@]}"
