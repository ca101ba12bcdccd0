#!/bin/sh
# sample_jit.sh: code a JIT put in anonymous memory is named from the process's
# /tmp/perf-PID.map (the later line for an address winning), judged by go tool pprof.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
if [ "$(uname -m)" != x86_64 ]; then
  echo "SKIP: the JIT stand-in writes x86-64 machine code; this is $(uname -m)"
  exit 77
fi
unset CEOPROF_SOCKET
"$top_builddir/ceoprof" record -F 499 -o "$WORK/jit" -- "$top_builddir/tests/jit_workload" 1.5 \
  >"$WORK/rec.out" 2>&1 || die "record failed: $(cat "$WORK/rec.out")"
cat "$WORK/rec.out"
pid=$(sed -n 's/^ceoprof: pid \([0-9]*\) .*/\1/p' "$WORK/rec.out" | head -1)
[ -n "$pid" ] && rm -f "/tmp/perf-$pid.map"
go tool pprof -top -nodecount=20 -nodefraction=0 "$WORK/jit.pb.gz" >"$WORK/top.txt" 2>&1 ||
  die "go tool pprof: $(cat "$WORK/top.txt")"
cat "$WORK/top.txt"
# The spin loop is nearly all of the process's CPU; it must be named, not an address.
share=$(awk '$NF == "jit_spin_loop" { sub("%", "", $2); print $2 }' "$WORK/top.txt")
[ -n "$share" ] || die "jit_spin_loop is not in the profile"
awk -v s="$share" 'BEGIN { exit !(s >= 80) }' || die "jit_spin_loop has only $share% of the samples"
grep -q jit_spin_stale "$WORK/top.txt" && die "the stale perf-map line was used"
echo "jit_spin_loop: $share% of the samples"
