#!/bin/sh
# harden_hello.sh: "harden - what a client claims": a Hello that gives a false pid (1)
# does not turn off the check that a client speaks of its own threads only: its events for
# tid 1 are refused and counted, its own are kept.
. "$(dirname "$0")/lib.sh"
start_daemon --output-dir "$WORK" -v
$PYTHON3 - "$SOCK" "$top_srcdir" <<'PY' || die "the client could not speak"
import os, socket, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
from send_frames import field_bytes, field_varint, frame, strings, events, PROTOCOL_VERSION
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(frame(1, field_varint(1, PROTOCOL_VERSION) + field_bytes(2, "liar") + field_varint(3, 1) +
                field_varint(4, time.monotonic_ns()) + field_varint(5, time.time_ns())))
now = time.monotonic_ns()
me = os.getpid()
s.sendall(strings((1, "stolen"), (2, "mine")))
s.sendall(events((1, 1, now, 7, 1), (2, 1, now + 1000, 7, 0),
                 (1, me, now, 8, 2), (2, me, now + 1000, 8, 0)))
time.sleep(0.3)
s.close()
PY
for _ in $(seq 1 100); do ls "$WORK"/liar-*.trace.json >/dev/null 2>&1 && break; sleep 0.05; done
stop_daemon || true
trace=$(ls "$WORK"/liar-*.trace.json 2>/dev/null | head -n 1)
[ -n "$trace" ] || die "no trace: $(cat "$WORK/daemon.log")"
$PYTHON3 - "$trace" <<'PY' || die "a false Hello pid let a client speak for tid 1"
import json, sys
d = json.load(open(sys.argv[1]))
spans = [e for e in d["traceEvents"] if e.get("ph") == "X" and e.get("cat") == "task"]
assert all(e["tid"] != 1 for e in d["traceEvents"]), [e for e in d["traceEvents"] if e["tid"] == 1]
assert [e["name"] for e in spans] == ["mine"], spans
assert d["metadata"]["drops"]["events_rejected"] >= 2, d["metadata"]["drops"]
print("tid 1 refused:", d["metadata"]["drops"]["events_rejected"], "events")
PY
echo ok
