#!/bin/sh
# sample_waits.sh: each task span says how its wall time split into CPU time, blocked time
# and scheduling delay, from the kernel's context-switch records. Naps are blocked, lone
# spins are on the CPU, four crowd workers on fewer CPUs wait for one; the CPU time per
# task agrees with what its thread measured (CLOCK_THREAD_CPUTIME_ID). The off-CPU
# profile (go tool pprof judges it) puts the naps' time on the sleep call. "ceoprof report
# --waits" gives the same sums per task and per worker. The resident-memory track sees the
# 64 MiB a "grow" task touched and a "shrink" task gave back, in those tasks' args.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
unset CEOPROF_SOCKET  # record sets its own
# --no-bpf: the stacks at switch-out from perf events, with task labels, also in a build
# with the BPF helper (which sums them per thread: tests/sample_bpf.sh).
"$top_builddir/ceoprof" record -F 99 --no-bpf -o "$WORK/w" -- "$top_builddir/tests/wait_workload" \
  >"$WORK/rec.out" 2>"$WORK/rec.err" || die "record failed: $(cat "$WORK/rec.err")"
$VALIDATE "$WORK/w.trace.json" >/dev/null || die "invalid trace"
$PYTHON3 "$top_srcdir/tests/check_waits.py" "$WORK/w.trace.json" "$(nproc)" || die "task time split is wrong"
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

# ceoprof report --waits: the same sums, per task and per worker.
"$top_builddir/ceoprof" report --waits "$WORK/w.trace.json" >"$WORK/waits.task" 2>&1 \
  || die "report --waits: $(cat "$WORK/waits.task")"
"$top_builddir/ceoprof" report --waits --by worker "$WORK/w.trace.json" >"$WORK/waits.worker" 2>&1 \
  || die "report --waits --by worker: $(cat "$WORK/waits.worker")"
cat "$WORK/waits.task" "$WORK/waits.worker"
$PYTHON3 - "$WORK/w.trace.json.tot" "$WORK/waits.task" "$WORK/waits.worker" <<'PY' || die "report --waits is wrong"
import json, re, sys
tot = json.load(open(sys.argv[1]))
units = {"us": 1e3, "ms": 1e6, "s": 1e9}
def rows(path):
    out = {}
    for l in open(path):
        f = l.split()
        if len(f) == 10 and f[1].isdigit():
            ns = [float(re.match(r"([\d.]+)", v).group(1)) * units[re.sub(r"[\d.]", "", v)]
                  for v in (f[2], f[3], f[5], f[7])]
            out[f[0]] = dict(count=int(f[1]), dur=ns[0], cpu=ns[1], blocked=ns[2], delay=ns[3],
                             switches=int(f[9]))
    return out
task, worker = rows(sys.argv[2]), rows(sys.argv[3])
assert sorted(task) == sorted(tot), (task, tot)
for name, t in tot.items():
    r = task[name]
    for k in ("dur", "cpu", "blocked", "delay"):
        # printed with 3 significant decimals: 1% or 0.1 ms
        assert abs(r[k] - t[k]) <= 0.01 * t[k] + 1e5, (name, k, r[k], t[k])
    assert r["switches"] == t["switches"], (name, r, t)
assert sorted(worker) == ["crowd", "main"], worker
assert worker["crowd"]["count"] == 20, worker
assert abs(worker["crowd"]["cpu"] - tot["crowd"]["cpu"]) <= 0.01 * tot["crowd"]["cpu"] + 1e5
main_cpu = sum(tot[n]["cpu"] for n in ("nap", "spin", "grow", "shrink"))
assert abs(worker["main"]["cpu"] - main_cpu) <= 0.01 * main_cpu + 1e5, (worker["main"], main_cpu)
print("report --waits agrees with the spans")
PY
# Thread states: a lane beside each thread's, where the naps are blocked and the crowd
# waits for a CPU, as much as the spans say.
$PYTHON3 - "$WORK/w.trace.json" "$(nproc)" <<'PY' || die "thread state lanes are wrong"
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
names = {e["tid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e.get("name") == "thread_name"}
lanes = {t: n for t, n in names.items() if t & 0x40000000}
assert lanes, "no thread state lanes"
for t, n in lanes.items():
    assert n == names.get(t & ~0x40000000, "?") + " state", (t, n, names.get(t & ~0x40000000))
slices = {}
for e in ev:
    if e.get("ph") == "X" and e.get("cat") == "thread_state":
        assert e["tid"] in lanes, e
        slices.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"], e["name"]))
def inside(tid, name, a, b):
    return sum(max(0, min(b, y) - max(a, x)) for x, y, n in slices.get(tid | 0x40000000, []) if n == name)
got = {}
for e in ev:
    if e.get("ph") == "X" and e.get("cat") == "task" and "blocked_ns" in e["args"]:
        g = got.setdefault(e["name"], [0, 0, 0, 0])
        a, b = e["ts"], e["ts"] + e["dur"]
        g[0] += inside(e["tid"], "blocked", a, b); g[1] += e["args"]["blocked_ns"] / 1e3
        g[2] += inside(e["tid"], "runnable", a, b); g[3] += e["args"]["sched_delay_ns"] / 1e3
for tid, ss in slices.items():
    ss.sort()
    for p, q in zip(ss, ss[1:]):
        assert p[1] <= q[0] + 0.002, ("overlapping states", tid, p, q)
print({k: [round(x / 1e3, 1) for x in v] for k, v in got.items()}, "ms: blocked on lanes/in spans, runnable on lanes/in spans")
# The lanes leave out only a thread's state after its last switch of the run.
nap, crowd = got["nap"], got["crowd"]
assert abs(nap[0] - nap[1]) <= 0.05 * nap[1], nap
if int(sys.argv[2]) < 4:
    assert abs(crowd[2] - crowd[3]) <= 0.05 * crowd[3] + 1000, crowd
PY
# Resident memory: a counter track, and the change across the tasks that made it.
$PYTHON3 - "$WORK/w.trace.json" <<'PY' || die "resident memory is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
mib = 1 << 20
rss = [e for e in d["traceEvents"] if e.get("ph") == "C" and e.get("name") == "rss"]
span = lambda n: [e for e in d["traceEvents"] if e.get("ph") == "X" and e.get("name") == n][0]
grow, shrink = span("grow"), span("shrink")
vals = [e["args"]["bytes"] for e in rss]
wall_ms = (rss[-1]["ts"] - rss[0]["ts"]) / 1e3 if rss else 0
m = d["metadata"]["memory"]
print(f"rss: {len(rss)} readings over {wall_ms:.0f} ms, {min(vals)/mib:.1f} to {max(vals)/mib:.1f} MiB; "
      f"grow {grow['args']['rss_delta_bytes']/mib:+.1f} MiB, shrink "
      f"{shrink['args']['rss_delta_bytes']/mib:+.1f} MiB; metadata {m}")
assert m["rss_readings"] >= 0.5 * wall_ms / m["interval_ms"], m
# Not the exited process's zeros at the end (at its exec it may really hold one page).
assert vals[-1] >= mib, ("a reading of a process without memory", vals[-3:])
# Built with AddressSanitizer, touching 64 MiB also touches 8 MiB of shadow memory, which
# stays resident after the munmap.
assert max(vals) - vals[-1] >= 50 * mib, (vals[-1], max(vals))
assert 60 * mib <= grow["args"]["rss_delta_bytes"] <= 80 * mib, grow
assert -70 * mib <= shrink["args"]["rss_delta_bytes"] <= -60 * mib, shrink
PY
echo ok
