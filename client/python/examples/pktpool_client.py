"""What the pktpool example scripts share: finding the generated stubs, the connection
flags (--socket / --target), the channel and stub, pool names, and how errors end a run.

Each script builds its parser with `parser()`, then calls `run(main, args)`: a gRPC error
is printed as `CODE: the daemon's message` and exits 1; usage errors exit 2 (argparse).
"""

import argparse
import os
import sys

DEFAULT_SOCKET = "/run/pktpoold/pktpoold.sock"
DEFAULT_TIMEOUT_SECONDS = 10.0
# Where generate.sh writes by default: client/python/gen (beside this examples folder).
DEFAULT_STUBS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "gen")
STUBS_ENV = "PKTPOOL_STUBS_DIR"

EXIT_RPC_ERROR = 1
EXIT_INTERRUPTED = 130

try:
    import grpc
except ImportError:  # Debian's python3-grpcio; a pyenv python3 on PATH does not see it
    sys.exit(f"{os.path.basename(sys.argv[0])}: the grpc module is missing: run with "
             "/usr/bin/python3 (Debian package python3-grpcio)")


def _load_stubs():
    """Imports the generated modules from $PKTPOOL_STUBS_DIR or client/python/gen."""
    stubs_dir = os.path.abspath(os.environ.get(STUBS_ENV) or DEFAULT_STUBS_DIR)
    if not os.path.isfile(os.path.join(stubs_dir, "pktpool", "v1", "pktpool_pb2_grpc.py")):
        sys.stderr.write(
            f"{os.path.basename(sys.argv[0])}: no generated stubs in {stubs_dir}: run "
            f"client/python/generate.sh [DIR] (and set {STUBS_ENV}=DIR for another DIR)\n")
        sys.exit(EXIT_RPC_ERROR)
    sys.path.insert(0, stubs_dir)
    from pktpool.v1 import pktpool_pb2, pktpool_pb2_grpc  # pylint: disable=import-outside-toplevel
    return pktpool_pb2, pktpool_pb2_grpc


pb2, pb2_grpc = _load_stubs()

# Pool names on the command line and in tables, in the order the daemon reports them.
POOL_ARGUMENTS = {
    "rx-packets": pb2.POOL_NAME_RX_PACKETS,
    "rx-buffers": pb2.POOL_NAME_RX_BUFFERS,
    "tx-packets": pb2.POOL_NAME_TX_PACKETS,
    "tx-buffers": pb2.POOL_NAME_TX_BUFFERS,
}
_POOL_LABELS = {value: name for name, value in POOL_ARGUMENTS.items()}


def pool_label(pool_name):
    """'tx-packets' for POOL_NAME_TX_PACKETS (the enum's name if unknown)."""
    return _POOL_LABELS.get(pool_name) or pb2.PoolName.Name(pool_name)


def state_label(binding_state):
    """'UP' for BINDING_STATE_UP."""
    return pb2.BindingState.Name(binding_state).removeprefix("BINDING_STATE_")


def send_result_label(send_result):
    """'INJECT_FAILED' for SEND_RESULT_INJECT_FAILED."""
    return pb2.SendResult.Name(send_result).removeprefix("SEND_RESULT_")


def parser(description, example):
    """An ArgumentParser with --socket/--target/--timeout and `example` under --help."""
    result = argparse.ArgumentParser(
        description=description,
        epilog=example,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    where = result.add_mutually_exclusive_group()
    where.add_argument("--socket", metavar="PATH", default=None,
                       help=f"pktpoold's Unix socket (default {DEFAULT_SOCKET})")
    where.add_argument("--target", metavar="HOST:PORT", default=None,
                       help="pktpoold's TCP listener instead, plaintext (loopback or "
                            "--insecure-tcp daemons)")
    result.add_argument("--timeout", metavar="SECONDS", type=positive_float,
                        default=DEFAULT_TIMEOUT_SECONDS,
                        help="deadline of each unary call (default %(default)s)")
    return result


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _bounded_number(text, int, minimum=1)


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _bounded_number(text, int, minimum=0)


def positive_float(text):
    """argparse type: a number > 0."""
    value = _bounded_number(text, float, minimum=0)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def non_negative_float(text):
    """argparse type: a number >= 0."""
    return _bounded_number(text, float, minimum=0)


def _bounded_number(text, kind, minimum):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if value != value or value < minimum:  # NaN, or below the minimum
        raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
    return value


def target_of(args):
    """The gRPC target the flags name: unix:PATH or HOST:PORT."""
    if args.target:
        return args.target
    return "unix:" + (args.socket or DEFAULT_SOCKET)


def connect(args):
    """A PktPool stub on a new insecure channel to the flags' target."""
    channel = grpc.insecure_channel(target_of(args))
    return pb2_grpc.PktPoolStub(channel)


def run(main, args):
    """Calls main(args) and returns its exit status (None counts as 0): a gRPC error
    prints `CODE: message` and returns 1; Ctrl-C returns 130 without a traceback."""
    try:
        return main(args) or 0
    except grpc.RpcError as error:
        print_rpc_error(error, args)
        return EXIT_RPC_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def print_rpc_error(error, args):
    """Writes `script: CODE: the daemon's message` to stderr, with a hint when no daemon
    answers or a message was over the daemon's size limit."""
    code = error.code()
    name = code.name if code is not None else "UNKNOWN"
    hint = ""
    if code == grpc.StatusCode.UNAVAILABLE:
        hint = f" (is pktpoold running and listening on {target_of(args)}? see --socket)"
    elif (code == grpc.StatusCode.RESOURCE_EXHAUSTED
          and "Received message larger than max" in (error.details() or "")):
        # gRPC refuses it before the daemon sees it; nothing of the message was sent.
        hint = (" (the limit is the daemon's limits.max_message_bytes, which GetVersion "
                "returns: send the frames in several smaller requests, or raise the limit "
                "in pktpoold's config and restart it; nothing of this request was sent)")
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {name}: {error.details()}{hint}\n")
