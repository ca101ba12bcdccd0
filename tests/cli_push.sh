#!/bin/sh
# cli_push.sh: profiles reach Pyroscope: "ceoprof push" and "ceoprofd --pyroscope" against a
# local receiver that checks requests as Pyroscope's /ingest does, fails on purpose to test
# the retries, and fails for good to test that the window is kept on disk.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
CEOPROF="$top_builddir/ceoprof"
WORKLOAD="$top_builddir/tests/cpu_workload"

receiver() {  # DIR FAIL: starts a receiver, sets $port and $recv_pid
  mkdir -p "$1"
  $PYTHON3 "$top_srcdir/tests/pyroscope_receiver.py" "$1" "$2" >"$1/port" &
  recv_pid=$!
  for _ in $(seq 1 100); do
    port=$(cat "$1/port" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  die "the receiver did not start"
}

# A profile to push.
"$CEOPROF" record -F 299 -o "$WORK/one" -- "$WORKLOAD" 1 >"$WORK/rec.out" 2>&1 || die "record: $(cat "$WORK/rec.out")"

# ceoprof push: accepted on the first try; the received file is the one we sent.
receiver "$WORK/r1" 0
"$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name cpuworkload \
  >"$WORK/push.out" 2>&1 || die "push failed: $(cat "$WORK/push.out")"
cat "$WORK/push.out"
cmp -s "$WORK/one.pb.gz" "$WORK/r1/received-1.pb.gz" || die "the receiver got other bytes"
go tool pprof -top "$WORK/r1/received-1.pb.gz" >/dev/null 2>&1 || die "pprof cannot read what was received"
grep -q '"name": "cpuworkload{hostname=' "$WORK/r1/received-1.json" || die "name: $(cat "$WORK/r1/received-1.json")"
grep -q '"spyName": "ceoprof"' "$WORK/r1/received-1.json" || die "no spyName"
kill "$recv_pid"

# Failures of ceoprof push: one clear line each.
rc=0; "$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:1" --name x >/dev/null 2>"$WORK/e1" || rc=$?
[ "$rc" = 1 ] && grep -q "could not reach http://127.0.0.1:1" "$WORK/e1" || die "unreachable URL: $rc $(cat "$WORK/e1")"
rc=0; "$CEOPROF" push "$top_srcdir/README.md" --url "http://127.0.0.1:1" --name x >/dev/null 2>"$WORK/e2" || rc=$?
[ "$rc" = 1 ] && grep -q "is not a pprof profile" "$WORK/e2" || die "not a profile: $rc $(cat "$WORK/e2")"
receiver "$WORK/r2" -1
rc=0; "$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name x >/dev/null 2>"$WORK/e3" || rc=$?
[ "$rc" = 1 ] && grep -q "answered HTTP 503: failing on purpose" "$WORK/e3" || die "HTTP error: $rc $(cat "$WORK/e3")"
kill "$recv_pid"

# The daemon pushes every window; the first two requests fail and are retried.
receiver "$WORK/r3" 2
start_daemon --output-dir "$WORK" --auto --window 1 --pyroscope "http://127.0.0.1:$port" \
  --push-backoff 100 -v
"$WORKLOAD" 2.5 >/dev/null || die "workload failed"
wait_log "profile ends" || true
stop_daemon || die "daemon failed: $(cat "$WORK/daemon.log")"
kill "$recv_pid"
cat "$WORK/r3/receiver.log"
windows=$(ls "$WORK"/cpuworkload-*.pb.gz | grep -vc "\.offcpu\.pb\.gz$")
received=$(ls "$WORK"/r3/received-*.pb.gz | wc -l)
echo "windows $windows, received $received"
[ "$windows" -ge 3 ] || die "only $windows windows"
[ "$received" = "$windows" ] || die "$received of $windows windows reached the receiver"
[ "$(grep -c '^503 ' "$WORK/r3/receiver.log")" = 2 ] || die "the failures were not retried"
for f in "$WORK"/r3/received-*.pb.gz; do
  go tool pprof -top "$f" >/dev/null 2>&1 || die "pprof cannot read $f"
done
rm -f "$WORK"/cpuworkload-*

# A receiver that always fails: the daemon gives up after its retries and keeps the files.
receiver "$WORK/r4" -1
start_daemon --output-dir "$WORK" --auto --window 1 --pyroscope "http://127.0.0.1:$port" \
  --push-retries 1 --push-backoff 50
"$WORKLOAD" 1.5 >/dev/null || die "workload failed"
sleep 1
stop_daemon || true
kill "$recv_pid"
cat "$WORK/daemon.log"
kept=$(ls "$WORK"/cpuworkload-*.pb.gz | grep -vc "\.offcpu\.pb\.gz$")
[ "$kept" -ge 2 ] || die "windows were not kept on disk"
grep -q "could not push .*cpuworkload.*the file is kept" "$WORK/daemon.log" || die "no clear line about the failed push"
[ -z "$(ls "$WORK"/r4/received-*.pb.gz 2>/dev/null)" ] || die "the failing receiver accepted something"
echo ok
