#!/bin/sh
# harden_escape.sh: "harden - client strings": a service name with a newline and terminal
# escape codes can neither forge a line in the daemon's log nor reach the operator's
# terminal through ceoprof status: control characters are shown escaped.
. "$(dirname "$0")/lib.sh"
start_daemon --output-dir "$WORK" -v
$PYTHON3 - "$SOCK" "$WORK/client.ready" "$top_srcdir" <<'PY' &
import socket, sys, time
sys.path.insert(0, sys.argv[3] + "/tests")
from send_frames import hello
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(hello(service="evil\nceoprofd: wrote /etc/shadow\x1b[2J\x1b]0;owned\x07"))
open(sys.argv[2], "w").close()
time.sleep(3)
PY
cp=$!
for _ in $(seq 1 100); do [ -e "$WORK/client.ready" ] && break; sleep 0.05; done
sleep 0.3
"$top_builddir/ceoprof" status >"$WORK/status.txt" 2>&1 || die "status failed: $(cat "$WORK/status.txt")"
wait "$cp"
stop_daemon || true
cat "$WORK/daemon.log" "$WORK/status.txt"
grep -q "^ceoprofd: wrote /etc/shadow" "$WORK/daemon.log" && die "a client forged a log line"
grep -q "$(printf '\033')" "$WORK/daemon.log" "$WORK/status.txt" && die "an escape code reached the log or status"
grep -q 'evil\\nceoprofd: wrote /etc/shadow\\x1b\[2J' "$WORK/daemon.log" || die "the name is not shown escaped in the log"
grep -q 'evil\\nceoprofd' "$WORK/status.txt" || die "the name is not shown escaped in status"
echo ok
