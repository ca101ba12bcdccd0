#!/bin/sh
# ingest_trace.sh: "ingest - a client's workers and tasks reach the trace": ceoprofd --pid
# collects a test program's events; every worker lane and task span is there, properly
# nested, with zero drops; a second daemon on the same socket refuses to start.
. "$(dirname "$0")/lib.sh"

TEST_WAIT_DAEMON_MS=5000 "$CLIENT" basic 200 >"$WORK/client.out" &
cpid=$!
start_daemon --pid "$cpid" -o "$WORK/basic"
wait "$cpid" || die "test client failed"
wait_daemon 20 || die "daemon exited with an error: $(cat "$WORK/daemon.log")"
cat "$WORK/client.out"
recorded=$(stat_of recorded <"$WORK/client.out")
[ "$recorded" = 3605 ] || die "client recorded $recorded events, expected 3605"
$VALIDATE "$WORK/basic.trace.json" --workers worker-0,worker-1,worker-2,mover-a,mover-b \
  --spans outer=600 --spans inner=600 --spans moved=1 --moved 1 --zero-drops \
  --received "$recorded" --field outer:items --unfinished 0 || die "trace check failed"
cat "$WORK/daemon.out"
grep -q "wrote $WORK/basic.trace.json" "$WORK/daemon.out" || die "daemon did not report the file"
grep -q "wrote $WORK/basic.pb.gz" "$WORK/daemon.out" || die "daemon did not report the profile"

# CEOPROF_THRESHOLD_US: short spans are not sent but counted; long ones are kept.
CEOPROF_THRESHOLD_US=150 TEST_WAIT_DAEMON_MS=5000 "$CLIENT" basic 200 >"$WORK/thr.out" &
cpid=$!
start_daemon --pid "$cpid" -o "$WORK/thr"
wait "$cpid" || die "test client failed"
wait_daemon 20 || die "daemon failed"
cat "$WORK/thr.out"
recorded=$(stat_of recorded <"$WORK/thr.out")
$PYTHON3 - "$WORK/thr.trace.json" "$recorded" <<'PY' || die "threshold accounting is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
md = d["metadata"]
thr = md["drops"]["client_threshold_filtered"]
spans = [e for e in d["traceEvents"] if e["ph"] == "X" and e.get("cat") == "task"]
# The task that moved threads: an async slice, its end on the other thread.
ends = {e["id"]: e for e in d["traceEvents"] if e["ph"] == "e" and e.get("cat") == "task"}
moved = [e for e in d["traceEvents"] if e["ph"] == "b" and e.get("cat") == "task"]
assert thr > 0, md["drops"]
assert md["events_received"] + thr == int(sys.argv[2]), (md["events_received"], thr, sys.argv[2])
assert all(e["dur"] >= 150 for e in spans), [e for e in spans if e["dur"] < 150][:3]
assert [e["name"] for e in moved] == ["moved"], moved
assert ends[moved[0]["id"]]["tid"] == moved[0]["args"]["ended_on_tid"] != moved[0]["tid"], moved
print("threshold ok:", thr, "events filtered,", len(spans), "spans kept")
PY

# A second daemon must not steal a socket that is served.
start_daemon --output-dir "$WORK"
if "$CEOPROFD" --socket "$SOCK" --output-dir "$WORK" 2>"$WORK/second.log"; then
  die "a second daemon started on a served socket"
fi
grep -q "already serving" "$WORK/second.log" || die "no clear message: $(cat "$WORK/second.log")"
kill -0 "$daemon_pid" || die "the first daemon died"
stop_daemon
echo "ok"
