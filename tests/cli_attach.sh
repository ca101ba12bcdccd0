#!/bin/sh
# cli_attach.sh: "ceoprof attach/status/detach" against a real ceoprofd in service mode,
# attach without a daemon (the engine in-process), and the errors a user meets.
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
CEOPROF="$top_builddir/ceoprof"
WORKLOAD="$top_builddir/tests/cpu_workload"

# Errors before any daemon: one clear line, a non-zero status.
expect_error() {  # expected-status expected-text command...
  want=$1 text=$2; shift 2
  rc=0; "$@" >"$WORK/err.out" 2>"$WORK/err.txt" || rc=$?
  [ "$rc" = "$want" ] || die "'$*' exited $rc, expected $want: $(cat "$WORK/err.txt")"
  grep -q -- "$text" "$WORK/err.txt" || die "'$*' said '$(cat "$WORK/err.txt")', expected '$text'"
}
expect_error 2 "unknown command 'frobnicate'" "$CEOPROF" frobnicate
expect_error 2 "Try 'ceoprof attach --help'" "$CEOPROF" attach --bogus 1
expect_error 2 "give one process id" "$CEOPROF" attach
expect_error 1 "no process with pid 4194000" "$CEOPROF" attach 4194000
expect_error 1 "no ceoprofd on $SOCK" "$CEOPROF" status
expect_error 1 "no ceoprofd on $SOCK" "$CEOPROF" detach 1
expect_error 1 "is not a pprof profile" "$CEOPROF" report "$top_srcdir/README.md"
"$CEOPROF" --help | grep -q "ceoprof record" || die "--help does not list record"
"$CEOPROF" help report | grep -q -- "--by function" || die "help report lacks --by"

# No daemon: attach runs the engine itself and serves the socket the client looks for.
"$WORKLOAD" 3 >"$WORK/w0.out" &
w0=$!
sleep 0.3
"$CEOPROF" attach "$w0" -F 499 -D 1.5 -o "$WORK/direct" >"$WORK/direct.out" 2>"$WORK/direct.err" ||
  die "direct attach failed: $(cat "$WORK/direct.err")"
cat "$WORK/direct.out" "$WORK/direct.err"
grep -q "profiling pid $w0 directly" "$WORK/direct.err" || die "attach did not say it ran directly"
grep -q "wrote $WORK/direct.pb.gz" "$WORK/direct.err" || die "no pprof path printed on stderr"
[ ! -s "$WORK/direct.out" ] || die "attach wrote on stdout: $(cat "$WORK/direct.out")"
go tool pprof -tags "$WORK/direct.pb.gz" >"$WORK/direct.tags" 2>&1 || die "pprof cannot read it"
grep -q ": alpha\$" "$WORK/direct.tags" || die "direct attach: no worker labels (client not served)"
wait "$w0"

# Service mode: attach asks the daemon; status shows it; detach from another ceoprof ends it.
start_daemon --output-dir "$WORK" -v
"$WORKLOAD" 30 >"$WORK/w1.out" &   # outlives the checks below; killed at the end
w1=$!
sleep 0.3
"$CEOPROF" attach "$w1" -F 299 -o "$WORK/svc" >"$WORK/attach.out" 2>"$WORK/attach.err" &
ap=$!
sleep 1.5
"$CEOPROF" status >"$WORK/status.txt" 2>&1 || die "status failed: $(cat "$WORK/status.txt")"
cat "$WORK/status.txt"
grep -Eq "^ +$w1 +cpuworkload .* 299 .*attach\$" "$WORK/status.txt" || die "status does not list the profile"
grep -Eq "^ +$w1 +cpuworkload +1 " "$WORK/status.txt" || die "status does not list the client"
expect_error 1 "already being profiled" "$CEOPROF" attach "$w1"
"$CEOPROF" detach "$w1" >"$WORK/detach.out" 2>&1 || die "detach failed: $(cat "$WORK/detach.out")"
cat "$WORK/detach.out"
grep -q "profile ended (detached)" "$WORK/detach.out" || die "detach did not report the end"
wait "$ap" || die "attach failed after the detach: $(cat "$WORK/attach.err")"
cat "$WORK/attach.out" "$WORK/attach.err"
grep -q "wrote $WORK/svc.pb.gz" "$WORK/attach.err" || die "attach did not print the pprof path"
grep -q "wrote $WORK/svc.trace.json" "$WORK/attach.err" || die "attach did not print the trace path"
# The daemon's profile comes with the summary a direct attach prints (top functions too).
grep -q "top functions (self):" "$WORK/attach.err" || die "no summary from the daemon: $(cat "$WORK/attach.err")"
grep -Eq "^ +[0-9.]+%  burn_" "$WORK/attach.err" || die "the summary lacks the workload's functions"
samples=$(sed -n 's/.*: \([0-9]*\) samples.*/\1/p' "$WORK/attach.err")
[ "$samples" -gt 100 ] || die "only $samples samples in 1.5 s at 299 Hz"
$PYTHON3 "$top_srcdir/tests/check_pprof.py" "$WORK/svc.pb.gz" || die "the pprof breaks Pyroscope's rules"
$VALIDATE "$WORK/svc.trace.json" >/dev/null || die "the trace does not validate"

# Ctrl-C (SIGINT) ends an attach cleanly: both files, exit 0.
"$CEOPROF" attach "$w1" -o "$WORK/int" >"$WORK/int.out" 2>&1 &
ip=$!
sleep 0.8
kill -INT "$ip"
wait "$ip" || die "attach interrupted failed: $(cat "$WORK/int.out")"
[ -s "$WORK/int.pb.gz" ] && [ -s "$WORK/int.trace.json" ] || die "Ctrl-C lost the files"

# A missing output folder: one clear line at once, from the command and from the daemon
# (a prefix the command cannot check itself), which stays idle and answers SIGTERM.
rc=0; t0=$(date +%s%N)
"$CEOPROF" attach "$w1" -D 1 -o "$WORK/missing/x" >/dev/null 2>"$WORK/miss.err" || rc=$?
t1=$(date +%s%N)
[ "$rc" = 1 ] || die "attach into a missing folder returned $rc: $(cat "$WORK/miss.err")"
grep -q "cannot write .*missing.*No such file or directory" "$WORK/miss.err" ||
  die "unclear error: $(cat "$WORK/miss.err")"
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || die "the error took $(( (t1 - t0) / 1000000 )) ms"
# The daemon checks too (a request from another client than ceoprof): an Error at once.
$PYTHON3 - "$SOCK" "$w1" "$WORK/missing/x" "$top_srcdir" >"$WORK/miss_daemon.txt" 2>&1 <<'PY' ||
import socket, struct, sys
sys.path.insert(0, sys.argv[4] + "/tests")
from send_frames import field_bytes, field_varint, frame, read_frame
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(2)
s.sendall(frame(9, field_varint(1, int(sys.argv[2])) + field_varint(3, 1000) + field_bytes(4, sys.argv[3])))
reply = read_frame(s)
assert reply and reply[0] == (8 << 3 | 2), reply  # Frame.error
assert b"No such file or directory" in reply, reply
print("daemon refused:", reply[4:].decode(errors="replace"))
PY
  die "the daemon did not refuse a missing folder: $(cat "$WORK/miss_daemon.txt")"
cat "$WORK/miss_daemon.txt"
"$CEOPROF" status >"$WORK/status2.txt" 2>&1
grep -Eq "^ +$w1 .* attach\$" "$WORK/status2.txt" && die "a profile was left running: $(cat "$WORK/status2.txt")"

# A user who could not ptrace the target is refused by the daemon, which runs as root.
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  chmod 755 "$WORK"
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$CEOPROF" attach "$w1" -D 1 \
    >"$WORK/nobody.out" 2>"$WORK/nobody.err" || rc=$?
  cat "$WORK/nobody.err"
  [ "$rc" = 1 ] || die "uid 65534 could attach to a root process (status $rc)"
  grep -q "belongs to another user" "$WORK/nobody.err" || die "unclear refusal: $(cat "$WORK/nobody.err")"
  # A user sees their own profiles and clients in status, not root's.
  setpriv --reuid=65534 --regid=65534 --clear-groups "$CEOPROF" status >"$WORK/nbstatus.txt" 2>&1 ||
    die "status as uid 65534 failed: $(cat "$WORK/nbstatus.txt")"
  grep -Eq "^ +$w1 " "$WORK/nbstatus.txt" && die "uid 65534 sees root's process in status: $(cat "$WORK/nbstatus.txt")"
  # A plain client's trace in service mode is its user's, as an attach's files are. (A
  # client in Python: the build may sit in a folder only root may enter, as CI's does.)
  nobody_python "$SOCK" >"$WORK/nbclient.out" 2>&1 <<'PY' ||
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(hello_frame("nobody", os.getpid()))
s.recv(64)
s.close()
PY
    die "the client as uid 65534 failed: $(cat "$WORK/nbclient.out")"
  for _ in $(seq 1 100); do
    nbtrace=$(ls -t "$WORK"/nobody-*.trace.json 2>/dev/null | head -n 1)
    [ -n "$nbtrace" ] && break
    sleep 0.05
  done
  [ -n "$nbtrace" ] || die "no trace for the client of uid 65534"
  [ "$(stat -c %u "$nbtrace")" = 65534 ] || die "the client's trace belongs to uid $(stat -c %u "$nbtrace")"
  # A kernel thread has no user code: refused with a word why.
  kt=$(for p in /proc/[0-9]*; do f=$(awk '{print $9}' "$p/stat" 2>/dev/null) &&
       [ -n "$f" ] && [ $(( f & 2097152 )) -ne 0 ] && { basename "$p"; break; }; done)
  if [ -n "$kt" ]; then
    expect_error 1 "is a kernel thread" "$CEOPROF" attach "$kt" -D 1
  fi
  # The user's uid but group 0: not theirs to ptrace (nor to profile).
  setpriv --reuid=65534 --regid=0 --clear-groups sleep 30 &
  g0=$!
  sleep 0.3
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$CEOPROF" attach "$g0" -D 1 \
    >"$WORK/gid0.out" 2>"$WORK/gid0.err" || rc=$?
  kill "$g0"
  wait "$g0" 2>/dev/null || true
  cat "$WORK/gid0.err"
  [ "$rc" = 1 ] || die "uid 65534 could attach to a process of group 0 (status $rc)"
  grep -q "runs with another group (gid 0" "$WORK/gid0.err" || die "unclear refusal: $(cat "$WORK/gid0.err")"
  # Kernel frames for a user the system hides kernel addresses from: refused, even for
  # their own process.
  if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -ge 2 ] ||
     [ "$(cat /proc/sys/kernel/kptr_restrict)" != 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups sleep 30 &
    own=$!
    sleep 0.3
    rc=0
    setpriv --reuid=65534 --regid=65534 --clear-groups "$CEOPROF" attach "$own" -k -D 1 \
      >"$WORK/k.out" 2>"$WORK/k.err" || rc=$?
    kill "$own"
    wait "$own" 2>/dev/null || true
    cat "$WORK/k.err"
    [ "$rc" = 1 ] || die "uid 65534 got kernel frames (status $rc)"
    grep -q "kernel frames would show kernel addresses" "$WORK/k.err" || die "unclear refusal: $(cat "$WORK/k.err")"
  fi
else
  echo "note: not root or no setpriv; the permission refusal is not exercised here"
fi
kill "$w1"
wait "$w1" || true
stop_daemon || die "the daemon failed: $(cat "$WORK/daemon.log")"
echo ok
