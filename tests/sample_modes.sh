#!/bin/sh
# sample_modes.sh: which events sample, and what each mode gives short-lived threads. As root
# ceoprof samples per CPU: 300 threads of 3 ms of CPU each (bench/pool churn) get their true
# CPU in the profile (within 15%, at 999 Hz; per-thread events gave them 0-11%), and the
# summary and the pprof say which mode ran. An unprivileged user profiling their own command
# gets per-thread events, a correct profile, and the reason. --per-thread forces them.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
unset CEOPROF_SOCKET  # record sets its own
POOL="$top_builddir/bench/pool"
[ -x "$POOL" ] || die "no $POOL (make builds it)"

# The CPU the profile gives threads named churn-*, in ms, against what they measured.
churn_check() {  # PROFILE WORKLOAD_OUT TOLERANCE_PCT
  go tool pprof -top -nodefraction=0 -nodecount=100000 -tagfocus=thread_name='^churn-' "$1" \
    >"$1.churn" 2>&1 || die "go tool pprof: $(cat "$1.churn")"
  $PYTHON3 - "$1.churn" "$2" "$3" <<'PY' || die "short threads' CPU is wrong in $1"
import re, sys
top, out, tol = open(sys.argv[1]).read(), open(sys.argv[2]).read(), float(sys.argv[3])
units = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}
m = re.search(r"Showing nodes accounting for ([\d.]+)(ns|us|ms|s)\b", top)
got = float(m.group(1)) * units[m.group(2)] if m else 0.0
truth = float(re.search(r"churn_cpu_ms ([\d.]+)", out).group(1))
print(f"short threads: {got:.1f} ms in the profile, {truth:.1f} ms measured ({100 * got / truth:.0f}%)")
assert abs(got - truth) <= tol / 100 * truth, (got, truth)
PY
}

if [ "$(id -u)" = 0 ]; then
  "$top_builddir/ceoprof" record -F 999 -o "$WORK/c" -- "$POOL" churn 300 3 \
    >"$WORK/c.out" 2>"$WORK/c.err" || die "record failed: $(cat "$WORK/c.err")"
  cat "$WORK/c.err" "$WORK/c.out"
  grep -q "per-CPU sampling on [0-9]* CPUs" "$WORK/c.err" || die "not per-CPU as root: $(cat "$WORK/c.err")"
  go tool pprof -comments "$WORK/c.pb.gz" 2>/dev/null | grep -q "^mode: per-CPU sampling" \
    || die "the pprof does not say which mode ran"
  if ! grep -q "dropped in the kernel (BPF)" "$WORK/c.err"; then
    # Without the BPF programs: the filter is ceoprofd's, and the summary says what is left out.
    grep -q "other processes' samples dropped by ceoprofd" "$WORK/c.err" || die "no filter said"
    grep -q "waits and off-CPU stacks left out (--waits" "$WORK/c.err" \
      || die "the summary does not say waits are left out: $(cat "$WORK/c.err")"
  fi
  churn_check "$WORK/c.pb.gz" "$WORK/c.out" 15

  # --per-thread: the per-thread events, as before, said so.
  "$top_builddir/ceoprof" record --per-thread -F 999 -o "$WORK/t" -- "$POOL" churn 20 30 \
    >"$WORK/t.out" 2>"$WORK/t.err" || die "record --per-thread failed: $(cat "$WORK/t.err")"
  grep -q "per-thread events (--per-thread)" "$WORK/t.err" || die "--per-thread: $(cat "$WORK/t.err")"
  churn_check "$WORK/t.pb.gz" "$WORK/t.out" 25
fi

# An unprivileged user: per-thread events on their own command (threads of 30 ms each, which
# per-thread events do sample), and the reason said.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
   [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -ge 1 ]; then
  # Copies the user can run: the build may sit in a folder only root may enter (CI's is).
  mkdir "$WORK/nobody" && chmod 777 "$WORK/nobody" && chmod 755 "$WORK"
  cp "$top_builddir/ceoprof" "$WORK/nobody/"
  if [ "$(head -c 2 "$POOL")" = "#!" ]; then  # libtool's wrapper: the program and its library
    cp "$top_builddir/bench/.libs/pool" "$WORK/nobody/pool"
    cp -P "$top_builddir"/.libs/libceoprof.so* "$WORK/nobody/"
  else
    cp "$POOL" "$WORK/nobody/pool"
  fi
  XDG_RUNTIME_DIR="$WORK/nobody" LD_LIBRARY_PATH="$WORK/nobody" \
    setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$WORK/nobody/ceoprof" record -F 999 -o "$WORK/nobody/u" -- "$WORK/nobody/pool" churn 20 30 \
    >"$WORK/u.out" 2>"$WORK/u.err" || die "an unprivileged record failed: $(cat "$WORK/u.err")"
  cat "$WORK/u.err"
  grep -q "per-thread events (system-wide ones need root or CAP_PERFMON, perf_event_paranoid is" \
    "$WORK/u.err" || die "the unprivileged mode is not said: $(cat "$WORK/u.err")"
  churn_check "$WORK/nobody/u.pb.gz" "$WORK/u.out" 25
elif [ "$(id -u)" != 0 ]; then
  echo "SKIP: not root: the per-CPU mode needs it, and another user cannot be made"
  exit 77
else
  die "perf_event_paranoid is below 1 or setpriv is missing: the unprivileged mode cannot be tried"
fi
echo ok
