#!/bin/sh
# harden_mapfiles.sh: the root daemon reads the files a process mapped, not the paths they
# were mapped from. An unprivileged user maps their own library, then, in a mount namespace of
# their own, bind-mounts a root-only library (same layout, another function name) over its
# path and asks the root daemon to profile the process: the profile names the user's
# function, never the root-only file's (read through /proc/PID/root it would).
. "$(dirname "$0")/lib.sh"
require_perf
require_pprof
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
  echo "SKIP: needs root, setpriv and unshare to act as another user in a mount namespace"
  exit 77
fi
if ! setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urm true 2>/dev/null; then
  echo "SKIP: unprivileged user namespaces are not allowed here (kernel.unprivileged_userns_clone)"
  exit 77
fi
chmod 755 "$WORK"
U="$WORK/user"
mkdir "$U" && chmod 777 "$U"
# Copies the user can run: the build may sit in a folder only root may enter (CI's is).
cp "$top_builddir/tests/.libs/libhot.so" "$U/libhot.so"
cp "$top_builddir/ceoprof" "$U/ceoprof"
if [ "$(head -c 2 "$top_builddir/tests/mapped_workload")" = "#!" ]; then
  cp "$top_builddir/tests/.libs/mapped_workload" "$U/mapped_workload"
else
  cp "$top_builddir/tests/mapped_workload" "$U/mapped_workload"
fi
cp "$top_builddir/tests/.libs/libsecret.so" "$WORK/secret.so"
chmod 600 "$WORK/secret.so"   # root's alone
chmod 755 "$U"/*
start_daemon --output-dir "$WORK"
chmod 755 "$WORK"
cat >"$U/run.sh" <<'SH'
#!/bin/sh
# In the user's own user and mount namespace: map the library, put root's file over its path,
# then let the process run while the root daemon profiles it.
set -e
U=$1
mkfifo "$U/go"
"$U/mapped_workload" "$U/libhot.so" 1.5 <"$U/go" >"$U/wl.out" &
wl=$!
exec 3>"$U/go"
for _ in $(seq 1 100); do grep -q ready "$U/wl.out" 2>/dev/null && break; sleep 0.05; done
mount --bind "$2" "$U/libhot.so"
echo go >&3
CEOPROF_SOCKET=$3 "$U/ceoprof" attach "$wl" -D 1 >"$U/attach.out" 2>&1
wait "$wl"
SH
chmod 755 "$U/run.sh"
setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urm "$U/run.sh" "$U" "$WORK/secret.so" "$SOCK" \
  >"$WORK/run.out" 2>&1 || die "the user's run failed: $(cat "$WORK/run.out" "$U/attach.out" 2>/dev/null)"
cat "$U/attach.out"
stop_daemon || die "daemon failed: $(cat "$WORK/daemon.log")"
prof=$(ls "$WORK"/*.pb.gz | grep -v '\.offcpu\.pb\.gz$' | head -n 1)
[ -n "$prof" ] || die "no profile written: $(cat "$WORK/daemon.log")"
go tool pprof -top "$prof" >"$WORK/top.txt" 2>&1 || die "$(cat "$WORK/top.txt")"
head -n 12 "$WORK/top.txt"
grep -q root_secret_function "$WORK/top.txt" && die "the root-only file's symbols reached the user"
grep -q user_hot_function "$WORK/top.txt" || die "the user's own function is not named: $(cat "$WORK/top.txt")"
echo ok
