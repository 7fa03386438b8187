#!/usr/bin/env bash
# veth_throughput.sh: the capture Binding's send and receive rates on a veth pair, against
# the fastest peers this machine has, in one run. As root:
#
#   bench/veth_throughput.sh [BUILD_DIR]        # default BUILD_DIR: build (next to bench/)
#
# Creates a network namespace with a veth pair (vethA <-> vethB) through scripts/netns.sh;
# every frame is sent on vethA inside that namespace and nowhere else, and the namespace
# is deleted on exit. Frames are raw Ethernet, 02:00:00:00:00:01 -> 02:00:00:00:00:02,
# ethertype 0x88B5 (local experimental), with a sequence number.
#
#   send:    per frame size, FRAMES frames on vethA from each sender alone, nothing
#            attached to vethB: Binding::Send (batches of 256), with the default nanosecond
#            timestamps and with --micro (b-micro: no SO_TIMESTAMPNS); a bare sendmmsg loop
#            (AF_PACKET bound to vethA, PACKET_QDISC_BYPASS, 64 frames per call); trafgen
#            (netsniff-ng's, one CPU, its TX_RING and qdisc bypass, the first 1000 frames
#            as its configuration, round robin to FRAMES); a bare pcap_inject loop; and
#            `tcpreplay --topspeed --preload-pcap` of a pcap file of the frames. Every
#            sender is measured the same way, at vethA's tx_packets counter (polled every
#            200 us by `veth_throughput watch`: frames over the time from the first sample
#            that saw it move to the first that saw all of them); each tool's own figure is
#            printed beside it. ROUNDS rounds, the order rotating; the median per sender.
#            With PIN=1 (default) every sender runs under `taskset -c 0`, where trafgen
#            pins its one worker itself, and the watcher under `taskset -c 1`.
#            Targets: binding/tcpreplay >= 1.0x, binding/sendmmsg loop >= 1.0x.
#   receive: per frame size and sender count, a burst of FRAMES frames from batched
#            AF_PACKET senders (sendmmsg) on vethA, captured on vethB by the Binding
#            (64 MiB ring, one subscriber), then in identical bursts by `tcpdump -B 65536
#            -w /dev/null` and by `netsniff-ng --in vethB --out /dev/null -S 65536KiB`
#            (the same 64 MiB ring). Target: binding loss <= tcpdump loss; the loss
#            against netsniff-ng's is printed too.
#
# Environment: FRAMES (default 1000000), SEND_SIZES (default "64 1514"), RECV_SIZES
# (default "64 1514"), RX_SENDERS (concurrent senders per burst, default "1 2"), BATCH
# (Binding::Send batch, default 256), SEND_THREADS (threads calling Binding::Send,
# default 1), ROUNDS (send rounds, default 5), PIN (default 1). It is a report: it exits
# 0 whether or not the targets are met, and non-zero when it cannot run.
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
ROUNDS=${ROUNDS:-5}
PIN=${PIN:-1}

die() { echo "veth_throughput.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, raw sockets)"
[ -x "$bin" ] || die "no $bin; build it: cmake --build $build --target veth_throughput"
for tool in ip timeout taskset tcpreplay tcpdump awk cmp; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found; scripts/install-deps.sh installs it (tcpreplay, tcpdump, iproute2, util-linux)"
done
for tool in trafgen netsniff-ng; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found; it is in Debian's netsniff-ng package: apt-get install netsniff-ng (scripts/install-deps.sh installs it)"
done
[[ "$ROUNDS" =~ ^[1-9]$ ]] || die "ROUNDS must be 1 to 9, not '$ROUNDS'"
[[ "$PIN" =~ ^[01]$ ]] || die "PIN must be 1 (senders on CPU 0) or 0 (unpinned), not '$PIN'"
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

# veth_counter IFACE NAME: a statistics counter of IFACE in the namespace.
veth_counter() { ip netns exec "$ns" cat "/sys/class/net/$1/statistics/$2"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# Seconds a FRAMES-frame run may take at worst (50k frames/s), at least 30.
limit=$((FRAMES / 50000 + 30))

# Every sender on CPU 0 (trafgen pins its one worker there itself), the watcher on the
# other CPU; PIN=0: nothing pinned by this script (trafgen still pins itself).
pin=()
watch_pin=()
if [ "$PIN" = 1 ]; then
  pin=(taskset -c 0)
  [ "$(nproc)" -ge 2 ] && watch_pin=(taskset -c 1)
fi
send_tools=(binding binding-micro sendmmsg trafgen inject tcpreplay)
trafgen_frames=$((FRAMES < 1000 ? FRAMES : 1000))

echo "veth_throughput: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "namespace $ns: $ifa <-> $ifb (veth), FRAMES=$FRAMES, Binding::Send batch $BATCH," \
  "$SEND_THREADS sending thread(s), ROUNDS=$ROUNDS, PIN=$PIN"
echo "$(tcpreplay --version 2>&1 | head -1); $(trafgen --version 2>&1 | head -1);" \
  "$(tcpdump --version 2>&1 | head -1)"
echo

# run_sender NAME SIZE: one run of sender NAME, FRAMES SIZE-byte frames on vethA; its
# output in $tmp/NAME.out.
run_sender() {
  local name=$1 size=$2
  local exec=(timeout -k 5 "$limit" ip netns exec "$ns" "${pin[@]}")
  case $name in
    binding) "${exec[@]}" "$bin" send "$ifa" --frames "$FRAMES" --size "$size" --batch "$BATCH" \
      --threads "$SEND_THREADS" --max-seconds "$limit" ;;
    binding-micro) "${exec[@]}" "$bin" send "$ifa" --frames "$FRAMES" --size "$size" \
      --batch "$BATCH" --threads "$SEND_THREADS" --micro --max-seconds "$limit" ;;
    sendmmsg) "${exec[@]}" "$bin" sendmmsg "$ifa" --frames "$FRAMES" --size "$size" \
      --max-seconds "$limit" ;;
    # --no-sock-mem: trafgen would raise net.core.[rw]mem_*; in a namespace those are
    # read-only, so the default run fails to and goes on (the same buffers as the others).
    trafgen) "${exec[@]}" trafgen --cpus 1 --no-sock-mem --in "$tmp/frames-$size.cfg" \
      --out "$ifa" --num "$FRAMES" ;;
    inject) "${exec[@]}" "$bin" inject "$ifa" --frames "$FRAMES" --size "$size" \
      --max-seconds "$limit" ;;
    tcpreplay) "${exec[@]}" tcpreplay --topspeed --preload-pcap -i "$ifa" "$tmp/frames-$size.pcap" ;;
  esac >"$tmp/$name.out" 2>&1
}

# own_figure NAME: frames/s by the sender's own clock, from $tmp/NAME.out.
own_figure() {
  case $1 in
    binding | binding-micro | sendmmsg | inject) field fps "$tmp/$1.out" ;;
    # "0 sec, 634745 usec on CPU0 (1000000 packets)": its loop until the last frame is in
    # the ring; the ring's last flush (up to 256 frames) comes after.
    trafgen) tr -d '\r' <"$tmp/trafgen.out" | awk '/usec on CPU/ { s = $1 + $3 / 1e6;
      n = substr($7, 2) } END { if (s > 0) printf "%.0f", n / s }' ;;
    # "Rated: 50618134.4 Bps, 404.94 Mbps, 790908.35 pps": the send loop after the preload
    tcpreplay) awk '/Rated:/ { for (i = 1; i <= NF; ++i) if ($i ~ /^pps/) printf "%.0f", $(i - 1) }' \
      "$tmp/tcpreplay.out" ;;
  esac
}

# measure NAME SIZE: runs sender NAME with the watcher on vethA; sets measured_fps (at
# vethA), measured_count (frames vethA counted) and measured_own (the sender's own figure).
measure() {
  local name=$1 size=$2 watch_pid status=0
  timeout -k 5 $((limit + 10)) ip netns exec "$ns" "${watch_pin[@]}" "$bin" watch "$ifa" \
    --frames "$FRAMES" --timeout 2 --max-seconds $((limit + 5)) >"$tmp/watch.out" 2>&1 &
  watch_pid=$!
  bg_pids=("$watch_pid")
  wait_for '^ready' "$tmp/watch.out" "$watch_pid" 10 ||
    { cat "$tmp/watch.out"; die "the watcher did not start"; }
  run_sender "$name" "$size" || status=$?
  if [ "$status" -ne 0 ]; then
    kill -TERM "$watch_pid" 2>/dev/null || true
    cat "$tmp/$name.out"
    die "$name exited with $status"
  fi
  wait "$watch_pid" || { cat "$tmp/watch.out"; die "the watcher failed"; }
  bg_pids=()
  measured_fps=$(field fps "$tmp/watch.out")
  measured_count=$(field counted "$tmp/watch.out")
  measured_own=$(own_figure "$name")
  measured_own=${measured_own:-?}
}

send_rows=()
for size in $SEND_SIZES; do
  echo "== send, $size-byte frames"
  "$bin" write-pcap "$tmp/frames-$size.pcap" --frames "$FRAMES" --size "$size" >/dev/null ||
    die "write-pcap failed"
  "$bin" write-trafgen "$tmp/frames-$size.cfg" --frames "$trafgen_frames" --size "$size" \
    >/dev/null || die "write-trafgen failed"
  # trafgen writes what it would send into a pcap file: it must be the file's first frames.
  timeout -k 5 60 trafgen --cpus 1 --no-sock-mem --in "$tmp/frames-$size.cfg" \
    --out "$tmp/trafgen-check.pcap" --num "$trafgen_frames" >"$tmp/trafgen.out" 2>&1 ||
    { cat "$tmp/trafgen.out"; die "trafgen could not compile its configuration"; }
  same_frames "$tmp/trafgen-check.pcap" "$tmp/frames-$size.pcap" "$trafgen_frames" ||
    die "trafgen's frames differ from the pcap file's"
  echo "trafgen's configuration: the first $trafgen_frames frames (checked byte for byte" \
    "against the pcap file through trafgen --out FILE.pcap), sent round robin"

  declare -A rates=() owns=()
  for ((round = 0; round < ROUNDS; ++round)); do
    line="round $((round + 1)), frames/s at vethA (own figure):"
    for ((k = 0; k < ${#send_tools[@]}; ++k)); do
      name=${send_tools[$(((k + round) % ${#send_tools[@]}))]}
      measure "$name" "$size"
      [ "$measured_count" = "$FRAMES" ] ||
        { cat "$tmp/$name.out"; die "$name: vethA counted $measured_count of $FRAMES frames"; }
      rates[$name]+="$measured_fps "
      owns[$name]+="$measured_own "
      line+=" $name $measured_fps ($measured_own)"
    done
    echo "$line"
  done
  row="$size"
  for name in "${send_tools[@]}"; do
    # shellcheck disable=SC2086  # the rounds' figures, split on purpose
    row+=" $(median ${rates[$name]})"
  done
  for name in "${send_tools[@]}"; do
    echo "  $name: frames/s at vethA ${rates[$name]% }; own figure ${owns[$name]% }"
  done
  unset rates owns
  rm -f "$tmp/frames-$size.pcap"
  send_rows+=("$row")
  echo
done

# burst SIZE SENDERS OUT: one burst of FRAMES frames on vethA from SENDERS concurrent
# AF_PACKET senders (FRAMES/SENDERS each, disjoint sequence numbers). Writes to OUT the
# senders' reports and then one line "burst sent=... fps=... backlog_drops=... delivered=...
# veth_drops=...": fps is the sum of the senders' rates, delivered the frames vethB
# counted in, veth_drops the frames the pair dropped (vethA tx_dropped + vethB rx_dropped).
burst() {
  local size=$1 senders=$2 out=$3 before i share pids=() status=0
  share=$((FRAMES / senders))
  before=$(backlog_drops)
  local rx_before drop_before
  rx_before=$(veth_counter "$ifb" rx_packets)
  drop_before=$(($(veth_counter "$ifa" tx_dropped) + $(veth_counter "$ifb" rx_dropped)))
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
  local delivered=$(($(veth_counter "$ifb" rx_packets) - rx_before))
  local veth_drops=$(($(veth_counter "$ifa" tx_dropped) + $(veth_counter "$ifb" rx_dropped) - drop_before))
  [ "$status" -eq 0 ] || { cat "$out".*; die "blast failed"; }
  : >"$out"
  local sent=0 fps=0
  for ((i = 0; i < senders; ++i)); do
    sed '/^result /d' "$out.$i" >>"$out"
    sent=$((sent + $(field sent "$out.$i")))
    fps=$((fps + $(field fps "$out.$i")))
  done
  echo "burst sent=$sent fps=$fps backlog_drops=$drops delivered=$delivered veth_drops=$veth_drops" >>"$out"
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
      "kernel (ring full); its counts: $(grep -E 'packets (captured|received|dropped)' "$tmp/tcpdump.out" | tr '\n' ';')"

    # (c) netsniff-ng, the same ring size (its TPACKET_V3 ring, 64 MiB), silent, writing
    # a pcap stream to /dev/null as tcpdump does; --no-sock-mem as for trafgen.
    timeout $((limit + 30)) ip netns exec "$ns" netsniff-ng --in "$ifb" --out /dev/null --silent \
      --ring-size 65536KiB --no-sock-mem >"$tmp/netsniff.out" 2>&1 &
    ns_pid=$!
    bg_pids=("$ns_pid")
    wait_for 'Running!' "$tmp/netsniff.out" "$ns_pid" 10 ||
      { cat "$tmp/netsniff.out"; die "netsniff-ng did not start"; }
    burst "$size" "$senders" "$tmp/burst-netsniff.out"
    sleep 1
    kill -INT "$ns_pid" 2>/dev/null || true  # timeout passes SIGINT on to netsniff-ng
    wait "$ns_pid" || true
    bg_pids=()
    grep -v '^burst ' "$tmp/burst-netsniff.out"
    # At exit: "N packets incoming (U unread on exit)" (frames it read from its ring, and
    # frames still in it), "N packets failed filter (out of space)" (the ring was full).
    n_captured=$(tr -d '\r' <"$tmp/netsniff.out" | awk '/packets incoming/ { print $1 }')
    n_unread=$(tr -d '\r' <"$tmp/netsniff.out" | awk '/packets incoming/ { sub(/^\(/, "", $4); print $4 }')
    n_ring=$(tr -d '\r' <"$tmp/netsniff.out" | awk '/out of space/ { print $1 }')
    [ -n "$n_captured" ] && [ -n "$n_ring" ] ||
      { cat "$tmp/netsniff.out"; die "no statistics from netsniff-ng"; }
    n_fps=$(burst_field fps "$tmp/burst-netsniff.out")
    n_sent=$(burst_field sent "$tmp/burst-netsniff.out")
    n_backlog=$(burst_field backlog_drops "$tmp/burst-netsniff.out")
    n_loss=$((n_sent - n_captured))
    echo "netsniff-ng: $n_captured of $n_sent frames read, loss $n_loss, $n_ring dropped by" \
      "kernel (ring full), $n_unread unread at exit; its counts: $(tr -d '\r' <"$tmp/netsniff.out" |
        grep -E 'packets (incoming|passed|failed)' | sed 's/^ *//' | tr '\n' ';')"

    verdict=$([ "$b_loss" -le "$t_loss" ] && echo PASS || echo MISS)
    n_verdict=$([ "$b_loss" -le "$n_loss" ] && echo PASS || echo MISS)
    echo "loss: binding $b_loss (pool exhausted $b_pool, ring full $b_ring), tcpdump $t_loss" \
      "(ring full $t_ring), netsniff-ng $n_loss (ring full $n_ring); target binding <= tcpdump:" \
      "$verdict; binding <= netsniff-ng: $n_verdict"
    echo "backlog drops during the bursts (lost before any capture): $b_backlog, $t_backlog, $n_backlog"
    echo "frames vethB counted in during the bursts: $(burst_field delivered "$tmp/burst-binding.out")," \
      "$(burst_field delivered "$tmp/burst-tcpdump.out"), $(burst_field delivered "$tmp/burst-netsniff.out");" \
      "dropped by the veth pair: $(burst_field veth_drops "$tmp/burst-binding.out")," \
      "$(burst_field veth_drops "$tmp/burst-tcpdump.out"), $(burst_field veth_drops "$tmp/burst-netsniff.out")"
    echo
    recv_rows+=("$size $senders $b_fps $b_loss $b_pool $b_ring $t_fps $t_loss $t_ring $n_fps $n_loss $n_ring $verdict $n_verdict")
  done
done

echo "== summary (FRAMES=$FRAMES, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
if [ ${#send_rows[@]} -gt 0 ]; then
  echo "send: frames/s at vethA's tx_packets counter, each sender alone, median of $ROUNDS rounds" \
    "($([ "$PIN" = 1 ] && echo "senders on CPU 0" || echo "unpinned; trafgen on CPU 0"))"
  printf '%-6s %11s %11s %11s %11s %11s %11s\n' size binding/s b-micro/s sendmmsg/s trafgen/s \
    inject/s tcpreplay/s
  for row in "${send_rows[@]}"; do
    # shellcheck disable=SC2086  # the row's fields
    printf '%-6s %11s %11s %11s %11s %11s %11s\n' $row
  done
  echo "b-micro: the binding with --micro (timestamp_precision MICRO, tcpdump's default): libpcap" \
    "sets no SO_TIMESTAMPNS, so the kernel does not timestamp every frame vethB receives"
  printf '%-6s %16s\n' size b-micro/sendmmsg
  for row in "${send_rows[@]}"; do
    read -r s _ uf mf _ <<<"$row"
    printf '%-6s %15sx\n' "$s" "$(ratio "$uf" "$mf")"
  done
  echo "binding / each peer; the fastest peer; targets (reported, not failed)"
  printf '%-6s %10s %10s %10s %10s  %-26s %-22s %s\n' size b/sendmmsg b/trafgen b/inject \
    b/tcpreplay "fastest peer: b/it" "b/tcpreplay>=1.0" "b/sendmmsg-loop>=1.0"
  for row in "${send_rows[@]}"; do
    read -r s bf _ mf gf jf tf <<<"$row"
    best=sendmmsg best_fps=$mf
    for peer in "trafgen $gf" "inject $jf" "tcpreplay $tf"; do
      read -r p f <<<"$peer"
      [ "$f" -gt "$best_fps" ] && { best=$p; best_fps=$f; }
    done
    vs_t=$(ratio "$bf" "$tf")
    vs_m=$(ratio "$bf" "$mf")
    printf '%-6s %9sx %9sx %9sx %9sx  %-26s %-22s %s\n' "$s" "$vs_m" "$(ratio "$bf" "$gf")" \
      "$(ratio "$bf" "$jf")" "$vs_t" "$best: $(ratio "$bf" "$best_fps")x" \
      "${vs_t}x $(awk -v r="$vs_t" 'BEGIN { print (r >= 1.0) ? "PASS" : "MISS" }')" \
      "${vs_m}x $(awk -v r="$vs_m" 'BEGIN { print (r >= 1.0) ? "PASS" : "MISS" }')"
  done
fi
if [ ${#recv_rows[@]} -gt 0 ]; then
  echo
  echo "receive: one burst per capturer; loss = frames sent - frames the capturer counted"
  printf '%-6s %-7s %11s %9s %11s %9s %11s %9s  %-17s %s\n' size senders "burst/s (b)" "b loss" \
    "burst/s (t)" "tcpdump" "burst/s (n)" "netsniff" "b<=tcpdump" "b<=netsniff-ng"
  for row in "${recv_rows[@]}"; do
    read -r s n bf bl bp br tf tl tr nf nl nr v nv <<<"$row"
    printf '%-6s %-7s %11s %9s %11s %9s %11s %9s  %-17s %-5s (binding: pool %s, ring %s; tcpdump ring %s; netsniff-ng ring %s)\n' \
      "$s" "$n" "$bf" "$bl" "$tf" "$tl" "$nf" "$nl" "$v" "$nv" "$bp" "$br" "$tr" "$nr"
  done
fi
