#!/usr/bin/env bash
# The README's run command: installs what is needed, builds, and runs pktpoold on a
# built-in demo: a veth pair in a network namespace of its own, both ends bound, light
# synthetic traffic between them so the pool statistics move. Ctrl-C (or DEMO_SECONDS,
# default 600) stops it; the daemon exits and the namespace is deleted.
# Idempotent: a namespace left by an earlier run that was killed is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: needs root (namespaces, veth, capture); run it with sudo" >&2
  exit 1
fi
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target pktpoold pktpoolctl

ns=pktpool-demo
a=veth-demo0
b=veth-demo1
socket=/run/pktpoold-demo/pktpoold.sock
seconds=${DEMO_SECONDS:-600}
ctl=(build/client/pktpoolctl/pktpoolctl --socket "$socket")

. scripts/netns.sh
ip netns del "$ns" 2>/dev/null || true
netns_create "$ns" "$a" "$b"

ip netns exec "$ns" build/daemon/pktpoold --socket "$socket" --bind "$a" --bind "$b" &
daemon=$!
stop() {
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  _pktpool_netns_cleanup
}
trap stop EXIT
trap 'exit 0' INT TERM

for _ in $(seq 50); do
  "${ctl[@]}" health >/dev/null 2>&1 && break
  sleep 0.1
done
"${ctl[@]}" health >/dev/null || { echo "demo.sh: pktpoold did not start" >&2; exit 1; }

cat <<TEXT

pktpoold is running in network namespace $ns, bound to $a and $b (a veth pair).
Frames go $a -> $b at about 100 per second. In another terminal:

  ${ctl[*]} stats            # pools and counters (add -o json for scripts)
  ${ctl[*]} watch            # refreshing, with rates; Ctrl-C quits
  ${ctl[*]} capture $b -c 5  # frames as they arrive (-w FILE.pcap to save them)
  ${ctl[*]} tune $a tx-packets --descriptors 4096 --overflow 512
  ${ctl[*]} send $a --hex 0200000000020200000000018... # your own frames

Ctrl-C stops the daemon and deletes the namespace (after $seconds s it stops by itself).

TEXT

# An Ethernet frame: locally administered MACs, EtherType 0x88B5 (local experimental).
frame=02000000000202000000000188b5$(printf '%02x' $(seq 0 49))
end=$((SECONDS + seconds))
next_print=$SECONDS
while [ "$SECONDS" -lt "$end" ] && kill -0 "$daemon" 2>/dev/null; do
  "${ctl[@]}" send "$a" --hex "$frame" --loop 50 --pps 100 --wait 1 >/dev/null || true
  if [ "$SECONDS" -ge "$next_print" ]; then
    "${ctl[@]}" stats "$b" | head -3
    next_print=$((SECONDS + 5))
  fi
done
