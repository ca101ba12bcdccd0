#!/bin/sh
# cli_report.sh: "ceoprof report" agrees with go tool pprof on the same file, groups by
# worker, task and thread, and summarizes a trace's task durations per task name.
. "$(dirname "$0")/lib.sh"
require_pprof
CEOPROF="$top_builddir/ceoprof"
unset CEOPROF_SOCKET

# same_as_pprof FILE: every function go tool pprof lists has the same flat% and cum% in our
# table (2 decimals) and the same name, "(inline)" and "(partial-inline)" marks included.
same_as_pprof() {
  "$CEOPROF" report "$1" --top 0 >"$WORK/ours.txt" || die "report $1 failed"
  go tool pprof -top -nodecount=1000 -nodefraction=0 -edgefraction=0 "$1" >"$WORK/go.txt" 2>&1 ||
    die "go tool pprof: $(cat "$WORK/go.txt")"
  cat "$WORK/ours.txt"
  $PYTHON3 - "$WORK/ours.txt" "$WORK/go.txt" <<'PY' || die "report of $1 disagrees with go tool pprof"
import re, sys
def table(path, flat_col, cum_col):
    rows, on = {}, False
    for line in open(path):
        if re.match(r"\s+flat\s+flat%", line):
            on = True
            continue
        if on and line.strip() and not line.startswith("("):
            f = line.split()
            name = " ".join(f[5:]) if len(f) > 5 else f[-1]
            rows[name] = (float(f[flat_col].rstrip("%")), float(f[cum_col].rstrip("%")))
    return rows
ours = table(sys.argv[1], 1, 3)
theirs = table(sys.argv[2], 1, 4)
assert theirs, "go tool pprof listed nothing"
bad = [(n, ours.get(n), v) for n, v in theirs.items()
       if n not in ours or abs(ours[n][0] - v[0]) > 0.011 or abs(ours[n][1] - v[1]) > 0.011]
for b in bad:
    print("differs:", b)
print(len(theirs), "functions compared,", len(bad), "differ")
sys.exit(1 if bad else 0)
PY
}

# A made-up profile first: functions inlined by some callers and called by others.
$PYTHON3 "$top_srcdir/tests/inline_pprof.py" "$WORK/inline.pb.gz" || die "inline_pprof.py failed"
same_as_pprof "$WORK/inline.pb.gz"
grep -q "malloc (partial-inline)" "$WORK/ours.txt" && grep -q "only_inl (inline)" "$WORK/ours.txt" &&
  grep -Eq " g\$" "$WORK/ours.txt" || die "inline marks missing"

# Then a real one.
require_perf
"$CEOPROF" record -F 499 -o "$WORK/r" -- "$top_builddir/tests/cpu_workload" 1.5 >"$WORK/rec.out" 2>&1 ||
  die "record: $(cat "$WORK/rec.out")"
same_as_pprof "$WORK/r.pb.gz"
"$CEOPROF" report "$WORK/r.pb.gz" --by worker >"$WORK/worker.txt" || die "--by worker failed"
cat "$WORK/worker.txt"
for w in alpha beta gamma; do grep -Eq " $w\$" "$WORK/worker.txt" || die "--by worker lacks $w"; done
"$CEOPROF" report "$WORK/r.pb.gz" --by task >"$WORK/task.txt" || die "--by task failed"
for t in hot warm cold late; do grep -Eq " $t\$" "$WORK/task.txt" || die "--by task lacks $t"; done
"$CEOPROF" report "$WORK/r.pb.gz" --by thread >/dev/null || die "--by thread failed"
# --by worker percentages agree with go tool pprof's tagfocus shares.
alpha=$(awk '$NF == "alpha" { sub("%", "", $2); print $2 }' "$WORK/worker.txt")
go tool pprof -top -nodefraction=0 -nodecount=100000 -tagfocus=worker=alpha "$WORK/r.pb.gz" >"$WORK/alpha.txt" 2>&1
galpha=$(sed -n 's/.*Showing nodes accounting for .*, \([0-9.]*\)% of .*/\1/p' "$WORK/alpha.txt")
near "$alpha" "$galpha" 0.2 || die "worker alpha: ours $alpha%, go tool pprof $galpha%"
rc=0; "$CEOPROF" report "$WORK/r.pb.gz" --by color >/dev/null 2>"$WORK/e" || rc=$?
[ "$rc" = 2 ] && grep -q "takes function, worker, task or thread" "$WORK/e" || die "bad --by accepted"

# The trace report: count, total, p50, p95, max per task name, as computed from the file.
"$CEOPROF" report "$WORK/r.trace.json" >"$WORK/trace.txt" || die "trace report failed"
cat "$WORK/trace.txt"
$PYTHON3 - "$WORK/r.trace.json" "$WORK/trace.txt" <<'PY' || die "trace report is wrong"
import json, math, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
d = {}
# Tasks: complete slices, and async ones (tasks that moved threads) closed by their "e".
ends = {e["id"]: e["ts"] for e in ev if e.get("ph") == "e" and e.get("cat") == "task"}
for e in ev:
    if e.get("ph") == "X" and e.get("cat") == "task":
        d.setdefault(e["name"], []).append(e["dur"])
    elif e.get("ph") == "b" and e.get("cat") == "task":
        d.setdefault(e["name"], []).append(ends[e["id"]] - e["ts"])
rows = {l.split()[0]: l.split() for l in open(sys.argv[2]).readlines()[3:]}
def us(s):
    for suf, m in (("ms", 1e3), ("us", 1), ("s", 1e6)):
        if s.endswith(suf):
            return float(s[:-len(suf)]) * m
for name, durs in d.items():
    durs.sort()
    r = rows[name]
    assert int(r[1]) == len(durs), (name, r, len(durs))
    p95 = durs[max(0, math.ceil(0.95 * len(durs)) - 1)]
    for got, want in ((us(r[2]), sum(durs)), (us(r[5]), p95), (us(r[6]), durs[-1])):
        assert abs(got - want) <= 0.006 * want + 0.1, (name, got, want)
print("trace report ok:", sorted(d))
PY
# A trace without tasks (a program without libceoprof): --waits says so, not "without
# sampling"; --by on a trace is refused, not ignored.
"$CEOPROF" record -o "$WORK/plain" -- sleep 0.3 >/dev/null 2>&1 || die "record sleep failed"
rc=0; "$CEOPROF" report --waits "$WORK/plain.trace.json" >/dev/null 2>"$WORK/plain.err" || rc=$?
[ "$rc" = 1 ] && grep -q "reported no tasks" "$WORK/plain.err" || die "unclear --waits: $(cat "$WORK/plain.err")"
grep -q "without sampling\|made with sampling" "$WORK/plain.err" && die "--waits blames sampling: $(cat "$WORK/plain.err")"
rc=0; "$CEOPROF" report "$WORK/plain.trace.json" --by thread >/dev/null 2>"$WORK/by.err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--by thread goes with a .pb.gz" "$WORK/by.err" || die "--by on a trace: $rc $(cat "$WORK/by.err")"
echo ok
