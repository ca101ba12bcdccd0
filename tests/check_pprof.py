#!/usr/bin/env python3
"""check_pprof.py: applies Grafana Pyroscope's ingest rules to a pprof file.

Decodes the protobuf wire format itself (no generated code), so it judges the bytes
independently of the writer. Exits 1 and prints every rule broken. With --json, a last
line "json {...}" gives the totals per sample type, time_nanos and duration_nanos, and
the last sample type's total per thread_id label.
"""
import gzip
import json
import re
import sys


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return v, i


def fields(b):
    """Yields (field number, wire type, value) of one message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def packed(wt, v):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def msg(b):
    d = {}
    for num, wt, v in fields(b):
        d.setdefault(num, []).append((wt, v))
    return d


def ints(d, num):
    out = []
    for wt, v in d.get(num, []):
        out += packed(wt, v)
    return out


def one(d, num, default=0):
    v = ints(d, num)
    return v[-1] if v else default


def main():
    data = open(sys.argv[1], "rb").read()
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    errors = []
    if len(raw) > 4 << 20:
        errors.append(f"{len(raw)} bytes uncompressed: over Pyroscope's 4 MiB default")
    p = msg(raw)
    strings = []
    for _, v in p.get(6, []):
        try:
            strings.append(v.decode("utf-8"))
        except UnicodeDecodeError:
            errors.append(f"invalid UTF-8 string {v[:40]!r}")
            strings.append("")
    if not strings or strings[0] != "":
        errors.append("string_table[0] is not empty")

    def s(i):
        if i < 0 or i >= len(strings):
            errors.append(f"string index {i} out of range")
            return ""
        return strings[i]

    stypes = [msg(v) for _, v in p.get(1, [])]
    names = [(s(one(t, 1)), s(one(t, 2))) for t in stypes]
    for t, u in names:
        if "-" in t or "-" in u:
            errors.append(f"sample type {t}/{u} contains '-'")
    ids = {}
    for kind, num in (("mapping", 3), ("location", 4), ("function", 5)):
        seen = set()
        for _, v in p.get(num, []):
            m = msg(v)
            i = one(m, 1)
            if i == 0:
                errors.append(f"{kind} with id 0")
            if i in seen:
                errors.append(f"duplicate {kind} id {i}")
            seen.add(i)
            if kind == "mapping":
                s(one(m, 5)), s(one(m, 6))
            if kind == "function":
                s(one(m, 2)), s(one(m, 3)), s(one(m, 4))
        ids[kind] = seen
    for _, v in p.get(4, []):
        m = msg(v)
        if one(m, 2) and one(m, 2) not in ids["mapping"]:
            errors.append(f"location {one(m, 1)} names missing mapping {one(m, 2)}")
        for _, lv in m.get(4, []):
            fid = one(msg(lv), 1)
            if fid not in ids["function"]:
                errors.append(f"location {one(m, 1)} names missing function {fid}")
    label_re = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
    nsamples = 0
    total = [0] * len(names)
    label_keys = set()
    by_thread = {}  # thread_id label -> the last sample type's total
    for _, v in p.get(2, []):
        m = msg(v)
        nsamples += 1
        vals = ints(m, 2)
        if len(vals) != len(names):
            errors.append(f"sample with {len(vals)} values for {len(names)} sample types")
        for k, x in enumerate(vals[:len(names)]):
            total[k] += x
        for loc in ints(m, 1):
            if loc not in ids["location"]:
                errors.append(f"sample names missing location {loc}")
        labels = m.get(3, [])
        if len(labels) > 100:
            errors.append(f"sample with {len(labels)} labels")
        for _, lv in labels:
            lm = msg(lv)
            key = s(one(lm, 1))
            label_keys.add(key)
            if not label_re.match(key):
                errors.append(f"label name {key!r} is not valid")
            if one(lm, 2) == 0 and one(lm, 3) == 0 and one(lm, 4) == 0:
                errors.append(f"label {key} has neither a string nor a non-zero number")
            if key == "thread_id" and vals:
                tid = str(one(lm, 3))
                by_thread[tid] = by_thread.get(tid, 0) + vals[-1]
    if nsamples > 16000:
        errors.append(f"{nsamples} samples: over Pyroscope's 16000 per profile")
    if len(p.get(9, [])) != 1:
        errors.append("time_nanos not written exactly once")
    pt = msg(p[11][0][1]) if 11 in p else {}
    period_type = (s(one(pt, 1)), s(one(pt, 2)))
    for e in errors[:30]:
        print(f"{sys.argv[1]}: {e}")
    print(f"{sys.argv[1]}: sample types {names}, period type {period_type}, {nsamples} samples, "
          f"totals {total}, labels {sorted(label_keys)}")
    if "--json" in sys.argv[2:]:
        print("json " + json.dumps({"totals": dict(zip([t for t, _ in names], total)),
                                    "time_nanos": one(p, 9), "duration_nanos": one(p, 10),
                                    "labels": sorted(label_keys), "by_thread": by_thread}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
