#!/bin/sh
# dev.sh: installs what is missing (Debian, as root), builds, and runs the main job or the tests.
#   ./dev.sh demo    profile the bundled demo runtime: out/demo.trace.json
#   ./dev.sh test    run the whole test suite (make check)
#   ./dev.sh bench   run the benchmarks (make bench) and print their Markdown table
set -eu
cd "$(dirname "$0")"

DEPS="build-essential autoconf automake libtool pkg-config protobuf-c-compiler libprotobuf-c-dev
check zlib1g-dev libelf-dev libdw-dev libunwind-dev libcurl4-openssl-dev libjson-c-dev python3 golang-go linux-perf protobuf-compiler
clang valgrind liblttng-ust-dev lttng-tools bpftool libbpf-dev"

install_missing() {
  missing=
  for p in $DEPS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "dev.sh: missing packages:$missing; install them as root (apt-get install$missing)" >&2
    exit 1
  fi
  echo "dev.sh: installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The viewers the tests load traces in: Debian's chromium, speedscope from npm.
install_viewers() {
  command -v chromium >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    [ -f "$(npm root -g)/speedscope/dist/release/index.html" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "dev.sh: the speedscope test needs chromium and speedscope (apt-get install chromium npm;" \
         "npm install -g speedscope); it skips without them" >&2
    return 0
  fi
  command -v chromium >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
      $(command -v npm >/dev/null 2>&1 || echo npm) >/dev/null
  }
  npm install -g --no-audit --no-fund speedscope@1.25.0 >/dev/null
}

build() {
  [ -x configure ] || ./autogen.sh
  [ -f Makefile ] || ./configure ${CONFIGURE_FLAGS:-}
  make -j"$(nproc)"
}

case "${1:-}" in
  demo)
    install_missing
    build
    make demo-run
    ;;
  bench)
    install_missing
    [ ! -f Makefile ] || grep -q '^BENCH_LTTNG = bench_lttng' Makefile || ./configure ${CONFIGURE_FLAGS:-}
    build
    make bench
    ;;
  test)
    install_missing
    install_viewers
    build
    make -j"$(nproc)" check || { cat test-suite.log 2>/dev/null | tail -400; exit 1; }
    ;;
  *)
    echo "usage: ./dev.sh demo|test|bench" >&2
    exit 2
    ;;
esac
