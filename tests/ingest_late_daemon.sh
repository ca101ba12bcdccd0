#!/bin/sh
# ingest_late_daemon.sh: "client - daemon attaches late": workers registered and tasks
# opened before any daemon existed are still named and shown once one attaches.
. "$(dirname "$0")/lib.sh"

mkfifo "$WORK/out.fifo"
"$CLIENT" late 10000 >"$WORK/out.fifo" &
cpid=$!
exec 3<"$WORK/out.fifo"
read -r line <&3 || die "client did not start"
[ "$line" = ready ] || die "unexpected client output: $line"
sleep 0.3
start_daemon --pid "$cpid" -o "$WORK/late"
cat <&3 >"$WORK/client.out"
wait "$cpid" || die "client failed"
wait_daemon 20 || die "daemon failed: $(cat "$WORK/daemon.log")"
cat "$WORK/client.out"
recorded=$(stat_of recorded <"$WORK/client.out")
no_daemon=$(stat_of no_daemon <"$WORK/client.out")
[ "$no_daemon" -ge 2 ] || die "the begins sent before the daemon were not counted as dropped"
received=$((recorded - no_daemon))
$VALIDATE "$WORK/late.trace.json" --workers early-0,early-1 --spans long_running=2 \
  --spans after_attach=100 --received "$received" --unfinished 0 || die "trace check failed"
echo "ok"
