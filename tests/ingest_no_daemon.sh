#!/bin/sh
# ingest_no_daemon.sh: "client - no daemon": with nothing listening the program runs to
# the end, memory stays bounded, and every event is counted as dropped, none lost.
. "$(dirname "$0")/lib.sh"

export CEOPROF_SOCKET="$WORK/nobody-listens.sock"
"$CLIENT" flood 2500000 >"$WORK/client.out" || die "client failed without a daemon"
cat "$WORK/client.out"
recorded=$(stat_of recorded <"$WORK/client.out")
sent=$(stat_of sent <"$WORK/client.out")
dropped=$(stat_of dropped <"$WORK/client.out")
ring_full=$(stat_of ring_full <"$WORK/client.out")
no_daemon=$(stat_of no_daemon <"$WORK/client.out")
rss=$(stat_of maxrss_kb <"$WORK/client.out")
[ "$sent" = 0 ] || die "sent $sent events with no daemon"
# 2 threads x 2.5M pairs = 10M events attempted: each was either drained or refused by a full ring.
[ $((recorded + ring_full)) = 10000000 ] || die "recorded $recorded + ring full $ring_full != 10000000"
[ "$no_daemon" = "$recorded" ] || die "drained $recorded events but counted $no_daemon as no-daemon drops"
[ "$dropped" = 10000000 ] || die "dropped $dropped, expected all 10000000"
[ "$rss" -lt 65536 ] || die "max RSS $rss KiB: memory is not bounded"

# CEOPROF_DISABLE=1: init declines, every call is a no-op.
CEOPROF_DISABLE=1 "$CLIENT" flood 1000 >"$WORK/disabled.out" || die "client failed when disabled"
[ "$(stat_of recorded <"$WORK/disabled.out")" = 0 ] || die "events recorded while disabled"
echo "ok"
