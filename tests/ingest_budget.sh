#!/bin/sh
# ingest_budget.sh: "ingest - one memory budget": what all clients hold together stays under
# --max-memory-mb. A client storming events past it has the rest refused and counted (sent =
# received + refused, its trace says so), connections holding partial frames past it are
# closed, the daemon's memory stays near the limit, it says so in the log and in status,
# and a well-behaved client is served afterwards. Before the budget, the storm alone held
# some 200 MiB.
. "$(dirname "$0")/lib.sh"
start_daemon --output-dir "$WORK" --max-memory-mb 16 --hello-timeout 3000
base=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon_pid/status")
# A service-mode client's session is held until it ends: 2 threads storming for 2 s.
TEST_THREADS=2 TEST_WAIT_DAEMON_MS=3000 "$CLIENT" storm 2000 >"$WORK/storm.out" \
  || die "the storm client failed"
cat "$WORK/storm.out"
# Partial frames: 24 connections each promise a 1 MiB frame and send 900 KiB of it.
$PYTHON3 - "$SOCK" "$top_srcdir" <<'PY' || die "the partial frames were not handled"
import socket, struct, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
from send_frames import hello, closed_by_daemon
held, closed = [], 0
for i in range(24):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.settimeout(2)
    try:
        s.sendall(hello(service=f"partial{i}") + struct.pack("<I", 1 << 20) + b"x" * (900 << 10))
        held.append(s)
    except OSError:
        closed += 1  # closed while sending
time.sleep(0.5)
for s in held:
    s.setblocking(False)
    try:
        while s.recv(65536):
            pass  # the Ack
        closed += 1  # then the end
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(f"partial frames: {closed} of 24 connections closed")
assert closed >= 8, closed
PY
peak=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon_pid/status")
echo "daemon VmRSS $base KiB at start, peak $peak KiB"
# What is held stays under 16 MiB; writing a session's trace needs as much again for the
# moment (its timeline), and the process has its own overhead: three times the budget.
if asan_build; then
  echo "AddressSanitizer build: its shadow memory is most of the RSS; the bound is checked in the plain builds"
else
  [ $((peak - base)) -lt $((48 * 1024)) ] || die "the daemon grew by $((peak - base)) KiB with a 16 MiB budget"
fi
"$top_builddir/ceoprof" status --socket "$SOCK" >"$WORK/status.txt" || die "status failed"
cat "$WORK/status.txt"
grep -q "of 16 MiB" "$WORK/status.txt" && grep -q "refusals" "$WORK/status.txt" \
  || die "status does not show the budget and its refusals"
TEST_WAIT_DAEMON_MS=3000 "$CLIENT" basic 20 >"$WORK/client.out" || die "the good client failed"
for _ in $(seq 1 100); do [ "$(ls "$WORK"/testclient-*.trace.json 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.05; done
stop_daemon || die "the daemon failed: $(tail -20 "$WORK/daemon.log")"
grep -q "over the memory budget" "$WORK/daemon.log" || die "the log does not say the budget refused"
[ "$(grep -c "over the memory budget" "$WORK/daemon.log")" -le 3 ] || die "the refusals flood the log"
$PYTHON3 - "$WORK" "$WORK/storm.out" <<'PY' || die "the refused events are not counted"
import glob, json, re, sys
out = open(sys.argv[2]).read()
sent = int(re.search(r"sent=(\d+)", out).group(1))
traces = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/testclient-*.trace.json")]
storm = next(d for d in traces if d["metadata"]["drops"]["events_over_quota"])
md = storm["metadata"]
refused = md["drops"]["events_over_quota"]
assert md["events_received"] + refused == sent, (md["events_received"], refused, sent)
good = [d for d in traces if d is not storm]
assert good and good[0]["metadata"]["tasks"]["spans"] > 0, "the good client's trace is empty"
print(f"storm: {sent} sent = {md['events_received']} kept + {refused} refused for the budget")
PY
echo ok
