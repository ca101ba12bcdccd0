#!/bin/sh
# ingest_fork.sh: "client - fork": a child forked by an instrumented program keeps
# working, connects as its own process, and both get a complete trace.
. "$(dirname "$0")/lib.sh"

start_daemon --output-dir "$WORK"
TEST_WAIT_DAEMON_MS=5000 "$CLIENT" fork 50 >"$WORK/client.out" || die "fork client failed"
cat "$WORK/client.out"
grep -q "^child recorded=" "$WORK/client.out" || die "the child did not finish"
stop_daemon
n=0
for f in "$WORK"/testclient-*.trace.json; do
  n=$((n + 1))
  case "$($PYTHON3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["tasks"]["spans"])' "$f")" in
    602) $VALIDATE "$f" --spans outer=300 --zero-drops --lanes 10 || die "parent trace wrong";;
    301) $VALIDATE "$f" --spans outer=150 --zero-drops --lanes 5 || die "child trace wrong";;
    *) die "unexpected trace $f";;
  esac
done
[ "$n" = 2 ] || die "expected 2 traces (parent and child), found $n"
echo "ok"
