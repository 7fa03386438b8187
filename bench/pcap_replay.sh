#!/usr/bin/env bash
# pcap_replay.sh: `pktpoolctl send --pcap FILE --topspeed` (through the gRPC API and
# pktpoold's binding) against `tcpreplay --topspeed --preload-pcap` of the same file on
# the same veth end, measured in the same run, alternating, ROUNDS times. As root:
#
#   bench/pcap_replay.sh [BUILD_DIR]            # default BUILD_DIR: build (next to bench/)
#
# Creates a namespace with a veth pair (replay-a <-> replay-b) through scripts/netns.sh;
# frames go out on replay-a only; the namespace and the daemon (ended by PID) go on exit.
# Files (written by bench/veth_throughput write-pcap: 02:..:01 -> 02:..:02, 0x88B5):
#   large: FRAMES frames of SIZE bytes, sent once: pktpoolctl streams it in messages;
#   small: 1000 frames, --loop FRAMES/1000: pktpoolctl sends it once and the daemon
#          repeats it (as tcpreplay's --preload-pcap keeps the file in memory).
# Target: pktpoolctl frames/s / tcpreplay frames/s >= 1.0. Environment: FRAMES (default
# 1000000), SIZES (default "64 1514"), ROUNDS (default 3). A report: exits 0 whether or
# not the target is met, non-zero when it cannot run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
FRAMES=${FRAMES:-1000000}
SIZES=${SIZES:-"64 1514"}
ROUNDS=${ROUNDS:-3}
writer=$build/bench/veth_throughput
daemon=$build/daemon/pktpoold
ctl=$build/client/pktpoolctl/pktpoolctl

die() { echo "pcap_replay.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, raw sockets)"
for f in "$writer" "$daemon" "$ctl"; do
  [ -x "$f" ] || die "$f not built; run: cmake --build $build -j2"
done
command -v tcpreplay >/dev/null || die "tcpreplay not found; scripts/install-deps.sh installs it"

# shellcheck source=../scripts/netns.sh
source "$root/scripts/netns.sh"
ns=pktpool-replay-$$
ifa=replay-a
ifb=replay-b
tmp=$(mktemp -d)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
  _pktpool_netns_cleanup
}
netns_create "$ns" "$ifa" "$ifb" || die "cannot create namespace $ns"
# netns_create installed its own trap; ours also removes the namespace, and more.
trap cleanup EXIT
trap 'exit 130' INT TERM

socket=$tmp/pktpoold.sock
ip netns exec "$ns" "$daemon" --socket "$socket" --bind "$ifa" 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { cat "$tmp/daemon.log"; die "pktpoold did not start"; }

limit=$((FRAMES / 50000 + 60))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

run_tcpreplay() {  # file loop -> frames/s
  timeout "$limit" ip netns exec "$ns" tcpreplay --topspeed --preload-pcap --loop "$2" \
    -i "$ifa" "$1" >"$tmp/tcpreplay.out" 2>&1 || { cat "$tmp/tcpreplay.out" >&2; die "tcpreplay failed"; }
  awk '/Rated:/ { for (i = 1; i <= NF; ++i) if ($i ~ /^pps/) printf "%.0f", $(i - 1) }' \
    "$tmp/tcpreplay.out"
}
run_pktpoolctl() {  # file loop -> frames/s
  timeout "$limit" "$ctl" --socket "$socket" -o json send "$ifa" --pcap "$1" --topspeed \
    --loop "$2" >"$tmp/ctl.out" 2>&1 || { cat "$tmp/ctl.out" >&2; die "pktpoolctl send failed"; }
  grep -q '"frames_failed": 0' "$tmp/ctl.out" || { cat "$tmp/ctl.out" >&2; die "frames failed"; }
  sed -n 's/.*"frames_per_second": \([0-9.]*\).*/\1/p' "$tmp/ctl.out" | awk '{ printf "%.0f", $1 }'
}

echo "pcap_replay: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)," \
  "$(tcpreplay --version 2>&1 | head -1)"
echo "namespace $ns: $ifa <-> $ifb (veth); pktpoold binds $ifa; FRAMES=$FRAMES, ROUNDS=$ROUNDS"
echo
printf '%-22s %14s %14s %7s\n' "file" "pktpoolctl/s" "tcpreplay/s" "ratio"
for size in $SIZES; do
  large=$tmp/large-$size.pcap
  small=$tmp/small-$size.pcap
  "$writer" write-pcap "$large" --frames "$FRAMES" --size "$size" >/dev/null || die "write-pcap failed"
  "$writer" write-pcap "$small" --frames 1000 --size "$size" >/dev/null || die "write-pcap failed"
  for kind in large small; do
    file=$large; loop=1
    [ "$kind" = small ] && { file=$small; loop=$((FRAMES / 1000)); }
    ours=(); theirs=(); ratios=()
    for _ in $(seq "$ROUNDS"); do
      a=$(run_pktpoolctl "$file" "$loop")
      b=$(run_tcpreplay "$file" "$loop")
      ours+=("$a"); theirs+=("$b"); ratios+=("$(ratio "$a" "$b")")
    done
    if [ "$loop" -gt 1 ]; then label="$kind ${size}B x1000 loop $loop"; else label="$kind ${size}B x$FRAMES"; fi
    printf '%-22s %14s %14s %7s   (rounds: %s)\n' "$label" "$(median "${ours[@]}")" \
      "$(median "${theirs[@]}")" "$(median "${ratios[@]}")" "${ratios[*]}"
  done
done
echo
echo "ratio = pktpoolctl frames/s / tcpreplay frames/s, median of $ROUNDS alternating rounds;" \
  "target >= 1.0"
