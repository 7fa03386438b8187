#!/usr/bin/python3
"""Prints pktpoold's statistics: every binding's counters and its pools (GetStats)."""

import json
import sys

from google.protobuf import json_format

import pktpool_client as client

EXAMPLE = """examples:
  print_stats.py                                   every binding, as tables
  print_stats.py --interface veth0 --json          one binding, as JSON
  print_stats.py --socket /run/pktpoold-demo/pktpoold.sock

--json prints the GetStatsResponse in the proto3 JSON mapping with the proto's field
names (as `pktpoolctl stats -o json`): 64-bit counters are strings there."""

POOL_COLUMNS = ("pool", "tag", "generation", "descriptors", "overflow", "in_use", "free",
                "high_watermark", "failures")


def pool_row(pool):
    generation = str(pool.generation) + (" draining" if pool.draining else "")
    return (client.pool_label(pool.name), pool.tag, generation, str(pool.descriptors),
            str(pool.overflow_limit), str(pool.in_use), str(pool.free),
            str(pool.high_watermark), str(pool.resource_failures))


def print_table(rows, indent="  "):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        print(indent + "  ".join(cells).rstrip())


def print_binding(stats):
    info = stats.binding
    failures = ", ".join(f"{reason} {count}"
                         for reason, count in sorted(stats.tx_failures.items()) if count)
    print(f"{info.interface}  {client.state_label(info.state)}  ifindex {info.interface_index}")
    print(f"  rx {stats.rx_frames} frames {stats.rx_bytes} bytes, "
          f"{stats.rx_resource_drops} resource drops")
    print(f"  tx {stats.tx_frames} frames {stats.tx_bytes} bytes, queue {stats.tx_queue_depth}, "
          f"failures: {failures or 'none'}")
    print(f"  pcap received {stats.pcap_received} dropped {stats.pcap_dropped} "
          f"if_dropped {stats.pcap_if_dropped}, down events {stats.down_events}")
    for subscriber in stats.subscribers:
        print(f"  subscriber {subscriber.name}: delivered {subscriber.delivered} "
              f"dropped {subscriber.dropped} queued {subscriber.queued}/{subscriber.capacity}")
    print_table([POOL_COLUMNS] + [pool_row(pool) for pool in stats.pools])


def in_field_order(descriptor, document):
    """`document` (a message as json_format gives it) with its keys in the proto's field
    order, as pktpoolctl prints them (json_format puts unset fields last), maps sorted."""
    ordered = {}
    for field in descriptor.fields:
        if field.name not in document:
            continue
        value = document[field.name]
        nested = field.message_type
        if nested is not None and nested.GetOptions().map_entry:
            value = dict(sorted(value.items()))  # maps have no order: sort for stable output
        elif nested is not None:
            if isinstance(value, list):
                value = [in_field_order(nested, item) if isinstance(item, dict) else item
                         for item in value]
            elif isinstance(value, dict):  # not a well-known type printed as a string
                value = in_field_order(nested, value)
        ordered[field.name] = value
    return ordered


def main(args):
    stub = client.connect(args)
    response = stub.GetStats(client.pb2.GetStatsRequest(interface=args.interface or ""),
                             timeout=args.timeout)
    if args.json:
        document = json_format.MessageToDict(response, including_default_value_fields=True,
                                             preserving_proto_field_name=True)
        print(json.dumps(in_field_order(response.DESCRIPTOR, document), indent=2))
        return 0
    if not response.bindings:
        print("no bindings")
    for index, stats in enumerate(response.bindings):
        if index:
            print()
        print_binding(stats)
    return 0


if __name__ == "__main__":
    parser = client.parser(__doc__, EXAMPLE)
    parser.add_argument("--interface", metavar="IF", help="one binding only (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sys.exit(client.run(main, parser.parse_args()))
