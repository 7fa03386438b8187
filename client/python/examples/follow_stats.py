#!/usr/bin/python3
"""Follows pktpoold's statistics (WatchStats): one line per update with each binding's
rx/tx frame counters and the frames per second since the previous update."""

import datetime
import signal
import sys
import time

import pktpool_client as client

EXAMPLE = """examples:
  follow_stats.py                                  every binding, once a second
  follow_stats.py --interface veth0 --interval 0.2 --count 10

Each line: the time the update arrived, then per binding
  IF rx FRAMES (RATE/s) tx FRAMES (RATE/s)
where RATE is frames per second since the previous update ('-' on the first update, or
when a counter went back). Ctrl-C stops it (exit 0)."""


def rate(current, previous, elapsed):
    """'123.4' frames/s, or '-' when there is nothing to compare with."""
    if previous is None or elapsed <= 0 or current < previous:
        return "-"
    return f"{(current - previous) / elapsed:.1f}"


def format_update(update, elapsed, previous):
    """The line for one GetStatsResponse that arrived `elapsed` seconds after `previous`
    (the update before it, or None)."""
    before = {stats.binding.interface: stats for stats in previous.bindings} if previous else {}
    parts = []
    for stats in update.bindings:
        old = before.get(stats.binding.interface)
        rx_rate = rate(stats.rx_frames, old.rx_frames if old else None, elapsed)
        tx_rate = rate(stats.tx_frames, old.tx_frames if old else None, elapsed)
        parts.append(f"{stats.binding.interface} rx {stats.rx_frames} ({rx_rate}/s) "
                     f"tx {stats.tx_frames} ({tx_rate}/s)")
    clock = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    return f"{clock}  " + ("  |  ".join(parts) if parts else "no bindings")


def main(args):
    request = client.pb2.WatchStatsRequest(interface=args.interface or "")
    request.interval.FromNanoseconds(round(args.interval * 1e9))
    updates = client.connect(args).WatchStats(request)
    previous = None
    previous_arrival = 0.0
    shown = 0
    try:
        for update in updates:
            # The client's monotonic clock times the updates: daemons built before the
            # `time` field had sub-second resolution (protobuf 3.21's GetCurrentTime) would
            # give no rate at short intervals.
            arrival = time.monotonic()
            print(format_update(update, arrival - previous_arrival, previous), flush=True)
            previous, previous_arrival = update, arrival
            shown += 1
            if args.count and shown >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        updates.cancel()
    return 0


if __name__ == "__main__":
    parser = client.parser(__doc__, EXAMPLE)
    parser.add_argument("--interface", metavar="IF", help="one binding only (default: all)")
    parser.add_argument("--interval", metavar="SECONDS", type=client.positive_float, default=1.0,
                        help="time between updates, at least 0.01 (default %(default)s)")
    parser.add_argument("--count", metavar="N", type=client.positive_int,
                        help="stop after N updates (default: until Ctrl-C)")
    arguments = parser.parse_args()
    if arguments.interval < 0.01:
        parser.error("--interval must be at least 0.01 s (the daemon's minimum)")
    # A closed pipe (e.g. `| head`) ends the run quietly, as Ctrl-C does.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(client.run(main, arguments))
