#!/bin/sh
# run.sh: `make bench`: client event cost with and without a daemon, 1 and 2 threads,
# printed as a Markdown table (median ns per event of 200 timed bursts each).
set -eu
work=$(mktemp -d)
trap 'kill "$dpid" 2>/dev/null || true; rm -rf "$work"' EXIT
dpid=
export CEOPROF_SOCKET="$work/bench.sock"
row() {  # $1 label, $2 file
  printf '| %s | %s | %s | %s |\n' "$1" "$(sed -n 's/^task begin+end (per event)\t//p' "$2")" \
    "$(sed -n 's/^instant\t//p' "$2")" "$(sed -n 's/^counter\t//p' "$2")"
}
./bench_client --threads 1 >"$work/nd1"
./bench_client --threads 2 >"$work/nd2"
./ceoprofd --socket "$CEOPROF_SOCKET" --output-dir "$work" 2>/dev/null &
dpid=$!
sleep 0.3
./bench_client --threads 1 --wait-daemon 3000 >"$work/d1"
./bench_client --threads 2 --wait-daemon 3000 >"$work/d2"
echo "| libceoprof, ns per event (median) | task begin/end | instant | counter |"
echo "|---|---|---|---|"
row "1 thread, no daemon" "$work/nd1"
row "2 threads, no daemon" "$work/nd2"
row "1 thread, daemon consuming" "$work/d1"
row "2 threads, daemon consuming" "$work/d2"
