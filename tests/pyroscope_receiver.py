#!/usr/bin/env python3
"""pyroscope_receiver.py: a local stand-in for Grafana Pyroscope's /ingest, for the tests.

Checks each request the way Pyroscope's ingest handler reads it: POST to /ingest; query
parameters name (APP{labels}), from and until (Unix seconds, from <= until), format=pprof,
spyName; the pprof in the multipart/form-data field "profile" (or as the raw body). Each
accepted profile is saved as DIR/received-N.pb.gz and its query as DIR/received-N.json.
The first FAIL requests are answered 503 (to exercise retries); with FAIL=-1 all are.
Usage: pyroscope_receiver.py DIR FAIL   (prints the port it listens on, then serves)
"""
import email.parser
import email.policy
import gzip
import http.server
import json
import re
import sys
import urllib.parse

DIR, FAIL = sys.argv[1], int(sys.argv[2])
state = {"requests": 0, "accepted": 0}
NAME_RE = re.compile(r"^[A-Za-z0-9._-]+(\{([A-Za-z_][A-Za-z0-9_]*=[^,{}]*,?)*\})?$")


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(f"{DIR}/receiver.log", "a") as log:
            log.write(f"{code} {self.path} {text}\n")

    def do_GET(self):
        self.reply(405, "only POST /ingest")

    def do_POST(self):
        state["requests"] += 1
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        url = urllib.parse.urlparse(self.path)
        if url.path != "/ingest":
            return self.reply(404, f"no such path {url.path}")
        q = dict(urllib.parse.parse_qsl(url.query))
        for key in ("name", "from", "until", "format", "spyName"):
            if key not in q:
                return self.reply(400, f"missing query parameter {key}")
        if not NAME_RE.match(q["name"]):
            return self.reply(400, f"bad application name {q['name']!r}")
        if q["format"] != "pprof":
            return self.reply(400, f"format {q['format']} is not pprof")
        if not (q["from"].isdigit() and q["until"].isdigit() and int(q["from"]) <= int(q["until"])):
            return self.reply(400, f"bad from/until {q['from']}/{q['until']}")
        ctype = self.headers.get("Content-Type", "")
        profile = None
        if ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            for part in msg.iter_parts():
                if part.get_param("name", header="content-disposition") == "profile":
                    profile = part.get_payload(decode=True)
            if profile is None:
                return self.reply(400, "multipart body without a 'profile' field")
        else:
            profile = body
        try:
            raw = gzip.decompress(profile) if profile[:2] == b"\x1f\x8b" else profile
        except OSError as e:
            return self.reply(400, f"profile does not decompress: {e}")
        if len(raw) == 0:
            return self.reply(400, "empty profile")
        if FAIL < 0 or state["requests"] <= FAIL:
            return self.reply(503, "failing on purpose")
        n = state["accepted"] = state["accepted"] + 1
        with open(f"{DIR}/received-{n}.pb.gz", "wb") as f:
            f.write(profile)
        with open(f"{DIR}/received-{n}.json", "w") as f:
            json.dump(q, f)
        self.reply(200, "ok")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
