#!/bin/sh
# ingest_bad_input.sh: "ingest - bad input": garbage, oversized and truncated frames, unknown
# versions, undeclared string ids and silent clients each get one clear log line and lose
# their connection or frame, while a well-behaved client beside them is served completely.
. "$(dirname "$0")/lib.sh"

start_daemon --output-dir "$WORK" --hello-timeout 500
TEST_WAIT_DAEMON_MS=5000 "$CLIENT" basic 300 >"$WORK/client.out" &
cpid=$!
$PYTHON3 "$top_srcdir/tests/send_frames.py" "$SOCK" || die "a bad client was not handled"
wait "$cpid" || die "the good client failed"
kill -0 "$daemon_pid" || die "the daemon died"
cat "$WORK/daemon.log"
for msg in "frame does not decode" "frame larger than the 1 MiB limit" "first frame is neither Hello nor a request" \
  "protocol version 99 is not supported" "no Hello within the timeout"; do
  grep -q "$msg" "$WORK/daemon.log" || die "no log line saying: $msg"
done
stop_daemon
grep -q "dropped for protocol errors or timeouts, 7 of them before their Hello" "$WORK/daemon.log" \
  || die "the daemon did not report the clients it dropped before their Hello: $(tail -3 "$WORK/daemon.log")"
# The good client's trace is complete.
$VALIDATE "$WORK/testclient-$cpid.trace.json" --spans outer=900 --zero-drops \
  --workers worker-0,worker-1,worker-2 || die "the good client's trace is wrong"
# The bad client's trace counts what was refused and keeps what was good.
bad=$(ls "$WORK"/badclient-*.trace.json)
$PYTHON3 - "$bad" <<'PY' || die "bad client's trace does not count the rejects"
import json, sys
d = json.load(open(sys.argv[1]))
drops = d["metadata"]["drops"]
assert drops["events_rejected"] == 2, drops
assert d["metadata"]["events_received"] == 2, d["metadata"]
assert [e["name"] for e in d["traceEvents"] if e["ph"] == "X" and e.get("cat") == "task"] == ["good"]
print("bad client's trace ok:", drops)
PY
echo "ok"
