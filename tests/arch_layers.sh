#!/bin/sh
# arch_layers.sh: the daemon's stages include one another one way only (ingest, target,
# output, model, perf and symbolize), with no include circle among its modules.
. "$(dirname "$0")/lib.sh"
$PYTHON3 "$top_srcdir/tests/check_layers.py" "$top_srcdir" || die "the daemon's includes go in a circle"
echo ok
