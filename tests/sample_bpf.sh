#!/bin/sh
# sample_bpf.sh: per-CPU profiling with its BPF programs, the default as root where they load.
# The per-CPU events' samples are filtered in the kernel; the threads' switches come from
# BPF records, and each task span's split into CPU, blocked time and scheduling delay is as
# right as with per-thread events; the off-CPU stacks, sampled by time, add up to the
# blocked time the switch records give (within 5%), the naps' on their sleep call, with task
# labels. With --no-bpf, per-thread perf events take the waits again.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: not root: loading the BPF programs needs CAP_BPF and CAP_PERFMON"
  exit 77
fi
unset CEOPROF_SOCKET  # record sets its own
"$top_builddir/ceoprof" record -F 99 -o "$WORK/w" -- "$top_builddir/tests/wait_workload" \
  >"$WORK/rec.out" 2>"$WORK/rec.err" || die "record failed: $(cat "$WORK/rec.err")"
cat "$WORK/rec.err"
grep -q "per-CPU sampling on [0-9]* CPUs, other processes' samples dropped in the kernel (BPF)" \
  "$WORK/rec.err" || die "not per-CPU with the BPF filter: $(cat "$WORK/rec.err")"
grep -q "waits from BPF switch records; off-CPU stacks sampled by time" "$WORK/rec.err" \
  || die "the waits do not come from BPF: $(cat "$WORK/rec.err")"
$VALIDATE "$WORK/w.trace.json" >/dev/null || die "invalid trace"
$PYTHON3 "$top_srcdir/tests/check_waits.py" "$WORK/w.trace.json" "$(nproc)" || die "task time split is wrong"
off="$WORK/w.offcpu.pb.gz"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$off" --json >"$WORK/off.check" || die "$(cat "$WORK/off.check")"
grep -q "('off_cpu', 'nanoseconds')" "$WORK/off.check" || die "off-CPU sample type: $(cat "$WORK/off.check")"
go tool pprof -comments "$off" >"$WORK/off.comments" 2>&1 || die "$(cat "$WORK/off.comments")"
grep -q "min(1, off/P)" "$WORK/off.comments" || die "the off-CPU profile does not say how it was sampled"
go tool pprof -top -sample_index=off_cpu -tagfocus=task=nap "$off" >"$WORK/nap.top" 2>&1 \
  || die "go tool pprof: $(cat "$WORK/nap.top")"
head -n 14 "$WORK/nap.top"
$PYTHON3 - "$WORK/w.trace.json" "$WORK/off.check" "$WORK/nap.top" <<'PY' || die "BPF off-CPU profile is wrong"
import json, re, sys
d = json.load(open(sys.argv[1]))
# Stacks are sampled by time: a block of d < P is taken with probability d/P, weighted P,
# so the estimate's variance is the sum of d(P - d) over the blocks (P at 99 Hz).
P = 1e9 / 99
blocked, var = 0, 0
for e in d["traceEvents"]:
    if e.get("ph") == "X" and e.get("cat") == "thread_state" and e["name"] == "blocked":
        dur = e["dur"] * 1000
        blocked += dur
        var += dur * (P - dur) if dur < P else 0
check = [l for l in open(sys.argv[2]) if l.startswith("json ")][0]
off = sum(json.loads(check[5:])["by_thread"].values())
sd = var ** 0.5
print(f"off the CPU: {off / 1e6:.1f} ms in the sampled off-CPU profile, "
      f"{blocked / 1e6:.1f} ms blocked in the state lanes (estimate's sd {sd / 1e6:.1f} ms)")
assert blocked > 0, "no blocked time in the state lanes"
# Within 5%, or 4 standard deviations of the estimate where short blocks make it noisier.
assert abs(off - blocked) <= max(0.05 * blocked, 4 * sd) + 5e6, (off, blocked, sd)
top = open(sys.argv[3]).read()
assert re.search(r"nanosleep|usleep", top), "the naps' off-CPU time is not on the sleep call"
assert re.search(r"Showing nodes accounting for [\d.]+m?s", top), "no off-CPU time has the task label nap"
PY

# --no-bpf: per-thread perf events take the waits and the off-CPU stacks.
export CEOPROF_SOCKET="$SOCK"
"$top_builddir/tests/wait_workload" >"$WORK/w2.out" &
wl=$!
start_daemon --pid "$wl" --no-bpf -o "$WORK/p"
wait "$wl" || die "workload failed"
wait_daemon 30 || die "daemon failed: $(cat "$WORK/daemon.log")"
cat "$WORK/daemon.log"
grep -q "waits and off-CPU stacks from per-thread perf events (--no-bpf)" "$WORK/daemon.log" \
  || die "--no-bpf was not heeded"
grep -q "dropped by ceoprofd" "$WORK/daemon.log" || die "--no-bpf: the samples were filtered by BPF"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/p.offcpu.pb.gz" >"$WORK/p.check" \
  || die "$(cat "$WORK/p.check")"
grep -q "('off_cpu', 'nanoseconds')" "$WORK/p.check" || die "no off-CPU profile with --no-bpf"
echo ok
