#!/bin/sh
# run-demo.sh: the README's main job: run the demo runtime under ceoprofd --pid and
# write its profile and traces (out/demo.pb.gz, out/demo.pftrace, out/demo.trace.json). Run from the build directory.
set -eu
out=${CEOPROF_DEMO_OUT:-out}
seconds=${CEOPROF_DEMO_SECONDS:-3}
mkdir -p "$out"
sock="$out/ceoprof.sock"
rm -f "$sock" "$out/demo.trace.json"
CEOPROF_SOCKET="$sock" ./demo --seconds "$seconds" --wait-daemon 3000 &
demo_pid=$!
./ceoprofd --pid "$demo_pid" --socket "$sock" -o "$out/demo"
wait "$demo_pid"
echo "profile: $out/demo.pb.gz (go tool pprof -top $out/demo.pb.gz; -tags for workers and tasks)"
echo "trace:   $out/demo.pftrace (open it in https://ui.perfetto.dev: select a task for its flame graph)"
echo "         $out/demo.trace.json (the same for speedscope and Chrome DevTools)"
