#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang and runs each for a while on a copy
# of its seed corpus (the repository's corpus is never written). Idempotent: reuses the
# build directory. Exits non-zero if any target crashes, leaks, times out or runs out of
# memory; the input that did it is kept and its path printed.
#
#   scripts/fuzz.sh                       60 s per target, build directory build-fuzz/
#   scripts/fuzz.sh --seconds 300         5 minutes per target
#   scripts/fuzz.sh --build-dir DIR       another (clang) build directory
#   scripts/fuzz.sh --target config_fuzzer   only this target (repeatable)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build_dir=build-fuzz
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --target) targets+=("${2:?--target needs a fuzz target}"); shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a whole number, not '$seconds'" >&2; exit 2 ;;
esac
[ ${#targets[@]} -eq 0 ] && targets=(pool_ops_fuzzer config_fuzzer rpc_request_fuzzer)
command -v clang++ >/dev/null || {
  echo "fuzz.sh: clang++ not found; scripts/install-deps.sh installs clang" >&2; exit 2; }

CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DPKTPOOL_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j2 --target "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/pktpool-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"

# Per-target flags: the config fuzzer gets its dictionary and room for the example config.
extra_flags() {
  case "$1" in
    config_fuzzer) echo "-dict=tests/fuzz/config_fuzzer.dict -max_len=8192" ;;
    *) echo "" ;;
  esac
}

failed=0
for target in "${targets[@]}"; do
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  log="$work/$target.log"
  # shellcheck disable=SC2046  # extra_flags is meant to split into flags
  if "$build_dir/tests/fuzz/$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
       -timeout=25 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
       $(extra_flags "$target") >"$log" 2>&1; then
    status=0
  else
    status=$?
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [ "$status" -eq 0 ] && [ -z "$crash" ]; then
    echo "$target: ${runs:-?} executions (${rate:-?}/s), ${coverage:-no coverage line}: no crash"
  else
    failed=1
    echo "$target: ${runs:-?} executions, ${coverage:-no coverage line}: FAILED (exit $status)"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|[a-z_]+_fuzzer: )' "$log" | head -5 | sed 's/^/  /'
    echo "  input: ${crash:-none written}; log: $artifacts/$target.log"
    cp "$log" "$artifacts/$target.log"
  fi
done
exit "$failed"
