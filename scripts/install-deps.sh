#!/usr/bin/env bash
# Installs every Debian 12 package pktpool needs to build, test and run.
# Idempotent: a second run finds everything installed and changes nothing.
# Runs apt-get update at most once per invocation, and only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates openssl
  # control plane: gRPC 1.51, Protobuf 3.21, Abseil 20220623
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libabsl-dev
  # capture; tshark and capinfos read pktpoolctl's pcapng and run pktpool-extcap
  libpcap-dev tcpdump tcpreplay tshark
  # command lines of pktpoold and pktpoolctl (header-only)
  libcli11-dev
  # service integration: sd_notify, the metrics endpoint (cpp-httplib), unit checks, .deb
  libsystemd-dev libcpp-httplib-dev systemd dpkg-dev file
  # the package: man pages from scdoc sources (rendered with groff in the tests), the
  # bash completion's helpers, and Debian's package checker
  scdoc groff-base man-db bash-completion lintian
  # Python client: stubs from grpc_python_plugin, run with Debian's python3
  python3 python3-grpcio python3-protobuf python3-yaml
  # pktpoolctl watch tests (a real terminal)
  tmux
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # network test fixtures (namespaces, veth)
  iproute2 procps
  # deploy tests: the unit's sandbox checked under strace; maintainer scripts linted
  strace shellcheck
  # fuzzing: libFuzzer from Debian's clang (tests/fuzz)
  clang libclang-rt-14-dev
  # optional benchmark peer: DPDK rte_mempool (the bench builds without it)
  libdpdk-dev
  # benchmark peers: trafgen (TX_RING sender) and netsniff-ng (capture), one package
  netsniff-ng
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get); re-run with sudo" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
