#!/usr/bin/env python3
"""send_frames.py: misbehaving clients for ingest_bad_input.sh.

Speaks ceoprof's wire protocol by hand (protobuf encoded here, not by a library, so
it can be wrong on purpose). Each case connects to the socket, misbehaves, and checks
what the daemon does. Prints one line per case; exits non-zero if a case fails.
"""
import os
import socket
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def frame(body_field, body):
    payload = field_bytes(body_field, body)
    return struct.pack("<I", len(payload)) + payload


PROTOCOL_VERSION = 2  # common/frame.h


def hello(version=PROTOCOL_VERSION, service="badclient"):
    return frame(1, field_varint(1, version) + field_bytes(2, service) + field_varint(3, os.getpid()))


def strings(*defs):
    return frame(3, b"".join(field_bytes(1, field_varint(1, i) + field_bytes(2, v)) for i, v in defs))


def zigzag(v):
    return ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF


def packed(num, values):
    return field_bytes(num, b"".join(varint(v) for v in values))


def events(*evs):
    """An EventRuns frame (common/evcodec.c): events (kind, tid, ts, task, name), one run
    per stretch of one thread's events. An unknown kind carries nothing but its time."""
    carries = {1: "nt", 2: "t", 3: "n", 4: "nv", 5: "ntv"}
    body, i = b"", 0
    while i < len(evs):
        tid = evs[i][1]
        kinds, tsd, names, tasks, values = [], [], [], [], []
        prev_ts = prev_task = 0
        while i < len(evs) and evs[i][1] == tid:
            kind, _, ts, task, name = evs[i]
            c = carries.get(kind, "")
            kinds.append(kind)
            tsd.append(zigzag(ts - prev_ts))
            prev_ts = ts
            if "n" in c:
                names.append(name)
            if "t" in c:
                tasks.append(zigzag(task - prev_task))
                prev_task = task
            if "v" in c:
                values.append(0)
            i += 1
        body += field_bytes(1, field_varint(1, tid) + packed(2, kinds) + packed(3, tsd) +
                            packed(4, names) + packed(5, tasks) + packed(6, values))
    return frame(15, body)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(5)
    return s


def closed_by_daemon(s, timeout=5.0):
    """True when the daemon closes the connection (reading returns EOF) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def read_frame(s):
    hdr = s.recv(4)
    if len(hdr) < 4:
        return None
    n = struct.unpack("<I", hdr)[0]
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def main():
    path = sys.argv[1]
    failures = 0

    def check(name, ok):
        nonlocal failures
        print(f"{'ok' if ok else 'FAIL'}: {name}")
        failures += 0 if ok else 1

    s = connect(path)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
    check("garbage bytes: connection dropped", closed_by_daemon(s))

    s = connect(path)
    s.sendall(struct.pack("<I", 8) + b"\xff" * 8)
    check("undecodable payload: connection dropped", closed_by_daemon(s))

    s = connect(path)
    s.sendall(struct.pack("<I", 0x7FFFFFF0) + b"xxxx")
    check("oversized length: connection dropped", closed_by_daemon(s))

    s = connect(path)
    s.sendall(struct.pack("<I", 100) + b"\x0a\x05ab")
    s.shutdown(socket.SHUT_WR)
    check("truncated frame then EOF: connection closed", closed_by_daemon(s))

    s = connect(path)
    s.sendall(events((1, 1, 1, 1, 1)))
    check("events before Hello: connection dropped", closed_by_daemon(s))

    s = connect(path)
    s.sendall(hello(version=99))
    reply = read_frame(s)
    check("unknown version: an Error frame comes back", reply is not None and reply[:1] == b"\x42")
    check("unknown version: connection dropped", closed_by_daemon(s))

    # A client of protocol version 1 (libceoprof before EventRuns): one clear Error.
    s = connect(path)
    s.sendall(hello(version=1))
    reply = read_frame(s) or b""
    check("version 1 client: an Error that says to relink libceoprof",
          reply[:1] == b"\x42" and b"protocol version 1" in reply and b"libceoprof" in reply)
    check("version 1 client: connection dropped", closed_by_daemon(s))

    # A valid client that sends events naming undeclared strings, then a valid one.
    s = connect(path)
    s.sendall(hello())
    reply = read_frame(s)
    check("valid Hello: Ack", reply is not None and reply[:1] == b"\x3a")
    tid = os.getpid()
    s.sendall(strings((1, "good")))
    s.sendall(events((1, tid, 1000, 7, 99), (1, tid, 1000, 8, 1), (2, tid, 2000, 8, 0), (99, tid, 3, 3, 1)))
    time.sleep(0.2)
    s.close()

    s = connect(path)
    time.sleep(0.2)
    check("silent client: dropped after the Hello timeout", closed_by_daemon(s, timeout=5))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
