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
grep -q "wrote $WORK/rec.pb.gz" "$WORK/rec.out" || die "record did not print the pprof path"
grep -q "wrote $WORK/rec.trace.json" "$WORK/rec.out" || die "record did not print the trace path"
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
rc=0; "$CEOPROF" record >/dev/null 2>"$WORK/nocmd.err" || rc=$?
[ "$rc" = 2 ] && grep -q "give a command" "$WORK/nocmd.err" || die "record without a command: $rc"
echo ok
