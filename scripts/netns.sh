#!/usr/bin/env bash
# Test network namespaces with a veth pair, for scripts and benchmarks. Source it:
#
#   . scripts/netns.sh
#   netns_create pkt-demo veth-a veth-b     # namespace + veth pair inside it, both up
#   ip netns exec pkt-demo tcpdump -i veth-b ...
#
# Every namespace created here is deleted when the sourcing shell exits (a trap on
# EXIT, INT and TERM), or earlier with netns_destroy. Traffic stays inside: the pair
# exists only in the namespace, and IPv6 is off there so the kernel adds no frames.

_PKTPOOL_NETNS_CREATED=()

netns_destroy() {
  local name=$1
  ip netns del "$name" 2>/dev/null || true
}

_pktpool_netns_cleanup() {
  local name
  for name in "${_PKTPOOL_NETNS_CREATED[@]}"; do netns_destroy "$name"; done
  _PKTPOOL_NETNS_CREATED=()
}

# netns_create NAME IF_A IF_B [MTU]
netns_create() {
  local name=$1 a=$2 b=$3 mtu=${4:-1500}
  if [ "$(id -u)" -ne 0 ]; then
    echo "netns_create: needs root (CAP_NET_ADMIN) to create namespaces" >&2
    return 1
  fi
  if ip netns list | grep -qw "^$name"; then
    echo "netns_create: namespace $name already exists; delete it first (ip netns del $name)" >&2
    return 1
  fi
  ip netns add "$name" || return 1
  _PKTPOOL_NETNS_CREATED+=("$name")
  trap _pktpool_netns_cleanup EXIT INT TERM
  ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$name" link add "$a" mtu "$mtu" type veth peer name "$b" mtu "$mtu" || return 1
  ip -n "$name" link set lo up
  ip -n "$name" link set "$a" up
  ip -n "$name" link set "$b" up
}
