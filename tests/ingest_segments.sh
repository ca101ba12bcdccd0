#!/bin/sh
# ingest_segments.sh: "ingest - sessions of any length": a --pid profile is written as it
# goes, in half-second segments. Tasks that cross the cuts stay whole (a session task open
# for the whole run, hand-offs that end on another thread 700 ms after they began), each
# long task's wall time is split fully into CPU, blocked and delay, no event is lost (what
# the client sent is what the trace received), and the daemon's memory stays flat while
# some 300,000 events a second flow (before segments it grew by about 15 MiB a second).
. "$(dirname "$0")/lib.sh"

TEST_WAIT_DAEMON_MS=5000 "$CLIENT" long 5000 >"$WORK/client.out" &
cpid=$!
# ASan keeps freed memory in quarantine (256 MiB by default): a small one lets RSS show.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4" \
  start_daemon --pid "$cpid" --waits -o "$WORK/long"
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon_pid/status" 2>/dev/null || echo 0; }
sleep 2.5  # past the warm-up: the first segments size the daemon's arrays and rings
r1=$(rss)
sleep 2.2
r2=$(rss)
wait "$cpid" || die "the client failed: $(cat "$WORK/client.out")"
wait "$daemon_pid" || die "ceoprofd failed: $(cat "$WORK/daemon.log")"
daemon_pid=
cat "$WORK/client.out"
echo "daemon VmRSS ${r1} KiB at 2.5 s, ${r2} KiB at 4.7 s"
[ "$r1" -gt 0 ] && [ "$r2" -gt 0 ] || die "could not read the daemon's memory"
if asan_build; then
  echo "AddressSanitizer build: its shadow memory is most of the RSS; the bound is checked in the plain builds"
else
  [ $((r2 - r1)) -lt 8192 ] || die "the daemon's memory grew by $((r2 - r1)) KiB in 2.2 s"
fi
$VALIDATE "$WORK/long.trace.json" --workers long-1,long-2,dispatcher \
  || die "the trace is not valid"
$PYTHON3 - "$WORK/long.trace.json" "$WORK/client.out" <<'PY' || die "the segmented trace is wrong"
import json, re, sys
d = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
sent = int(re.search(r"sent=(\d+)", out).group(1))
dropped = int(re.search(r"dropped=(\d+)", out).group(1))
tasks = int(re.search(r"tasks=(\d+)", out).group(1))
md = d["metadata"]
# Nothing lost between the client and the file: every event sent was received, and every
# task the client ran is a span (when the client itself dropped nothing).
assert md["events_received"] == sent, (md["events_received"], sent)
assert md["drops"]["trace_events_over_limit"] == 0, md["drops"]
ends = {e["id"]: e for e in d["traceEvents"] if e["ph"] == "e" and e.get("cat") == "task"}
spans = [e for e in d["traceEvents"] if e["ph"] in ("X", "b") and e.get("cat") == "task"]
for e in spans:
    if e["ph"] == "b":  # a task that moved threads: its end on the other thread
        e["dur"] = ends[e["id"]]["ts"] - e["ts"]
if dropped == 0:
    assert len(spans) == tasks == md["tasks"]["spans"], (len(spans), tasks, md["tasks"])
# Every event received is in the file: two per task, and the sessions' two fields.
assert 2 * len(spans) + 2 == md["events_received"], (len(spans), md["events_received"])
sessions = [e for e in spans if e["name"] == "session"]
assert len(sessions) == 2, sessions
for s in sessions:
    # One span across every cut, its field kept, its wait split whole.
    assert s["dur"] >= 4.2e6 and not s["args"].get("unfinished"), s
    assert s["args"]["worker"] in (1, 2), s["args"]
    split = s["args"]["cpu_ns"] + s["args"]["blocked_ns"] + s["args"]["sched_delay_ns"]
    assert abs(split - s["dur"] * 1000) <= 0.02 * s["dur"] * 1000, (split, s["dur"], s["args"])
hand = [e for e in spans if e["name"] == "handoff"]
assert len(hand) >= 8, len(hand)
# Those worker 1 took ended on its thread 700 ms after they began, across two cuts or more
# (the last one may be ended sooner, by the main thread at the end).
moved = [e for e in hand if "ended_on_tid" in e["args"]]
assert sum(e["dur"] >= 6.9e5 for e in moved) >= 3, moved
print(f"ok: {len(spans)} spans, {len(sessions)} whole sessions, {len(moved)} hand-offs across "
      f"cuts, {sent} events sent and received")
PY

# --max-trace-mb: past the limit, events are left out and counted, and the file is whole.
TEST_WAIT_DAEMON_MS=5000 "$CLIENT" long 1500 >"$WORK/client2.out" &
cpid=$!
start_daemon --pid "$cpid" --no-sampling --max-trace-mb 2 -o "$WORK/capped"
wait "$cpid" || die "the client failed"
wait "$daemon_pid" || die "ceoprofd failed: $(cat "$WORK/daemon.log")"
daemon_pid=
grep -q "reached its limit of 2 MiB" "$WORK/daemon.log" || die "the limit was not said: $(cat "$WORK/daemon.log")"
size=$(stat -c %s "$WORK/capped.trace.json")
[ "$size" -lt $((5 * 1024 * 1024 / 2)) ] || die "the capped trace is $size bytes"
$VALIDATE "$WORK/capped.trace.json" || die "the capped trace is not valid"
$PYTHON3 - "$WORK/capped.trace.json" <<'PY' || die "what the limit left out is not counted"
import json, sys
d = json.load(open(sys.argv[1]))
md = d["metadata"]
spans = [e for e in d["traceEvents"] if e["ph"] in ("X", "b") and e.get("cat") == "task"]
fields = sum(1 for e in spans if e["name"] == "session")
left = md["drops"]["trace_events_over_limit"]
assert left > 0, md["drops"]
# Sent = written + left out: each task is its begin, its end and its fields.
assert 2 * len(spans) + fields + left == md["events_received"], \
    (len(spans), fields, left, md["events_received"])
print(f"capped at 2 MiB: {len(spans)} spans written, {left} events left out and counted")
PY
echo ok
