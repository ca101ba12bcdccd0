#!/bin/sh
# harden_setuid.sh: "harden - identity at Hello": under --auto, a process that connects and
# then execs a setuid program, while another process sends the Hello on the socket they
# share, does not get the setuid program profiled: the daemon checks again at the Hello.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
  echo "SKIP: needs root and setpriv to run the client as another user"
  exit 77
fi
chmod 755 "$WORK"
# A setuid-root program that stays a while: a copy of sleep.
cp "$(command -v sleep)" "$WORK/suid-sleep" && chmod 4755 "$WORK/suid-sleep" || die "no setuid copy"
start_daemon --output-dir "$WORK" --auto -v
nobody_python "$SOCK" "$WORK/suid-sleep" >"$WORK/client.out" 2>&1 <<'PY' ||
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
child = os.fork()
if child == 0:
    s.connect(sys.argv[1])          # the daemon takes this pid from SO_PEERCRED
    os.execv(sys.argv[2], [sys.argv[2], "3"])
time.sleep(0.5)                     # the child is the setuid program now
uids = [l for l in open("/proc/%d/status" % child) if l.startswith("Uid:")][0].split()[1:]
print("child", child, "uids", " ".join(uids))
s.sendall(hello_frame("suid", child))
s.settimeout(2)
s.recv(64)
time.sleep(1)
s.close()
os.waitpid(child, 0)
PY
  die "the client failed: $(cat "$WORK/client.out")"
cat "$WORK/client.out"
grep -q "uids 65534 0 0 0" "$WORK/client.out" || { stop_daemon; echo "SKIP: the copy did not run setuid here (nosuid?)"; exit 77; }
stop_daemon || true
cat "$WORK/daemon.log"
grep -q -- "--auto: profiling pid" "$WORK/daemon.log" && die "the setuid program was profiled"
grep -q -- "--auto: not profiling pid .*belongs to another user" "$WORK/daemon.log" ||
  die "no clear refusal: $(cat "$WORK/daemon.log")"
ls "$WORK"/*.pb.gz >/dev/null 2>&1 && die "a profile of the setuid program was written"
echo ok
