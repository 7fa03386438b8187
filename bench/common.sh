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
