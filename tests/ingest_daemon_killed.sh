#!/bin/sh
# ingest_daemon_killed.sh: "client - daemon killed": SIGKILL to the daemon mid-run leaves the
# program running; it reconnects to a new daemon and re-sends its workers.
. "$(dirname "$0")/lib.sh"

start_daemon --output-dir "$WORK"
TEST_WAIT_DAEMON_MS=5000 "$CLIENT" steady 3000 >"$WORK/client.out" &
cpid=$!
sleep 1
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=
sleep 0.5
kill -0 "$cpid" || die "the program died with its daemon"
mkdir "$WORK/second"
start_daemon --output-dir "$WORK/second"
wait "$cpid" || die "client failed after the daemon was killed"
cat "$WORK/client.out"
[ "$(stat_of connections <"$WORK/client.out")" = 2 ] || die "client did not reconnect"
[ "$(stat_of sent <"$WORK/client.out")" -gt 0 ] || die "nothing was sent"
lost=$(( $(stat_of no_daemon <"$WORK/client.out") + $(stat_of other <"$WORK/client.out") ))
[ "$lost" -gt 0 ] || die "events sent while no daemon ran were not counted"
# The client's trace from the second daemon names the workers registered before it existed.
for _ in $(seq 1 40); do ls "$WORK"/second/testclient-*.trace.json >/dev/null 2>&1 && break; sleep 0.1; done
$VALIDATE "$WORK"/second/testclient-"$cpid".trace.json --workers steady-0,steady-1 \
  --min-spans tick=100 --daemon-lost || die "trace from the second daemon is wrong"
stop_daemon
echo "ok"
