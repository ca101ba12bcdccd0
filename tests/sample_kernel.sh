#!/bin/sh
# sample_kernel.sh: time in system calls is in the profile without --kernel, as a [kernel]
# leaf under the user frame that made the call, so the profile adds up to the CPU the
# process used (user + system, from its own getrusage), as top shows it; no kernel symbol
# is named without --kernel.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
unset CEOPROF_SOCKET
"$top_builddir/ceoprof" record -F 499 -o "$WORK/k" -- "$top_builddir/tests/syscall_workload" 1.5 \
  >"$WORK/k.out" 2>"$WORK/k.err" || die "record failed: $(cat "$WORK/k.err")"
cat "$WORK/k.out" "$WORK/k.err"
go tool pprof -top "$WORK/k.pb.gz" >"$WORK/top.txt" 2>&1 || die "pprof: $(cat "$WORK/top.txt")"
cat "$WORK/top.txt"
$PYTHON3 - "$WORK/k.out" "$WORK/top.txt" <<'PY' || die "the profile does not hold the process's CPU"
import re, sys
m = re.search(r"cpu_ms user=(\d+) sys=(\d+)", open(sys.argv[1]).read())
user, sys_ms = int(m.group(1)), int(m.group(2))
top = open(sys.argv[2]).read()
units = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}
t = re.search(r"Total samples = ([\d.]+)(ns|us|ms|s)\b", top)
total = float(t.group(1)) * units[t.group(2)]
print(f"profile {total:.0f} ms, process user {user} + sys {sys_ms} = {user + sys_ms} ms")
assert sys_ms > user, "the workload did not spend most of its CPU in the kernel"
assert total >= 0.9 * (user + sys_ms), (total, user + sys_ms)
assert total <= 1.1 * (user + sys_ms) + 20, (total, user + sys_ms)
rows = [l.split() for l in top.splitlines() if re.match(r"\s*[\d.]+(ns|us|ms|s)\s", l)]
flat = {r[-1]: float(r[1].rstrip("%")) for r in rows}
assert flat.get("[kernel]", 0) >= 50, flat
PY
go tool pprof -traces "$WORK/k.pb.gz" >"$WORK/traces.txt" 2>&1 || die "pprof -traces failed"
# The leaf sits on the user frame that made the call (libc's write; its caller is lost to
# the frame-pointer walk through libc, as with perf -g).
grep -A1 '\[kernel\]$' "$WORK/traces.txt" | grep -Eq '^ +write$' || die "[kernel] is not under write"
# Without --kernel no kernel address is named.
go tool pprof -raw "$WORK/k.pb.gz" 2>/dev/null | grep -Eq "entry_SYSCALL|do_syscall|ksys_write" &&
  die "kernel symbols in a profile made without --kernel"
grep -q "kernel time as a \[kernel\] leaf" "$WORK/k.err" || die "the summary does not say how kernel time is counted"
# A user whom perf_event_paranoid denies kernel samples (2 is Debian's default) still gets
# a profile of the user time, and the summary and the pprof say kernel time is left out.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
   [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -ge 2 ]; then
  # Copies the user can run: the build may sit in a folder only root may enter (CI's is).
  mkdir "$WORK/nobody" && chmod 777 "$WORK/nobody" && chmod 755 "$WORK"
  cp "$top_builddir/ceoprof" "$top_builddir/tests/syscall_workload" "$WORK/nobody/"
  XDG_RUNTIME_DIR="$WORK/nobody" setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$WORK/nobody/ceoprof" record -F 499 -o "$WORK/nobody/k" -- \
    "$WORK/nobody/syscall_workload" 0.5 >"$WORK/nb.out" 2>"$WORK/nb.err" ||
    die "an unprivileged record failed: $(cat "$WORK/nb.err")"
  cat "$WORK/nb.err"
  grep -q "kernel time not sampled (perf_event_paranoid" "$WORK/nb.err" || die "the summary does not say kernel time is left out"
  go tool pprof -top "$WORK/nobody/k.pb.gz" 2>/dev/null | grep -q "^kernel: kernel time not sampled" ||
    die "the pprof does not say kernel time is left out"
else
  echo "note: not root, no setpriv, or perf_event_paranoid below 2: the unprivileged case is not exercised"
fi
echo ok
