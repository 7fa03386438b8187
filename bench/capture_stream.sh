#!/usr/bin/env bash
# capture_stream.sh: `pktpoolctl capture -w` through pktpoold against `tcpdump -w` on the
# same kind of burst, in one run. As root:
#
#   bench/capture_stream.sh [BUILD_DIR]        # default BUILD_DIR: build (next to bench/)
#
# Creates a network namespace with a veth pair (vethA <-> vethB) through scripts/netns.sh
# (deleted on exit); every frame is sent on vethA inside it and nowhere else. pktpoold runs
# in the namespace, bound to vethB with the default options. A burst is FRAMES frames of
# SIZE bytes (ethertype 0x88B5) from `veth_throughput blast vethA` (AF_PACKET sendmmsg,
# 64 per call: the fastest this machine sends).
#
# Per stream count N in STREAMS and per round: N `pktpoolctl -o json capture vethB -w F
# -c FRAMES` at once, then, for a second identical burst, N `tcpdump -i vethB -w F -c
# FRAMES` at once (default ring, as a user runs it), and for a third the same with
# --immediate-mode (no 1 s buffer timeout); the order alternates by round. Each capture ends when it has every frame or TIMEOUT seconds after the burst
# (then SIGINT: pktpoolctl asks the daemon for its final counts, tcpdump prints its own).
# Per tool: the fewest frames any of its N captures got, frames lost (pktpoolctl: by
# reason, from its summary; tcpdump: "dropped by kernel"), and delivered frames/s: FRAMES
# over the seconds from the burst's start until the slowest capture of the N had written
# every frame (only when all got every frame). Per tool the median round (by frames
# captured) of ROUNDS.
# Target: pktpoolctl/tcpdump delivered rate >= 1.0 and no more loss than tcpdump.
#
# Environment: FRAMES (default 1000000), SIZE (64), STREAMS (default "1 2 4"), ROUNDS (3),
# TIMEOUT (seconds after a burst, default 20). It is a report: exits 0 whether or not
# the targets are met, non-zero when it cannot run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
FRAMES=${FRAMES:-1000000}
SIZE=${SIZE:-64}
STREAMS=${STREAMS:-"1 2 4"}
ROUNDS=${ROUNDS:-3}
TIMEOUT=${TIMEOUT:-20}

die() { echo "capture_stream.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, raw sockets)"
for b in bench/veth_throughput daemon/pktpoold client/pktpoolctl/pktpoolctl; do
  [ -x "$build/$b" ] || die "no $build/$b; build it: cmake --build $build --target veth_throughput pktpoold pktpoolctl"
done
for tool in ip tcpdump awk python3; do
  command -v "$tool" >/dev/null || die "'$tool' not found; scripts/install-deps.sh installs it"
done
[[ "$FRAMES" =~ ^[1-9][0-9]*$ ]] && [ "$FRAMES" -ge 1000 ] || die "FRAMES must be an integer >= 1000"
[[ "$SIZE" =~ ^[0-9]+$ ]] && [ "$SIZE" -ge 60 ] && [ "$SIZE" -le 1514 ] || die "SIZE must be 60 to 1514"
[[ "$ROUNDS" =~ ^[1-9]$ ]] || die "ROUNDS must be 1 to 9"
for n in $STREAMS; do [[ "$n" =~ ^[1-8]$ ]] || die "STREAMS must list counts 1 to 8, not '$n'"; done

. "$root/scripts/netns.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

ns=pktpool-capbench-$$
work=$(mktemp -d /tmp/pktpool-capbench.XXXXXX)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  _pktpool_netns_cleanup
  rm -rf "$work"
}
netns_create "$ns" vethA vethB || die "cannot create the namespace"
trap cleanup EXIT  # after netns_create, whose own trap this replaces (cleanup calls it)
trap 'exit 130' INT TERM
in_ns() { ip netns exec "$ns" "$@"; }  # foreground only: in the background $! is a subshell

socket=$work/pktpoold.sock
# Started by `ip netns exec` directly (it execs the program), so $! is the program itself.
ip netns exec "$ns" "$build/daemon/pktpoold" --socket "$socket" --bind vethB 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || die "pktpoold did not start: $(cat "$work/daemon.log")"
ctl() { "$build/client/pktpoolctl/pktpoolctl" --socket "$socket" "$@"; }

now() { date +%s.%N; }

# burst: one burst from vethA; prints the sender's frames/s.
burst() {
  in_ns "$build/bench/veth_throughput" blast vethA --frames "$FRAMES" --size "$SIZE" |
    awk '/^result/ { for (i = 1; i <= NF; i++) if ($i ~ /^fps=/) { sub("fps=", "", $i); printf "%.0f", $i } }'
}

# finish START PIDS...: waits for the captures (at most TIMEOUT s after the burst, then
# SIGINT, then 10 s more); prints the seconds from START until the last one exited by
# itself, or "-" when any had to be stopped.
finish() {
  local start=$1
  shift
  local deadline=$((SECONDS + TIMEOUT)) stopped=0 last=""
  local pending=("$@")
  while [ ${#pending[@]} -gt 0 ] && [ $SECONDS -lt $deadline ]; do
    local still=()
    for p in "${pending[@]}"; do
      if kill -0 "$p" 2>/dev/null; then still+=("$p"); else last=$(now); fi
    done
    pending=("${still[@]}")
    [ ${#pending[@]} -gt 0 ] && sleep 0.01
  done
  for p in "${pending[@]}"; do kill -INT "$p" 2>/dev/null || true; stopped=1; done
  for p in "$@"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ $stopped -eq 1 ] || [ -z "$last" ]; then echo "-"; else awk -v a="$start" -v b="$last" 'BEGIN { printf "%.4f", b - a }'; fi
}

# one_pktpool N ROUND: prints "burst_fps min_captured lost pool queue stalled kernel seconds"
one_pktpool() {
  local n=$1 round=$2 pids=() i
  for i in $(seq "$n"); do
    # Not through ctl(): in the background $! would be a subshell, and SIGINT must reach
    # pktpoolctl itself (it then asks the daemon for the final counts).
    "$build/client/pktpoolctl/pktpoolctl" --socket "$socket" -o json capture vethB \
      -w "$work/p$i.pcap" -c "$FRAMES" >"$work/p$i.json" 2>"$work/p$i.err" &
    pids+=($!)
  done
  for i in $(seq "$n"); do
    wait_for "capturing on" "$work/p$i.err" "${pids[$((i - 1))]}" 10 || die "pktpoolctl capture did not start: $(cat "$work/p$i.err")"
  done
  local start fps seconds
  start=$(now)
  fps=$(burst)
  seconds=$(finish "$start" "${pids[@]}")
  for i in $(seq "$n"); do cp "$work/p$i.err" "$work/round$round-n$n-pktpool$i.err"; done
  python3 - "$n" "$work" "$fps" "$seconds" <<'EOF'
import json, sys
n, work, fps, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
worst = None
for i in range(1, n + 1):
    lines = [l for l in open(f"{work}/p{i}.json") if l.startswith('{"summary"')]
    if not lines:
        print(f"{fps} 0 -1 0 0 0 0 -"); sys.exit(0)
    s = json.loads(lines[-1])["summary"]
    d = s["dropped"]
    row = (s["captured"], d["pool_empty"] + d["queue_full"] + d["stalled"] + d["kernel"],
           d["pool_empty"], d["queue_full"], d["stalled"], d["kernel"])
    if worst is None or row[0] < worst[0]: worst = row
print(fps, *worst, seconds)
EOF
}

# one_tcpdump N ROUND [FLAGS...]: prints "burst_fps min_captured lost kernel seconds"
one_tcpdump() {
  local n=$1 round=$2 pids=() i
  shift 2
  for i in $(seq "$n"); do
    ip netns exec "$ns" tcpdump "$@" -i vethB -w "$work/t$i.pcap" -c "$FRAMES" 2>"$work/t$i.err" &
    pids+=($!)
  done
  for i in $(seq "$n"); do
    wait_for "listening on" "$work/t$i.err" "${pids[$((i - 1))]}" 10 || die "tcpdump did not start: $(cat "$work/t$i.err")"
  done
  local start fps seconds
  start=$(now)
  fps=$(burst)
  seconds=$(finish "$start" "${pids[@]}")
  for i in $(seq "$n"); do cp "$work/t$i.err" "$work/round$round-n$n-tcpdump$i${1:+-imm}.err"; done
  local worst_captured="" worst_lost=0 worst_kernel=0
  for i in $(seq "$n"); do
    local captured kernel
    captured=$(awk '/packets captured/ { print $1 }' "$work/t$i.err")
    kernel=$(awk '/dropped by kernel/ { print $1 }' "$work/t$i.err")
    captured=${captured:-0}
    kernel=${kernel:-0}
    if [ -z "$worst_captured" ] || [ "$captured" -lt "$worst_captured" ]; then
      worst_captured=$captured
      worst_lost=$((FRAMES - captured))
      worst_kernel=$kernel
    fi
  done
  echo "$fps $worst_captured $worst_lost $worst_kernel $seconds"
}

# median_row NAME: the middle row of $work/NAME-$n.txt by its second column (frames captured)
median_row() {
  sort -n -k2 "$work/$1-$n.txt" | awk '{ row[NR] = $0 } END { print row[int((NR + 1) / 2)] }'
}

echo "capture_stream: FRAMES=$FRAMES SIZE=$SIZE STREAMS='$STREAMS' ROUNDS=$ROUNDS, pktpoold defaults (rx_hold_when_exhausted, 64 MiB ring), tcpdump's default ring"
for n in $STREAMS; do
  : >"$work/pk-$n.txt"
  : >"$work/td-$n.txt"
  : >"$work/ti-$n.txt"
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
      p=$(one_pktpool "$n" "$round"); t=$(one_tcpdump "$n" "$round"); i=$(one_tcpdump "$n" "$round" --immediate-mode)
    else
      i=$(one_tcpdump "$n" "$round" --immediate-mode); t=$(one_tcpdump "$n" "$round"); p=$(one_pktpool "$n" "$round")
    fi
    echo "round $round, $n stream(s): pktpoolctl [burst/s captured lost pool queue stalled kernel seconds] $p; tcpdump [burst/s captured lost kernel seconds] $t; tcpdump --immediate-mode $i"
    echo "$p" >>"$work/pk-$n.txt"
    echo "$t" >>"$work/td-$n.txt"
    echo "$i" >>"$work/ti-$n.txt"
  done
done
echo
echo "== summary (FRAMES=$FRAMES, $SIZE-byte frames; per tool its median round of $ROUNDS by frames captured, and in it the worst of its N captures)"
printf '%-8s %-11s %10s %10s %9s %-44s %13s %7s %s\n' streams tool burst/s captured lost "lost by reason" delivered/s ratio target
for n in $STREAMS; do
  # Per tool the median round: the middle one by frames captured (its row as measured).
  read -r pk_burst pk_cap pk_lost pk_pool pk_queue pk_stalled pk_kernel pk_sec < <(median_row pk)
  read -r td_burst td_cap td_lost td_kernel td_sec < <(median_row td)
  read -r ti_burst ti_cap ti_lost ti_kernel ti_sec < <(median_row ti)
  rate() { [ "$1" = "-" ] && echo "-" || awk -v f="$FRAMES" -v s="$1" 'BEGIN { printf "%.0f", f / s }'; }
  pk_rate=$(rate "$pk_sec")
  td_rate=$(rate "$td_sec")
  ti_rate=$(rate "$ti_sec")
  # The peer: the faster tcpdump that got every frame; the loss bar: the lesser loss.
  best_rate=$(printf '%s\n%s\n' "$td_rate" "$ti_rate" | grep -v '^-$' | sort -n | tail -1)
  best_lost=$(printf '%s\n%s\n' "$td_lost" "$ti_lost" | sort -n | head -1)
  ratio="-"
  if [ "$pk_rate" != "-" ] && [ -n "$best_rate" ]; then
    ratio=$(awk -v a="$pk_rate" -v b="$best_rate" 'BEGIN { printf "%.2fx", a / b }')
  fi
  misses=()
  [ "$pk_lost" -le "$best_lost" ] || misses+=("loss")
  if [ "$ratio" != "-" ] && awk -v r="${ratio%x}" 'BEGIN { exit !(r < 1.0) }'; then misses+=("rate"); fi
  verdict=PASS
  [ ${#misses[@]} -eq 0 ] || verdict="MISS (${misses[*]})"
  printf '%-8s %-11s %10s %10s %9s %-44s %13s %7s %s\n' "$n" pktpoolctl "$pk_burst" "$pk_cap" "$pk_lost" \
    "pool $pk_pool, queue $pk_queue, stalled $pk_stalled, kernel $pk_kernel" "$pk_rate" "$ratio" "$verdict"
  printf '%-8s %-11s %10s %10s %9s %-44s %13s\n' "" tcpdump "$td_burst" "$td_cap" "$td_lost" "kernel $td_kernel" "$td_rate"
  printf '%-8s %-11s %10s %10s %9s %-44s %13s\n' "" "tcpdump -i" "$ti_burst" "$ti_cap" "$ti_lost" "kernel $ti_kernel" "$ti_rate"
done
echo "delivered/s: FRAMES / seconds from the burst's start until the slowest of the N captures had every frame ('-': some capture missed frames)."
echo "tcpdump: its defaults (libpcap's 1 s buffer timeout delivers the last partial ring block up to 1 s late); tcpdump -i: --immediate-mode."
echo "ratio: pktpoolctl against the faster tcpdump that got every frame; target >= 1.0x and no more loss than the tcpdump that lost less."
