#!/bin/sh
# harden_perms.sh: the permission model: output files are created exclusively (mode 0640,
# a symlink planted at the output name is replaced, not followed), the socket belongs to
# group "ceoprof" (mode 0660) when that group exists, and a client in its own pid namespace
# has its thread ids translated to the daemon's (NSpid) instead of being refused.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: not root: the group, namespace and ownership checks need root"
  exit 77
fi

# Without the group: any local user may connect (requests are checked per connection).
made_group=
if ! getent group ceoprof >/dev/null; then
  start_daemon --output-dir "$WORK"
  mode=$(stat -c %a "$SOCK")
  [ "$mode" = 666 ] || die "socket mode $mode without a ceoprof group"
  stop_daemon
  groupadd -r ceoprof || die "groupadd failed"
  made_group=1
fi
trap '[ -n "$made_group" ] && groupdel ceoprof; cleanup' EXIT
start_daemon --output-dir "$WORK"
[ "$(stat -c '%a %G' "$SOCK")" = "660 ceoprof" ] || die "socket is $(stat -c '%a %G' "$SOCK"), expected 660 ceoprof"
stop_daemon

# A symlink planted where the trace will go is replaced, and its target left alone.
echo "precious" >"$WORK/victim"
TEST_WAIT_DAEMON_MS=5000 "$CLIENT" basic 20 >"$WORK/client.out" &
cpid=$!
ln -s "$WORK/victim" "$WORK/out.trace.json"
start_daemon --pid "$cpid" -o "$WORK/out" --no-sampling
wait "$cpid"
wait_daemon 20 || die "daemon failed: $(cat "$WORK/daemon.log")"
[ "$(cat "$WORK/victim")" = precious ] || die "the daemon wrote through a symlink"
[ -f "$WORK/out.trace.json" ] && [ ! -L "$WORK/out.trace.json" ] || die "the output is not a regular file"
[ "$(stat -c %a "$WORK/out.trace.json")" = 640 ] || die "output mode $(stat -c %a "$WORK/out.trace.json"), expected 640"
[ -z "$(ls "$WORK" | grep '\.tmp\.')" ] || die "temporary files left behind: $(ls "$WORK")"

# Temporary names nobody can take first: files planted at every name the old scheme
# (NAME.tmp.PID.N) would use do not stop the write.
TEST_WAIT_DAEMON_MS=5000 "$CLIENT" basic 20 >"$WORK/client2.out" &
cpid=$!
start_daemon --pid "$cpid" -o "$WORK/planted" --no-sampling
dpid=$daemon_pid
for n in $(seq 0 8); do
  for ext in trace.json pb.gz offcpu.pb.gz; do
    : >"$WORK/planted.$ext.tmp.$dpid.$n"
  done
done
wait "$cpid"
wait_daemon 20 || die "daemon failed with planted temporary names: $(cat "$WORK/daemon.log")"
[ -s "$WORK/planted.trace.json" ] || die "planted temporary names stopped the write: $(cat "$WORK/daemon.log")"
rm -f "$WORK"/planted.*.tmp.*

# A client in its own pid namespace: its tids are translated, its workers are named.
if unshare --help 2>/dev/null | grep -q -- --pid; then
  mkdir -p "$WORK/ns"
  start_daemon --output-dir "$WORK/ns" -v
  # Threads that live: translated. Threads gone before their events arrive: kept, not lost.
  TEST_WAIT_DAEMON_MS=5000 unshare --pid --fork --mount-proc "$CLIENT" steady 400 >"$WORK/ns1.out" ||
    die "the namespaced client failed: $(cat "$WORK/ns1.out")"
  TEST_WAIT_DAEMON_MS=5000 unshare --pid --fork --mount-proc "$CLIENT" basic 50 >"$WORK/ns2.out" ||
    die "the namespaced client failed: $(cat "$WORK/ns2.out")"
  stop_daemon
  cat "$WORK/daemon.log"
  for f in "$WORK"/ns/testclient-*.trace.json; do
    $VALIDATE "$f" --zero-drops || die "the namespaced client's trace $f is wrong"
  done
  $PYTHON3 - "$WORK"/ns/testclient-*.trace.json <<'PY' || die "tids were not translated"
import json, sys
for path in sys.argv[1:]:
    d = json.load(open(path))
    lanes = {e["tid"]: e["args"]["name"] for e in d["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    steady = {t: n for t, n in lanes.items() if n.startswith("steady-")}
    if steady:
        # Inside the namespace threads are numbered from 1; ours are the host's numbers.
        assert len(steady) == 2 and all(t > 100 for t in steady), lanes
        print("namespaced steady client: lanes", steady)
    else:
        spans = d["metadata"]["tasks"]["spans"]
        assert spans == 301, spans  # 150 outer + 150 inner + 1 moved, none lost
        print("namespaced short-lived threads: all", spans, "spans kept")
PY
else
  echo "note: unshare cannot make pid namespaces here; the translation is not exercised"
fi
echo ok
