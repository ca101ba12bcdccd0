#!/bin/sh
# fault_disk.sh: a full disk loses nothing in service mode: the profile that cannot be written
# is kept in memory, tried again every 2 s, and written whole once there is room; with --pid
# a directory that cannot be written is one clear error and a non-zero exit.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: not root: the test mounts a small tmpfs to fill"
  exit 77
fi
WORKLOAD="$top_builddir/tests/cpu_workload"

# --pid and an output directory that does not exist: a clear error, exit 1.
"$WORKLOAD" 0.5 >/dev/null &
wp=$!
rc=0
"$CEOPROFD" --pid "$wp" --socket "$WORK/p.sock" -o "$WORK/missing/dir/run" >/dev/null 2>"$WORK/pid.err" || rc=$?
wait "$wp" || true
cat "$WORK/pid.err"
[ "$rc" = 1 ] || die "ceoprofd exited $rc though it could not write"
grep -q "cannot write .*missing/dir.*No such file or directory" "$WORK/pid.err" ||
  die "unclear error: $(cat "$WORK/pid.err")"

# Service mode on a 16 KiB tmpfs: the files do not fit; nothing is lost.
mkdir "$WORK/small"
mount -t tmpfs -o size=16k tmpfs "$WORK/small" || { echo "SKIP: cannot mount tmpfs"; exit 77; }
trap 'umount "$WORK/small" 2>/dev/null; cleanup' EXIT
start_daemon --output-dir "$WORK/small" --auto -F 499 -v
"$WORKLOAD" 1 >"$WORK/w.out" || die "workload failed"
wpid=$(sed -n 's/.*--auto: profiling pid \([0-9]*\).*/\1/p' "$WORK/daemon.log" | head -n 1)
wait_log "its data is kept" || true
grep -q "could not write the files of pid $wpid.*No space left on device.*its data is kept" "$WORK/daemon.log" ||
  die "no clear line about the full disk: $(cat "$WORK/daemon.log")"
[ -z "$(ls "$WORK/small")" ] || die "a partial file was left: $(ls -la "$WORK/small")"
sleep 2.5   # a retry meets the same full disk: still kept, said once
[ "$(grep -c "its data is kept" "$WORK/daemon.log")" = 1 ] || die "the failure was logged more than once"
mount -o remount,size=64m "$WORK/small"
for _ in $(seq 1 100); do
  [ -s "$WORK/small/cpuworkload-$wpid.trace.json" ] && break
  sleep 0.05
done
stop_daemon || true
cat "$WORK/daemon.log"
grep -q "pid $wpid: the kept data is written now" "$WORK/daemon.log" || die "the kept data was not written"
go tool pprof -top "$WORK/small/cpuworkload-$wpid.pb.gz" >"$WORK/top.txt" 2>&1 || die "pprof: $(cat "$WORK/top.txt")"
grep -q burn_a "$WORK/top.txt" || die "the written profile lacks the workload's samples"
# Every task the workload ran is in the trace written late.
$PYTHON3 - "$WORK/small/cpuworkload-$wpid.trace.json" <<'PY' || die "the trace written late is incomplete"
import json, sys
d = json.load(open(sys.argv[1]))
spans = [e for e in d["traceEvents"] if e["ph"] in ("X", "b") and e.get("cat") == "task"]
names = {}
for e in spans:
    names[e["name"]] = names.get(e["name"], 0) + 1
md = d["metadata"]
assert names.get("late") == 1 and names.get("hot", 0) > 10, names
assert md["events_received"] == 2 * len(spans) + sum(1 for e in spans if e["name"] == "hot") * 3, \
    (md["events_received"], len(spans))
print("late trace complete:", names)
PY
echo ok
