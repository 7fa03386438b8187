#!/usr/bin/env bash
# GetStats latency (p50/p99) under a SendFrames flood, next to GetVersion on the same
# daemon, in one run. As root: bench/control_plane.sh [BUILD_DIR] (default build).
# Traffic stays on a veth pair in a namespace this script creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
calls=${CALLS:-2000}
[ "$(id -u)" -eq 0 ] || { echo "control_plane.sh: needs root" >&2; exit 1; }
[ -x "$build/bench/control_plane" ] || { echo "control_plane.sh: build $build/bench/control_plane first" >&2; exit 1; }
. scripts/netns.sh
ns=pktpool-cpbench-$$
netns_create "$ns" cp-a cp-b
timeout 300 ip netns exec "$ns" "$build/bench/control_plane" "$build/daemon/pktpoold" cp-a cp-b "$calls"
