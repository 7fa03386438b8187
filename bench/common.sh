#!/usr/bin/env bash
# Shell functions the benchmark scripts share. Source it (bench/*.sh do).

# wait_for PATTERN FILE PID SECONDS: until FILE has PATTERN; fails if PID exits first.
wait_for() {
  local pattern=$1 file=$2 pid=$3 tenths=$(($4 * 10))
  while [ "$tenths" -gt 0 ]; do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
    tenths=$((tenths - 1))
  done
  return 1
}

# same_frames A B N: whether the first N frames of pcap files A and B have the same bytes
# (link type and timestamps aside: trafgen writes its pcap files with link type NULL).
same_frames() {
  cmp -s <(tcpdump -r "$1" -c "$3" -xx 2>/dev/null | grep -E '^[[:space:]]+0x') \
    <(tcpdump -r "$2" -c "$3" -xx 2>/dev/null | grep -E '^[[:space:]]+0x')
}

# median V...: the middle value (the lower middle of an even count), sorted numerically.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
