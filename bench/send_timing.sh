#!/usr/bin/env bash
# send_timing.sh: how well `pktpoolctl send` keeps time, against tcpreplay, in one run.
# As root:
#
#   bench/send_timing.sh [BUILD_DIR]            # default BUILD_DIR: build (next to bench/)
#
# Both tools send the same pcap file on the same veth end (timing-a), in turn; the peer
# (timing-b) is captured by `tcpdump --time-stamp-precision=nano -B 131072 -w FILE`,
# started before each send and stopped (SIGINT, by PID) after it. The namespace comes
# from scripts/netns.sh and is deleted on exit with the daemon, tcpdump and the files.
# pktpoolctl sends through `pktpoold --bind timing-a` on a Unix socket; tcpreplay runs
# with --preload-pcap. Frames: 02:..:01 -> 02:..:02, ethertype 0x88B5, a sequence number
# after the header (bench/send_timing_stats.py writes the files and analyses captures).
#
# Cases (64-byte frames unless said):
#   1-3  --pps 1000 / 20000 / 100000, 2 s of frames each
#   4    --pps R, R the fastest of PROBE_RATES where tcpreplay alone (1 s per probe) got
#        every frame with a span error <= 0.1 %
#   5    recorded timing, 10,000 frames 100 us apart
#   6    recorded timing, 100,000 frames 10 us apart
#   7    --mbps MBPS, 1514-byte frames, 2 s of them (frame bytes only, as tcpreplay)
#   8    recorded timing, 1,000 frames 100 us apart, --loop 5 (expected: one mean gap
#        between loops; tcpreplay restarts its clock each loop)
# Per case and tool: frames received and in order, the span (last - first) against the
# expected one, and the p50/p99 of |actual gap - expected gap|. Targets (reported, never
# failed): span error <= 0.1 %; pktpoolctl's p99 gap error <= tcpreplay's; every frame,
# in order. A flag the pktpoolctl at hand rejects makes its row "n/a (pktpoolctl: ...)".
#
# Each case runs ROUNDS times, the tools alternating which goes first; the summary shows
# the median of each figure over the rounds (these machines are noisy: one run's p99 can
# be several times another's, for either tool).
#
# Environment: ROUNDS (default 3), CASES (default "1 2 3 4 5 6 7 8"), PROBE_RATES (default
# "200000 300000 400000"), MBPS (default 100), MULTIPLIER (default 1: none passed;
# otherwise --multiplier X for the recorded-timing cases 5, 6 and 8, both tools). A
# report: exits 0 whether or not the targets are met, non-zero when it cannot run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-"1 2 3 4 5 6 7 8"}
PROBE_RATES=${PROBE_RATES:-"200000 300000 400000"}
MBPS=${MBPS:-100}
MULTIPLIER=${MULTIPLIER:-1}
daemon=$build/daemon/pktpoold
ctl=$build/client/pktpoolctl/pktpoolctl
stats=$here/send_timing_stats.py
python=/usr/bin/python3  # Debian's (the helper needs only the standard library)
[ -x "$python" ] || python=$(command -v python3 || true)

die() { echo "send_timing.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, raw sockets)"
for f in "$daemon" "$ctl"; do
  [ -x "$f" ] || die "$f not built; run: cmake --build $build -j2 --target pktpoold pktpoolctl"
done
[ -n "$python" ] || die "python3 not found"
[ -r "$stats" ] || die "$stats missing"
for tool in ip timeout tcpreplay tcpdump awk; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found; scripts/install-deps.sh installs it (tcpreplay, tcpdump, iproute2)"
done
for c in $CASES; do [[ "$c" =~ ^[1-8]$ ]] || die "CASES lists case numbers 1 to 8, not '$c'"; done
[[ "$ROUNDS" =~ ^[1-9]$ ]] || die "ROUNDS must be 1 to 9"
for r in $PROBE_RATES; do
  if ! [[ "$r" =~ ^[1-9][0-9]*$ ]] || [ "$r" -gt 2000000 ]; then
    die "PROBE_RATES: '$r' is not a rate up to 2000000"
  fi
done
[ "$(echo "$PROBE_RATES" | wc -w)" -le 6 ] || die "PROBE_RATES: at most 6 rates"
if ! [[ "$MBPS" =~ ^[1-9][0-9]*$ ]] || [ "$MBPS" -gt 10000 ]; then
  die "MBPS must be an integer 1..10000"
fi
if ! [[ "$MULTIPLIER" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
  ! awk -v m="$MULTIPLIER" 'BEGIN { exit !(m >= 0.1 && m <= 100) }'; then
  die "MULTIPLIER must be a number 0.1..100"
fi

# shellcheck source-path=SCRIPTDIR source=../scripts/netns.sh
source "$root/scripts/netns.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$here/common.sh"
ns=pktpool-timing-$$
ifa=timing-a
ifb=timing-b
tmp=$(mktemp -d "${TMPDIR:-/tmp}/send_timing.XXXXXX")
daemon_pid=""  # the `timeout` wrapping pktpoold
td_pid=""      # the `timeout` wrapping the running tcpdump, if any
cleanup() {
  if [ -n "$td_pid" ]; then kill -INT "$td_pid" 2>/dev/null || true; wait "$td_pid" 2>/dev/null || true; fi
  if [ -n "$daemon_pid" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
  _pktpool_netns_cleanup
}
trap cleanup EXIT
netns_create "$ns" "$ifa" "$ifb" || die "cannot create namespace $ns"
# netns_create installed its own trap; ours also removes the namespace, and more.
trap cleanup EXIT
trap 'exit 130' INT TERM

socket=$tmp/pktpoold.sock
# Bounded like every tool run here; the trap ends it (timeout passes SIGTERM on).
timeout -k 10 900 ip netns exec "$ns" "$daemon" --socket "$socket" --bind "$ifa" 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { cat "$tmp/daemon.log"; die "pktpoold did not start"; }

# field KEY LINE: KEY's value in a "result k=v ..." line.
field() { awk -v key="$1" '{ for (i = 2; i <= NF; ++i) { split($i, kv, "=");
  if (kv[1] == key) { print kv[2]; exit } } }' <<<"$2"; }

capture_start() {  # NAME: tcpdump on the peer into $tmp/NAME.pcap
  timeout -k 5 120 ip netns exec "$ns" tcpdump -i "$ifb" -n --time-stamp-precision=nano -B 131072 \
    -w "$tmp/$1.pcap" >"$tmp/$1.tcpdump" 2>&1 &
  td_pid=$!
  wait_for 'listening on' "$tmp/$1.tcpdump" "$td_pid" 10 ||
    { cat "$tmp/$1.tcpdump"; die "tcpdump did not start"; }
}
capture_stop() {  # NAME: ends the capture (not in a subshell: it waits for its child)
  # tcpdump sees a block of its TPACKET_V3 ring when the kernel retires it: when full
  # or after its 1 s timeout. Give the last block time to reach the file.
  sleep 1.2
  kill -INT "$td_pid" 2>/dev/null || true  # timeout passes SIGINT on to tcpdump
  wait "$td_pid" 2>/dev/null || true
  td_pid=""
}
capture_drops() {  # NAME -> frames tcpdump's kernel ring dropped
  awk '/dropped by kernel/ { print $1; found = 1 } END { if (!found) print "?" }' "$tmp/$1.tcpdump"
}

# run_case NAME TOOL SENT LIMIT SCHEDULE -- TOOL_OPTIONS... : one send, captured and analysed.
# Appends "NAME TOOL result ..." (or "NAME TOOL na REASON") to $tmp/results and prints
# a detail line. SCHEDULE: the analysis options (one string, split on spaces).
run_case() {
  local name=$1 tool=$2 sent=$3 limit=$4 schedule=$5 file
  shift 6
  file=${!#}  # the pcap file is the last option
  local tag=$name-$tool rc=0 drops result note=""
  capture_start "$tag"
  if [ "$tool" = pktpoolctl ]; then
    timeout -k 10 "$limit" "$ctl" --socket "$socket" send "$ifa" "${@:1:$(($# - 1))}" --pcap "$file" \
      >"$tmp/$tag.out" 2>&1 || rc=$?
  else
    timeout -k 10 "$limit" ip netns exec "$ns" tcpreplay -i "$ifa" --preload-pcap "$@" \
      >"$tmp/$tag.out" 2>&1 || rc=$?
  fi
  capture_stop "$tag"
  drops=$(capture_drops "$tag")
  local error
  error=$(grep -v '^[[:space:]]*$' "$tmp/$tag.out" | grep -iv 'run with --help' | head -1 || true)
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    note="timed out after ${limit}s"
    sleep 2  # what the daemon still had queued goes out before the next capture
  elif [ "$rc" -ne 0 ]; then
    if [ "$rc" -eq 2 ] || [ "$tool" = tcpreplay ] || [ ! -s "$tmp/$tag.pcap" ]; then
      echo "$name $tool na ($tool: ${error:-exit $rc})" >>"$tmp/results"
      printf '  %-12s %-10s n/a (%s: %s)\n' "$name" "$tool" "$tool" "${error:-exit $rc}"
      rm -f "$tmp/$tag.pcap"
      return 0
    fi
    note="exit $rc: $error"
  fi
  # shellcheck disable=SC2086  # SCHEDULE is a list of options
  result=$("$python" "$stats" analyze "$tmp/$tag.pcap" --sent "$sent" $schedule) ||
    die "analysis of $tag failed"
  rm -f "$tmp/$tag.pcap"
  echo "$name $tool $result cap_drops=$drops${note:+ note=${note// /_}}" >>"$tmp/results"
  printf '  %-12s %-10s %s cap_drops=%s%s\n' "$name" "$tool" "${result#result }" "$drops" \
    "${note:+ ($note)}"
  # The tool's own account: tcpreplay's "Rated:" line, pktpoolctl's summary.
  grep -E 'Rated:|^Timing:' "$tmp/$tag.out" | sed 's/^[[:space:]]*/                          /' || true
}

write_pcap() {  # FILE FRAMES SIZE GAP_US
  [ -s "$1" ] || "$python" "$stats" write "$1" --frames "$2" --size "$3" --gap-us "$4" >/dev/null ||
    die "writing $1 failed"
}

both() {  # NAME SENT LIMIT SCHEDULE -- OPTIONS... FILE: both tools, ROUNDS times, alternating
  local name=$1 sent=$2 limit=$3 schedule=$4 round
  shift 5
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
      run_case "$name" pktpoolctl "$sent" "$limit" "$schedule" -- "$@"
      run_case "$name" tcpreplay "$sent" "$limit" "$schedule" -- "$@"
    else
      run_case "$name" tcpreplay "$sent" "$limit" "$schedule" -- "$@"
      run_case "$name" pktpoolctl "$sent" "$limit" "$schedule" -- "$@"
    fi
  done
}

multiplier_args=()
if [ "$MULTIPLIER" != 1 ]; then multiplier_args=(--multiplier "$MULTIPLIER"); fi
mdiv() { awk -v s="$1" -v m="$MULTIPLIER" 'BEGIN { printf "%d", s / m }'; }

start_s=$SECONDS
echo "send_timing: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)," \
  "$(tcpreplay --version 2>&1 | head -1), $(tcpdump --version 2>&1 | head -1)"
echo "namespace $ns: $ifa <-> $ifb (veth); pktpoold binds $ifa; capture on $ifb (ns timestamps)"
echo "ROUNDS=$ROUNDS CASES=\"$CASES\" PROBE_RATES=\"$PROBE_RATES\" MBPS=$MBPS MULTIPLIER=$MULTIPLIER"
echo
: >"$tmp/results"
case_names=()
declare -A case_label
chosen_note=""
for c in $CASES; do
  case $c in
    1 | 2 | 3)
      pps=$((c == 1 ? 1000 : c == 2 ? 20000 : 100000))
      frames=$((2 * pps))
      name=$c:pps-$((pps / 1000))k
      file=$tmp/pps-$frames.pcap
      write_pcap "$file" "$frames" 64 1
      echo "case $name: --pps $pps, $frames x 64 B"
      both "$name" "$frames" 45 "--interval-ns $((1000000000 / pps))" -- --pps "$pps" "$file"
      case_label[$name]="--pps $pps, $frames x 64 B"
      ;;
    4)
      echo "case 4: probing tcpreplay --pps at $PROBE_RATES (1 s each)"
      best=""
      for r in $PROBE_RATES; do
        file=$tmp/pps-$r.pcap
        write_pcap "$file" "$r" 64 1
        run_case "probe-$((r / 1000))k" tcpreplay "$r" 30 "--interval-ns $(awk -v r="$r" 'BEGIN { printf "%.3f", 1e9 / r }')" \
          -- --pps "$r" "$file"
        line=$(tail -1 "$tmp/results")
        rx=$(field received "$line"); err=$(field span_err_pct "$line")
        if [ "$rx" = "$r" ] && awk -v e="$err" 'BEGIN { exit !(e != "n/a" && e <= 0.1 && e >= -0.1) }'; then
          if [ -z "$best" ] || [ "$r" -gt "$best" ]; then best=$r; fi
        fi
      done
      sed -i '/^probe-/d' "$tmp/results"  # probes are not in the summary
      if [ -n "$best" ]; then
        chosen_note="case 4 rate $best pps: the fastest of $PROBE_RATES where tcpreplay got every frame with |span error| <= 0.1 %"
      else
        best=$(tr ' ' '\n' <<<"$PROBE_RATES" | grep . | sort -n | head -1)
        chosen_note="case 4 rate $best pps: tcpreplay held none of $PROBE_RATES (every frame, |span error| <= 0.1 %); ran at the lowest"
      fi
      echo "$chosen_note"
      name=4:pps-$((best / 1000))k
      file=$tmp/pps-$best.pcap
      write_pcap "$file" "$best" 64 1
      both "$name" "$best" 45 "--interval-ns $(awk -v r="$best" 'BEGIN { printf "%.3f", 1e9 / r }')" \
        -- --pps "$best" "$file"
      case_label[$name]="--pps $best (probed), $best x 64 B"
      ;;
    5 | 6)
      gap=$((c == 5 ? 100 : 10))
      frames=$((c == 5 ? 10000 : 100000))
      name=$c:rec-${gap}us
      file=$tmp/rec-$gap.pcap
      write_pcap "$file" "$frames" 64 "$gap"
      echo "case $name: recorded timing, $frames x 64 B, $gap us apart${multiplier_args[*]:+, ${multiplier_args[*]}}"
      both "$name" "$frames" $((30 + $(mdiv 10))) "--reference $file --multiplier $MULTIPLIER" \
        -- "${multiplier_args[@]}" "$file"
      case_label[$name]="recorded, $frames x 64 B, $gap us apart${multiplier_args[*]:+, ${multiplier_args[*]}}"
      ;;
    7)
      frames=$((2 * MBPS * 1000000 / (1514 * 8)))
      name=7:mbps-$MBPS
      file=$tmp/mbps-$frames.pcap
      write_pcap "$file" "$frames" 1514 1
      echo "case $name: --mbps $MBPS, $frames x 1514 B"
      both "$name" "$frames" 30 "--mbps $MBPS" -- --mbps "$MBPS" "$file"
      case_label[$name]="--mbps $MBPS, $frames x 1514 B"
      ;;
    8)
      name=8:loop-5
      file=$tmp/loop-100.pcap
      write_pcap "$file" 1000 64 100
      echo "case $name: recorded timing, 1000 x 64 B, 100 us apart, --loop 5${multiplier_args[*]:+, ${multiplier_args[*]}}"
      both "$name" 5000 30 "--reference $file --multiplier $MULTIPLIER --loop 5" \
        -- --loop 5 "${multiplier_args[@]}" "$file"
      case_label[$name]="recorded, 1000 x 64 B, 100 us apart, --loop 5${multiplier_args[*]:+, ${multiplier_args[*]}}"
      ;;
  esac
  case_names+=("$name")
  echo
done
elapsed=$((SECONDS - start_s))

# ---- summary ---------------------------------------------------------------------------
echo "== summary (send_timing.sh: pktpoolctl send vs tcpreplay, timing measured at the peer)"
echo
printf '%-11s %-10s %13s %-8s %13s %13s %9s %14s %14s %9s\n' case tool frames in_order \
  span_expected span_measured span_err% gap_err_p50_us gap_err_p99_us cap_drops
declare -A p50 p99 span_ok order_ok
# median KEY LINES: the median of KEY's values over the rounds' result lines.
median() {
  awk -v key="$1" '{ for (i = 2; i <= NF; ++i) { split($i, kv, "=");
    if (kv[1] == key && kv[2] != "n/a") print kv[2] } }' <<<"$2" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
      if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for name in "${case_names[@]}"; do
  for tool in pktpoolctl tcpreplay; do
    lines=$(awk -v n="$name" -v t="$tool" '$1 == n && $2 == t' "$tmp/results")
    if [ -z "$lines" ]; then continue; fi
    if [ "$(awk '$3 != "na"' <<<"$lines" | wc -l)" -eq 0 ]; then
      line=$(tail -1 <<<"$lines")
      printf '%-11s %-10s %s\n' "$name" "$tool" "n/a ${line#* * na }"
      continue
    fi
    lines=$(awk '$3 != "na"' <<<"$lines")
    line=$(tail -1 <<<"$lines")
    rx=$(awk -v key=received '{ for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == key && (min == "" || kv[2] + 0 < min)) min = kv[2] + 0 } } END { print min }' <<<"$lines")
    sent=$(field sent "$line")
    in_order=$(grep -q 'in_order=no' <<<"$lines" && echo no || echo yes)
    err=$(median span_err_pct "$lines")
    drops=$(awk '{ for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == "cap_drops" && kv[2] != "?") s += kv[2] } } END { print s + 0 }' <<<"$lines")
    printf '%-11s %-10s %13s %-8s %12ss %12ss %9s %14s %14s %9s\n' "$name" "$tool" "$rx/$sent" \
      "$in_order" "$(field span_expected_s "$line")" "$(median span_measured_s "$lines")" \
      "$err" "$(median gap_err_p50_us "$lines")" "$(median gap_err_p99_us "$lines")" "$drops"
    p50[$name/$tool]=$(median gap_err_p50_us "$lines")
    p99[$name/$tool]=$(median gap_err_p99_us "$lines")
    span_ok[$name/$tool]=$(awk -v e="$err" 'BEGIN { print (e != "n/a" && e <= 0.1 && e >= -0.1) ? "PASS" : "MISS" }')
    order_ok[$name/$tool]=$([ "$in_order" = yes ] && [ "$rx" = "$sent" ] && echo PASS || echo MISS)
    notes=$(awk -v key=note '{ for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' <<<"$lines")
    while read -r note; do
      if [ -n "$note" ]; then printf '%-11s %-10s   (%s: %s)\n' "" "" "$tool" "${note//_/ }"; fi
    done <<<"$notes"
    bm=$(median boundary_gap_us "$lines")
    if [ "$bm" != n/a ]; then
      printf '%-11s %-10s   loop boundaries: %s, mean gap %s us (expected %s us)\n' "" "" \
        "$(field loop_boundaries "$line")" "$bm" "$(field boundary_gap_expected_us "$line")"
    fi
  done
done
echo
echo "each figure: the median of $ROUNDS rounds; frames: the fewest received; cap_drops: summed"
echo
for name in "${case_names[@]}"; do printf '%-11s %s\n' "$name" "${case_label[$name]}"; done
[ -z "$chosen_note" ] || echo "$chosen_note"
echo
ratio() {  # A B -> A/B as "N.NNx", or n/a
  if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else if (a == 0) print "1.00x"; else print "inf" }'
}
printf '%-11s %-11s %-22s %-22s %-20s %s\n' case "p99 ratio" "p99 <= tcpreplay's" \
  "span err <= 0.1 %" "every frame, order" "(p50 ratio)"
for name in "${case_names[@]}"; do
  a=${p99[$name/pktpoolctl]:-} b=${p99[$name/tcpreplay]:-}
  verdict=n/a
  if [ "$(ratio "$a" "$b")" != n/a ]; then
    verdict=$(awk -v a="$a" -v b="$b" 'BEGIN { print (a <= b) ? "PASS" : "MISS" }')
  fi
  printf '%-11s %-11s %-22s %-22s %-20s %s\n' "$name" "$(ratio "$a" "$b")" "$verdict" \
    "ctl ${span_ok[$name/pktpoolctl]:-n/a}, tcpr ${span_ok[$name/tcpreplay]:-n/a}" \
    "ctl ${order_ok[$name/pktpoolctl]:-n/a}, tcpr ${order_ok[$name/tcpreplay]:-n/a}" \
    "($(ratio "${p50[$name/pktpoolctl]:-}" "${p50[$name/tcpreplay]:-}"))"
done
echo
echo "frames: received/sent at the peer; in_order: every frame, sequence numbers in order (loops"
echo "repeat them); span: last - first frame; gap error: |actual - expected gap| between"
echo "consecutive frames; cap_drops: frames tcpdump's ring dropped (a loss not the sender's)."
echo "ratios: pktpoolctl's gap error / tcpreplay's. Targets (reported, never failed): span"
echo "error <= 0.1 %, p99 gap error <= tcpreplay's, every frame in order. Cases took ${elapsed}s."
