#!/bin/sh
# cli_window.sh: "ceoprofd --auto --window": a libceoprof client is profiled as soon as it
# connects, in windows of the given length that follow each other without gap or overlap
# (also after the daemon was stopped for a while), whose samples add
# up to the CPU the workload measured, and whose traces never count a task twice.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
WORKLOAD="$top_builddir/tests/cpu_workload"

start_daemon --output-dir "$WORK" --auto --window 0.5 -F 199 -v --waits  # off-CPU windows in a build without BPF too
"$WORKLOAD" 3 >"$WORK/w.out" &
wl=$!
# The daemon stopped for a second (as a starved machine or a slow symbol file stops its loop)
# still cuts every window at its grid line, catching up when it runs again.
sleep 1
kill -STOP "$daemon_pid"
sleep 1.2
kill -CONT "$daemon_pid"
wait "$wl" || die "workload failed"
wpid=$(sed -n 's/.*--auto: profiling pid \([0-9]*\).*/\1/p' "$WORK/daemon.log" | head -n 1)
[ -n "$wpid" ] || die "--auto did not profile the client: $(cat "$WORK/daemon.log")"
wait_log "profile ends" || true
stop_daemon || die "daemon failed: $(cat "$WORK/daemon.log")"
cat "$WORK/w.out"
ls "$WORK"
for f in "$WORK"/cpuworkload-"$wpid"-*.pb.gz; do
  $PYTHON3 "$top_srcdir/tests/check_pprof.py" "$f" --json >"$f.check" || die "$f: $(cat "$f.check")"
  go tool pprof -top "$f" >/dev/null 2>&1 || die "go tool pprof cannot read $f"
done
total=$(sed -n "s/.*pid $wpid: profile ended (.*): \([0-9]*\) samples.*/\1/p" "$WORK/daemon.log")
[ -n "$total" ] || die "no end-of-profile line: $(cat "$WORK/daemon.log")"
lost=$(sed -n "s/.*pid $wpid: profile ended (.*): [0-9]* samples, \([0-9]*\) lost.*/\1/p" "$WORK/daemon.log")
grep -E "profile ended|duplicate|lost" "$WORK/daemon.log" || true
$PYTHON3 - "$WORK" "$wpid" "$total" "${lost:-0}" <<'PY' || die "windows are wrong"
import glob, json, sys
work, pid = sys.argv[1], sys.argv[2]
wins = []
for f in sorted(glob.glob(f"{work}/cpuworkload-{pid}-*.pb.gz")):
    if f.endswith(".offcpu.pb.gz"):
        continue
    # Each window has its off-CPU profile too, over the same time.
    off = json.loads([l for l in open(f[:-len(".pb.gz")] + ".offcpu.pb.gz.check")
                      if l.startswith("json ")][0][5:])
    line = [l for l in open(f + ".check") if l.startswith("json ")][0]
    w = json.loads(line[5:])
    assert (off["time_nanos"], off["duration_nanos"]) == (w["time_nanos"], w["duration_nanos"]), (off, w)
    w["trace"] = f[:-len(".pb.gz")] + ".trace.json"
    wins.append(w)
wins.sort(key=lambda w: w["time_nanos"])
print(len(wins), "windows")
assert len(wins) >= 5, f"only {len(wins)} windows in 3 s with --window 0.5"
for a, b in zip(wins, wins[1:]):
    assert a["time_nanos"] + a["duration_nanos"] == b["time_nanos"], \
        ("gap or overlap between windows", a["time_nanos"], a["duration_nanos"], b["time_nanos"])
    assert a["duration_nanos"] == 500000000, ("a window off the grid", a["duration_nanos"])
samples = sum(w["totals"]["samples"] for w in wins)
cpu_ms = sum(w["totals"]["cpu"] for w in wins) / 1e6
burns = dict(kv.split("=") for kv in open(f"{work}/w.out").read().split("cpu_ms ")[1].split())
burn_ms = sum(float(v) for v in burns.values())
lost = int(sys.argv[4])
by_thread = {}
for w in wins:
    for t, ns in w["by_thread"].items():
        by_thread[t] = by_thread.get(t, 0) + ns
print("CPU per thread in the windows (ms):",
      ", ".join(f"{t}: {ns / 1e6:.0f}" for t, ns in sorted(by_thread.items())))
print(f"windows: {samples} samples ({sys.argv[3]} taken, {lost} records lost), {cpu_ms:.0f} ms "
      f"CPU; the workload burned {burn_ms:.0f} ms")
# Every sample taken is in exactly one window.
assert samples == int(sys.argv[3]), (samples, sys.argv[3])
# And they cover the workload's CPU. Alone on the machine the two agree within 2%; on a
# loaded one cpu-clock (wall time while running) ran up to 30% above the threads' CPU
# time, so the bound only catches a window lost or counted twice. (It once caught 58%
# more: a worker started during the attach was sampled twice, see tests/sample_spawn.sh.)
# Below: records the kernel could not write while the daemon was stopped (a full ring) may
# each have been a sample of 1/199 s. And threads started around the attach can go
# unsampled (tests/sample_spawn.sh; perf record loses 15-25% of such threads): CI once had
# 66% of the CPU in the windows, about one busy thread's worth missing.
# Alone here the two agree within 3%.
assert 0.5 * burn_ms - lost * 1000 / 199 <= cpu_ms, (cpu_ms, burn_ms, lost)
assert cpu_ms <= 1.4 * burn_ms + 50, (cpu_ms, burn_ms)
# Traces: every span inside its window; one task never in two windows at the same time.
spans = {}
for w in wins:
    start, end = w["time_nanos"], w["time_nanos"] + w["duration_nanos"]
    d = json.load(open(w["trace"]))
    ends = {e["id"]: e["ts"] for e in d["traceEvents"] if e.get("ph") == "e" and e.get("cat") == "task"}
    for e in d["traceEvents"]:
        if e.get("cat") != "task" or e.get("ph") not in ("X", "b"):
            continue
        end = e["ts"] + e["dur"] if e["ph"] == "X" else ends[e["id"]]
        spans.setdefault(e["args"]["task_id"], []).append((e["ts"], end))
    w["nspans"] = sum(1 for e in d["traceEvents"] if e.get("ph") in ("X", "b") and e.get("cat") == "task")
split = 0
for tid, ss in spans.items():
    ss.sort()
    split += len(ss) > 1
    for a, b in zip(ss, ss[1:]):
        assert a[1] <= b[0] + 0.002, (tid, ss)
print(f"{len(spans)} tasks, {split} split across windows, none overlapping")
assert split >= 1, "no task crossed a window boundary: the test proves nothing"
PY
echo ok
