#!/usr/bin/env bash
# Builds pktpoold and the soak test, then runs the soak for N minutes (tests/soak/README.md).
# Idempotent: reuses the build directory. Needs root or CAP_NET_ADMIN (it creates its own
# network namespace and veth pairs); without them it skips (exit 77), or fails if CI is set.
#
#   scripts/soak.sh                      3 minutes (or $SOAK_MINUTES), build directory build/
#   scripts/soak.sh --minutes 60         an hour: the RSS check then covers 59 minutes
#   scripts/soak.sh --build-dir DIR      build and run in DIR instead of build/
#   scripts/soak.sh -- --rate 5000       anything after -- goes to soak_test (--rate, --seed,
#                                        --no-stalled-readers, --break lose-one|tiny-queue|grow-pool)
# Exit status: soak_test's (0 pass, 1 fail, 2 usage, 77 skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${SOAK_MINUTES:-3}"
build_dir=build
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="${2:?--minutes needs a number}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$minutes" in
  ''|*[!0-9.]*) echo "soak.sh: --minutes needs a number, not '$minutes'" >&2; exit 2 ;;
esac

cmake -S . -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j2 --target pktpoold soak_test
exec "$build_dir/tests/soak/soak_test" --minutes "$minutes" "${extra[@]}"
