# lib.sh: helpers shared by the integration test scripts (sourced, not run).
set -eu
: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${PYTHON3:=python3}"
CEOPROFD="$top_builddir/ceoprofd"
CLIENT="$top_builddir/tests/test_client"
VALIDATE="$PYTHON3 $top_srcdir/tests/validate_trace.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ceoprof-test.XXXXXX")
SOCK="$WORK/ceoprof.sock"
export CEOPROF_SOCKET="$SOCK"
daemon_pid=

cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

die() { echo "FAIL: $*" >&2; exit 1; }

# Starts ceoprofd in the background with the given arguments; waits for its socket.
start_daemon() {
  "$CEOPROFD" --socket "$SOCK" "$@" >>"$WORK/daemon.out" 2>"$WORK/daemon.log" &
  daemon_pid=$!
  for _ in $(seq 1 100); do
    [ -S "$SOCK" ] && return 0
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      # A --pid daemon whose target was quick may already be done; that is fine if it succeeded.
      daemon_rc=0
      wait "$daemon_pid" || daemon_rc=$?
      daemon_pid=
      [ "$daemon_rc" = 0 ] && return 0
      cat "$WORK/daemon.log"
      die "daemon exited at start (status $daemon_rc)"
    fi
    sleep 0.05
  done
  die "daemon socket never appeared"
}

# Runs the Python script on stdin, with ARGS, as uid 65534 (chmod 755 "$WORK" first). It
# runs from $WORK with the system's python3: the user may not enter the build folder (CI's
# is root's alone). The script may call hello_frame(service, pid): a framed Hello.
nobody_python() {
  nbpy=/usr/bin/python3
  [ -x "$nbpy" ] || nbpy=$PYTHON3
  { cat <<'PY'
import os, socket, struct, sys, time
def varint(n):
    out = b""
    while True:
        out += bytes([(n & 0x7f) | (0x80 if n >> 7 else 0)])
        n >>= 7
        if not n:
            return out
def hello_frame(service, pid):
    h = varint(1 << 3) + varint(2) + varint(2 << 3 | 2) + varint(len(service)) + service.encode()
    h += varint(3 << 3) + varint(pid)
    body = varint(1 << 3 | 2) + varint(len(h)) + h
    return struct.pack("<I", len(body)) + body
PY
    cat; } >"$WORK/nobody.py"
  chmod 644 "$WORK/nobody.py"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$nbpy" "$WORK/nobody.py" "$@"
}

# Waits for the daemon to exit by itself; fails after $1 seconds.
wait_daemon() {
  [ -z "$daemon_pid" ] && return "${daemon_rc:-0}"
  for _ in $(seq 1 $(( $1 * 20 ))); do
    kill -0 "$daemon_pid" 2>/dev/null || { wait "$daemon_pid"; rc=$?; daemon_pid=; return $rc; }
    sleep 0.05
  done
  die "daemon still running after $1 s"
}

# Waits up to 5 s for a line matching $1 in the daemon's log (true when it came).
wait_log() {
  for _ in $(seq 1 100); do
    grep -q -- "$1" "$WORK/daemon.log" && return 0
    sleep 0.05
  done
  return 1
}

# Stops the daemon with SIGTERM and waits for it.
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait_daemon 20
}

# Prints field NAME (e.g. recorded) from a test_client report line.
stat_of() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" | head -n 1; }

# Skips (exit 77) where this user may not sample other processes with perf_event_open.
# True in a build with AddressSanitizer: its shadow memory and quarantine are most of the
# daemon's RSS there, so the tests bound the daemon's memory in the plain builds only.
asan_build() {
  grep -q __asan_init "$CEOPROFD" 2>/dev/null
}

require_perf() {
  paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 3)
  if [ "$(id -u)" != 0 ] && [ "$paranoid" -gt 1 ]; then
    echo "SKIP: not root and kernel.perf_event_paranoid=$paranoid: perf sampling is not permitted"
    exit 77
  fi
}

# Fails unless `go tool pprof` is there to judge our output.
require_pprof() {
  command -v go >/dev/null 2>&1 || die "go is not installed (apt-get install golang-go): go tool pprof judges the output"
  export HOME="${HOME:-/root}" GOFLAGS=-mod=mod GOTOOLCHAIN=local
}

# Flat percentage of function $2 in `go tool pprof -top` output file $1 (0 when absent).
flat_pct() {
  awk -v fn="$2" '$NF == fn { sub("%", "", $2); print $2; found = 1; exit } END { if (!found) print 0 }' "$1"
}

# Succeeds when |$1 - $2| <= $3 (floating point).
near() {
  awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}

# Share (%) of function $2 among all functions listed in `go tool pprof -top` file $1: with
# -tagfocus, pprof's own percentages stay relative to the whole profile.
focus_share() {
  awk -v fn="$2" '/flat%/ { on = 1; next } on && NF >= 6 { v = $2; sub("%", "", v); tot += v; if ($NF == fn) f = v }
    END { if (tot > 0) print 100 * f / tot; else print 0 }' "$1"
}
