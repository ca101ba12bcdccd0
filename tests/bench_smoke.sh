#!/bin/sh
# bench_smoke.sh: `make bench`'s driver still runs end to end (short runs, one repetition):
# its client section times libceoprof (and LTTng-UST when installed) and its output section
# compares ceoprofd's files with perf.data. It checks that every figure was measured, never
# what the figures are: speed is judged by reading the benchmark, not by a timed test.
. "$(dirname "$0")/lib.sh"
require_perf
command -v perf >/dev/null 2>&1 || die "perf is not installed (apt-get install linux-perf)"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the benchmark driver runs as root (it starts lttng-sessiond and perf record -p)"
  exit 77
fi
unset CEOPROF_SOCKET
cd "$top_builddir" || die "no build directory"
$PYTHON3 "$top_srcdir/bench/bench.py" --quick --reps 1 --sections client,output \
  >"$WORK/bench.md" 2>"$WORK/bench.err" || die "bench.py failed: $(cat "$WORK/bench.err")"
cat "$WORK/bench.md"
num='[0-9][0-9.,]*'
for who in "1 thread, no daemon" "1 thread, daemon consuming" "2 threads, no daemon" \
           "2 threads, daemon consuming"; do
  grep -Eq "^\| libceoprof, $who \| $num \| $num \| $num \|$" "$WORK/bench.md" ||
    die "no libceoprof figures for '$who'"
done
if [ -x bench_lttng ] && command -v lttng-sessiond >/dev/null 2>&1; then
  grep -Eq "^\| LTTng-UST, 2 threads, session recording \| $num \| $num \| $num \|$" "$WORK/bench.md" ||
    die "LTTng-UST is installed but was not measured"
  grep -Eq "^\| \*\*ratio libceoprof / LTTng-UST, 1 thread\*\* \| $num \| $num \| $num \|$" "$WORK/bench.md" ||
    die "no libceoprof / LTTng-UST ratio"
  grep -Eq "LTTng session: .*; (it discarded [0-9]* events|its discarded-event count came out as [0-9]*, .*); it wrote [0-9.]* MB" "$WORK/bench.md" ||
    die "the LTTng session's figures are missing"
else
  grep -q "LTTng-UST: not measured: " "$WORK/bench.md" || die "LTTng-UST's absence is not said"
fi
grep -Eq "^\| files \| pprof $num B \+ trace $num B \| perf.data $num B \|$" "$WORK/bench.md" ||
  die "the output section has no file sizes"
grep -Eq "^\| stop to files written \(own measure\) \| $num ms \| \|$" "$WORK/bench.md" ||
  die "the output section has no stop-to-written time"
grep -Eq "^\| samples \| [1-9][0-9]* \| [1-9][0-9]* \|$" "$WORK/bench.md" ||
  die "a profiler took no samples in the output section"
echo "bench driver: all figures measured"
