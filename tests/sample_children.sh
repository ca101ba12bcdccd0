#!/bin/sh
# sample_children.sh: "ceoprof record" profiles its command's whole process tree, as perf
# record does. A shell that runs a shell that runs the work (a grandchild of the command):
# its threads' CPU is in the profile (against what they measured), labelled with their pid
# and process name, and the trace gives each process a group of its own. ceoprof attach
# follows children forked after the attach.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
POOL="$top_builddir/bench/pool"
[ -x "$POOL" ] || die "no $POOL (make builds it)"
unset CEOPROF_SOCKET  # record sets its own
"$top_builddir/ceoprof" record -F 499 -o "$WORK/r" -- \
  sh -c "sh -c '\"$POOL\" churn 20 30 >\"$WORK/gc.out\"; true'; true" \
  >"$WORK/rec.out" 2>"$WORK/rec.err" || die "record failed: $(cat "$WORK/rec.err")"
cat "$WORK/rec.err" "$WORK/gc.out"
rpid=$(sed -n 's/^ceoprof: pid \([0-9]*\) (.*/\1/p' "$WORK/rec.err" | head -n 1)
grep -q "child processes followed: [1-9]" "$WORK/rec.err" || die "the summary does not count the children"
[ -n "$rpid" ] || die "no summary"
go tool pprof -tags "$WORK/r.pb.gz" >"$WORK/r.tags" 2>&1 || die "$(cat "$WORK/r.tags")"
cat "$WORK/r.tags"
go tool pprof -top -nodefraction=0 -tagfocus=thread_name='^churn-' "$WORK/r.pb.gz" >"$WORK/r.churn" 2>&1 \
  || die "$(cat "$WORK/r.churn")"
$VALIDATE "$WORK/r.trace.json" >/dev/null || die "invalid trace"
$PYTHON3 - "$WORK/r.tags" "$WORK/r.churn" "$WORK/gc.out" "$WORK/r.trace.json" "$rpid" <<'PY' || die "the process tree is not profiled right"
import json, re, sys
tags, churn, out, trace, rpid = (open(sys.argv[1]).read(), open(sys.argv[2]).read(),
                                 open(sys.argv[3]).read(), sys.argv[4], int(sys.argv[5]))
units = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}
m = re.search(r"Showing nodes accounting for ([\d.]+)(ns|us|ms|s)\b", churn)
got = float(m.group(1)) * units[m.group(2)] if m else 0.0
truth = float(re.search(r"churn_cpu_ms ([\d.]+)", out).group(1))
print(f"the grandchild's threads: {got:.1f} ms in the profile, {truth:.1f} ms measured")
assert abs(got - truth) <= 0.15 * truth, (got, truth)
pids = [int(p) for p in re.findall(r":\s*(\d+)\s*$", tags.split(" process:")[0].split(" pid:")[1], re.M)]
assert len(pids) >= 2 and rpid in pids or len(pids) >= 1, pids
assert any(p != rpid for p in pids), f"no process but the command's own: {pids}"
proc = tags.split(" process:")[1].split("\n\n")[0] if " process:" in tags else ""
assert re.search(r":\s*pool\s*$", proc, re.M), "no process label naming the grandchild"
d = json.load(open(trace))
groups = {e["pid"]: e["args"]["name"] for e in d["traceEvents"]
          if e.get("ph") == "M" and e.get("name") == "process_name"}
print("process groups:", groups)
assert groups.get(rpid) and "pool" in groups.values(), groups
lanes = {e["pid"] for e in d["traceEvents"] if e.get("ph") == "M" and e.get("name") == "thread_name"
         and e["args"]["name"].startswith("churn-")}
assert lanes and rpid not in lanes, lanes
md = d["metadata"]["sampling"]
assert md["processes_followed"] >= 2 and md["processes_not_followed"] == 0, md
PY

# attach: children forked after the attach are followed.
export CEOPROF_SOCKET="$SOCK"
start_daemon
sh -c "sleep 0.5; \"$POOL\" churn 10 30 >\"$WORK/ac.out\"" &
sh_pid=$!
"$top_builddir/ceoprof" attach -F 499 -o "$WORK/a" "$sh_pid" >"$WORK/att.out" 2>&1 \
  || die "attach failed: $(cat "$WORK/att.out")"
wait "$sh_pid"
go tool pprof -top -nodefraction=0 -tagfocus=thread_name='^churn-' "$WORK/a.pb.gz" >"$WORK/a.churn" 2>&1 \
  || die "$(cat "$WORK/a.churn")"
grep -Eq "Showing nodes accounting for [1-9][0-9.]*(ms|s)" "$WORK/a.churn" \
  || die "attach did not follow the child: $(cat "$WORK/a.churn" "$WORK/att.out")"
stop_daemon || die "daemon failed: $(cat "$WORK/daemon.log")"
echo ok
