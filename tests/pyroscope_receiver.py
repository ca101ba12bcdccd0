#!/usr/bin/env python3
"""pyroscope_receiver.py: a local stand-in for Grafana Pyroscope, for the tests.

It applies Pyroscope's rules as its source does (grafana/pyroscope):
- Push API (pkg/distributor/distributor.go Push, api/push/v1/push.proto): POST
  /push.v1.PusherService/Push, Connect unary, Content-Type application/proto, a PushRequest
  of series{labels, samples{raw_profile (gzipped pprof), ID}}; the series' __name__ and
  service_name are its labels.
- /ingest (pkg/og/convert/pprof/profile.go): name=APP{labels}, from <= until, format=pprof,
  the pprof in the multipart field "profile"; __name__ from the sample types (RawProfile
  .metricName: the first type containing "cpu" gives process_cpu, so off_cpu lands there).
- Series labels (pkg/validation/validate.go ValidateLabels): not empty, at most 30 names
  (-validation.max-label-names-per-series), names [a-zA-Z_][a-zA-Z0-9_]* (legacy names;
  dots are sanitized), a valid __name__, service_name present, names at most 1024 bytes and
  values at most 2048, no name twice.
- Sample labels (pkg/model/pprofsplit/pprof_split.go): profile_id renamed span_id; samples
  grouped by their labels other than trace_id and span_id (kept per sample); each group's
  string labels join the series labels (those already there win; numeric ones are skipped,
  addSampleLabelsToLabelsBuilder); every group is a series, validated as above.
- Active series per tenant limited (-ingester.max-global-series-per-tenant, 5000 by
  default; set lower here): a push that would pass it is refused with 429.
- Multi-tenant: with --tenant, X-Scope-OrgID must be that tenant (401 otherwise); with
  --basic USER:PASS or --token TOKEN, the Authorization header must match (401).

Each accepted profile is saved as DIR/received-N.pb.gz, with DIR/received-N.json holding the
API, the query or series labels, __name__, the series it made and the headers. The first
FAIL requests are answered 503 (to exercise retries); with FAIL=-1 all are.
Usage: pyroscope_receiver.py DIR FAIL [--series-limit N] [--tenant T] [--basic U:P]
       [--token T]   (prints the port it listens on, then serves)
"""
import argparse
import base64
import email.parser
import email.policy
import gzip
import http.server
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_pprof import msg, one  # noqa: E402  (the same independent protobuf decoder)

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("fail", type=int)
ap.add_argument("--series-limit", type=int, default=5000)
ap.add_argument("--tenant")
ap.add_argument("--basic")
ap.add_argument("--token")
args = ap.parse_args()
DIR, FAIL = args.dir, args.fail
state = {"requests": 0, "accepted": 0, "series": {}}  # series: tenant -> set of label sets
NAME_RE = re.compile(r"^[A-Za-z0-9._-]+(\{([A-Za-z_][A-Za-z0-9_]*=[^,{}]*,?)*\})?$")
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
METRIC_RE = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
PER_SAMPLE = ("trace_id", "span_id")


class Refused(Exception):
    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


def validate_labels(ls):
    """ValidateLabels: LS is a list of (name, value)."""
    if not ls:
        raise Refused(400, "profile is missing labels")
    ls = sorted(ls)
    if len(ls) > 30:
        raise Refused(400, f"profile series {ls} has {len(ls)} label names; limit 30")
    d = dict(ls)
    if not METRIC_RE.match(d.get("__name__", "")):
        raise Refused(400, f"invalid labels {ls}: invalid metric name")
    if not d.get("service_name"):
        raise Refused(400, f"invalid labels {ls}: service name is not provided")
    last = None
    for n, v in ls:
        if len(n) > 1024 or len(v) > 2048:
            raise Refused(400, f"label {n} too long")
        if not LABEL_RE.match(n.replace(".", "_")):
            raise Refused(400, f"invalid label name '{n}'")
        if n == last:
            raise Refused(400, f"duplicate label name {n}")
        last = n
    return ls


def pprof_groups(raw):
    """pprofsplit: the distinct sets of string sample labels (trace_id, span_id apart)."""
    p = msg(raw)
    strings = [v.decode("utf-8", "replace") for _, v in p.get(6, [])]
    types = [strings[one(msg(v), 1)] for _, v in p.get(1, [])]
    groups = set()
    for _, v in p.get(2, []):
        m = msg(v)
        labels = []
        for _, lv in m.get(3, []):
            lm = msg(lv)
            key = strings[one(lm, 1)]
            key = "span_id" if key == "profile_id" else key
            s = one(lm, 2)
            if s <= 0 or key in PER_SAMPLE:
                continue  # numeric: skipped; per-sample: kept on the sample
            labels.append((key, strings[s]))
        groups.add(tuple(sorted(labels)))
    return types, groups


def series_of(series_labels, groups):
    out = []
    for g in groups or {()}:
        d = dict(series_labels)
        for k, v in g:
            d.setdefault(k, v)  # the series' own labels take precedence
        out.append(tuple(validate_labels(list(d.items()))))
    return out


def pb_fields(b):
    """(field, bytes) of the length-delimited fields of one message."""
    return [(num, v) for num, v_list in msg(b).items() for wt, v in v_list if wt == 2]


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
        self.reply(405, "only POST")

    def check_auth(self):
        tenant = self.headers.get("X-Scope-OrgID")
        if args.tenant and tenant != args.tenant:
            raise Refused(401, f"no org id {args.tenant!r} (got {tenant!r})")
        auth = self.headers.get("Authorization", "")
        if args.token and auth != f"Bearer {args.token}":
            raise Refused(401, "bad bearer token")
        if args.basic and auth != "Basic " + base64.b64encode(args.basic.encode()).decode():
            raise Refused(401, "bad basic auth")
        return tenant or "anonymous"

    def do_POST(self):
        state["requests"] += 1
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        url = urllib.parse.urlparse(self.path)
        try:
            tenant = self.check_auth()
            if url.path == "/push.v1.PusherService/Push":
                received = self.push(body)
            elif url.path == "/ingest":
                received = self.ingest(url, body)
            else:
                raise Refused(404, f"no such path {url.path}")
            if FAIL < 0 or state["requests"] <= FAIL:
                raise Refused(503, "failing on purpose")
            known = state["series"].setdefault(tenant, set())
            new = {s for _, _, series in received for s in series} - known
            if len(known) + len(new) > args.series_limit:
                raise Refused(429, f"per-tenant series limit of {args.series_limit} exceeded "
                                   f"({len(known)} active, {len(new)} new)")
            known |= new
        except Refused as e:
            return self.reply(e.code, str(e))
        for profile, meta, series in received:
            n = state["accepted"] = state["accepted"] + 1
            with open(f"{DIR}/received-{n}.pb.gz", "wb") as f:
                f.write(profile)
            meta.update(series=[dict(s) for s in series], tenant=tenant,
                        authorization=self.headers.get("Authorization", "").split(" ")[0])
            with open(f"{DIR}/received-{n}.json", "w") as f:
                json.dump(meta, f)
        self.reply(200, "ok")

    def push(self, body):
        if self.headers.get("Content-Type") != "application/proto":
            raise Refused(415, f"content type {self.headers.get('Content-Type')}")
        out = []
        for num, ser in pb_fields(body):
            if num != 1:
                continue
            labels, samples = [], []
            for fnum, v in pb_fields(ser):
                if fnum == 1:
                    lp = dict(pb_fields(v))
                    labels.append((lp.get(1, b"").decode(), lp.get(2, b"").decode()))
                elif fnum == 2:
                    samples.append(dict(pb_fields(v)))
            validate_labels(labels)
            for smp in samples:
                profile = smp.get(1, b"")
                raw = self.unzip(profile)
                types, groups = pprof_groups(raw)
                meta = {"api": "push", "labels": dict(labels), "type": dict(labels)["__name__"],
                        "sample_types": types, "id": smp.get(2, b"").decode()}
                out.append((profile, meta, series_of(labels, groups)))
        if not out:
            raise Refused(400, "no profiles in the request")
        return out

    def ingest(self, url, body):
        q = dict(urllib.parse.parse_qsl(url.query))
        for key in ("name", "from", "until", "format", "spyName"):
            if key not in q:
                raise Refused(400, f"missing query parameter {key}")
        if not NAME_RE.match(q["name"]):
            raise Refused(400, f"bad application name {q['name']!r}")
        if q["format"] != "pprof":
            raise Refused(400, f"format {q['format']} is not pprof")
        if not (q["from"].isdigit() and q["until"].isdigit() and int(q["from"]) <= int(q["until"])):
            raise Refused(400, f"bad from/until {q['from']}/{q['until']}")
        ctype = self.headers.get("Content-Type", "")
        profile = None
        if ctype.startswith("multipart/form-data"):
            m = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            for part in m.iter_parts():
                if part.get_param("name", header="content-disposition") == "profile":
                    profile = part.get_payload(decode=True)
            if profile is None:
                raise Refused(400, "multipart body without a 'profile' field")
        else:
            profile = body
        types, groups = pprof_groups(self.unzip(profile))
        # RawProfile.metricName: "wall" if a type is so named, else the first with "cpu".
        name = "wall" if "wall" in types else next(("process_cpu" for t in types if "cpu" in t), "unknown")
        app = q["name"].split("{")[0]
        labels = [("__name__", name), ("service_name", app)]
        if "{" in q["name"]:
            for kv in q["name"].split("{", 1)[1].rstrip("}").split(","):
                if kv:
                    k, v = kv.split("=", 1)
                    labels.append((k, v))
        meta = dict(q, api="ingest", type=name, sample_types=types)
        return [(profile, meta, series_of(labels, groups))]

    @staticmethod
    def unzip(profile):
        try:
            raw = gzip.decompress(profile) if profile[:2] == b"\x1f\x8b" else profile
        except OSError as e:
            raise Refused(400, f"profile does not decompress: {e}")
        if len(raw) == 0:
            raise Refused(400, "empty profile")
        return raw

    def log_message(self, *a):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
