#!/usr/bin/env bash
# pcap_replay.sh: `pktpoolctl send --pcap FILE --topspeed` (through the gRPC API and
# pktpoold's binding) against the fastest replayers of the same file on the same veth end:
# trafgen (netsniff-ng's, TX_RING), a bare sendmmsg loop and `tcpreplay --topspeed
# --preload-pcap`, measured in the same run, each alone, in rotating order, ROUNDS times.
# As root:
#
#   bench/pcap_replay.sh [BUILD_DIR]            # default BUILD_DIR: build (next to bench/)
#
# Creates a namespace with a veth pair (replay-a <-> replay-b) through scripts/netns.sh;
# frames go out on replay-a only; the namespace and the daemon (ended by PID) go on exit.
# Files (written by bench/veth_throughput write-pcap: 02:..:01 -> 02:..:02, 0x88B5):
#   large: FRAMES frames of SIZE bytes, sent once: pktpoolctl streams it in messages;
#   small: 1000 frames, --loop FRAMES/1000: pktpoolctl sends it once and the daemon
#          repeats it (as tcpreplay's --preload-pcap keeps the file in memory).
# The replayers:
#   pktpoolctl  `pktpoolctl send replay-a --pcap FILE --topspeed --loop L` (pktpoold runs,
#               bound to replay-a, for the whole script);
#   trafgen     `trafgen --cpus 1 --in FILE.cfg --out replay-a --num FRAMES`: trafgen reads
#               pcap files only on its slow path (sendto per frame, timestamps kept, no
#               --loop), so it gets the file as its own configuration
#               (veth_throughput write-trafgen; checked byte for byte against the file
#               through trafgen --out X.pcap): all of the small file; the first 1000
#               frames of the large one, sent round robin (trafgen's configuration compiler
#               is quadratic: 64,000 frames take 9 s, 1,000,000 would take hours), so
#               its large-file row sends the right sizes and headers, not every sequence
#               number. trafgen pins its one worker to CPU 0 itself; the others float.
#   sendmmsg    `veth_throughput sendmmsg replay-a --pcap FILE --loop L`: reads the file
#               into memory with libpcap, then AF_PACKET + PACKET_QDISC_BYPASS, 64 frames
#               per sendmmsg, straight from the file's bytes;
#   tcpreplay   `tcpreplay --topspeed --preload-pcap --loop L -i replay-a FILE`.
# Each is timed as a user would time it: the wall time of its whole process (loading the
# file, set-up and the send; started the same way, `timeout ip netns exec ...`), FRAMES
# frames over it. Each tool's own figure (its clock after loading) is printed beside it.
# Targets: pktpoolctl/trafgen >= 1.0 and pktpoolctl/tcpreplay >= 1.0 (frames/s by wall
# time; per file the median of the rounds' ratios). Environment: FRAMES (default
# 1000000), SIZES (default "64 1514"), ROUNDS (default 3), TIMESTAMPS (the binding's
# `bind --time-stamp-precision`, nano (default) or micro: pktpoold stays bound while every
# tool runs, and with nano libpcap's SO_TIMESTAMPNS makes the kernel timestamp every frame
# replay-b receives, whichever tool sent it). A report: exits 0 whether or not the targets
# are met, non-zero when it cannot run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
FRAMES=${FRAMES:-1000000}
SIZES=${SIZES:-"64 1514"}
ROUNDS=${ROUNDS:-3}
TIMESTAMPS=${TIMESTAMPS:-nano}
writer=$build/bench/veth_throughput
daemon=$build/daemon/pktpoold
ctl=$build/client/pktpoolctl/pktpoolctl

die() { echo "pcap_replay.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, raw sockets)"
for f in "$writer" "$daemon" "$ctl"; do
  [ -x "$f" ] || die "$f not built; run: cmake --build $build -j2"
done
for tool in ip timeout tcpreplay tcpdump awk cmp; do
  command -v "$tool" >/dev/null || die "'$tool' not found; scripts/install-deps.sh installs it"
done
command -v trafgen >/dev/null ||
  die "trafgen not found; it is in Debian's netsniff-ng package: apt-get install netsniff-ng (scripts/install-deps.sh installs it)"
[[ "$FRAMES" =~ ^[1-9][0-9]*$ ]] && [ "$FRAMES" -ge 1000 ] && [ $((FRAMES % 1000)) -eq 0 ] ||
  die "FRAMES must be a multiple of 1000 (the small file is 1000 frames, looped), not '$FRAMES'"
[[ "$ROUNDS" =~ ^[1-9]$ ]] || die "ROUNDS must be 1 to 9, not '$ROUNDS'"
[[ "$TIMESTAMPS" =~ ^(nano|micro)$ ]] || die "TIMESTAMPS must be nano or micro, not '$TIMESTAMPS'"
for s in $SIZES; do
  [[ "$s" =~ ^[0-9]+$ ]] && [ "$s" -ge 60 ] && [ "$s" -le 1514 ] ||
    die "frame sizes must be 60 to 1514 bytes (the veth MTU is 1500), not '$s'"
done

# shellcheck source=../scripts/netns.sh
source "$root/scripts/netns.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$here/common.sh"
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
ip netns exec "$ns" "$daemon" --socket "$socket" 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { cat "$tmp/daemon.log"; die "pktpoold did not start"; }
ip netns exec "$ns" "$ctl" --socket "$socket" bind "$ifa" --time-stamp-precision "$TIMESTAMPS" \
  >/dev/null || { cat "$tmp/daemon.log"; die "pktpoolctl bind $ifa failed"; }

limit=$((FRAMES / 50000 + 60))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
now() { date +%s.%N; }

# replay NAME FILE LOOP: one run of replayer NAME; its output in $tmp/NAME.out; sets
# wall_fps (FRAMES over the process's wall time) and own_fps (the tool's own figure).
replay() {
  local name=$1 file=$2 loop=$3 start end status=0
  local exec=(timeout -k 5 "$limit" ip netns exec "$ns")
  start=$(now)
  case $name in
    pktpoolctl) "${exec[@]}" "$ctl" --socket "$socket" -o json send "$ifa" --pcap "$file" \
      --topspeed --loop "$loop" ;;
    # --no-sock-mem: in a namespace net.core.[rw]mem_* are read-only to trafgen anyway.
    trafgen) "${exec[@]}" trafgen --cpus 1 --no-sock-mem --in "${file%.pcap}.cfg" --out "$ifa" \
      --num "$FRAMES" ;;
    sendmmsg) "${exec[@]}" "$writer" sendmmsg "$ifa" --pcap "$file" --loop "$loop" \
      --max-seconds "$limit" ;;
    tcpreplay) "${exec[@]}" tcpreplay --topspeed --preload-pcap --loop "$loop" -i "$ifa" "$file" ;;
  esac >"$tmp/$name.out" 2>&1 || status=$?
  end=$(now)
  [ "$status" -eq 0 ] || { cat "$tmp/$name.out" >&2; die "$name exited with $status"; }
  wall_fps=$(awk -v f="$FRAMES" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", f / (b - a) }')
  case $name in
    pktpoolctl)
      grep -q '"frames_failed": 0' "$tmp/$name.out" || { cat "$tmp/$name.out" >&2; die "frames failed"; }
      own_fps=$(sed -n 's/.*"frames_per_second": \([0-9.]*\).*/\1/p' "$tmp/$name.out" | awk '{ printf "%.0f", $1 }') ;;
    trafgen)
      local sent
      sent=$(tr -d '\r' <"$tmp/$name.out" | awk '/packets outgoing/ { print $1 }')
      [ "$sent" = "$FRAMES" ] || { cat "$tmp/$name.out" >&2; die "trafgen sent $sent of $FRAMES"; }
      # "0 sec, 634745 usec on CPU0 (1000000 packets)": its loop, before the last ring flush
      own_fps=$(tr -d '\r' <"$tmp/$name.out" | awk '/usec on CPU/ { s = $1 + $3 / 1e6;
        n = substr($7, 2) } END { if (s > 0) printf "%.0f", n / s }') ;;
    sendmmsg)
      grep -q "failed=0 " "$tmp/$name.out" || { cat "$tmp/$name.out" >&2; die "sendmmsg failed frames"; }
      own_fps=$(sed -n 's/^result .* fps=\([0-9]*\).*/\1/p' "$tmp/$name.out") ;;
    tcpreplay)
      grep -q "Failed packets: *0$" "$tmp/$name.out" || { cat "$tmp/$name.out" >&2; die "tcpreplay failed frames"; }
      own_fps=$(awk '/Rated:/ { for (i = 1; i <= NF; ++i) if ($i ~ /^pps/) printf "%.0f", $(i - 1) }' \
        "$tmp/$name.out") ;;
  esac
}

tools=(pktpoolctl trafgen sendmmsg tcpreplay)
echo "pcap_replay: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(tcpreplay --version 2>&1 | head -1); $(trafgen --version 2>&1 | head -1)"
echo "namespace $ns: $ifa <-> $ifb (veth); pktpoold binds $ifa" \
  "(--time-stamp-precision $TIMESTAMPS); FRAMES=$FRAMES, ROUNDS=$ROUNDS"
echo "frames/s = FRAMES / wall time of the whole process; in brackets the tool's own figure"
echo
rows=()
for size in $SIZES; do
  large=$tmp/large-$size.pcap
  small=$tmp/small-$size.pcap
  "$writer" write-pcap "$large" --frames "$FRAMES" --size "$size" >/dev/null || die "write-pcap failed"
  "$writer" write-pcap "$small" --frames 1000 --size "$size" >/dev/null || die "write-pcap failed"
  for file in "$large" "$small"; do
    "$writer" write-trafgen "${file%.pcap}.cfg" --frames 1000 --size "$size" >/dev/null || die "write-trafgen failed"
    timeout -k 5 60 trafgen --cpus 1 --no-sock-mem --in "${file%.pcap}.cfg" --out "$tmp/check.pcap" \
      --num 1000 >"$tmp/trafgen.out" 2>&1 || { cat "$tmp/trafgen.out"; die "trafgen could not compile $file.cfg"; }
    same_frames "$tmp/check.pcap" "$file" 1000 || die "trafgen's frames differ from $file's"
  done
  for kind in large small; do
    file=$large; loop=1
    [ "$kind" = small ] && { file=$small; loop=$((FRAMES / 1000)); }
    if [ "$loop" -gt 1 ]; then label="$kind ${size}B x1000 loop $loop"; else label="$kind ${size}B x$FRAMES"; fi
    declare -A wall=() own=() this_round=()
    vs_trafgen=() vs_tcpreplay=() vs_sendmmsg=()
    for ((round = 0; round < ROUNDS; ++round)); do
      line="$label, round $((round + 1)):"
      for ((k = 0; k < ${#tools[@]}; ++k)); do
        name=${tools[$(((k + round) % ${#tools[@]}))]}
        replay "$name" "$file" "$loop"
        wall[$name]+="$wall_fps "
        own[$name]+="$own_fps "
        this_round[$name]=$wall_fps
        line+=" $name $wall_fps ($own_fps)"
      done
      echo "$line"
      vs_trafgen+=("$(ratio "${this_round[pktpoolctl]}" "${this_round[trafgen]}")")
      vs_tcpreplay+=("$(ratio "${this_round[pktpoolctl]}" "${this_round[tcpreplay]}")")
      vs_sendmmsg+=("$(ratio "${this_round[pktpoolctl]}" "${this_round[sendmmsg]}")")
    done
    row="$label|"
    for name in "${tools[@]}"; do
      # shellcheck disable=SC2086  # the rounds' figures, split on purpose
      row+="$(median ${wall[$name]}) $(median ${own[$name]}) "
    done
    row+="|$(median "${vs_trafgen[@]}") $(median "${vs_tcpreplay[@]}") $(median "${vs_sendmmsg[@]}")"
    row+="|${vs_trafgen[*]}|${vs_tcpreplay[*]}"
    rows+=("$row")
    unset wall own this_round
  done
  rm -f "$large" "$small"
done

echo
printf '%-26s %12s %12s %12s %12s %9s %9s %9s\n' file pktpoolctl/s trafgen/s sendmmsg/s \
  tcpreplay/s ctl/trafg ctl/tcpr ctl/smmsg
for row in "${rows[@]}"; do
  IFS='|' read -r label figures ratios rounds_t rounds_r <<<"$row"
  read -r cw _ tw _ mw _ rw _ <<<"$figures"
  read -r rt rr rm <<<"$ratios"
  printf '%-26s %12s %12s %12s %12s %9s %9s %9s\n' "$label" "$cw" "$tw" "$mw" "$rw" "$rt" "$rr" "$rm"
done
echo
echo "targets (per file the median of the rounds' ratios; reported, not failed):"
verdict() { awk -v r="$1" 'BEGIN { print (r != "n/a" && r >= 1.0) ? "PASS" : "MISS" }'; }
for row in "${rows[@]}"; do
  IFS='|' read -r label figures ratios rounds_t rounds_r <<<"$row"
  read -r rt rr _ <<<"$ratios"
  printf '%-26s ctl/trafgen %s >= 1.0 %s (rounds %s); ctl/tcpreplay %s >= 1.0 %s (rounds %s)\n' \
    "$label" "$rt" "$(verdict "$rt")" "$rounds_t" "$rr" "$(verdict "$rr")" "$rounds_r"
done
echo
echo "each tool's own figure (its clock after loading the file; trafgen's stops before its last ring flush):"
for row in "${rows[@]}"; do
  IFS='|' read -r label figures _ <<<"$row"
  read -r _ co _ to _ mo _ ro <<<"$figures"
  printf '%-26s %12s %12s %12s %12s\n' "$label" "$co" "$to" "$mo" "$ro"
done
echo
echo "frames/s = FRAMES / wall time of each whole process, median of $ROUNDS rounds in rotating order;" \
  "trafgen sends the large file's first 1000 frames round robin (its configuration cannot hold 1M)."
