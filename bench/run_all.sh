#!/usr/bin/env bash
# run_all.sh: every benchmark, each against its peer in the same run, and the report.
# As root, on a machine as quiet as you can get:
#
#   bench/run_all.sh              # build build-bench (Release), run all, update the report
#
# Runs pool_bench (pools vs malloc, a mutex free list, DPDK rte_mempool),
# veth_throughput.sh (binding send vs a bare sendmmsg loop, trafgen, a bare inject loop and
# tcpreplay; receive vs tcpdump and netsniff-ng), control_plane.sh (GetStats vs GetVersion
# p99 under a send flood), pcap_replay.sh (pktpoolctl send --pcap vs trafgen, a sendmmsg
# loop and tcpreplay), send_timing.sh (pktpoolctl send's timing vs
# tcpreplay's, measured at the peer) and capture_stream.sh (pktpoolctl capture -w through
# the daemon vs tcpdump -w, with 1, 2 and 4 streams) and load.sh (64 GetStats clients, 4
# captures and a top-speed send together vs each alone). Full outputs go to bench/results/<name>.txt;
# the section between the report markers in bench/README.md is rewritten with the
# machine, the commit, each command and its summary (the peer, the ratio, the verdict).
# Environment: the scripts' own (FRAMES, ROUNDS, CALLS, ...), and BENCHES: the names to
# run (default all: pool_bench veth_throughput control_plane pcap_replay send_timing
# capture_stream load; "none" rewrites the report only); the report takes the others from their
# last results/<name>.txt and says so.
# Exits non-zero only when a benchmark cannot run; missed targets are reported, not failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$root/build-bench
results=$here/results
readme=$here/README.md
[ "$(id -u)" -eq 0 ] || { echo "run_all.sh: must run as root (namespaces, raw sockets)" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target pool_bench veth_throughput control_plane load pktpoold pktpoolctl
mkdir -p "$results"

BENCHES=${BENCHES:-"pool_bench veth_throughput control_plane pcap_replay send_timing capture_stream load"}
run() {  # name command... : full output to results/name.txt (only for names in BENCHES)
  local name=$1
  shift
  if ! grep -qw -- "$name" <<<"$BENCHES"; then
    [ -s "$results/$name.txt" ] || { echo "run_all.sh: no earlier results/$name.txt; run $name too" >&2; exit 1; }
    echo "== $name: kept from $(date -u -r "$results/$name.txt" +%Y-%m-%dT%H:%M:%SZ)"
    return
  fi
  echo "== $name: $*"
  "$@" >"$results/$name.txt" 2>&1 || { tail -20 "$results/$name.txt"; echo "run_all.sh: $name failed" >&2; exit 1; }
}
run pool_bench "$build/bench/pool_bench" --benchmark_repetitions=3
run veth_throughput "$here/veth_throughput.sh" "$build"
run control_plane "$here/control_plane.sh" "$build"
run pcap_replay "$here/pcap_replay.sh" "$build"
run send_timing "$here/send_timing.sh" "$build"
run capture_stream "$here/capture_stream.sh" "$build"
run load "$here/load.sh" "$build"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
{
  echo "<!-- report:begin (written by bench/run_all.sh; do not edit by hand) -->"
  echo "## Report: one run of bench/run_all.sh"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet -- . ':!bench/results' ':!bench/README.md' || echo ' (with uncommitted changes)')"
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs," \
    "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), $(g++ --version | head -1)"
  echo "- build: Release, build-bench/; full outputs in [results/](results/)"
  for name in pool_bench veth_throughput control_plane pcap_replay send_timing capture_stream load; do
    grep -qw -- "$name" <<<"$BENCHES" ||
      echo "- $name: kept from an earlier run ($(date -u -r "$results/$name.txt" +%Y-%m-%dT%H:%M:%SZ), results/$name.txt)"
  done
  echo
  echo "### pool_bench: pools vs malloc, a mutex free list, DPDK rte_mempool"
  echo
  echo '`build-bench/bench/pool_bench --benchmark_repetitions=3`'
  echo
  echo '```'
  sed -n '/^Figures of this run/,$p' "$results/pool_bench.txt"
  echo '```'
  echo
  echo "### veth_throughput.sh: binding send vs a sendmmsg loop, trafgen, an inject loop, tcpreplay; receive vs tcpdump, netsniff-ng"
  echo
  echo '`bench/veth_throughput.sh build-bench`'
  echo
  echo '```'
  sed -n '/^== summary/,$p' "$results/veth_throughput.txt"
  echo '```'
  echo
  echo "### control_plane.sh: GetStats p99 vs GetVersion p99 under a send flood"
  echo
  echo '`bench/control_plane.sh build-bench`'
  echo
  echo '```'
  sed -n '/^calls:/,$p' "$results/control_plane.txt"
  echo '```'
  echo
  echo "### pcap_replay.sh: pktpoolctl send --pcap --topspeed vs trafgen, a sendmmsg loop, tcpreplay --topspeed"
  echo
  echo '`bench/pcap_replay.sh build-bench`'
  echo
  echo '```'
  sed -n '/^file /,$p' "$results/pcap_replay.txt"
  echo '```'
  echo
  echo "### send_timing.sh: pktpoolctl send timing vs tcpreplay (--pps, recorded, --mbps, --loop)"
  echo
  echo '`bench/send_timing.sh build-bench`'
  echo
  echo '```'
  sed -n '/^== summary/,$p' "$results/send_timing.txt"
  echo '```'
  echo
  echo "### capture_stream.sh: pktpoolctl capture -w through pktpoold vs tcpdump -w, 1, 2 and 4 streams"
  echo
  echo '`bench/capture_stream.sh build-bench`'
  echo
  echo '```'
  sed -n '/^== summary/,$p' "$results/capture_stream.txt"
  echo '```'
  echo
  echo "### load.sh: 64 GetStats clients, 4 captures and a top-speed send together vs each alone"
  echo
  echo '`bench/load.sh build-bench`'
  echo
  echo '```'
  sed -n '/per phase;/,/^result /p' "$results/load.txt" | grep -v '^result '
  echo '```'
  echo "<!-- report:end -->"
} >"$report"

# Replace the marked section of README.md (or append it the first time).
if grep -q '^<!-- report:begin' "$readme"; then
  awk -v report="$report" '
    /^<!-- report:begin/ { while ((getline line < report) > 0) print line; skip = 1; next }
    /^<!-- report:end/ { skip = 0; next }
    !skip { print }' "$readme" >"$readme.new"
  mv "$readme.new" "$readme"
else
  { echo; cat "$report"; } >>"$readme"
fi
echo "report written to $readme (full outputs in $results/)"
