#!/usr/bin/env python3
"""inline_pprof.py OUT.pb.gz: writes a small pprof whose functions are inlined by some callers
and called by others, recurse, or are inlined into themselves: the cases where go tool pprof
marks a row "(inline)" or "(partial-inline)". Encodes the protobuf wire format by hand."""
import gzip
import sys


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, v):
    if isinstance(v, int):
        return varint(num << 3) + varint(v)
    if isinstance(v, str):
        v = v.encode()
    return varint(num << 3 | 2) + varint(len(v)) + v


def packed(num, vals):
    return field(num, b"".join(varint(x) for x in vals))


strings = ["", "cpu", "nanoseconds", "samples", "count"]


def s(name):
    if name not in strings:
        strings.append(name)
    return strings.index(name)


funcs = {}


def fid(name):
    return funcs.setdefault(name, len(funcs) + 1)


# Each location: its lines, innermost first (line[0] is inlined into line[1], and so on).
locations = {
    1: ["main"],
    2: ["malloc", "helper"],   # malloc inlined into helper
    3: ["malloc"],             # malloc called
    4: ["only_inl", "main2"],  # only ever inlined
    5: ["rec"],
    6: ["g", "h"],             # g inlined into h ...
    7: ["g"],                  # ... and called from h elsewhere: the edge is a call
    8: ["h"],
    9: ["same", "same"],       # inlined into itself: no edge
    # DWARF names of template instances, their own system names: pprof shows one function
    # "tmpl", its template and function parameters removed (ASan's internal_syscall<...>).
    10: ["ns::tmpl<unsigned long, int>", "caller"],
    11: ["ns::tmpl<long>(long)", "caller"],
    12: ["ns::cmp<(1 > 0)>", "caller"],   # a '>' inside the parameters: still one group
}
samples = [  # leaf first, value in ns
    ([2, 1], 10_000_000),
    ([3, 1], 20_000_000),
    ([4, 1], 5_000_000),
    ([5, 5, 1], 7_000_000),
    ([6, 1], 3_000_000),
    ([7, 8, 1], 4_000_000),
    ([9, 1], 2_000_000),
    ([10, 1], 1_000_000),
    ([11, 1], 1_000_000),
    ([12, 1], 1_000_000),
]

body = bytearray()
body += field(1, field(1, s("samples")) + field(2, s("count")))
body += field(1, field(1, s("cpu")) + field(2, s("nanoseconds")))
for locs, ns in samples:
    body += field(2, packed(1, locs) + packed(2, [ns // 10_000_000 or 1, ns]))
body += field(3, field(1, 1) + field(2, 0x400000) + field(3, 0x500000) + field(5, s("/bin/synthetic")) + field(7, 1))
for lid, names in locations.items():
    m = field(1, lid) + field(2, 1) + field(3, 0x400000 + lid * 16)
    for n in names:
        m += field(4, field(1, fid(n)) + field(2, lid))
    body += field(4, m)
for name, i in funcs.items():
    body += field(5, field(1, i) + field(2, s(name)) + field(3, s(name)) + field(4, s("synthetic.c")))
for st in strings:
    body += field(6, st)
body += field(10, 1_000_000_000) + field(11, field(1, s("cpu")) + field(2, s("nanoseconds")))
body += field(12, 10_000_000)
with gzip.open(sys.argv[1], "wb") as f:
    f.write(bytes(body))
