#!/bin/sh
# harden_flood.sh: "harden - connection flood": 200 connections held by one user against a
# daemon with 128 file descriptors. The daemon neither spins nor floods its log (it rests
# its listener when out of descriptors and says so once per interval), a half-sent frame
# times out, and once the flood lets go a well-behaved client is served.
. "$(dirname "$0")/lib.sh"
( ulimit -n 128 && exec "$CEOPROFD" --socket "$SOCK" --output-dir "$WORK" --hello-timeout 1500 ) \
  >"$WORK/daemon.out" 2>"$WORK/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || die "daemon socket never appeared"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
$PYTHON3 - "$SOCK" "$WORK/flood.ready" "$top_srcdir" <<'PY' &
import socket, struct, sys, time
sys.path.insert(0, sys.argv[3] + "/tests")
from send_frames import hello
held = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except (BlockingIOError, OSError):
        pass
    if i % 2:
        try:
            s.send(hello(service=f"flood{i}"))  # a Hello, then silence
        except OSError:
            pass
    held.append(s)
open(sys.argv[2], "w").close()
time.sleep(3)
PY
fp=$!
for _ in $(seq 1 100); do [ -e "$WORK/flood.ready" ] && break; sleep 0.05; done
t0=$(cpu_ticks)
sleep 2
t1=$(cpu_ticks)
wait "$fp"
# A frame whose length promises more than ever comes: dropped after the timeout.
$PYTHON3 - "$SOCK" "$top_srcdir" <<'PY' || die "a half-sent frame was not timed out"
import socket, struct, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
from send_frames import hello, closed_by_daemon
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(hello(service="partial") + struct.pack("<I", 1000) + b"x" * 10)
assert closed_by_daemon(s, timeout=5.0), "the connection stayed open"
PY
TEST_WAIT_DAEMON_MS=3000 "$CLIENT" basic 20 >"$WORK/client.out" 2>&1 || die "the client failed: $(cat "$WORK/client.out")"
stop_daemon || die "the daemon failed: $(tail -20 "$WORK/daemon.log")"
lines=$(wc -l <"$WORK/daemon.log")
head -5 "$WORK/daemon.log"
echo "flood: daemon log $lines lines, CPU $((t1 - t0)) ticks in 2 s"
[ "$lines" -lt 300 ] || die "the flood wrote $lines log lines"
[ $((t1 - t0)) -le $(( $(getconf CLK_TCK) * 2 / 10 )) ] || die "the daemon used $((t1 - t0)) ticks in 2 s under the flood"
grep -q "out of file descriptors" "$WORK/daemon.log" || die "the daemon did not say it ran out of descriptors"
grep -q "frame not completed within the timeout" "$WORK/daemon.log" || die "no line for the half-sent frame"
ls "$WORK"/testclient-*.trace.json >/dev/null 2>&1 || die "the well-behaved client was not served after the flood"
echo ok
