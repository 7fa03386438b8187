#!/usr/bin/python3
"""send_timing_stats.py: pcap files for bench/send_timing.sh, and its timing figures.

Python 3, standard library only (Debian's python3): the pcap format is a 24-byte file
header and a 16-byte record header per frame, which struct reads in a few lines, and a
capture of a few hundred thousand frames is analysed in about a second. That keeps
the benchmark free of a build step (it runs against whatever build it is given) and
lets it evolve without touching bench/CMakeLists.txt.

  send_timing_stats.py write FILE --frames N --size S --gap-us G
      A classic microsecond pcap file (magic 0xa1b2c3d4, DLT_EN10MB) that tcpreplay and
      pktpoolctl read: N frames of S bytes, 02:00:00:00:00:01 -> 02:00:00:00:00:02,
      ethertype 0x88B5, frame i carrying the 64-bit big-endian sequence number i right
      after the Ethernet header (as bench/veth_throughput does), recorded G us apart.

  send_timing_stats.py analyze CAPTURE --sent N SCHEDULE
      CAPTURE: the peer's capture (pcap, microsecond or nanosecond magic 0xa1b23c4d).
      N: frames the tool was asked to send (file frames x loops).
      SCHEDULE, the time each sent frame is due (relative to the first):
        --interval-ns NS                   frame k at k x NS (a --pps rate)
        --reference FILE [--multiplier X] [--loop L]
                                           the file's recorded timestamps / X; a loop
                                           period of span x n/(n-1) / X (n frames: the
                                           span plus one mean gap), L loops
        --mbps R                           gap before frame k = bits of frame k-1 / R Mbit/s
                                           (frame bytes only, caplen x 8, as tcpreplay;
                                           sizes from the capture)
      Prints one line "result key=value ...": sent, received, in_order (every frame, in
      sequence), lost, regressions (sequence steps back, loops apart), span_expected_s,
      span_measured_s, span_err_pct, gap_err_p50_us/p99_us/max_us (|actual - expected|
      gap between consecutive frames received), gap_err_max_at (the frame after that
      gap, by position sent), lag_max_us/lag_min_us (the frames' offset from their due
      time, anchored at the first frame; positive: late), and with loops
      loop_boundaries, boundary_gap_us, boundary_gap_expected_us (mean gaps across them).

Frames are matched by sequence number, so a lost frame does not shift the schedule of
the ones after it; with loops, a step back of at least half the file starts the next
loop (smaller steps back are frames out of order).
"""

import argparse
import struct
import sys

DST = bytes.fromhex("020000000002")
SRC = bytes.fromhex("020000000001")
ETHERTYPE = b"\x88\xb5"
HEADER = 14
MIN_FRAME = HEADER + 8
BASE_SECONDS = 1764028800  # 2025-11-25, as bench/veth_throughput write-pcap

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D


def write_pcap(path, frames, size, gap_us):
    if size < MIN_FRAME:
        sys.exit(f"write: --size must be at least {MIN_FRAME}")
    fill = bytes(i & 0xFF for i in range(MIN_FRAME, size))
    prefix = DST + SRC + ETHERTYPE
    record = struct.Struct("<IIII")
    seq = struct.Struct(">Q")
    out = bytearray(struct.pack("<IHHiIII", MAGIC_US, 2, 4, 0, 0, 65535, 1))
    for i in range(frames):
        t_us = i * gap_us
        out += record.pack(BASE_SECONDS + t_us // 1000000, t_us % 1000000, size, size)
        out += prefix
        out += seq.pack(i)
        out += fill
    with open(path, "wb") as f:
        f.write(out)
    print(f"result mode=write frames={frames} size={size} gap_us={gap_us} file={path}")


def read_pcap(path):
    """[(timestamp_ns, wire_length, frame_bytes_prefix)] of every record."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file ({len(data)} bytes)")
    magic_le = struct.unpack_from("<I", data, 0)[0]
    magic_be = struct.unpack_from(">I", data, 0)[0]
    if magic_le in (MAGIC_US, MAGIC_NS):
        endian, magic = "<", magic_le
    elif magic_be in (MAGIC_US, MAGIC_NS):
        endian, magic = ">", magic_be
    else:
        raise ValueError(f"{path}: unknown pcap magic 0x{magic_le:08x} (pcapng is not read here)")
    scale = 1 if magic == MAGIC_NS else 1000
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, not Ethernet")
    record = struct.Struct(endian + "IIII")
    out = []
    offset = 24
    end = len(data)
    while offset + 16 <= end:
        sec, frac, caplen, wirelen = record.unpack_from(data, offset)
        offset += 16
        if offset + caplen > end:
            break  # a truncated last record (the capture was cut): ignored
        out.append((sec * 1000000000 + frac * scale, wirelen, data[offset:offset + MIN_FRAME]))
        offset += caplen
    return out


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[min(len(sorted_values), int(rank)) - 1]


def fmt(value, digits):
    return "n/a" if value is None else f"{value:.{digits}f}"


def analyze(args):
    captured = read_pcap(args.capture)
    # Only the benchmark's frames (the namespace is quiet, but be sure).
    frames = [(t, wl, p[HEADER:MIN_FRAME]) for t, wl, p in captured
              if len(p) >= MIN_FRAME and p[0:6] == DST and p[6:12] == SRC and p[12:14] == ETHERTYPE]
    sent = args.sent

    # Schedule: due(pos) in ns relative to position 0; file_frames: frames per loop.
    loops = 1
    if args.reference:
        ref = read_pcap(args.reference)
        if not ref:
            sys.exit(f"analyze: {args.reference} holds no frames")
        t0 = ref[0][0]
        mult = args.multiplier
        rel = [(t - t0) / mult for t, _, _ in ref]
        file_frames = len(ref)
        loops = args.loop
        span_file = rel[-1]
        period = span_file * file_frames / (file_frames - 1) if file_frames > 1 else 0.0

        def due(pos):
            return (pos // file_frames) * period + rel[pos % file_frames]
    elif args.interval_ns is not None:
        file_frames = sent
        interval = args.interval_ns

        def due(pos):
            return pos * interval
    else:
        file_frames = sent
        due = None  # built below from the captured sizes
    if args.reference is None and args.loop != 1:
        file_frames = sent // args.loop
        loops = args.loop

    # Positions in the sent stream, from the sequence numbers.
    positions = []
    loop = 0
    previous = -1
    bad_sequence = 0
    regressions = 0  # steps back in sequence other than a loop's restart
    for _, _, s in frames:
        seq = struct.unpack(">Q", s)[0]
        if seq >= file_frames:
            bad_sequence += 1
            seq = file_frames - 1
        if seq <= previous:
            # A new loop when loops remain and the step back is large; otherwise a frame
            # out of order (its position is still its own).
            if loop < loops - 1 and previous - seq >= file_frames // 2:
                loop += 1
            else:
                regressions += 1
        previous = seq
        positions.append(loop * file_frames + seq)
    received = len(frames)
    in_order = (received == sent and bad_sequence == 0 and
                all(p == k for k, p in enumerate(positions)))

    if due is None:  # --mbps: cumulative bits of the frames before each position
        rate_bps = args.mbps * 1e6
        size_at = {}
        for (_, wl, _), pos in zip(frames, positions):
            size_at.setdefault(pos, wl)
        cumulative = [0.0] * (sent + 1)
        last_size = frames[0][1] if frames else 0
        for pos in range(sent):
            last_size = size_at.get(pos, last_size)
            cumulative[pos + 1] = cumulative[pos] + last_size * 8 / rate_bps * 1e9

        def due(pos):
            return cumulative[min(pos, sent)]

    span_expected = due(sent - 1) - due(0) if sent > 0 else 0
    result = {"sent": sent, "received": received, "in_order": "yes" if in_order else "no",
              "lost": max(0, sent - received), "regressions": regressions,
              "span_expected_s": fmt(span_expected / 1e9, 6)}
    if received < 2:
        result.update(span_measured_s="n/a", span_err_pct="n/a", gap_err_p50_us="n/a",
                      gap_err_p99_us="n/a", gap_err_max_us="n/a", lag_max_us="n/a")
    else:
        times = [t for t, _, _ in frames]
        span_measured = times[-1] - times[0]
        errors = []
        worst, worst_at = -1, 0
        boundary_measured = []
        boundary_expected = []
        for k in range(1, received):
            actual = times[k] - times[k - 1]
            expected = due(positions[k]) - due(positions[k - 1])
            errors.append(abs(actual - expected))
            if errors[-1] > worst:
                worst, worst_at = errors[-1], positions[k]
            if loops > 1 and positions[k] // file_frames != positions[k - 1] // file_frames:
                boundary_measured.append(actual)
                boundary_expected.append(expected)
        errors.sort()
        # Lag: how far each frame is from its due time on a schedule anchored at the
        # first frame received (positive: late).
        base_t, base_due = times[0], due(positions[0])
        lags = [(t - base_t) - (due(p) - base_due) for t, p in zip(times, positions)]
        span_err = ((span_measured - span_expected) / span_expected * 100
                    if span_expected > 0 else None)
        result.update(
            span_measured_s=fmt(span_measured / 1e9, 6),
            span_err_pct=fmt(span_err, 3),
            gap_err_p50_us=fmt(percentile(errors, 50) / 1e3, 2),
            gap_err_p99_us=fmt(percentile(errors, 99) / 1e3, 2),
            gap_err_max_us=fmt(errors[-1] / 1e3, 1),
            gap_err_max_at=worst_at,
            lag_max_us=fmt(max(lags) / 1e3, 1),
            lag_min_us=fmt(min(lags) / 1e3, 1))
        if boundary_measured:
            n = len(boundary_measured)
            result.update(loop_boundaries=n,
                          boundary_gap_us=fmt(sum(boundary_measured) / n / 1e3, 2),
                          boundary_gap_expected_us=fmt(sum(boundary_expected) / n / 1e3, 2))
    print("result " + " ".join(f"{k}={v}" for k, v in result.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="write a microsecond pcap file of numbered frames")
    w.add_argument("file")
    w.add_argument("--frames", type=int, required=True)
    w.add_argument("--size", type=int, required=True)
    w.add_argument("--gap-us", type=int, default=1)
    a = sub.add_parser("analyze", help="timing figures of a capture against a schedule")
    a.add_argument("capture")
    a.add_argument("--sent", type=int, required=True)
    schedule = a.add_mutually_exclusive_group(required=True)
    schedule.add_argument("--interval-ns", type=float)
    schedule.add_argument("--reference")
    schedule.add_argument("--mbps", type=float)
    a.add_argument("--multiplier", type=float, default=1.0)
    a.add_argument("--loop", type=int, default=1)
    args = parser.parse_args()
    if args.command == "write":
        if args.frames < 1 or args.gap_us < 0:
            sys.exit("write: --frames must be >= 1 and --gap-us >= 0")
        write_pcap(args.file, args.frames, args.size, args.gap_us)
        return
    if args.sent < 1 or args.loop < 1 or args.multiplier <= 0:
        sys.exit("analyze: --sent and --loop must be >= 1, --multiplier > 0")
    try:
        analyze(args)
    except (OSError, ValueError) as e:
        sys.exit(f"analyze: {e}")


if __name__ == "__main__":
    main()
