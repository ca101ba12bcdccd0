#!/bin/sh
# sample_pprof.sh: "sampling - known workload judged by go tool pprof": ceoprofd --pid samples a
# program whose CPU shares are known; go tool pprof finds the hot functions in the right
# shares, the worker and task labels right, a thread started after the attach, and a worker
# registered before it. The trace carries the samples on the thread lanes.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
WORKLOAD="$top_builddir/tests/cpu_workload"

mkfifo "$WORK/out.fifo"
"$WORKLOAD" 4 >"$WORK/out.fifo" &
wpid=$!
exec 3<"$WORK/out.fifo"
sleep 0.2   # the workers register before the daemon exists
start_daemon --pid "$wpid" -F 499 -o "$WORK/cpu"
read -r line <&3 || die "workload did not start"
cat <&3 >"$WORK/workload.out"
wait "$wpid" || die "workload failed"
wait_daemon 30 || die "daemon failed: $(cat "$WORK/daemon.log")"
cat "$WORK/daemon.log" "$WORK/daemon.out"
[ -s "$WORK/cpu.pb.gz" ] && [ -s "$WORK/cpu.trace.json" ] || die "the target's exit did not leave both files"

$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/cpu.pb.gz" || die "the pprof breaks Pyroscope's ingest rules"
go tool pprof -top -nodecount=50 "$WORK/cpu.pb.gz" >"$WORK/top.txt" 2>&1 || die "go tool pprof could not read the profile: $(cat "$WORK/top.txt")"
cat "$WORK/top.txt"
grep -q "^Type: cpu" "$WORK/top.txt" || die "default sample type is not cpu"
a=$(flat_pct "$WORK/top.txt" burn_a); b=$(flat_pct "$WORK/top.txt" burn_b)
c=$(flat_pct "$WORK/top.txt" burn_c); d=$(flat_pct "$WORK/top.txt" burn_d)
echo "flat%: burn_a=$a burn_b=$b burn_c=$c burn_d=$d"
# alpha spends 3 ms in burn_a for each 1 ms in burn_b: 75% of the two together.
share=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a + b > 0) print 100 * a / (a + b); else print 0 }')
near "$share" 75 5 || die "burn_a is $share% of burn_a+burn_b, expected 75 +- 5"
# Each function's share of the burns in the profile is its share of the CPU time the
# workload itself measured for the burns (sampling began before they did). They agree within
# about 1.2 points. The shares are of the burns alone: the kernel time the threads spend
# between burns (more of it on a loaded machine) is in the profile too. (With fixed burn
# lengths alpha's 4 ms cycle locked in phase with the 2 ms sampling period and skewed
# burn_a/burn_b by up to 3.8 points; the workload now varies its lengths.)
cat "$WORK/workload.out"
burns=$(awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'BEGIN { print a + b + c + d }')
for fn in burn_a burn_b burn_c burn_d; do
  want=$(awk -v fn="$fn" '/^cpu_ms / { for (i = 2; i <= NF; i++) { split($i, kv, "="); ms[kv[1]] = kv[2]; tot += kv[2] } }
    END { if (tot > 0) print 100 * ms[fn] / tot; else print -100 }' "$WORK/workload.out")
  got=$(awk -v f="$(flat_pct "$WORK/top.txt" "$fn")" -v t="$burns" 'BEGIN { if (t > 0) print 100 * f / t; else print 0 }')
  near "$got" "$want" 3 || die "$fn is $got% of the profile; the workload measured $want% of its CPU there"
done

# Task labels: what ran inside "hot" is burn_a, inside "cold" burn_c (in user mode: "cold"
# also sleeps, and its way into and out of the sleep is kernel time, under [kernel]).
go tool pprof -top -tagfocus=task=hot -ignore='^\[kernel\]$' "$WORK/cpu.pb.gz" >"$WORK/hot.txt" 2>&1
hot=$(focus_share "$WORK/hot.txt" burn_a)
near "$hot" 100 5 || die "task=hot is $hot% burn_a: $(cat "$WORK/hot.txt")"
go tool pprof -top -tagfocus=task=cold -ignore='^\[kernel\]$' "$WORK/cpu.pb.gz" >"$WORK/cold.txt" 2>&1
cold=$(focus_share "$WORK/cold.txt" burn_c)
near "$cold" 100 5 || die "task=cold is $cold% burn_c: $(cat "$WORK/cold.txt")"
go tool pprof -top -tagfocus=worker=alpha "$WORK/cpu.pb.gz" >"$WORK/alpha.txt" 2>&1
[ "$(flat_pct "$WORK/alpha.txt" burn_c)" = 0 ] || die "worker alpha shows beta's function"

# Labels: workers (registered before the attach), the late thread, thread names.
go tool pprof -tags "$WORK/cpu.pb.gz" >"$WORK/tags.txt" 2>&1
cat "$WORK/tags.txt" | head -40
for w in alpha beta gamma; do
  grep -q ": $w\$" "$WORK/tags.txt" || die "no samples labelled worker $w"
done
for t in hot warm cold late; do
  grep -q ": $t\$" "$WORK/tags.txt" || die "no samples labelled task $t"
done
# Span profiles: the samples of each "hot" task carry its span id and the span's name.
go tool pprof -top -tagfocus=span_name=hot "$WORK/cpu.pb.gz" >"$WORK/span.txt" 2>&1
near "$(focus_share "$WORK/span.txt" burn_a)" 100 5 || die "span_name=hot is not burn_a: $(cat "$WORK/span.txt")"
$PYTHON3 - "$WORK/tags.txt" <<'PY' || die "span labels are wrong"
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"span_id:.*?\n\n", text + "\n\n", re.S)
assert block, "no span_id label"
ids = re.findall(r": ([0-9a-f]+)$", block.group(0), re.M)
assert ids and all(len(i) == 16 for i in ids), ids[:5]
names = re.search(r"span_name:(.*?)\n\n", text + "\n\n", re.S).group(1)
assert re.findall(r": (\w+)$", names, re.M) == ["hot"], names
print("span labels ok:", len(ids), "span ids shown")
PY
go tool pprof -top -tagfocus=worker=gamma "$WORK/cpu.pb.gz" >"$WORK/gamma.txt" 2>&1
near "$(focus_share "$WORK/gamma.txt" burn_d)" 100 5 || die "the thread started after the attach is missing or wrong"

# The trace: samples on the lanes of alpha and beta, counts equal to the profile's.
$PYTHON3 - "$WORK/cpu.trace.json" "$WORK/top.txt" <<'PY' || die "trace samples are wrong"
import json, re, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
chunks = [e for e in ev if e["ph"] == "P" and e["name"] == "ProfileChunk"]
profiles = {e["id"]: e for e in ev if e["ph"] == "P" and e["name"] == "Profile"}
assert chunks and all(c["id"] in profiles for c in chunks), "a ProfileChunk without its Profile"
assert len({(p["pid"], p["tid"]) for p in profiles.values()}) == len(profiles), "two profiles on a lane"
total = 0
lanes = set()
nodes = {}  # profile id -> the node ids its chunks defined so far (in file order)
for c in chunks:
    cp = c["args"]["data"]["cpuProfile"]
    ids = nodes.setdefault(c["id"], set())
    ids |= {n["id"] for n in cp["nodes"]}
    assert all(s in ids for s in cp["samples"]), "sample names a missing node"
    assert len(c["args"]["data"]["timeDeltas"]) == len(cp["samples"])
    assert all(dt >= 0 for dt in c["args"]["data"]["timeDeltas"]), "time goes back"
    assert all(n.get("parent", 1) in ids for n in cp["nodes"])
    # Each chunk ends with a sample of the root (node 1) one period after its last sample,
    # for speedscope and so the time to the next chunk is nobody's: not a sample.
    assert len(cp["samples"]) >= 2 and cp["samples"][-1] == 1, cp["samples"][-3:]
    total += len(cp["samples"]) - 1
    lanes.add(names[c["tid"]].split(" (")[0])
md = d["metadata"]["sampling"]
assert md["samples"] == total, (md, total)
assert {"alpha", "beta", "gamma"} <= lanes, lanes
hot = [e for e in ev if e["ph"] == "X" and e["name"] == "hot" and "began_on_tid" not in e["args"]]
assert hot and all(e["args"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and
                   e["args"]["span_id"] == "%016x" % e["args"]["task_id"] for e in hot), hot[:2]
assert not any("span_id" in e["args"] for e in ev if e["ph"] == "X" and e["name"] == "warm")
print("trace ok:", total, "samples on lanes", sorted(lanes), md)
PY

# A pid that does not exist: a clear error and a non-zero exit.
if "$CEOPROFD" --pid 4194000 --socket "$WORK/x.sock" 2>"$WORK/nopid.log"; then
  die "ceoprofd --pid of a missing process succeeded"
fi
grep -q "no process with pid 4194000" "$WORK/nopid.log" || die "unclear error: $(cat "$WORK/nopid.log")"
echo "ok"
