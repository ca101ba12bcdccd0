#!/usr/bin/env python3
"""check_waits.py TRACE NCPU: the wait split of tests/wait_workload's task spans in TRACE (a
.trace.json): naps blocked, spins on the CPU, crowd workers waiting for a CPU, the CPU time of
every kind of task agreeing with what its thread measured. Writes the totals to TRACE.tot."""
import json, sys
d = json.load(open(sys.argv[1]))
ncpu = int(sys.argv[2])
by = {}
for e in d["traceEvents"]:
    if e.get("ph") == "X" and e.get("cat") == "task" and "began_on_tid" not in e["args"]:
        by.setdefault(e["name"], []).append(e)
assert sorted(by) == ["crowd", "grow", "nap", "shrink", "spin"], sorted(by)
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
json.dump(tot, open(sys.argv[1] + ".tot", "w"))
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
