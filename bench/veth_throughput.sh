#!/usr/bin/env bash
# veth_throughput.sh: the capture Binding's send and receive rates on a veth pair, against
# its peers, in one run. As root:
#
#   bench/veth_throughput.sh [BUILD_DIR]        # default BUILD_DIR: build (next to bench/)
#
# Creates a network namespace with a veth pair (vethA <-> vethB) through scripts/netns.sh;
# every frame is sent on vethA inside that namespace and nowhere else, and the namespace
# is deleted on exit. Frames are raw Ethernet, 02:00:00:00:00:01 -> 02:00:00:00:00:02,
# ethertype 0x88B5 (local experimental), with a sequence number.
#
#   send:    per frame size, FRAMES frames on vethA by Binding::Send (batches of 256),
#            by `tcpreplay --topspeed` of a pcap file of the same frames, and by a bare
#            pcap_inject loop. Target: binding/tcpreplay >= 1.0x.
#   receive: per frame size and sender count, a burst of FRAMES frames from batched
#            AF_PACKET senders (sendmmsg) on vethA, captured on vethB by the Binding
#            (64 MiB ring, one subscriber) and, in a second identical burst, by
#            `tcpdump -B 65536 -w /dev/null`. Target: binding loss <= tcpdump loss.
#
# Environment: FRAMES (default 1000000), SEND_SIZES (default "64 1514"), RECV_SIZES
# (default "64 1514"), RX_SENDERS (concurrent senders per burst, default "1 2"), BATCH
# (Binding::Send batch, default 256), SEND_THREADS (threads calling Binding::Send,
# default 1). It is a report: it exits 0 whether or not the targets are met, and non-zero
# when it cannot run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
bin=$build/bench/veth_throughput
FRAMES=${FRAMES:-1000000}
SEND_SIZES=${SEND_SIZES:-"64 1514"}
RECV_SIZES=${RECV_SIZES:-"64 1514"}
RX_SENDERS=${RX_SENDERS:-"1 2"}
BATCH=${BATCH:-256}
SEND_THREADS=${SEND_THREADS:-1}

die() { echo "veth_throughput.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, raw sockets)"
[ -x "$bin" ] || die "no $bin; build it: cmake --build $build --target veth_throughput"
for tool in ip timeout tcpreplay tcpdump awk; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found; scripts/install-deps.sh installs it (tcpreplay, tcpdump, iproute2)"
done
[[ "$FRAMES" =~ ^[1-9][0-9]*$ ]] && [ "$FRAMES" -ge 100 ] ||
  die "FRAMES must be an integer of at least 100, not '$FRAMES'"
for n in $RX_SENDERS; do
  [[ "$n" =~ ^[1-8]$ ]] || die "RX_SENDERS must list sender counts 1 to 8, not '$n'"
done
for s in $SEND_SIZES $RECV_SIZES; do
  [[ "$s" =~ ^[0-9]+$ ]] && [ "$s" -ge 60 ] && [ "$s" -le 1514 ] ||
    die "frame sizes must be 60 to 1514 bytes (the veth MTU is 1500), not '$s'"
done

. "$root/scripts/netns.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

ns=pktpool-vethbench-$$
ifa=vethA
ifb=vethB
tmp=$(mktemp -d "${TMPDIR:-/tmp}/veth_throughput.XXXXXX")
bg_pids=()  # background jobs started here (each a `timeout` wrapper), killed on exit

cleanup() {
  local pid
  for pid in "${bg_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${bg_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  netns_destroy "$ns"
  rm -rf "$tmp"
}
trap cleanup EXIT

netns_create "$ns" "$ifa" "$ifb" || die "cannot create namespace $ns"
# netns_create installed its own trap; ours also removes the namespace, and more.
trap cleanup EXIT
trap 'exit 130' INT TERM

# field KEY FILE: KEY's value on the "result" line of FILE.
field() {
  awk -v key="$1" '/^result / { for (i = 2; i <= NF; ++i) { split($i, kv, "=");
    if (kv[1] == key) { print kv[2]; exit } } }' "$2"
}

# Frames dropped by the kernel's per-CPU backlog queues (all CPUs, second column of
# /proc/net/softnet_stat, hex): frames lost before any packet socket could see them.
backlog_drops() {
  local total=0 _processed dropped _rest
  while read -r _processed dropped _rest; do
    total=$((total + 16#$dropped))
  done </proc/net/softnet_stat
  echo "$total"
}


ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# Seconds a FRAMES-frame run may take at worst (50k frames/s), at least 30.
limit=$((FRAMES / 50000 + 30))

echo "veth_throughput: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)"
echo "namespace $ns: $ifa <-> $ifb (veth), FRAMES=$FRAMES, Binding::Send batch $BATCH," \
  "$SEND_THREADS sending thread(s)"
echo

send_rows=()
for size in $SEND_SIZES; do
  echo "== send, $size-byte frames"
  pcap=$tmp/frames-$size.pcap
  "$bin" write-pcap "$pcap" --frames "$FRAMES" --size "$size" >/dev/null ||
    die "write-pcap failed"

  timeout "$limit" ip netns exec "$ns" "$bin" send "$ifa" --frames "$FRAMES" --size "$size" \
    --batch "$BATCH" --threads "$SEND_THREADS" --max-seconds "$limit" >"$tmp/send.out" 2>&1 ||
    { cat "$tmp/send.out"; die "binding send failed"; }
  sed '/^result /d' "$tmp/send.out"
  binding_fps=$(field fps "$tmp/send.out")
  binding_failed=$(field failed "$tmp/send.out")

  timeout "$limit" ip netns exec "$ns" tcpreplay --topspeed --preload-pcap -i "$ifa" "$pcap" \
    >"$tmp/tcpreplay.out" 2>&1 || { cat "$tmp/tcpreplay.out"; die "tcpreplay failed"; }
  # "Rated: 50618134.4 Bps, 404.94 Mbps, 790908.35 pps"
  tcpreplay_fps=$(awk '/Rated:/ { for (i = 1; i <= NF; ++i) if ($i ~ /^pps/) printf "%.0f", $(i - 1) }' \
    "$tmp/tcpreplay.out")
  tcpreplay_failed=$(awk '/Failed packets:/ { print $3 }' "$tmp/tcpreplay.out")
  echo "tcpreplay: $(grep -E 'Actual:' "$tmp/tcpreplay.out" | sed 's/^ *//'), ${tcpreplay_fps} frames/s," \
    "${tcpreplay_failed:-?} failed"

  timeout "$limit" ip netns exec "$ns" "$bin" inject "$ifa" --frames "$FRAMES" --size "$size" \
    --max-seconds "$limit" >"$tmp/inject.out" 2>&1 ||
    { cat "$tmp/inject.out"; die "inject failed"; }
  sed '/^result /d' "$tmp/inject.out"
  inject_fps=$(field fps "$tmp/inject.out")
  inject_failed=$(field failed "$tmp/inject.out")
  rm -f "$pcap"

  vs_tcpreplay=$(ratio "$binding_fps" "$tcpreplay_fps")
  vs_inject=$(ratio "$binding_fps" "$inject_fps")
  verdict=$(awk -v r="$vs_tcpreplay" 'BEGIN { print (r != "n/a" && r >= 1.0) ? "PASS" : "MISS" }')
  echo "binding/tcpreplay ${vs_tcpreplay}x (target >= 1.0x: $verdict), binding/inject ${vs_inject}x"
  echo
  send_rows+=("$size $binding_fps $binding_failed $tcpreplay_fps ${tcpreplay_failed:-?} $inject_fps $inject_failed $vs_tcpreplay $vs_inject $verdict")
done

# burst SIZE SENDERS OUT: one burst of FRAMES frames on vethA from SENDERS concurrent
# AF_PACKET senders (FRAMES/SENDERS each, disjoint sequence numbers). Writes to OUT the
# senders' reports and then one line "burst sent=... fps=... backlog_drops=...", fps being
# the sum of the senders' rates.
burst() {
  local size=$1 senders=$2 out=$3 before i share pids=() status=0
  share=$((FRAMES / senders))
  before=$(backlog_drops)
  for ((i = 0; i < senders; ++i)); do
    local n=$share
    [ "$i" -eq $((senders - 1)) ] && n=$((FRAMES - share * (senders - 1)))
    timeout "$limit" ip netns exec "$ns" "$bin" blast "$ifa" --frames "$n" --size "$size" \
      --first-sequence $((share * i)) --max-seconds "$limit" >"$out.$i" 2>&1 &
    pids+=($!)
  done
  bg_pids+=("${pids[@]}")
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || status=$?; done
  bg_pids=("${bg_pids[@]:0:${#bg_pids[@]}-${#pids[@]}}")  # waited for: no longer ours to signal
  local drops=$(($(backlog_drops) - before))
  [ "$status" -eq 0 ] || { cat "$out".*; die "blast failed"; }
  : >"$out"
  local sent=0 fps=0
  for ((i = 0; i < senders; ++i)); do
    sed '/^result /d' "$out.$i" >>"$out"
    sent=$((sent + $(field sent "$out.$i")))
    fps=$((fps + $(field fps "$out.$i")))
  done
  echo "burst sent=$sent fps=$fps backlog_drops=$drops" >>"$out"
}

# burst_field KEY OUT: a value of burst's summary line.
burst_field() {
  awk -v key="$1" '/^burst / { for (i = 2; i <= NF; ++i) { split($i, kv, "=");
    if (kv[1] == key) { print kv[2]; exit } } }' "$2"
}

recv_rows=()
for size in $RECV_SIZES; do
  for senders in $RX_SENDERS; do
    echo "== receive, $size-byte frames, burst from $senders AF_PACKET sender(s)"
    # (a) the binding
    # RX_HOLD=1 (default): rx_hold_when_exhausted with 8192 receive packets (16 MiB on top
    # of the 64 MiB ring); RX_HOLD=0: the default drop policy with 32768 packets (64 MiB).
    if [ "${RX_HOLD:-1}" = 1 ]; then rx_args=(--hold --rx-packets 8192); else rx_args=(--rx-packets 32768); fi
    timeout $((limit + 30)) ip netns exec "$ns" "$bin" receive "$ifb" --frames "$FRAMES" \
      "${rx_args[@]}" --timeout 3 --max-seconds $((limit + 20)) >"$tmp/receive.out" 2>&1 &
    rx_pid=$!
    bg_pids=("$rx_pid")
    wait_for '^ready' "$tmp/receive.out" "$rx_pid" 10 ||
      { cat "$tmp/receive.out"; die "the binding's receive mode did not get ready"; }
    burst "$size" "$senders" "$tmp/burst-binding.out"
    rx_status=0
    wait "$rx_pid" || rx_status=$?
    bg_pids=()
    [ "$rx_status" -eq 0 ] || { cat "$tmp/receive.out"; die "receive exited with $rx_status"; }
    grep -v '^burst ' "$tmp/burst-binding.out"
    sed '/^result /d; /^ready$/d' "$tmp/receive.out"
    b_fps=$(burst_field fps "$tmp/burst-binding.out")
    b_sent=$(burst_field sent "$tmp/burst-binding.out")
    b_backlog=$(burst_field backlog_drops "$tmp/burst-binding.out")
    b_received=$(field received "$tmp/receive.out")
    b_loss=$((b_sent - b_received))
    b_pool=$(field rx_resource_drops "$tmp/receive.out")
    b_ring=$(field pcap_dropped "$tmp/receive.out")

    # (b) tcpdump, the same ring size (-B is in KiB)
    timeout $((limit + 30)) ip netns exec "$ns" tcpdump -i "$ifb" -n -B 65536 -w /dev/null \
      >"$tmp/tcpdump.out" 2>&1 &
    td_pid=$!
    bg_pids=("$td_pid")
    wait_for 'listening on' "$tmp/tcpdump.out" "$td_pid" 10 ||
      { cat "$tmp/tcpdump.out"; die "tcpdump did not start"; }
    burst "$size" "$senders" "$tmp/burst-tcpdump.out"
    sleep 1
    kill -INT "$td_pid" 2>/dev/null || true  # timeout passes SIGINT on to tcpdump
    wait "$td_pid" || true
    bg_pids=()
    grep -v '^burst ' "$tmp/burst-tcpdump.out"
    t_captured=$(awk '/packets captured/ { print $1 }' "$tmp/tcpdump.out")
    t_ring=$(awk '/dropped by kernel/ { print $1 }' "$tmp/tcpdump.out")
    [ -n "$t_captured" ] || { cat "$tmp/tcpdump.out"; die "no statistics from tcpdump"; }
    t_fps=$(burst_field fps "$tmp/burst-tcpdump.out")
    t_sent=$(burst_field sent "$tmp/burst-tcpdump.out")
    t_backlog=$(burst_field backlog_drops "$tmp/burst-tcpdump.out")
    t_loss=$((t_sent - t_captured))
    echo "tcpdump: $t_captured of $t_sent frames captured, loss $t_loss, $t_ring dropped by" \
      "kernel (ring full)"

    verdict=$([ "$b_loss" -le "$t_loss" ] && echo PASS || echo MISS)
    echo "loss: binding $b_loss (pool exhausted $b_pool, ring full $b_ring), tcpdump $t_loss" \
      "(ring full $t_ring); target binding <= tcpdump: $verdict"
    echo "backlog drops during the bursts (lost before any capture): $b_backlog, $t_backlog"
    echo
    recv_rows+=("$size $senders $b_fps $b_loss $b_pool $b_ring $t_fps $t_loss $t_ring $verdict")
  done
done

echo "== summary (FRAMES=$FRAMES)"
if [ ${#send_rows[@]} -gt 0 ]; then
  printf '%-6s %12s %12s %12s %10s %10s %s\n' size binding/s tcpreplay/s inject/s b/tcpreplay b/inject \
    "target b/tcpreplay>=1.0"
  for row in "${send_rows[@]}"; do
    read -r s bf bfail tf tfail jf jfail r1 r2 v <<<"$row"
    printf '%-6s %12s %12s %12s %10s %10s %s\n' "$s" "$bf" "$tf" "$jf" "${r1}x" "${r2}x" "$v"
    [ "$bfail" = 0 ] && [ "$tfail" = 0 ] && [ "$jfail" = 0 ] ||
      echo "       failed frames: binding $bfail, tcpreplay $tfail, inject $jfail"
  done
fi
if [ ${#recv_rows[@]} -gt 0 ]; then
  echo
  printf '%-6s %-7s %12s %13s %12s %13s %s\n' size senders "burst/s (b)" "binding loss" \
    "burst/s (t)" "tcpdump loss" "target binding<=tcpdump"
  for row in "${recv_rows[@]}"; do
    read -r s n bf bl bp br tf tl tr v <<<"$row"
    printf '%-6s %-7s %12s %13s %12s %13s %s   (binding: pool %s, ring %s; tcpdump ring %s)\n' \
      "$s" "$n" "$bf" "$bl" "$tf" "$tl" "$v" "$bp" "$br" "$tr"
  done
fi
