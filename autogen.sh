#!/bin/sh
# autogen.sh: regenerate the autotools build files from a git checkout.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --install --force
