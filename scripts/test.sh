#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, and runs every test.
# Idempotent: reuses the build directory; safe to run again.
#
#   scripts/test.sh                     install, build (build/), run all tests
#   scripts/test.sh --sanitize thread   the same in build-thread/ under ThreadSanitizer
#   scripts/test.sh --sanitize address  the same in build-address/ under ASan + UBSan
#   scripts/test.sh --label pool        only tests with that ctest label (a regex)
#   scripts/test.sh --exclude-label soak  leave out tests with that label (a regex)
#   scripts/test.sh --target "T1 T2"    build only these CMake targets (default: everything)
#   scripts/test.sh --no-install        skip the package step (already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
label=""
exclude_label=""
target=""
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize="${2:?--sanitize needs address or thread}"; shift 2 ;;
    --label) label="${2:?--label needs a ctest label}"; shift 2 ;;
    --exclude-label) exclude_label="${2:?--exclude-label needs a ctest label}"; shift 2 ;;
    --target) target="${2:?--target needs a CMake target}"; shift 2 ;;
    --no-install) install=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$install" -eq 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    scripts/install-deps.sh
  else
    sudo scripts/install-deps.sh
  fi
fi

build_dir=build${sanitize:+-$sanitize}
build_type=RelWithDebInfo
[ -n "$sanitize" ] && build_type=Debug
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DPKTPOOL_SANITIZE="$sanitize"
# shellcheck disable=SC2086  # a space-separated target list is meant to split
cmake --build "$build_dir" -j2 ${target:+--target $target}

ctest_args=(--test-dir "$build_dir" --output-on-failure --no-tests=error --timeout 600)
[ -n "$label" ] && ctest_args+=(-L "$label")
[ -n "$exclude_label" ] && ctest_args+=(-LE "$exclude_label")
# Sanitizer reports of every process (the tests and the daemons and tools they start)
# go to files here; any file at the end fails the run, even if no test noticed.
reports=$build_dir/sanitizer-reports
if [ -n "$sanitize" ]; then
  rm -rf "$reports"
  mkdir -p "$reports"
fi
if [ "$sanitize" = thread ]; then
  # halt_on_error: a race fails the test instead of scrolling by.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$reports/tsan ${TSAN_OPTIONS:-}"
elif [ "$sanitize" = address ]; then
  export ASAN_OPTIONS="detect_leaks=1 abort_on_error=1 log_path=$reports/asan ${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 log_path=$reports/ubsan ${UBSAN_OPTIONS:-}"
fi
status=0
ctest "${ctest_args[@]}" || status=$?
if [ -n "$sanitize" ] && [ -n "$(ls -A "$reports")" ]; then
  echo "test.sh: $sanitize sanitizer reports (from tests or the processes they started):" >&2
  for report in "$reports"/*; do
    echo "== $report" >&2
    head -60 "$report" >&2
  done
  status=1
elif [ -n "$sanitize" ]; then
  echo "test.sh: no $sanitize sanitizer reports from any process"
fi
exit "$status"
