#!/bin/sh
# sample_dwarf.sh: --call-graph dwarf shows the whole call chain of a program built without
# frame pointers (-O2 -fomit-frame-pointer), where frame-pointer stacks stop at the leaf;
# judged by go tool pprof. A bad --call-graph argument gets a clear error.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
unset CEOPROF_SOCKET
BIN="$top_builddir/tests/deep_workload"
CHAIN="leaf d12 d11 d10 d9 d8 d7 d6 d5 d4 d3 d2 d1 main"

# $1: mode, $2: output prefix. The share of CPU in leaf whose stack holds the whole chain.
whole_share() {
  "$top_builddir/ceoprof" record -F 499 --call-graph "$1" -o "$2" -- "$BIN" 1.5 >"$2.rec" 2>&1 ||
    die "record --call-graph $1 failed: $(cat "$2.rec")"
  share_of "$2"
}
share_of() {  # $1: output prefix
  go tool pprof -traces -sample_index=cpu "$1.pb.gz" >"$1.traces" 2>&1 ||
    die "go tool pprof: $(cat "$1.traces")"
  $PYTHON3 - "$1.traces" "$CHAIN" <<'PY'
import re, sys
units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}
chain = sys.argv[2].split()
whole = total = 0.0
for block in open(sys.argv[1]).read().split("-----------+")[1:]:
    lines = [l for l in block.splitlines()
             if l.strip() and not l.startswith("-") and ":" not in l.split()[0]]
    if not lines:
        continue
    m = re.match(r"\s*([\d.]+)(ns|us|ms|s)\s+(\S+)", lines[0])
    if not m:
        continue
    v = float(m.group(1)) * units[m.group(2)]
    frames = [m.group(3)] + [l.split()[0] for l in lines[1:]]
    if frames[0] != "leaf":
        continue
    total += v
    if frames[:len(chain)] == chain:
        whole += v
print(f"{whole / total if total else 0:.3f}")
PY
}
dwarf=$(whole_share dwarf "$WORK/dw") || die "dwarf traces unreadable"
fp=$(whole_share fp "$WORK/fp") || die "fp traces unreadable"
grep -E "DWARF unwinding|samples" "$WORK/dw.rec"
echo "whole chain under leaf: dwarf $dwarf, fp $fp"
sed -n '/-----------+/,$p' "$WORK/dw.traces" | head -n 20
$PYTHON3 -c "import sys; d, f = float('$dwarf'), float('$fp'); sys.exit(0 if d >= 0.9 and f <= 0.1 else 1)" ||
  die "dwarf should show the whole chain (>= 90%: $dwarf), frame pointers not (<= 10%: $fp)"
grep -q "stacks: DWARF unwinding" "$WORK/dw.traces" || die "the profile does not say how stacks were unwound"
# Through a running daemon: ceoprof attach asks for DWARF stacks in its request.
start_daemon
"$BIN" 2.5 >/dev/null &
bin_pid=$!
sleep 0.3
"$top_builddir/ceoprof" attach "$bin_pid" -s "$SOCK" -F 499 -D 1 --call-graph dwarf -o "$WORK/att" \
  >"$WORK/att.rec" 2>&1 || die "attach --call-graph dwarf failed: $(cat "$WORK/att.rec")"
wait "$bin_pid"
stop_daemon || die "daemon failed: $(cat "$WORK/daemon.log")"
att=$(share_of "$WORK/att") || die "attach traces unreadable"
echo "whole chain under leaf, attach through the daemon: $att"
$PYTHON3 -c "import sys; sys.exit(0 if float('$att') >= 0.9 else 1)" || die "attach through the daemon: $att"
"$top_builddir/ceoprof" record --call-graph dwarf,99999 -- true >"$WORK/bad.out" 2>&1 && die "dwarf,99999 accepted"
grep -q "65528" "$WORK/bad.out" || die "no clear error: $(cat "$WORK/bad.out")"
"$CEOPROFD" --pid 1 --call-graph lbr >"$WORK/bad2.out" 2>&1 && die "--call-graph lbr accepted"
grep -q "fp (frame pointers) or dwarf" "$WORK/bad2.out" || die "no clear error: $(cat "$WORK/bad2.out")"
echo ok
