#!/bin/bash
# sampling.sh: what sampling costs the target and the daemon, beside perf record, in one run.
# For each rate (99, 999 Hz) and each profiler (none, ceoprofd --pid, perf record -g -p) it runs
# the throughput workload REPS times and reports the median throughput; slowdown is relative
# to the bare median of the same run. Daemon CPU per sample = (user+sys of the profiler) / samples.
# Usage: bench/sampling.sh [SECONDS] [REPS]   (run from the build directory, as root)
set -eu
secs=${1:-6}
reps=${2:-3}
threads=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_bare() {
  ./bench/throughput "$secs" "$threads" | awk '{ print $2 }'
}

# $1 = profiler (ceoprof|perf), $2 = rate. Prints "ops cpu_seconds samples".
run_profiled() {
  ./bench/throughput "$secs" "$threads" >"$work/tp.out" &
  local pid=$!
  sleep 0.05
  if [ "$1" = ceoprof ]; then
    ./ceoprofd --pid "$pid" -F "$2" -o "$work/c" --socket "$work/s.sock" >"$work/c.out" 2>/dev/null
    samples=$(sed -n 's/^  samples \([0-9]*\),.*/\1/p' "$work/c.out")
    cpu=$(sed -n 's/^  daemon CPU \([0-9.]*\) s.*/\1/p' "$work/c.out")
  else
    # A shell of its own, so that its time counts perf and nothing else.
    bash -c "TIMEFORMAT='%U %S'; time perf record -q -g -F $2 -p $pid -o $work/perf.data >/dev/null 2>&1" 2>"$work/time"
    samples=$(perf script -F tid -i "$work/perf.data" 2>/dev/null | wc -l)
    cpu=$(awk '{ print $1 + $2 }' "$work/time")
  fi
  wait "$pid"
  echo "$(awk '{ print $2 }' "$work/tp.out") $cpu $samples"
}

echo "| rate | profiler | target ops/s (median of $reps) | slowdown | profiler CPU per sample | samples |"
echo "|---|---|---|---|---|---|"
for hz in 99 999; do
  : >"$work/bare"
  : >"$work/ceoprof"
  : >"$work/perf"
  for _ in $(seq 1 "$reps"); do
    run_bare >>"$work/bare"
    run_profiled ceoprof "$hz" >>"$work/ceoprof"
    run_profiled perf "$hz" >>"$work/perf"
  done
  bare=$(median <"$work/bare")
  printf '| %s Hz | none | %.0f | - | - | - |\n' "$hz" "$bare"
  for p in ceoprof perf; do
    ops=$(awk '{ print $1 }' "$work/$p" | median)
    us=$(awk '$3 > 0 { print 1e6 * $2 / $3 }' "$work/$p" | median)
    n=$(awk '{ print $3 }' "$work/$p" | median)
    name=$([ "$p" = ceoprof ] && echo "ceoprofd --pid" || echo "perf record -g -p")
    printf '| %s Hz | %s | %.0f | %.2f%% | %.1f µs | %s |\n' "$hz" "$name" "$ops" \
      "$(awk -v b="$bare" -v o="$ops" 'BEGIN { print 100 * (b - o) / b }')" "$us" "$n"
  done
done
