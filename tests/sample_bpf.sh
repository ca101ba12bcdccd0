#!/bin/sh
# sample_bpf.sh: the BPF off-CPU helper (built with ./configure --with-libbpf). It loads, and
# the off-CPU time it sums in the kernel per thread and stack agrees, thread by thread, with
# the blocked and runnable time of the thread-state lanes, which come from another source
# (the perf context-switch records); the naps are on the sleep call; time before the
# wrapper script's exec is kept under "[before an exec]". With --no-bpf the perf events take
# the stacks again.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: not root: loading the BPF program needs CAP_BPF and CAP_PERFMON"
  exit 77
fi
unset CEOPROF_SOCKET  # record sets its own
"$top_builddir/ceoprof" record -F 99 -o "$WORK/w" -- "$top_builddir/tests/wait_workload" \
  >"$WORK/rec.out" 2>"$WORK/rec.err" || die "record failed: $(cat "$WORK/rec.err")"
cat "$WORK/rec.err"
grep -q "off-CPU stacks from the BPF helper" "$WORK/rec.err" \
  || die "the BPF helper was not used: $(cat "$WORK/rec.err")"
! grep -q "periods lost" "$WORK/rec.err" || die "the BPF helper lost periods: $(cat "$WORK/rec.err")"
off="$WORK/w.offcpu.pb.gz"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$off" --json >"$WORK/off.check" || die "$(cat "$WORK/off.check")"
grep -q "('off_cpu', 'nanoseconds')" "$WORK/off.check" || die "off-CPU sample type: $(cat "$WORK/off.check")"
wpid=$(sed -n 's/^ceoprof: pid \([0-9]*\) (.*/\1/p' "$WORK/rec.err" | head -n 1)
[ -n "$wpid" ] || die "no summary: $(cat "$WORK/rec.err")"
go tool pprof -top -sample_index=off_cpu -tagfocus=thread_id="$wpid" "$off" >"$WORK/main.top" 2>&1 \
  || die "go tool pprof: $(cat "$WORK/main.top")"
go tool pprof -top -nodefraction=0 -nodecount=100000 -sample_index=off_cpu "$off" >"$WORK/all.top" 2>&1 || die "$(cat "$WORK/all.top")"
head -n 16 "$WORK/main.top"
wrapper=0  # libtool's wrapper script, when the workload is one, execs the program
[ "$(head -c 2 "$top_builddir/tests/wait_workload")" = "#!" ] && wrapper=1
$PYTHON3 - "$WORK/w.trace.json" "$WORK/off.check" "$WORK/main.top" "$WORK/all.top" "$wrapper" <<'PY' || die "BPF off-CPU profile is wrong"
import json, re, sys
d = json.load(open(sys.argv[1]))
lanes = {}
for e in d["traceEvents"]:
    if e.get("ph") == "X" and e.get("cat") == "thread_state" and e["name"] != "running":
        t = e["tid"] & ~0x40000000
        lanes[t] = lanes.get(t, 0) + e["dur"] * 1000
check = [l for l in open(sys.argv[2]) if l.startswith("json ")][0]
bpf = {int(t): ns for t, ns in json.loads(check[5:])["by_thread"].items()}
assert lanes, "no thread state lanes"
for t in sorted(set(lanes) | set(bpf)):
    a, b = lanes.get(t, 0), bpf.get(t, 0)
    print(f"thread {t}: off the CPU {a / 1e6:8.1f} ms in its state lane, {b / 1e6:8.1f} ms in the BPF sums")
    # Both see every switch of the thread; they differ by the periods open at the ends.
    assert abs(a - b) <= 0.05 * a + 5e6, (t, a, b)
main = open(sys.argv[3]).read()
assert re.search(r"nanosleep|usleep", main), "the main thread's naps are not on the sleep call"
# The wrapper script ran before the program's exec: its waits are kept, without their
# stacks (that image is gone when the sums are read).
if sys.argv[5] == "1":
    assert "[before an exec]" in open(sys.argv[4]).read(), "no time before the exec"
PY

# --no-bpf: the perf events take the off-CPU stacks.
export CEOPROF_SOCKET="$SOCK"
"$top_builddir/tests/wait_workload" >"$WORK/w2.out" &
wl=$!
start_daemon --pid "$wl" --no-bpf -o "$WORK/p"
wait "$wl" || die "workload failed"
wait_daemon 30 || die "daemon failed: $(cat "$WORK/daemon.log")"
cat "$WORK/daemon.log"
grep -q "off-CPU stacks from perf events (--no-bpf)" "$WORK/daemon.log" || die "--no-bpf was not heeded"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/p.offcpu.pb.gz" >"$WORK/p.check" \
  || die "$(cat "$WORK/p.check")"
grep -q "('off_cpu', 'nanoseconds')" "$WORK/p.check" || die "no off-CPU profile with --no-bpf"
echo ok
