#!/bin/sh
# sample_spawn.sh: threads created while ceoprofd attaches are sampled once. The workload
# starts a thread every 100 us all through the attach; after it, each thread burns
# 10 ms of its own CPU time, two at a time. A thread covered both by an event inherited from its creator
# and by one opened for it would show twice its CPU; go tool pprof judges per thread.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
"$top_builddir/tests/spawn_workload" 10 2000 >"$WORK/w.out" &
wpid=$!
for _ in $(seq 1 100); do grep -q spawning "$WORK/w.out" && break; sleep 0.01; done
start_daemon --pid "$wpid" -F 999 -o "$WORK/spawn"
wait_log "profiling pid" || die "no attach: $(cat "$WORK/daemon.log")"
kill -USR1 "$wpid"
wait "$wpid" || die "workload failed"
wait_daemon 30 || die "daemon failed: $(cat "$WORK/daemon.log")"
cat "$WORK/daemon.log" "$WORK/daemon.out"
head -n 1 "$WORK/w.out"
go tool pprof -tags -sample_index=cpu "$WORK/spawn.pb.gz" >"$WORK/tags.txt" 2>&1 \
  || die "go tool pprof -tags: $(cat "$WORK/tags.txt")"
$PYTHON3 - "$WORK/w.out" "$WORK/tags.txt" <<'PY' || die "threads sampled twice or not at all"
import re, sys
burn = {}
for l in open(sys.argv[1]):
    m = re.match(r"tid (\d+) cpu_ms ([\d.]+)", l)
    if m:
        burn[m.group(1)] = float(m.group(2))
# go tool pprof -tags: under "thread_id:", lines "   12.34ms (  1.00%): 4242".
sampled, section = {}, None
for l in open(sys.argv[2]):
    m = re.match(r"\s*(\w+):\s*Total", l)
    if m:
        section = m.group(1)
        continue
    m = re.match(r"\s*([\d.]+)(ns|us|ms|s)\s*\(.*\):\s*(\d+)\s*$", l)
    if m and section == "thread_id":
        v = float(m.group(1)) * {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
        sampled[m.group(3)] = v
total_burn = sum(burn.values())
total_sampled = sum(sampled.get(t, 0) for t in burn)
print(f"{len(burn)} threads burned {total_burn:.0f} ms; sampled {total_sampled:.0f} ms "
      f"in {sum(1 for t in burn if t in sampled)} of them")
missing = [t for t in burn if t not in sampled]
print(f"{len(missing)} threads never sampled: {missing[:10]}")
twice = sorted((sampled[t] / b, t) for t, b in burn.items() if t in sampled and sampled[t] > 1.5 * b + 2)
assert not twice, f"{len(twice)} threads show more CPU than they used: {twice[-5:]}"
# Every thread was running after the events were enabled, inherited or opened. Yet with
# hundreds of threads created around the attach the kernel sampled only 55-95% of their
# CPU time, some threads not at all (perf record -p loses as many the same way, with
# cpu-clock and task-clock alike), and with other sampling tests running at once (make
# -j2 distcheck) a block of consecutive threads went unsampled: 124 of 221, 38% of the CPU.
# No record is lost then (the summary says 0), and the sampler receives the records of
# those threads' context switches but no cpu-clock sample from any of its events: the
# kernel's cpu-clock events for them never fired. perf record -F 999 -e cpu-clock -p, run by hand on this workload, left 15-25%
# of 1300-1700 threads unsampled, in blocks of consecutive tids. So the lower bounds only
# catch a sampler that lost nearly all of them; the upper ones, the point of this test,
# stay tight.
assert len(missing) <= 0.75 * len(burn), f"{len(missing)} of {len(burn)} threads never sampled"
assert 0.25 * total_burn <= total_sampled <= 1.3 * total_burn + 50, (total_sampled, total_burn)
PY
echo ok
