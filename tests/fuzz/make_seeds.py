#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

Seeds are small valid inputs the fuzzers mutate: protocol frames a real client sends, a
perf ring with the records the sampler reads, ELF files, and JSON-hostile strings.
Usage: make_seeds.py CORPUS_DIR [ELF_FILE...]
"""
import os
import struct
import sys

out = sys.argv[1]


def varint(n):
    b = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        b.append(x | (0x80 if n else 0))
        if not n:
            return bytes(b)


def fv(num, v):
    return varint(num << 3) + varint(v)


def fb(num, b):
    b = b.encode() if isinstance(b, str) else b
    return varint(num << 3 | 2) + varint(len(b)) + b


def frame(body_field, body):
    p = fb(body_field, body)
    return struct.pack("<I", len(p)) + p


def zz(v):  # sint64
    return (v << 1) ^ (v >> 63)


def packed(num, values):
    return fb(num, b"".join(varint(v) for v in values))


def runs(events):
    """An EventRuns body (protocol version 2): one run per stretch of one thread's events
    (kind, tid, ts, task, name, value), coded as common/evcodec.c codes them."""
    carries = {1: "nt", 2: "t", 3: "n", 4: "nv", 5: "ntv"}
    out, i = b"", 0
    while i < len(events):
        tid = events[i][1]
        kinds, tsd, names, tasks, values = [], [], [], [], []
        prev_ts = prev_task = 0
        while i < len(events) and events[i][1] == tid:
            kind, _, ts, task, name, value = (list(events[i]) + [0, 0, 0])[:6]
            kinds.append(kind)
            tsd.append(zz(ts - prev_ts))
            prev_ts = ts
            c = carries[kind]
            if "n" in c:
                names.append(name)
            if "t" in c:
                tasks.append(zz(task - prev_task))
                prev_task = task
            if "v" in c:
                values.append(zz(value))
            i += 1
        out += fb(1, fv(1, tid) + packed(2, kinds) + packed(3, tsd) + packed(4, names) +
                  packed(5, tasks) + packed(6, values))
    return out


def write(sub, name, data):
    d = os.path.join(out, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# protocol: a client's session.
hello = frame(1, fv(1, 2) + fb(2, "seed") + fv(3, 1234) + fv(4, 1000) + fv(5, 1700000000000000000))
strings = frame(3, b"".join(fb(1, fv(1, i) + fb(2, v)) for i, v in
                            ((1, "parse"), (2, "bytes"), (3, "@span_id"), (4, "queue"))))
workers = frame(2, fb(1, fv(1, 3999001) + fv(2, 1) + fb(3, "io-0")))
evs = frame(15, runs([(1, 3999001, 1100, 7, 1), (5, 3999001, 1150, 7, 2, 4096),
                      (5, 3999001, 1160, 7, 3, 77), (3, 3999001, 1170, 0, 4),
                      (4, 3999001, 1180, 0, 4, 5), (1, 3999001, 1200, 8, 1),
                      (2, 3999002, 1600, 7), (2, 3999001, 1700, 8)]))
drops = frame(5, fb(1, fv(1, 3999001) + fv(2, 1) + fv(3, 3)))
write("protocol", "session", hello + strings + workers + evs + drops + frame(6, fv(1, 8)))
write("protocol", "hello", hello)

# perf_record: a ring (head, tail, then data) with the records the sampler reads: samples of
# two threads from their events (ids 1, 2), an off-CPU sample (id 3), a duplicate from the
# other family, mmap2 (of a file that does not exist: opening ELF files, fuzzed on their own,
# would slow every run a hundredfold), comm, fork, context switches, exit, lost. The fuzz
# target's pid is 3999000.
def hdr(t, misc, body):
    return struct.pack("<IHH", t, misc, 8 + len(body)) + body

P = 3999000
def sid(tid, time, ev):  # sample_id_all: pid, tid, time, id, cpu
    return struct.pack("<IIQQII", P, tid, time, ev, 0, 0)

def sample(tid, time, ev, misc=2):
    return hdr(9, misc, struct.pack("<QIIQQIIQQ", 0x401000, P, tid, time, ev, 0, 0, 1000000, 3) +
               struct.pack("<QQQ", 0x401000, 0x401100, 0x401200))

mmap2 = hdr(10, 2, struct.pack("<IIQQQIIQQII", P, P, 0x400000, 0x1000, 0, 8, 1, 0, 0, 5, 0) +
            b"/nonexistent/fz\0" + sid(P, 4000, 1))
comm = hdr(3, 0, struct.pack("<II", P, P) + b"worker\0\0" + sid(P, 4100, 1))
fork = hdr(7, 0, struct.pack("<IIIIQ", P, P, P + 1, P, 4200) + sid(P, 4200, 1))
sw_out = hdr(14, 0x2000, sid(P + 1, 5100, 2))
sw_in = hdr(14, 0, sid(P + 1, 5900, 2))
exit_ = hdr(4, 0, struct.pack("<IIIIQ", P, P, P + 1, P, 7000) + sid(P + 1, 7000, 2))
lost = hdr(2, 0, struct.pack("<QQ", 1, 4) + sid(P, 7100, 1))
data = (mmap2 + comm + fork + sample(P, 5000, 1) + sample(P + 1, 5050, 2) + sample(P + 1, 5060, 1) +
        sw_out + sample(P + 1, 5100, 3, misc=1) + sw_in + exit_ + lost)
write("perf_record", "ring", struct.pack("<QQ", len(data), 0) + data)
write("perf_record", "wrapped", struct.pack("<QQ", len(data), 4096 - 24) + data[24:] + data[:24])

# symbols: the ELF files given.
for path in sys.argv[2:]:
    write("symbols", os.path.basename(path), open(path, "rb").read())

# json: names a client might send.
for i, s in enumerate([b"plain", b'quote " backslash \\ newline \n tab \t', b"\x01\x1f\x7f",
                       "caf\u00e9 \u65e5\u672c \U0001F600".encode(), b"\xff\xfe bad \xc3\x28",
                       b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80 too big"]):
    write("json", f"seed{i}", s)
