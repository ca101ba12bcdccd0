#!/bin/sh
# cli_record.sh: "ceoprof record" profiles a command from its first instruction, its
# libceoprof connects through CEOPROF_SOCKET, and the command's exit status comes back.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
CEOPROF="$top_builddir/ceoprof"
WORKLOAD="$top_builddir/tests/cpu_workload"
unset CEOPROF_SOCKET  # record sets its own

# A workload that burns 200 ms in burn_early before it does anything else.
"$CEOPROF" record -F 499 -o "$WORK/rec" -- "$WORKLOAD" 1 early >"$WORK/rec.out" 2>"$WORK/rec.err" ||
  die "record failed: $(cat "$WORK/rec.err")"
cat "$WORK/rec.out" "$WORK/rec.err"
grep -q "wrote $WORK/rec.pb.gz" "$WORK/rec.err" || die "record did not print the pprof path"
grep -q "wrote $WORK/rec.trace.json" "$WORK/rec.err" || die "record did not print the trace path"
grep -q "wrote" "$WORK/rec.out" && die "record printed its summary on stdout, into the command's output"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/rec.pb.gz" || die "the pprof breaks Pyroscope's rules"
go tool pprof -top "$WORK/rec.pb.gz" >"$WORK/top.txt" 2>&1 || die "pprof: $(cat "$WORK/top.txt")"
cat "$WORK/top.txt"
early=$(flat_pct "$WORK/top.txt" burn_early)
want=$(awk '/^cpu_ms / { for (i = 2; i <= NF; i++) { split($i, kv, "="); ms[kv[1]] = kv[2]; tot += kv[2] } }
  END { print 100 * ms["burn_early"] / tot }' "$WORK/rec.out")
echo "burn_early: $early% of the profile, $want% of the workload's burns"
near "$early" "$want" 4 || die "the start of the command is missing from the profile"
# Its libceoprof found the run's socket: the samples carry worker labels.
go tool pprof -tags "$WORK/rec.pb.gz" >"$WORK/tags.txt" 2>&1
grep -q ": alpha\$" "$WORK/tags.txt" || die "no worker labels: the client did not connect"
$VALIDATE "$WORK/rec.trace.json" >/dev/null || die "the trace does not validate"

# Exit statuses pass through; a command that is not there is a clear 127.
"$CEOPROF" record -o "$WORK/seven" -- sh -c 'exit 7' >/dev/null 2>&1 && die "exit 7 became 0"
rc=0; "$CEOPROF" record -o "$WORK/seven" -- sh -c 'exit 7' >/dev/null 2>&1 || rc=$?
[ "$rc" = 7 ] || die "record returned $rc for a command that exited 7"
rc=0; "$CEOPROF" record -o "$WORK/none" -- /nonexistent/cmd >/dev/null 2>"$WORK/none.err" || rc=$?
[ "$rc" = 127 ] || die "record of a missing command returned $rc"
grep -q "cannot run /nonexistent/cmd" "$WORK/none.err" || die "unclear error: $(cat "$WORK/none.err")"
[ -z "$(ls "$WORK"/none.* 2>/dev/null | grep -v none.err)" ] || die "files written for a command that cannot run"
grep -q "samples" "$WORK/none.err" && die "a summary for a command that never ran: $(cat "$WORK/none.err")"
rc=0; "$CEOPROF" record >/dev/null 2>"$WORK/nocmd.err" || rc=$?
[ "$rc" = 2 ] && grep -q "give a command" "$WORK/nocmd.err" || die "record without a command: $rc"

# stdout is the command's alone: "record -- echo hi | ..." sees exactly "hi".
"$CEOPROF" record -o "$WORK/echo" -- echo hi >"$WORK/echo.out" 2>"$WORK/echo.err" || die "record echo failed"
[ "$(cat "$WORK/echo.out")" = hi ] || die "stdout is not the command's: $(cat "$WORK/echo.out")"

# A missing output folder: a clear error at once, and the command never runs.
rc=0; t0=$(date +%s%N)
"$CEOPROF" record -o "$WORK/missing/dir/x" -- touch "$WORK/ran" >/dev/null 2>"$WORK/missing.err" || rc=$?
t1=$(date +%s%N)
[ "$rc" = 1 ] || die "record into a missing folder returned $rc"
grep -q "cannot write .*missing/dir.*No such file or directory" "$WORK/missing.err" ||
  die "unclear error: $(cat "$WORK/missing.err")"
[ ! -e "$WORK/ran" ] || die "the command ran though its profile could not be written"
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || die "the error took $(( (t1 - t0) / 1000000 )) ms"

# SIGTERM to record alone (timeout, kill, a supervisor) reaches its command, as with perf:
# record ends with it, writes the files, and returns the command's status.
"$CEOPROF" record -o "$WORK/term" -- sleep 30 >/dev/null 2>"$WORK/term.err" &
rp=$!
sleep 1
t0=$(date +%s%N)
kill -TERM "$rp"
rc=0; wait "$rp" || rc=$?
t1=$(date +%s%N)
[ "$rc" = 143 ] || die "record returned $rc after SIGTERM (the command's 143 expected): $(cat "$WORK/term.err")"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || die "record took $(( (t1 - t0) / 1000000 )) ms to end"
[ -s "$WORK/term.pb.gz" ] && [ -s "$WORK/term.trace.json" ] || die "no files after SIGTERM"
# A program nobody instrumented, stripped (gzip): named after its executable in the summary
# and the trace, its unnamed code after its file as go tool pprof names it, never
# "(unknown)"; a software-only machine is said once, in the summary, not on every run.
head -c 20000000 /dev/urandom >"$WORK/big"
"$CEOPROF" record -F 499 -o "$WORK/gz" -- gzip -9 -c "$WORK/big" >/dev/null 2>"$WORK/gz.err" ||
  die "record gzip failed: $(cat "$WORK/gz.err")"
cat "$WORK/gz.err"
grep -q "^ceoprof: pid [0-9]* (gzip)" "$WORK/gz.err" || die "gzip is not named gzip in the summary"
grep -q "(unknown)" "$WORK/gz.err" && die "the summary says (unknown)"
grep -q "^ceoprof: hardware cycles" "$WORK/gz.err" && die "the hardware note came as a log line"
[ "$(grep -c "hardware cycles" "$WORK/gz.err")" -le 1 ] || die "the hardware note came more than once"
top=$(sed -n '/top functions/{n;p;}' "$WORK/gz.err" | awk '{print $2}')
go tool pprof -top "$WORK/gz.pb.gz" 2>/dev/null | grep -qF -- "$top" || die "the summary's top function $top is not go tool pprof's"
$PYTHON3 - "$WORK/gz.trace.json" <<'PY' || die "the trace does not name the process gzip"
import json, sys
names = [e["args"]["name"] for e in json.load(open(sys.argv[1]))["traceEvents"]
         if e.get("ph") == "M" and e.get("name") == "process_name"]
assert names and names[0].startswith("gzip"), names
PY
# A rate that costs the target is said, with what profilers use (perf warns and throttles too).
"$CEOPROF" record -F 20000 -o "$WORK/fast" -- "$top_builddir/tests/cpu_workload" 0.3 >/dev/null \
  2>"$WORK/fast.err" || die "record -F 20000 failed: $(cat "$WORK/fast.err")"
grep -q "\-F 20000: every sample interrupts the target" "$WORK/fast.err" \
  || die "no warning about -F 20000: $(cat "$WORK/fast.err")"
echo ok
