#!/bin/sh
# output_perfetto.sh: "output - Perfetto": a --pid profile writes PREFIX.pftrace beside the
# JSON, which protoc decodes against Perfetto's field numbers and which follows the
# importer's rules (tests/check_pftrace.py: interning per sequence, its flags, tracks
# described before use, slices balanced and nested, every callstack resolved, every sample
# weighted). On tests/cpu_workload, whose tasks burn known CPU in known functions, the
# samples inside each task's slices weigh its CPU time within 15% and name its function.
# ceoprof report reads it as it reads the JSON.
. "$(dirname "$0")/lib.sh"
require_perf
command -v protoc >/dev/null 2>&1 || { echo "SKIP: needs protoc (protobuf-compiler)"; exit 77; }
WORKLOAD="$top_builddir/tests/cpu_workload"
"$WORKLOAD" 2 >"$WORK/w.out" &
wpid=$!
start_daemon --pid "$wpid" -F 999 -o "$WORK/cpu"
wait "$wpid" || die "the workload failed"
wait "$daemon_pid" || die "ceoprofd failed: $(cat "$WORK/daemon.log")"
daemon_pid=
[ -s "$WORK/cpu.pftrace" ] || die "no .pftrace beside the JSON: $(ls "$WORK")"
grep -q "wrote .*cpu.pftrace" "$WORK/daemon.out" "$WORK/daemon.log" || die "the summary does not list the .pftrace"
$PYTHON3 "$top_srcdir/tests/check_pftrace.py" "$WORK/cpu.pftrace" "$top_srcdir/proto/perfetto.proto" \
  --tasks hot=burn_a:3 --tasks cold=burn_c:2 \
  || die "the .pftrace breaks the importer's rules"
json=$(stat -c %s "$WORK/cpu.trace.json")
pf=$(stat -c %s "$WORK/cpu.pftrace")
echo "sizes: JSON $json bytes, Perfetto $pf bytes ($((pf * 100 / json))%)"
[ "$pf" -lt "$json" ] || die "the .pftrace ($pf bytes) is not smaller than the JSON ($json)"
# ceoprof report: the same task table from either file.
"$top_builddir/ceoprof" report "$WORK/cpu.trace.json" >"$WORK/rj.txt" || die "report of the JSON failed"
"$top_builddir/ceoprof" report "$WORK/cpu.pftrace" >"$WORK/rp.txt" || die "report of the .pftrace failed: $(cat "$WORK/rp.txt")"
cat "$WORK/rp.txt"
$PYTHON3 - "$WORK/rj.txt" "$WORK/rp.txt" <<'PY' || die "the two reports differ"
import sys
def rows(path):
    lines = open(path).read().splitlines()
    return {l.split()[0]: l.split()[1:] for l in lines[3:] if l.strip()}
j, p = rows(sys.argv[1]), rows(sys.argv[2])
assert set(j) == set(p), (sorted(j), sorted(p))
for name in j:
    assert j[name][:2] == p[name][:2], (name, j[name], p[name])  # count and total
print("reports agree on", sorted(j))
PY
echo ok
