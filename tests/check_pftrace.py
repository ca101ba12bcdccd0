#!/usr/bin/env python3
"""check_pftrace.py: a ceoprof .pftrace judged by Perfetto's importer rules.

The file is decoded by protoc (--decode against proto/perfetto.proto, Perfetto's field
numbers), then checked as trace processor reads a sequence: the first packet clears the
incremental state, every packet that defines or uses interned ids says it needs it, every
iid is defined on the sequence before it is used (event names, annotation names,
callstacks, their frames, the frames' functions and mappings, the mappings' paths and build
ids), every track an event names was described before, slices are balanced and nested per
track, and every sample on a track carries its weight.

Usage: check_pftrace.py FILE.pftrace PROTO [--tasks NAME=LEAF:MS_PER_TASK ...]
  --tasks: for the spans named NAME, the CPU samples inside them weigh MS_PER_TASK per
           task (within 15%) and their leaf function is LEAF (most of their weight).
Prints a summary; exits 1 with the first problems found.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

TOKEN = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_]*)\s*(\{|:\s*("(?:[^"\\]|\\.)*"|[^\s}]+))|(\}))')


def parse_text(text):
    """protoc's text format into nested dicts: every field a list of values."""
    root = collections.defaultdict(list)
    stack = [root]
    pos = 0
    while True:
        m = TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip():
                raise ValueError(f"cannot parse protoc output at {text[pos:pos + 60]!r}")
            break
        pos = m.end()
        if m.group(4):
            stack.pop()
        elif m.group(2) == "{":
            child = collections.defaultdict(list)
            stack[-1][m.group(1)].append(child)
            stack.append(child)
        else:
            v = m.group(3)
            if v.startswith('"'):
                v = v[1:-1]
            elif re.fullmatch(r"-?\d+", v):
                v = int(v)
            elif re.fullmatch(r"-?[\d.]+(e[-+]?\d+)?", v):
                v = float(v)
            stack[-1][m.group(1)].append(v)
    return root


def one(d, k, default=None):
    v = d.get(k)
    return v[0] if v else default


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("proto")
    ap.add_argument("--tasks", action="append", default=[])
    args = ap.parse_args()
    with open(args.trace, "rb") as f:
        r = subprocess.run(["protoc", "-I", os.path.dirname(os.path.abspath(args.proto)),
                            "--decode=perfetto.protos.Trace", os.path.basename(args.proto)],
                           stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        print(f"{args.trace}: protoc cannot decode it: {r.stderr.decode().strip()}")
        return 1
    trace = parse_text(r.stdout.decode("utf-8", "replace"))
    packets = trace.get("packet", [])
    errors = []

    def fail(msg):
        if len(errors) < 20:
            errors.append(msg)

    interned = {k: {} for k in ("event_names", "debug_annotation_names", "function_names",
                                "frames", "callstacks", "build_ids", "mapping_paths", "mappings")}
    tracks = {}
    events = collections.defaultdict(list)  # track uuid -> (ts, order, type, event)
    samples = []
    seq = None
    clocks = {}          # clock id -> offset to CLOCK_MONOTONIC (3) from the snapshot
    incremental = {}     # incremental clock id -> its current value
    default_clock = 6    # BOOTTIME, unless the sequence's defaults say otherwise
    for i, p in enumerate(packets):
        s = one(p, "trusted_packet_sequence_id")
        cs = one(p, "clock_snapshot")
        if cs:
            snap = {one(c, "clock_id"): (one(c, "timestamp", 0), one(c, "is_incremental", "false"))
                    for c in cs.get("clocks", [])}
            mono = snap.get(3)
            for cid, (ts, inc) in snap.items():
                clocks[cid] = (mono[0] - ts) if mono else 0
                if inc in (True, "true", 1):
                    incremental[cid] = ts
        defaults = one(p, "trace_packet_defaults")
        if defaults and one(defaults, "timestamp_clock_id") is not None:
            default_clock = one(defaults, "timestamp_clock_id")
        if one(p, "timestamp") is not None:
            cid = one(p, "timestamp_clock_id", default_clock)
            raw = one(p, "timestamp")
            if cid in incremental:
                incremental[cid] += raw  # a delta from the clock's previous packet
                raw = incremental[cid]
            elif cid != 3 and cid not in clocks:
                fail(f"packet {i}: timestamp on clock {cid}, which no snapshot relates to the trace")
            p["timestamp"] = [raw + clocks.get(cid, 0)]
        flags = one(p, "sequence_flags", 0)
        if i == 0 and not flags & 1:
            fail("the first packet does not clear the incremental state")
        if s is None:
            fail(f"packet {i} has no trusted_packet_sequence_id")
        elif seq is None:
            seq = s
        elif s != seq:
            fail(f"packet {i} on sequence {s}, not {seq}")
        idata = one(p, "interned_data")
        ev = one(p, "track_event")
        if (idata or ev) and not flags & 2:
            fail(f"packet {i} uses or defines interned data without SEQ_NEEDS_INCREMENTAL_STATE")
        if idata:
            for kind, table in interned.items():
                for entry in idata.get(kind, []):
                    table[one(entry, "iid")] = entry
        td = one(p, "track_descriptor")
        if td:
            parent = one(td, "parent_uuid")
            if parent is not None and parent not in tracks:
                fail(f"track {one(td, 'uuid')} described before its parent {parent}")
            tracks[one(td, "uuid")] = td
        if not ev:
            continue
        uuid = one(ev, "track_uuid")
        if uuid not in tracks:
            fail(f"packet {i}: event on track {uuid}, never described before")
        name = one(ev, "name_iid")
        if name is not None and name not in interned["event_names"]:
            fail(f"packet {i}: event name iid {name} not defined on the sequence")
        for a in ev.get("debug_annotations", []):
            if one(a, "name_iid") not in interned["debug_annotation_names"]:
                fail(f"packet {i}: annotation name iid {one(a, 'name_iid')} not defined")
        cs = one(ev, "callstack_iid")
        if cs is not None:
            stack = interned["callstacks"].get(cs)
            if stack is None:
                fail(f"packet {i}: callstack {cs} not defined")
                continue
            leaf = None
            for fid in stack.get("frame_ids", []):
                fr = interned["frames"].get(fid)
                if fr is None:
                    fail(f"callstack {cs}: frame {fid} not defined")
                    continue
                fn = interned["function_names"].get(one(fr, "function_name_id"))
                if fn is None:
                    fail(f"frame {fid}: function name {one(fr, 'function_name_id')} not defined")
                leaf = one(fn, "str") if fn else None
                mid = one(fr, "mapping_id")
                if mid is not None:
                    m = interned["mappings"].get(mid)
                    if m is None:
                        fail(f"frame {fid}: mapping {mid} not defined")
                    else:
                        for pid in m.get("path_string_ids", []):
                            if pid not in interned["mapping_paths"]:
                                fail(f"mapping {mid}: path {pid} not defined")
                        if one(m, "build_id") is not None and one(m, "build_id") not in interned["build_ids"]:
                            fail(f"mapping {mid}: build id {one(m, 'build_id')} not defined")
            w = one(ev, "callstack_weight")
            if w is None or w <= 0:
                fail(f"packet {i}: a sample without its weight")
            samples.append((uuid, one(p, "timestamp"), w or 0, leaf,
                            interned["event_names"].get(name, {}).get("name", ["?"])[0]))
        t = one(ev, "type")
        events[uuid].append((one(p, "timestamp"), i, t, ev))
    # Slices: balanced and nested on each track, in time order as the importer sorts them
    # (at one time, ends before begins, except a slice that begins and ends there).
    spans = []
    for uuid, lst in events.items():
        lst.sort(key=lambda x: (x[0], 0 if x[2] == "TYPE_SLICE_END" else 1, x[1]))
        open_ = []
        for ts, i, t, ev in lst:
            if t == "TYPE_SLICE_BEGIN":
                open_.append((ts, ev))
            elif t == "TYPE_SLICE_END":
                if not open_:
                    # A slice of no length: its end sorted before its begin.
                    fail(f"track {uuid}: an end at {ts} with no slice open")
                    continue
                b, bev = open_.pop()
                name = interned["event_names"].get(one(bev, "name_iid"), {}).get("name", ["?"])[0]
                spans.append((uuid, b, ts, name))
        if open_:
            fail(f"track {uuid}: {len(open_)} slices never end")
    thread_tracks = {u for u, td in tracks.items() if "thread" in td}
    names = collections.Counter(n for _, _, _, n in spans)
    print(f"{args.trace}: {len(packets)} packets, {len(tracks)} tracks "
          f"({len(thread_tracks)} threads), {len(spans)} slices, {len(samples)} weighted samples, "
          f"{sum(len(v) for v in interned.values())} interned entries")
    # Per task name: the CPU samples inside its slices, their weight and their leaf.
    by_track = collections.defaultdict(list)
    for uuid, ts, w, leaf, ename in samples:
        if ename == "cpu sample":
            by_track[uuid].append((ts, w, leaf))
    for spec in args.tasks:
        name, rest = spec.split("=", 1)
        leaf_want, ms = rest.split(":")
        total, leaves, n = 0.0, collections.Counter(), 0
        for uuid, b, e, sname in spans:
            if sname != name:
                continue
            n += 1
            for ts, w, leaf in by_track.get(uuid, []):
                if b <= ts < e:
                    total += w
                    leaves[leaf] += w
        if n == 0:
            fail(f"no slices named {name}")
            continue
        want = n * float(ms) * 1e6
        top = leaves.most_common(1)[0][0] if leaves else None
        print(f"  {name}: {n} slices, samples inside weigh {total / 1e6:.1f} ms "
              f"({total / want * 100:.0f}% of {n} x {ms} ms), leaf {top}")
        if abs(total - want) > 0.15 * want:
            fail(f"{name}: the samples inside weigh {total / 1e6:.1f} ms, not {want / 1e6:.1f} ms")
        if top != leaf_want:
            fail(f"{name}: the samples' leaf is {top}, not {leaf_want}")
    for e in errors:
        print("  FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
