#!/bin/sh
# view_speedscope.sh: "viewers - speedscope": the demo runtime's traces load in speedscope
# (its npm package) in Debian's headless Chromium without an error: with CPU samples, every
# sampled worker's profile (its V8 chunks); without samples, every worker lane's task spans
# (tasks that moved threads are async slices beside the lanes, never crossing them). The
# same files pass the structural check of tests/validate_trace.py.
. "$(dirname "$0")/lib.sh"
require_perf
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
SS_DIR=${SPEEDSCOPE_DIR:-}
if [ -z "$SS_DIR" ] && command -v npm >/dev/null 2>&1; then
  SS_DIR="$(npm root -g 2>/dev/null)/speedscope/dist/release"
fi
if [ -z "$CHROMIUM" ] || [ ! -f "$SS_DIR/index.html" ]; then
  echo "SKIP: needs Debian's chromium and speedscope (npm install -g speedscope; or SPEEDSCOPE_DIR)"
  exit 77
fi
DEMO="$top_builddir/demo"
[ -x "$DEMO" ] || die "no demo program at $DEMO"

run_demo() {  # NAME, ceoprofd options...
  name=$1
  shift
  "$DEMO" --seconds 1.5 --wait-daemon 3000 >"$WORK/$name.demo.out" 2>&1 &
  dpid=$!
  "$CEOPROFD" --pid "$dpid" --socket "$WORK/$name.sock" -o "$WORK/site/$name" "$@" \
    >"$WORK/$name.out" 2>&1 || die "ceoprofd failed: $(cat "$WORK/$name.out")"
  wait "$dpid" || die "the demo failed: $(cat "$WORK/$name.demo.out")"
  $VALIDATE "$WORK/site/$name.trace.json" --workers io-0,cpu-0 || die "$name: the trace is not valid"
}
mkdir -p "$WORK/site"
cp -r "$SS_DIR"/. "$WORK/site/"
CEOPROF_SOCKET="$WORK/samples.sock" run_demo samples -F 499
CEOPROF_SOCKET="$WORK/lanes.sock" run_demo lanes --no-sampling

# speedscope fetches the file: serve the folder on a free local port.
port=$($PYTHON3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
( cd "$WORK/site" && exec $PYTHON3 -m http.server "$port" --bind 127.0.0.1 ) >"$WORK/http.log" 2>&1 &
http_pid=$!
trap 'kill "$http_pid" 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 50); do
  $PYTHON3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/index.html')" \
    2>/dev/null && break
  sleep 0.1
done

view() {  # NAME: loads NAME.trace.json, keeps the page's text and its console
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$WORK/chromium-$1" --enable-logging=stderr --v=0 \
    --virtual-time-budget=20000 --dump-dom \
    "http://127.0.0.1:$port/index.html#profileURL=http://127.0.0.1:$port/$1.trace.json" \
    >"$WORK/$1.dom.html" 2>"$WORK/$1.console.log" || die "chromium failed on $1: $(tail -5 "$WORK/$1.console.log")"
}
view samples
view lanes
$PYTHON3 - "$WORK" <<'PY' || die "speedscope did not import the traces cleanly"
import html, json, re, sys
work = sys.argv[1]
for name, importer in (("samples", "Chrome Timeline"), ("lanes", "Trace Event Format")):
    console = [m for m in re.findall(r'CONSOLE[^"]*"(.*)"', open(f"{work}/{name}.console.log").read())
               if "WebGL" not in m and "GL Driver" not in m]
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", open(f"{work}/{name}.dom.html").read())))
    bad = [m for m in console if re.search(r"error|uncaught|trying to|unrecognized|warning", m, re.I)]
    assert not bad, (name, bad)
    assert any(importer in m for m in console), (name, console)
    assert any(m.startswith("import:") for m in console), (name, console)
    m = re.search(r"\((\d+)/(\d+)\)", text)
    assert m, (name, text[:500])
    d = json.load(open(f"{work}/site/{name}.trace.json"))
    ev = d["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e.get("name") == "thread_name"}
    if name == "samples":
        # One profile per sampled thread, named after its lane.
        want = {names[e["tid"]] for e in ev if e.get("name") == "Profile"}
    else:
        # One profile per lane with task spans.
        want = {names[e["tid"]] for e in ev if e.get("ph") == "X" and e.get("cat") == "task"}
    missing = [w for w in want if w not in text]
    assert not missing and int(m.group(2)) >= len(want), (name, missing, m.group(0), sorted(want))
    print(f"{name}: speedscope imported {m.group(2)} profiles ({', '.join(sorted(want))})")
PY
echo ok
