#!/usr/bin/python3
"""Replaces one pool of a binding with a new generation of the given sizes, live
(TunePool), and prints what the daemon applied."""

import sys

import pktpool_client as client

EXAMPLE = """examples:
  tune_pool.py veth0 tx-packets --descriptors 4096 --overflow 1024
  tune_pool.py veth0 rx-buffers --descriptors 8192 --buffer-size 4096

Packet pools (rx-packets, tx-packets): 1 to 65535 descriptors; an overflow that takes the
total over 65535 is clamped by the daemon, and the output says so. Buffer pools
(rx-buffers, tx-buffers): --descriptors is the buffer count, --buffer-size the bytes per
buffer (64 to 65536; default: keep the current size). The old generation drains."""

PACKET_POOLS = ("rx-packets", "tx-packets")


def main(args):
    request = client.pb2.TunePoolRequest(
        interface=args.interface, pool=client.POOL_ARGUMENTS[args.pool],
        descriptors=args.descriptors, overflow=args.overflow or 0,
        buffer_size=args.buffer_size or 0)
    response = client.connect(args).TunePool(request, timeout=args.timeout)
    applied = response.applied
    print(f"{args.interface} {client.pool_label(applied.name)} ({applied.tag}): "
          f"generation {applied.generation}")
    print(f"  descriptors {applied.descriptors}")
    if args.pool in PACKET_POOLS:
        if response.overflow_clamped:
            print(f"  overflow limit {applied.overflow_limit} "
                  f"(clamped from {args.overflow or 0}: descriptors + overflow <= 65535)")
        else:
            print(f"  overflow limit {applied.overflow_limit} (not clamped)")
    else:
        print(f"  buffer size {applied.buffer_size} bytes")
    return 0


if __name__ == "__main__":
    parser = client.parser(__doc__, EXAMPLE)
    parser.add_argument("interface", metavar="IFACE", help="a bound interface")
    parser.add_argument("pool", metavar="POOL", choices=list(client.POOL_ARGUMENTS),
                        help="one of: " + ", ".join(client.POOL_ARGUMENTS))
    parser.add_argument("--descriptors", metavar="N", type=client.positive_int, required=True,
                        help="packet descriptors, or buffer descriptors for a buffer pool")
    parser.add_argument("--overflow", metavar="M", type=client.non_negative_int,
                        help="overflow packet descriptors (packet pools; default 0)")
    parser.add_argument("--buffer-size", metavar="B", type=client.positive_int,
                        help="bytes per buffer (buffer pools; default: unchanged)")
    arguments = parser.parse_args()
    if arguments.pool in PACKET_POOLS and arguments.buffer_size is not None:
        parser.error(f"--buffer-size applies to buffer pools, not {arguments.pool}")
    if arguments.pool not in PACKET_POOLS and arguments.overflow is not None:
        parser.error(f"--overflow applies to packet pools, not {arguments.pool}")
    sys.exit(client.run(main, arguments))
