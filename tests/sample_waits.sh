#!/bin/sh
# sample_waits.sh: each task span says how its wall time split into CPU time, blocked time
# and scheduling delay, from the kernel's context-switch records. Naps are blocked, lone
# spins are on the CPU, four crowd workers on fewer CPUs wait for one; the CPU time per
# task agrees with what its thread measured (CLOCK_THREAD_CPUTIME_ID). The off-CPU
# profile (go tool pprof judges it) puts the naps' time on the sleep call.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
unset CEOPROF_SOCKET  # record sets its own
"$top_builddir/ceoprof" record -F 99 -o "$WORK/w" -- "$top_builddir/tests/wait_workload" \
  >"$WORK/rec.out" 2>"$WORK/rec.err" || die "record failed: $(cat "$WORK/rec.err")"
$VALIDATE "$WORK/w.trace.json" >/dev/null || die "invalid trace"
$PYTHON3 - "$WORK/w.trace.json" "$(nproc)" <<'PY' || die "task time split is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
ncpu = int(sys.argv[2])
by = {}
for e in d["traceEvents"]:
    if e.get("ph") == "X" and e.get("cat") == "task" and "began_on_tid" not in e["args"]:
        by.setdefault(e["name"], []).append(e)
assert sorted(by) == ["crowd", "nap", "spin"], sorted(by)
assert [len(by[n]) for n in ("crowd", "nap", "spin")] == [20, 20, 20], {n: len(v) for n, v in by.items()}
tot = {}
for name, es in by.items():
    t = tot.setdefault(name, dict(dur=0, cpu=0, blocked=0, delay=0, measured=0, switches=0))
    for e in es:
        a = e["args"]
        parts = a["cpu_ns"] + a["blocked_ns"] + a["sched_delay_ns"]
        dur_ns = e["dur"] * 1000
        # The three add up to the span (its duration is written in microseconds, 3 decimals).
        assert abs(parts - dur_ns) <= 2, (name, parts, dur_ns, a)
        t["dur"] += dur_ns; t["cpu"] += a["cpu_ns"]; t["blocked"] += a["blocked_ns"]
        t["delay"] += a["sched_delay_ns"]; t["measured"] += a["measured_cpu_ns"]
        t["switches"] += a["switches"]
for name, t in sorted(tot.items()):
    print(f"{name:6} wall {t['dur']/1e6:7.1f} ms: cpu {t['cpu']/1e6:7.1f} (measured "
          f"{t['measured']/1e6:7.1f}), blocked {t['blocked']/1e6:7.1f}, sched delay "
          f"{t['delay']/1e6:6.1f}, switches {t['switches']}")
nap, spin, crowd = tot["nap"], tot["spin"], tot["crowd"]
# Naps: blocked nearly all the time, switched out at least once each.
assert nap["blocked"] >= 0.8 * nap["dur"], nap
assert nap["switches"] >= 20, nap
# CPU time agrees with the threads' own measure in every kind of task.
for t in (nap, spin, crowd):
    assert abs(t["cpu"] - t["measured"]) <= 0.1 * t["measured"] + 2e6, t
# Spins never block (other tests may take the CPU from them: that is delay, not blocking).
assert spin["blocked"] <= 0.05 * spin["dur"] + 1e6, spin
# Four crowd workers on fewer CPUs: each waits for a CPU a good part of the time.
if ncpu < 4:
    assert crowd["delay"] >= 0.25 * crowd["dur"] * (1 - ncpu / 4), crowd
    assert crowd["blocked"] <= 0.05 * crowd["dur"] + 1e6, crowd
PY
off="$WORK/w.offcpu.pb.gz"
[ -s "$off" ] || die "no off-CPU profile: $(cat "$WORK/rec.out" "$WORK/rec.err")"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$off" --json >"$WORK/off.check" || die "$(cat "$WORK/off.check")"
grep -q "('off_cpu', 'nanoseconds')" "$WORK/off.check" || die "off-CPU sample type: $(cat "$WORK/off.check")"
go tool pprof -top -sample_index=off_cpu -tagfocus=task=nap "$off" >"$WORK/nap.top" 2>&1 \
  || die "go tool pprof: $(cat "$WORK/nap.top")"
go tool pprof -tags -sample_index=off_cpu "$off" >"$WORK/off.tags" 2>&1 || die "$(cat "$WORK/off.tags")"
cat "$WORK/nap.top" | head -n 14
$PYTHON3 - "$WORK/w.trace.json" "$WORK/off.tags" "$WORK/nap.top" <<'PY' || die "off-CPU profile is wrong"
import json, re, sys
d = json.load(open(sys.argv[1]))
blocked = sum(e["args"]["blocked_ns"] + e["args"]["sched_delay_ns"] for e in d["traceEvents"]
              if e.get("ph") == "X" and e.get("name") == "nap" and "blocked_ns" in e["args"]) / 1e6
units = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}
section, off = None, {}
for l in open(sys.argv[2]):
    m = re.match(r"\s*(\w+):\s*Total", l)
    if m:
        section = m.group(1)
        continue
    m = re.match(r"\s*([\d.]+)(ns|us|ms|s)\s*\(.*\):\s*(\S+)\s*$", l)
    if m and section == "task":
        off[m.group(3)] = float(m.group(1)) * units[m.group(2)]
print(f"naps off the CPU: {off.get('nap', 0):.1f} ms in the off-CPU profile, "
      f"{blocked:.1f} ms blocked or waiting in the trace's spans")
# The same wait seen two ways: stacks at switch-out weighted to the switch-in, and spans.
assert abs(off.get("nap", 0) - blocked) <= 0.1 * blocked + 2, (off, blocked)
top = open(sys.argv[3]).read()
assert re.search(r"nanosleep|usleep", top), "the naps' off-CPU time is not on the sleep call"
PY
echo ok
