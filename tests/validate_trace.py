#!/usr/bin/env python3
"""validate_trace.py: checks a ceoprof Chrome Trace JSON file with a real JSON parser.

Always checked: the top-level shape Perfetto reads, a name for every lane used,
numbers where numbers belong, and that task spans nest properly on every lane.
Options add expectations; the exit status is 0 only when every check holds.
"""
import argparse
import json
import re
import sys
from collections import Counter, defaultdict


def fail(errors, msg):
    errors.append(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--workers", default="", help="comma-separated worker names that must have lanes")
    ap.add_argument("--spans", action="append", default=[], help="NAME=COUNT: exact span count")
    ap.add_argument("--min-spans", action="append", default=[], help="NAME=COUNT: at least")
    ap.add_argument("--zero-drops", action="store_true", help="every drop counter is 0")
    ap.add_argument("--received", type=int, help="metadata.events_received")
    ap.add_argument("--daemon-lost", action="store_true",
                    help="an earlier daemon was killed with what the client sent it: "
                         "the loss invariant cannot hold for this trace")
    ap.add_argument("--moved", type=int, help="tasks that ended on another thread")
    ap.add_argument("--field", action="append", default=[], help="SPAN:KEY: every such span has args[KEY]")
    ap.add_argument("--unfinished", type=int, help="spans marked unfinished")
    ap.add_argument("--lanes", type=int, help="exact number of named thread lanes")
    args = ap.parse_args()

    with open(args.trace) as f:
        d = json.load(f)
    errors = []
    if not isinstance(d.get("traceEvents"), list):
        print("no traceEvents list")
        return 1
    md = d.get("metadata", {})
    for key in ("ceoprof_version", "clock", "clock_monotonic_base_ns", "clock_realtime_at_base_ns", "drops"):
        if key not in md:
            fail(errors, f"metadata lacks {key}")
    evs = d["traceEvents"]
    names = {}
    used = set()
    spans = defaultdict(list)
    states = defaultdict(list)  # thread-state slices by lane
    begins, async_ends = {}, {}  # async task slices by (pid, id)
    for e in evs:
        ph = e.get("ph")
        if ph is None or "pid" not in e or "tid" not in e:
            fail(errors, f"event without ph/pid/tid: {e}")
            continue
        if not e.get("cat"):
            # speedscope takes a file whose first event has no cat for another format
            fail(errors, f"event without cat: {e}")
        if ph == "M":
            if e.get("name") == "thread_name":
                names[e["tid"]] = e["args"]["name"]
            continue
        if not isinstance(e.get("ts"), (int, float)) or e["ts"] < 0:
            fail(errors, f"bad ts: {e}")
            continue
        used.add(e["tid"])
        if e.get("name") == "ProfileChunk":
            cp = e["args"]["data"]["cpuProfile"]
            n, d = len(cp.get("samples", [])), len(e["args"]["data"].get("timeDeltas", []))
            # speedscope's importer rejects a chunk of one sample (timeDeltas [0]).
            if n < 2 or n != d:
                fail(errors, f"ProfileChunk on lane {e['tid']}: {n} samples, {d} time deltas")
        if ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                fail(errors, f"bad dur: {e}")
            if e.get("cat") == "task" and "began_on_tid" not in e.get("args", {}):
                spans[e["tid"]].append(e)
            if e.get("cat") == "thread_state":
                states[e["tid"]].append(e)
        # A task that moved threads: an async slice, "b" where it began, "e" (same id) where
        # it ended; it is not on a lane, so it never crosses the lane's slices.
        if ph in ("b", "e") and e.get("cat") == "task":
            if "id" not in e:
                fail(errors, f"async task event without an id: {e}")
                continue
            key = (e["pid"], e["id"])
            if ph == "b":
                if key in begins:
                    fail(errors, f"two begins of async task {key}")
                begins[key] = e
            else:
                if key in async_ends:
                    fail(errors, f"two ends of async task {key}")
                async_ends[key] = e
    for tid in sorted(used):
        if tid not in names:
            fail(errors, f"lane {tid} has events but no thread_name")
    # Nesting: on each lane, a span that starts inside another must end inside it.
    # Timestamps are rounded to ns in the file; allow 1 ns.
    eps = 0.001
    for tid, lst in spans.items():
        lst.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in lst:
            while stack and e["ts"] >= stack[-1]["ts"] + stack[-1]["dur"] - eps:
                stack.pop()
            if stack and e["ts"] + e["dur"] > stack[-1]["ts"] + stack[-1]["dur"] + eps:
                fail(errors, f"lane {tid}: {e['name']} at {e['ts']} overlaps {stack[-1]['name']}")
            stack.append(e)
    # State lanes: one state at a time, each slice ending where the next begins or before,
    # exactly, in doubles as viewers add ts and dur (no staircase).
    for tid, lst in states.items():
        lst.sort(key=lambda e: e["ts"])
        for a, b in zip(lst, lst[1:]):
            if a["ts"] + a["dur"] > b["ts"]:
                fail(errors, f"state lane {tid}: {a['name']} at {a['ts']} + {a['dur']} ends after "
                             f"{b['name']} begins at {b['ts']}")
                break
    for key, b in begins.items():
        e = async_ends.get(key)
        if e is None:
            fail(errors, f"async task {b['name']} {key} never ends")
        elif e["ts"] < b["ts"] or e.get("name") != b.get("name"):
            fail(errors, f"async task {key}: end {e} does not close {b}")
    for key in async_ends.keys() - begins.keys():
        fail(errors, f"async task end {key} without its begin")
    counts = Counter(e["name"] for lst in spans.values() for e in lst)
    counts.update(b["name"] for b in begins.values())
    lane_names = set(names.values())
    for tid, n in names.items():
        if re.search(r" \((tid|pid) \d+\)", n):
            fail(errors, f"lane {tid} is named {n!r}: viewers add the tid themselves")
    for w in filter(None, args.workers.split(",")):
        if w not in lane_names:
            fail(errors, f"no lane for worker {w} (lanes: {sorted(lane_names)})")
    for spec in args.spans:
        n, c = spec.rsplit("=", 1)
        if counts[n] != int(c):
            fail(errors, f"{counts[n]} spans named {n}, expected {c}")
    for spec in args.min_spans:
        n, c = spec.rsplit("=", 1)
        if counts[n] < int(c):
            fail(errors, f"{counts[n]} spans named {n}, expected at least {c}")
    for spec in args.field:
        n, k = spec.split(":", 1)
        bad = [e for lst in list(spans.values()) + [list(begins.values())] for e in lst
               if e["name"] == n and k not in e["args"]]
        if bad:
            fail(errors, f"{len(bad)} spans named {n} lack args.{k}")
    if args.zero_drops:
        nonzero = {k: v for k, v in md.get("drops", {}).items() if v}
        if nonzero:
            fail(errors, f"drops not zero: {nonzero}")
    if args.received is not None and md.get("events_received") != args.received:
        fail(errors, f"events_received {md.get('events_received')}, expected {args.received}")
    if args.moved is not None and md.get("tasks", {}).get("moved") != args.moved:
        fail(errors, f"moved tasks {md.get('tasks', {}).get('moved')}, expected {args.moved}")
    if args.unfinished is not None and md.get("tasks", {}).get("unfinished") != args.unfinished:
        fail(errors, f"unfinished {md.get('tasks', {}).get('unfinished')}, expected {args.unfinished}")
    # The loss invariant, for every session whose client said Goodbye: each event it sent
    # was either received into this trace or refused (and counted) by the daemon.
    sent = md.get("client_events_sent", 0)
    d = md.get("drops", {})
    refused = d.get("events_rejected", 0) + d.get("events_over_quota", 0)
    if sent and not args.daemon_lost and sent != md.get("events_received", 0) + refused:
        fail(errors, f"loss invariant: the client sent {sent}, the trace received "
                     f"{md.get('events_received')} and refused {refused}")
    if args.lanes is not None and len(names) != args.lanes:
        fail(errors, f"{len(names)} thread lanes, expected {args.lanes}: {sorted(names.values())}")
    for e in errors[:20]:
        print(f"{args.trace}: {e}")
    if not errors:
        print(f"{args.trace}: ok ({len(evs)} events, {sum(counts.values())} spans, lanes: {sorted(lane_names)})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
