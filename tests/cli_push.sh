#!/bin/sh
# cli_push.sh: profiles reach Pyroscope, judged by a local stand-in that applies Pyroscope's
# rules as its source does (tests/pyroscope_receiver.py). "ceoprof push" and "ceoprofd
# --pyroscope" use the Push API: CPU as process_cpu, off-CPU as off_cpu (its own type), one
# series per distinct set of string labels; /ingest with --ingest (CPU only). Tenant and
# basic or bearer auth arrive, from files or the environment; a runtime naming 500 tasks is
# folded to the label limit and accepted where unfolded it passes the series limit. Failed
# pushes are retried, and a window that cannot be pushed is kept on disk.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
CEOPROF="$top_builddir/ceoprof"
WORKLOAD="$top_builddir/tests/cpu_workload"

receiver() {  # DIR FAIL [OPTIONS]: starts a receiver, sets $port and $recv_pid
  d=$1
  mkdir -p "$d"
  shift
  $PYTHON3 "$top_srcdir/tests/pyroscope_receiver.py" "$d" "$@" >"$d/port" 2>"$d/stderr" &
  recv_pid=$!
  for _ in $(seq 1 100); do
    port=$(cat "$d/port" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  die "the receiver did not start: $(cat "$d/stderr")"
}
field() {  # JSON_FILE KEY: a top-level string field
  $PYTHON3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"
}

# A profile and an off-CPU profile to push (--waits: off-CPU also in a build without BPF).
unset CEOPROF_SOCKET
"$CEOPROF" record --waits -F 299 -o "$WORK/one" -- "$WORKLOAD" 1 >"$WORK/rec.out" 2>&1 \
  || die "record: $(cat "$WORK/rec.out")"

# ceoprof push: the Push API; CPU as process_cpu, the off-CPU profile as off_cpu.
receiver "$WORK/r1" 0
"$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name cpuworkload \
  >"$WORK/push.out" 2>&1 || die "push failed: $(cat "$WORK/push.out")"
"$CEOPROF" push "$WORK/one.offcpu.pb.gz" --url "http://127.0.0.1:$port" --name cpuworkload \
  >>"$WORK/push.out" 2>&1 || die "push of the off-CPU profile failed: $(cat "$WORK/push.out")"
cat "$WORK/push.out" "$WORK/r1/receiver.log"
[ "$(field "$WORK/r1/received-1.json" api)" = push ] || die "not the Push API: $(cat "$WORK/r1/received-1.json")"
[ "$(field "$WORK/r1/received-1.json" type)" = process_cpu ] || die "CPU type: $(cat "$WORK/r1/received-1.json")"
[ "$(field "$WORK/r1/received-2.json" type)" = off_cpu ] || die "off-CPU type: $(cat "$WORK/r1/received-2.json")"
grep -q '"service_name": "cpuworkload"' "$WORK/r1/received-1.json" || die "no service_name"
grep -q '"hostname": ' "$WORK/r1/received-1.json" || die "no hostname label"
# What was received holds what the file holds (re-packed: same totals).
for pair in "one.pb.gz received-1.pb.gz" "one.offcpu.pb.gz received-2.pb.gz"; do
  set -- $pair
  a=$($PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/$1" | sed -n 's/.*totals \(\[[0-9, ]*\]\).*/\1/p')
  b=$($PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/r1/$2" | sed -n 's/.*totals \(\[[0-9, ]*\]\).*/\1/p')
  [ -n "$a" ] && [ "$a" = "$b" ] || die "$1 has totals $a, what was received $b"
  go tool pprof -top "$WORK/r1/$2" >/dev/null 2>&1 || die "pprof cannot read $2"
done
kill "$recv_pid"

# --ingest: the older endpoint, CPU only; an off-CPU profile is refused with the reason.
receiver "$WORK/ri" 0
"$CEOPROF" push "$WORK/one.pb.gz" --ingest --url "http://127.0.0.1:$port" --name cpuworkload \
  >/dev/null 2>"$WORK/ei" || die "push --ingest failed: $(cat "$WORK/ei")"
[ "$(field "$WORK/ri/received-1.json" api)" = ingest ] || die "not /ingest"
grep -q '"name": "cpuworkload{hostname=' "$WORK/ri/received-1.json" || die "name: $(cat "$WORK/ri/received-1.json")"
grep -q '"spyName": "ceoprof"' "$WORK/ri/received-1.json" || die "no spyName"
rc=0; "$CEOPROF" push "$WORK/one.offcpu.pb.gz" --ingest --url "http://127.0.0.1:$port" --name x \
  >/dev/null 2>"$WORK/ei2" || rc=$?
[ "$rc" = 1 ] && grep -q "off-CPU profile: through /ingest" "$WORK/ei2" || die "off-CPU through /ingest: $rc $(cat "$WORK/ei2")"
kill "$recv_pid"

# A tenant and basic auth, then a bearer token: from a file or the environment.
receiver "$WORK/ra" 0 --tenant team-a --basic "ci:s3cret"
rc=0; "$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name x >/dev/null 2>"$WORK/ea" || rc=$?
[ "$rc" = 1 ] && grep -q "answered HTTP 401" "$WORK/ea" && grep -q "check --pyroscope-tenant" "$WORK/ea" \
  || die "no credentials: $rc $(cat "$WORK/ea")"
printf 'ci:s3cret\n' >"$WORK/basic" && chmod 600 "$WORK/basic"
"$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name x --tenant team-a \
  --basic-auth-file "$WORK/basic" >/dev/null 2>"$WORK/ea2" || die "basic auth from a file: $(cat "$WORK/ea2")"
CEOPROF_PYROSCOPE_BASIC_AUTH="ci:s3cret" "$CEOPROF" push "$WORK/one.pb.gz" \
  --url "http://127.0.0.1:$port" --name x --tenant team-a >/dev/null 2>"$WORK/ea3" \
  || die "basic auth from the environment: $(cat "$WORK/ea3")"
[ "$(field "$WORK/ra/received-1.json" tenant)" = team-a ] && [ "$(field "$WORK/ra/received-1.json" authorization)" = Basic ] \
  || die "tenant or auth did not arrive: $(cat "$WORK/ra/received-1.json")"
kill "$recv_pid"
receiver "$WORK/rt" 0 --token tok-123
printf 'tok-123\n' >"$WORK/token"
"$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name x --token-file "$WORK/token" \
  >/dev/null 2>"$WORK/et" || die "bearer token: $(cat "$WORK/et")"
rc=0; "$CEOPROF" push "$WORK/one.pb.gz" --url "http://127.0.0.1:$port" --name x \
  --token-file "$WORK/missing" >/dev/null 2>"$WORK/et2" || rc=$?
[ "$rc" = 1 ] && grep -q "cannot read the token file" "$WORK/et2" || die "missing token file: $rc $(cat "$WORK/et2")"
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

# 500 task names: unfolded they pass the receiver's series limit and are refused (429);
# folded to 32 values they are accepted, and the file on disk keeps every name.
"$CEOPROF" record -F 999 -o "$WORK/names" -- "$top_builddir/bench/pool" pool 1.5 4 40 500 \
  >/dev/null 2>"$WORK/names.err" || die "record: $(cat "$WORK/names.err")"
receiver "$WORK/rn" 0 --series-limit 300
rc=0; "$CEOPROF" push "$WORK/names.pb.gz" --url "http://127.0.0.1:$port" --name pool \
  --label-limit 100000 >/dev/null 2>"$WORK/en" || rc=$?
[ "$rc" = 1 ] && grep -q "answered HTTP 429" "$WORK/en" || die "500 task names were not refused unfolded: $rc $(cat "$WORK/en")"
"$CEOPROF" push "$WORK/names.pb.gz" --url "http://127.0.0.1:$port" --name pool \
  >"$WORK/fold.out" 2>&1 || die "folded push failed: $(cat "$WORK/fold.out")"
cat "$WORK/fold.out"
grep -q 'label values pushed as "other"' "$WORK/fold.out" || die "the folding is not said"
$PYTHON3 - "$WORK/rn/received-1.json" "$WORK/names.pb.gz" <<'PY' || die "folding is wrong"
import gzip, json, re, subprocess, sys
meta = json.load(open(sys.argv[1]))
tasks = {s.get("task") for s in meta["series"] if s.get("task")}
print(f"{len(meta['series'])} series, {len(tasks)} task values pushed")
assert len(tasks) <= 32 and "other" in tasks, sorted(tasks)[:40]
tags = subprocess.run(["go", "tool", "pprof", "-tags", sys.argv[2]], stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL, text=True).stdout
on_disk = set(re.findall(r"request-\d+", tags))
assert len(on_disk) > 32, f"the file keeps only {len(on_disk)} task names"
PY
kill "$recv_pid"

# The daemon pushes every window, CPU and off-CPU; the first two requests fail and are retried.
export CEOPROF_SOCKET="$SOCK"
# A tenant and a token from the environment; labels folded past 2 values, said in the log
# and in ceoprof status.
receiver "$WORK/r3" 2 --tenant team-b --token t-9
CEOPROF_PYROSCOPE_TOKEN=t-9 start_daemon --output-dir "$WORK" --auto --window 1 --waits \
  --pyroscope "http://127.0.0.1:$port" --pyroscope-tenant team-b --pyroscope-label-limit 2 \
  --push-backoff 100 -v
"$WORKLOAD" 2.5 >/dev/null || die "workload failed"
wait_log "profile ends" || true
for _ in $(seq 1 60); do
  "$CEOPROF" status >"$WORK/status.out" 2>&1 || true
  grep -q 'label values pushed as "other"' "$WORK/status.out" && break
  sleep 0.1
done
cat "$WORK/status.out"
grep -q 'label values pushed as "other"' "$WORK/status.out" || die "ceoprof status does not count the folding"
stop_daemon || die "daemon failed: $(cat "$WORK/daemon.log")"
grep -q 'label values folded into "other"' "$WORK/daemon.log" || die "the log does not say what was folded"
kill "$recv_pid"
cat "$WORK/r3/receiver.log"
windows=$(ls "$WORK"/cpuworkload-*.pb.gz | grep -vc "\.offcpu\.pb\.gz$")
offcpu=$(ls "$WORK"/cpuworkload-*.offcpu.pb.gz | wc -l)
cpu_rx=$(grep -l '"type": "process_cpu"' "$WORK"/r3/received-*.json | wc -l)
off_rx=$(grep -l '"type": "off_cpu"' "$WORK"/r3/received-*.json | wc -l)
echo "windows $windows (off-CPU $offcpu), received $cpu_rx process_cpu and $off_rx off_cpu"
[ "$windows" -ge 3 ] || die "only $windows windows"
[ "$cpu_rx" = "$windows" ] && [ "$off_rx" = "$offcpu" ] || die "not every window reached the receiver"
[ "$(grep -c '^503 ' "$WORK/r3/receiver.log")" = 2 ] || die "the failures were not retried"
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
