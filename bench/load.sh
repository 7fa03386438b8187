#!/usr/bin/env bash
# pktpoold under load: 64 clients calling GetStats in a loop, 4 capture streams and a
# top-speed send, together for SECONDS (default 60), against the send alone, GetStats
# alone and the send with each other load, in one run (bench/load.cc). As root:
# bench/load.sh [BUILD_DIR] (default build).
# Traffic stays on a veth pair in a namespace this script creates and deletes; the daemon
# is started and ended (by PID) by the benchmark. A report: exits 0 whether or not the
# targets are met (send together >= 0.9x alone, GetStats p99 together <= 2x alone).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${SECONDS_PER_PHASE:-60}
[ "$(id -u)" -eq 0 ] || { echo "load.sh: needs root (network namespaces, raw sockets)" >&2; exit 1; }
[ -x "$build/bench/load" ] || { echo "load.sh: build $build/bench/load first (cmake --build $build --target load)" >&2; exit 1; }
daemon_nice=${DAEMON_NICE:-0}   # pktpoold's nice value (as Nice= in its unit would set)
[[ "$daemon_nice" =~ ^-?[0-9]+$ ]] && [ "$daemon_nice" -ge -20 ] && [ "$daemon_nice" -le 19 ] ||
  { echo "load.sh: DAEMON_NICE must be -20 to 19, not '$daemon_nice'" >&2; exit 1; }
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] && [ "$seconds" -le 600 ] ||
  { echo "load.sh: SECONDS_PER_PHASE must be 1 to 600, not '$seconds'" >&2; exit 1; }
. scripts/netns.sh
ns=pktpool-load-$$
netns_create "$ns" load-a load-b
echo "load: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
timeout $((seconds * 5 + 180)) ip netns exec "$ns" "$build/bench/load" "$build/daemon/pktpoold" \
  load-a load-b "$seconds" "$daemon_nice"
