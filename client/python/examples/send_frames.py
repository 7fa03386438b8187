#!/usr/bin/python3
"""Sends raw Ethernet frames out of a bound interface (SendFrames) and prints the outcome:
`sent N failed M`, then one line per frame that failed."""

import string
import sys

import pktpool_client as client

EXAMPLE = """examples:
  send_frames.py veth0 --hex ffffffffffff02000000000188b5000102030405 --hex 02000000000202000000000188b5ff
  send_frames.py veth0 --hex 'ff ff ff ff ff ff 02 00 00 00 00 01 88 b5 00 11' --repeat 10
  send_frames.py veth0 --hex ffffffffffff02000000000188b5 --repeat 100 --pps 50 --wait 1
  send_frames.py veth0 --file frames.txt

A frame is hex digits (spaces and colons ignored), destination MAC first; the daemon sends
it as given. --file takes one frame per line; blank lines and '#' comments are skipped.
N counts injections (--repeat sends the whole batch N times, in order; --pps paces them).
Exit status: 0 every frame sent, 1 gRPC error, 2 usage error, 3 some frames failed."""

EXIT_FRAMES_FAILED = 3
_IGNORED = str.maketrans("", "", string.whitespace + ":")


def parse_hex_frame(text):
    """The bytes of one hex frame; ValueError saying what is wrong."""
    digits = text.translate(_IGNORED)
    if not digits:
        raise ValueError("the frame is empty")
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)})")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        bad = next(c for c in digits if c not in string.hexdigits)
        raise ValueError(f"'{bad}' is not a hex digit") from None


def read_frames(args, parser):
    """(where, bytes) of each frame of --hex or --file, in order; a bad one is a usage
    error (exit 2)."""
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as lines:
                sources = [(f"{args.file}:{number}", line.split("#", 1)[0])
                           for number, line in enumerate(lines, start=1)]
        except OSError as error:
            parser.error(f"--file: {error.strerror}: {args.file}")
        sources = [(where, text) for where, text in sources if text.strip()]
        if not sources:
            parser.error(f"--file: {args.file} holds no frames")
    else:
        sources = [(f"--hex #{index}", text) for index, text in enumerate(args.hex, start=1)]
    frames = []
    for where, text in sources:
        try:
            frames.append((where, parse_hex_frame(text)))
        except ValueError as error:
            parser.error(f"{where}: {error}")
    return frames


def main(args, frames):
    request = client.pb2.SendFramesRequest(interface=args.interface,
                                           frames=[data for _, data in frames],
                                           frames_per_second=args.pps, repeat=args.repeat)
    if args.wait:
        request.wait_for_resources.FromNanoseconds(round(args.wait * 1e9))
    # Paced sends take as long as they take: the deadline covers the whole batch.
    timeout = args.timeout + args.wait
    if args.pps:
        timeout += len(frames) * args.repeat / args.pps
    response = client.connect(args).SendFrames(request, timeout=timeout)
    print(f"sent {response.frames_sent} failed {response.frames_failed}")
    for number, ((where, _), outcome) in enumerate(zip(frames, response.outcomes), start=1):
        if outcome.result != client.pb2.SEND_RESULT_SENT:
            detail = f": {outcome.detail}" if outcome.detail else ""
            print(f"frame {number} ({where}): {client.send_result_label(outcome.result)}"
                  f" (sent {outcome.sent} times){detail}")
    return EXIT_FRAMES_FAILED if response.frames_failed else 0


if __name__ == "__main__":
    parser = client.parser(__doc__, EXAMPLE)
    parser.add_argument("interface", metavar="IFACE", help="a bound interface")
    frames_from = parser.add_mutually_exclusive_group(required=True)
    frames_from.add_argument("--hex", metavar="HEX", action="append",
                             help="one frame in hex; repeat the flag for more")
    frames_from.add_argument("--file", metavar="FILE",
                             help="frames in hex, one per line, '#' comments")
    parser.add_argument("--repeat", metavar="N", type=client.positive_int, default=1,
                        help="send the batch N times (default 1)")
    parser.add_argument("--pps", metavar="R", type=client.non_negative_float, default=0.0,
                        help="frames per second (default 0: as fast as possible)")
    parser.add_argument("--wait", metavar="SECONDS", type=client.non_negative_float, default=0.0,
                        help="wait this long for free tx descriptors (default 0: fail at once "
                             "with RESOURCES)")
    arguments = parser.parse_args()
    sys.exit(client.run(lambda args: main(args, read_frames(args, parser)), arguments))
