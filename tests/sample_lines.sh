#!/bin/sh
# sample_lines.sh: pprof carries source lines and inlined frames from DWARF (libdwfl), also
# when the DWARF is in a separate debug file found by .gnu_debuglink, and function names
# from that file when the binary has no symbol table left; judged by go tool pprof against
# the workload's own source.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
command -v objcopy >/dev/null 2>&1 || die "objcopy is not installed (apt-get install binutils)"
unset CEOPROF_SOCKET
SRC="$top_srcdir/tests/inline_workload.c"
BIN="$top_builddir/tests/inline_workload"
# The body of step() and the call site's line, from the source itself.
step_from=$(grep -n 'uint64_t step(uint64_t x)' "$SRC" | cut -d: -f1)
step_to=$(awk -v s="$step_from" 'NR > s && /^}/ { print NR; exit }' "$SRC")
call_line=$(grep -n 'CALL_SITE' "$SRC" | tail -1 | cut -d: -f1)
[ -n "$step_from" ] && [ -n "$step_to" ] && [ -n "$call_line" ] || die "cannot read $SRC"

# $1: the binary to run, $2: output prefix. Checks the profile's lines.
check_lines() {
  "$top_builddir/ceoprof" record -F 499 -o "$2" -- "$1" 1.2 >"$2.rec" 2>&1 ||
    die "record failed: $(cat "$2.rec")"
  go tool pprof -top -lines -nodecount=100000 -nodefraction=0 "$2.pb.gz" >"$2.top" 2>&1 ||
    die "go tool pprof: $(cat "$2.top")"
  cat "$2.top"
  $PYTHON3 - "$2.top" "$step_from" "$step_to" "$call_line" <<'PY' || die "lines of $1 are wrong"
import re, sys
top, lo, hi, call = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
step = outer = 0.0
for line in open(top):
    m = re.match(r"\s*\S+\s+([\d.]+)%\s+\S+\s+\S+\s+([\d.]+)%\s+(\S+) (\S+):(\d+)( \(inline\))?$", line)
    if not m:
        continue
    flat, cum, fn, path, ln, inl = float(m[1]), float(m[2]), m[3], m[4], int(m[5]), m[6]
    if not path.endswith("inline_workload.c"):
        continue
    if fn == "step":
        if not inl:
            sys.exit(f"step is not marked inlined: {line.strip()}")
        if not lo <= ln <= hi:
            sys.exit(f"step at line {ln}, outside its body {lo}-{hi}")
        step += flat
    elif fn == "outer_loop" and ln == call:
        outer += cum
print(f"step (inlined, lines {lo}-{hi}): {step:.1f}% flat; outer_loop at the call site, line {call}: {outer:.1f}% cum")
if step < 50:
    sys.exit("step's lines hold too little of the profile")
if outer < 50:
    sys.exit(f"outer_loop's call site (line {call}) is not where step's samples are")
PY
}

check_lines "$BIN" "$WORK/plain"
# The same binary with its DWARF moved to a separate file, found by .gnu_debuglink.
cp "$BIN" "$WORK/split"
objcopy --only-keep-debug "$WORK/split" "$WORK/split.debug" &&
  objcopy --strip-debug --add-gnu-debuglink="$WORK/split.debug" "$WORK/split" ||
  die "objcopy could not split the debug info"
readelf -S "$WORK/split" | grep -q debug_line && die "the split binary still has DWARF"
check_lines "$WORK/split" "$WORK/split"
# Stripped of its symbol table too (strip --strip-all, as distributions ship binaries):
# function names come from the debug file.
cp "$BIN" "$WORK/stripped"
objcopy --only-keep-debug "$WORK/stripped" "$WORK/stripped.debug" &&
  strip --strip-all "$WORK/stripped" &&
  objcopy --add-gnu-debuglink="$WORK/stripped.debug" "$WORK/stripped" ||
  die "could not strip the binary"
readelf -S "$WORK/stripped" | grep -q '\.symtab' && die "the stripped binary still has .symtab"
check_lines "$WORK/stripped" "$WORK/stripped"
