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
  "$CEOPROFD" --socket "$SOCK" "$@" 2>"$WORK/daemon.log" &
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

# Waits for the daemon to exit by itself; fails after $1 seconds.
wait_daemon() {
  [ -z "$daemon_pid" ] && return "${daemon_rc:-0}"
  for _ in $(seq 1 $(( $1 * 20 ))); do
    kill -0 "$daemon_pid" 2>/dev/null || { wait "$daemon_pid"; rc=$?; daemon_pid=; return $rc; }
    sleep 0.05
  done
  die "daemon still running after $1 s"
}

# Stops the daemon with SIGTERM and waits for it.
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait_daemon 20
}

# Prints field NAME (e.g. recorded) from a test_client report line.
stat_of() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" | head -n 1; }
