#!/usr/bin/python3
"""The Python examples (client/python/examples) end to end: pktpoold runs in a network
namespace of this test's own with both ends of a veth pair bound; each example talks to it
over its Unix socket (the file system is shared with the namespace), and what the examples
print is checked against the daemon's own state (print_stats.py --json, i.e. GetStats).

  examples_test.py --pktpoold PATH --source-dir DIR --stubs-dir DIR [unittest options]

Exit 77 (ctest: skipped) without root; a failure instead when CI is set.
"""

import argparse
import ctypes
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
PYTHON = "/usr/bin/python3"
EXAMPLE_TIMEOUT = 60  # seconds any one example run may take before the test fails
POLL_SECONDS = 10     # bound on waiting for counters to reach an expected value
PACKET_DESCRIPTOR_CAP = 0xFFFF

# Set by main() from the command line.
PATHS = argparse.Namespace()
# The namespace, interfaces, socket and daemon of this run; set by setUpModule, undone by
# cleanup() once every test ran (main), after the daemon's log is shown on a failure.
ENV = argparse.Namespace(namespace=None, daemon=None, tmp=None)


def frame(sequence, size=60):
    """A broadcast Ethernet frame of `size` bytes (local experimental EtherType 0x88b5),
    as hex: destination, source 02:00:00:00:00:01, type, then a sequence byte pattern."""
    header = bytes.fromhex("ffffffffffff" "020000000001" "88b5")
    payload = bytes((sequence + i) % 256 for i in range(size - len(header)))
    return (header + payload).hex()


def run(command, check=True, **kwargs):
    """Runs a command (bounded); raises with its output when check and it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT,
                            check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n"
                           f"{result.stdout}{result.stderr}")
    return result


def example_command(script, *args):
    return [PYTHON, os.path.join(PATHS.examples, script), *args]


def example_env():
    return dict(os.environ, PKTPOOL_STUBS_DIR=PATHS.stubs_dir)


def example(script, *args, socket=True):
    """Runs one example script (with --socket of this run's daemon unless socket=False)."""
    extra = ["--socket", ENV.socket] if socket else []
    return run(example_command(script, *args, *extra), check=False, env=example_env())


def stats():
    """{interface: BindingStats as print_stats.py --json prints it}."""
    result = example("print_stats.py", "--json")
    if result.returncode != 0:
        raise AssertionError(f"print_stats.py --json exited {result.returncode}: {result.stderr}")
    document = json.loads(result.stdout)
    return {entry["binding"]["interface"]: entry for entry in document["bindings"]}


def interfaces_in(stats_json):
    """The interfaces of print_stats.py --json's output, in its order."""
    return [entry["binding"]["interface"] for entry in json.loads(stats_json)["bindings"]]


def current_pool(binding_stats, pool_name):
    """The current (not draining) generation of one pool, from print_stats.py --json."""
    return next(pool for pool in binding_stats["pools"]
                if pool["name"] == pool_name and not pool["draining"])


def counter(interface, name):
    return int(stats()[interface][name])  # 64-bit counters are strings in proto3 JSON


def poll(condition, what):
    """Waits (bounded by POLL_SECONDS) until condition() is true; fails naming `what`."""
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {POLL_SECONDS} s waiting for {what}")
        time.sleep(0.05)


def have_admin_capabilities():
    """CAP_NET_ADMIN (veth) and CAP_SYS_ADMIN (ip netns add mounts) in the effective set."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapEff:"):
                caps = int(line.split()[1], 16)
                return bool(caps >> 12 & 1) and bool(caps >> 21 & 1)
    return False


def die_with_parent():
    """In the child before exec: SIGTERM when the test process dies (even by SIGKILL)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def daemon_log():
    try:
        with open(os.path.join(ENV.tmp, "pktpoold.log"), encoding="utf-8", errors="replace") as log:
            return log.read()
    except OSError:
        return "(no log)"


def setUpModule():  # pylint: disable=invalid-name
    pid = os.getpid()
    ENV.tmp = tempfile.mkdtemp(prefix=f"pktpool-py-{pid}-")
    ENV.namespace = f"pktpool-py-{pid}"
    ENV.a, ENV.b = f"ppy{pid}a", f"ppy{pid}b"
    ENV.socket = os.path.join(ENV.tmp, "pktpoold.sock")
    ENV.port = 40000 + pid % 20000  # inside the namespace only: nothing else listens there

    run(["ip", "netns", "add", ENV.namespace])
    inside = ["ip", "netns", "exec", ENV.namespace]
    run(inside + ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1"])
    run(["ip", "-n", ENV.namespace, "link", "add", ENV.a, "type", "veth", "peer", "name", ENV.b])
    for interface in ("lo", ENV.a, ENV.b):
        run(["ip", "-n", ENV.namespace, "link", "set", interface, "up"])

    with open(os.path.join(ENV.tmp, "pktpoold.log"), "wb") as log:
        ENV.daemon = subprocess.Popen(  # pylint: disable=consider-using-with
            inside + [PATHS.pktpoold, "--socket", ENV.socket, "--bind", ENV.a, "--bind", ENV.b,
                      "--listen", f"127.0.0.1:{ENV.port}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent)
    # Ready when the socket answers GetStats with both bindings (bounded).
    deadline = time.monotonic() + 15
    while True:
        if ENV.daemon.poll() is not None:
            raise RuntimeError(f"pktpoold exited {ENV.daemon.returncode}:\n{daemon_log()}")
        if os.path.exists(ENV.socket) and example("print_stats.py", "--json").returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"pktpoold did not answer on {ENV.socket} in 15 s:\n{daemon_log()}")
        time.sleep(0.1)


def cleanup():
    """Stops this run's daemon (by its PID only) and deletes the namespace and temp dir."""
    if ENV.daemon is not None and ENV.daemon.poll() is None:
        ENV.daemon.send_signal(signal.SIGTERM)
        try:
            ENV.daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            ENV.daemon.kill()
            ENV.daemon.wait()
    ENV.daemon = None
    if ENV.namespace is not None:
        subprocess.run(["ip", "netns", "del", ENV.namespace], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ENV.namespace = None
    if ENV.tmp is not None:
        shutil.rmtree(ENV.tmp, ignore_errors=True)
        ENV.tmp = None


class GenerateTest(unittest.TestCase):
    def test_rerun_gives_the_same_stubs(self):
        def digests():
            found = {}
            for name in ("pktpool_pb2.py", "pktpool_pb2_grpc.py"):
                with open(os.path.join(PATHS.stubs_dir, "pktpool", "v1", name), "rb") as stub:
                    found[name] = hashlib.sha256(stub.read()).hexdigest()
            return found

        before = digests()
        run([PATHS.generate, PATHS.stubs_dir])
        self.assertEqual(digests(), before)
        leftovers = [name for name in os.listdir(PATHS.stubs_dir) if name.startswith(".generate")]
        self.assertEqual(leftovers, [])


class UsageTest(unittest.TestCase):
    SCRIPTS = ("print_stats.py", "send_frames.py", "tune_pool.py", "follow_stats.py")

    def test_help_shows_an_example(self):
        for script in self.SCRIPTS:
            result = example(script, "--help", socket=False)
            self.assertEqual(result.returncode, 0, f"{script}: {result.stderr}")
            self.assertIn("example", result.stdout, script)
            self.assertIn("--socket", result.stdout, script)

    def test_socket_and_target_together_is_usage_error(self):
        for script in self.SCRIPTS:
            result = example(script, "--target", "127.0.0.1:1", socket=True)
            self.assertEqual(result.returncode, 2, f"{script}: {result.stderr}")

    def test_no_daemon_is_unavailable(self):
        result = example("print_stats.py", "--socket", os.path.join(ENV.tmp, "none.sock"),
                         socket=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("UNAVAILABLE", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class PrintStatsTest(unittest.TestCase):
    def test_json_shows_both_bindings_with_four_pools(self):
        bindings = stats()
        self.assertEqual(sorted(bindings), sorted([ENV.a, ENV.b]))
        for interface, entry in bindings.items():
            self.assertEqual(entry["binding"]["state"], "BINDING_STATE_UP", interface)
            names = {pool["name"] for pool in entry["pools"] if not pool["draining"]}
            self.assertEqual(names, {"POOL_NAME_RX_PACKETS", "POOL_NAME_RX_BUFFERS",
                                     "POOL_NAME_TX_PACKETS", "POOL_NAME_TX_BUFFERS"})

    def test_table_matches_json(self):
        # A non-zero overflow limit, so its column is told apart from zero columns.
        tuned = example("tune_pool.py", ENV.b, "tx-packets", "--descriptors", "1500",
                        "--overflow", "100")
        self.assertEqual(tuned.returncode, 0, tuned.stderr)
        table = example("print_stats.py")
        self.assertEqual(table.returncode, 0, table.stderr)
        bindings = stats()
        # Split the table into one block per binding (a block starts at column 0).
        blocks = {}
        for line in table.stdout.splitlines():
            if line and not line.startswith(" "):
                current = blocks.setdefault(line.split()[0], [])
                self.assertIn(" UP ", line)
            elif line:
                current.append(line.split())
        self.assertEqual(sorted(blocks), sorted(bindings))
        labels = {"rx-packets": "POOL_NAME_RX_PACKETS", "rx-buffers": "POOL_NAME_RX_BUFFERS",
                  "tx-packets": "POOL_NAME_TX_PACKETS", "tx-buffers": "POOL_NAME_TX_BUFFERS"}
        for interface, rows in blocks.items():
            header = next(row for row in rows if row[0] == "pool")
            self.assertEqual(header, ["pool", "tag", "generation", "descriptors", "overflow",
                                      "in_use", "free", "high_watermark", "failures"])
            pool_rows = {row[0]: row for row in rows
                         if row[0] in labels and "draining" not in row}
            self.assertEqual(sorted(pool_rows), sorted(labels), interface)
            for label, name in labels.items():
                expected = current_pool(bindings[interface], name)
                row = pool_rows[label]
                self.assertEqual(row[1], expected["tag"], f"{interface} {label}")
                self.assertEqual(int(row[2]), expected["generation"], f"{interface} {label}")
                self.assertEqual(int(row[3]), expected["descriptors"], f"{interface} {label}")
                self.assertEqual(int(row[4]), expected["overflow_limit"], f"{interface} {label}")
                if label.startswith("tx-"):  # at rest between tests: every column is stable
                    self.assertEqual(row[5:], [str(expected[name]) for name in (
                        "in_use", "free", "high_watermark", "resource_failures")],
                        f"{interface} {label}")

    def test_interface_selects_one_binding(self):
        result = example("print_stats.py", "--json", "--interface", ENV.b)
        self.assertEqual(result.returncode, 0, result.stderr)
        interfaces = interfaces_in(result.stdout)
        self.assertEqual(interfaces, [ENV.b])

    def test_target_over_tcp_inside_the_namespace(self):
        result = run(["ip", "netns", "exec", ENV.namespace] +
                     example_command("print_stats.py", "--json", "--target",
                                     f"127.0.0.1:{ENV.port}"),
                     check=False, env=example_env())
        self.assertEqual(result.returncode, 0, result.stderr)
        interfaces = interfaces_in(result.stdout)
        self.assertEqual(sorted(interfaces), sorted([ENV.a, ENV.b]))


class SendFramesTest(unittest.TestCase):
    def test_frames_from_file_counted_on_both_ends(self):
        path = os.path.join(ENV.tmp, "frames.txt")
        with open(path, "w", encoding="ascii") as frames:
            frames.write("# three frames, sent 4 times\n")
            frames.write(frame(1) + "\n\n")
            frames.write(frame(2, 100) + "   # a comment after the frame\n")
            frames.write(":".join(re.findall("..", frame(3, 64))) + "\n")
        tx_before, rx_before = counter(ENV.a, "tx_frames"), counter(ENV.b, "rx_frames")
        result = example("send_frames.py", ENV.a, "--file", path, "--repeat", "4")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "sent 12 failed 0")
        poll(lambda: counter(ENV.b, "rx_frames") >= rx_before + 12, f"{ENV.b} to receive 12 frames")
        self.assertEqual(counter(ENV.a, "tx_frames"), tx_before + 12)

    def test_hex_frames_paced(self):
        tx_before, rx_before = counter(ENV.a, "tx_frames"), counter(ENV.b, "rx_frames")
        result = example("send_frames.py", ENV.a, "--hex", frame(7), "--hex", frame(8, 80),
                         "--repeat", "5", "--pps", "200")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "sent 10 failed 0")
        poll(lambda: counter(ENV.b, "rx_frames") >= rx_before + 10, f"{ENV.b} to receive 10 frames")
        self.assertEqual(counter(ENV.a, "tx_frames"), tx_before + 10)

    def test_frame_over_mtu_reported_per_frame(self):
        failures_before = int(stats()[ENV.a]["tx_failures"].get("inject_failed", "0"))
        result = example("send_frames.py", ENV.a, "--hex", frame(1), "--hex", frame(2, 2000))
        self.assertEqual(result.returncode, 3, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0], "sent 1 failed 1")
        self.assertEqual(len(lines), 2, result.stdout)
        self.assertTrue(lines[1].startswith("frame 2 (--hex #2): INJECT_FAILED"), lines[1])
        self.assertEqual(int(stats()[ENV.a]["tx_failures"]["inject_failed"]), failures_before + 1)

    def test_request_over_the_message_limit_names_it_and_sends_nothing(self):
        # 300 frames of 60,000 bytes: an 18 MB request, over the daemon's default 16 MiB.
        path = os.path.join(ENV.tmp, "huge.txt")
        with open(path, "w", encoding="ascii") as frames:
            for sequence in range(300):
                frames.write(frame(sequence, 60000) + "\n")
        tx_before = counter(ENV.a, "tx_frames")
        result = example("send_frames.py", ENV.a, "--file", path)
        os.remove(path)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("RESOURCE_EXHAUSTED: Received message larger than max (", result.stderr)
        self.assertIn(" vs. 16777216)", result.stderr)
        self.assertIn("the daemon's limits.max_message_bytes", result.stderr)
        self.assertIn("nothing of this request was sent", result.stderr)
        self.assertEqual(counter(ENV.a, "tx_frames"), tx_before)
        # The daemon keeps serving.
        self.assertEqual(example("send_frames.py", ENV.a, "--hex", frame(1)).returncode, 0)

    def test_bad_hex_is_usage_error_and_sends_nothing(self):
        tx_before = counter(ENV.a, "tx_frames")
        result = example("send_frames.py", ENV.a, "--hex", frame(1), "--hex", "ffzz")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--hex #2: 'z' is not a hex digit", result.stderr)
        path = os.path.join(ENV.tmp, "bad.txt")
        with open(path, "w", encoding="ascii") as frames:
            frames.write(f"# ok\n{frame(1)}\nabc\n")
        result = example("send_frames.py", ENV.a, "--file", path)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"{path}:3: odd number of hex digits", result.stderr)
        self.assertEqual(counter(ENV.a, "tx_frames"), tx_before)


class TunePoolTest(unittest.TestCase):
    def test_overflow_clamped_to_the_cap(self):
        before = current_pool(stats()[ENV.a], "POOL_NAME_TX_PACKETS")["generation"]
        result = example("tune_pool.py", ENV.a, "tx-packets", "--descriptors", "65000",
                         "--overflow", "1000")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"{ENV.a} tx-packets (TXPK): generation {before + 1}", result.stdout)
        self.assertIn("descriptors 65000", result.stdout)
        self.assertIn(f"overflow limit {PACKET_DESCRIPTOR_CAP - 65000} (clamped from 1000",
                      result.stdout)
        pool = current_pool(stats()[ENV.a], "POOL_NAME_TX_PACKETS")
        self.assertEqual(pool["generation"], before + 1)
        self.assertEqual(pool["descriptors"], 65000)
        self.assertEqual(pool["overflow_limit"], 535)
        # The new generation carries traffic.
        sent = example("send_frames.py", ENV.a, "--hex", frame(9))
        self.assertEqual(sent.stdout.strip(), "sent 1 failed 0", sent.stderr)

    def test_overflow_within_the_cap_not_clamped(self):
        result = example("tune_pool.py", ENV.b, "tx-packets", "--descriptors", "2048",
                         "--overflow", "512")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("overflow limit 512 (not clamped)", result.stdout)
        pool = current_pool(stats()[ENV.b], "POOL_NAME_TX_PACKETS")
        self.assertEqual((pool["descriptors"], pool["overflow_limit"]), (2048, 512))

    def test_buffer_pool_size(self):
        before = current_pool(stats()[ENV.b], "POOL_NAME_RX_BUFFERS")["generation"]
        result = example("tune_pool.py", ENV.b, "rx-buffers", "--descriptors", "4096",
                         "--buffer-size", "4096")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"generation {before + 1}", result.stdout)
        self.assertIn("buffer size 4096 bytes", result.stdout)
        pool = current_pool(stats()[ENV.b], "POOL_NAME_RX_BUFFERS")
        self.assertEqual((pool["generation"], pool["descriptors"], pool["buffer_size"]),
                         (before + 1, 4096, 4096))

    def test_over_the_cap_is_resource_exhausted_and_changes_nothing(self):
        before = current_pool(stats()[ENV.a], "POOL_NAME_TX_PACKETS")
        result = example("tune_pool.py", ENV.a, "tx-packets", "--descriptors", "70000")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("RESOURCE_EXHAUSTED", result.stderr)
        self.assertIn("NDIS_STATUS_RESOURCES", result.stderr)
        after = current_pool(stats()[ENV.a], "POOL_NAME_TX_PACKETS")
        self.assertEqual((after["generation"], after["descriptors"]),
                         (before["generation"], before["descriptors"]))

    def test_flag_for_the_other_pool_kind_is_usage_error(self):
        result = example("tune_pool.py", ENV.a, "rx-buffers", "--descriptors", "8",
                         "--overflow", "1")
        self.assertEqual(result.returncode, 2, result.stderr)
        result = example("tune_pool.py", ENV.a, "rx-packets", "--descriptors", "8",
                         "--buffer-size", "4096")
        self.assertEqual(result.returncode, 2, result.stderr)
        result = example("tune_pool.py", ENV.a, "rx-frames", "--descriptors", "8")
        self.assertEqual(result.returncode, 2, result.stderr)


# One binding's part of a follow_stats.py line: IF rx N (RATE/s) tx N (RATE/s).
FOLLOW_PART = re.compile(r"(\S+) rx (\d+) \((-|\d+\.\d)/s\) tx (\d+) \((-|\d+\.\d)/s\)")


def parse_follow_line(line):
    """{interface: (rx, rx_rate, tx, tx_rate)} of one line; rates None for '-'."""
    clock, _, rest = line.partition("  ")
    if not re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d", clock):
        raise AssertionError(f"no time at the start of {line!r}")
    parsed = {}
    for part in rest.split("  |  "):
        match = FOLLOW_PART.fullmatch(part)
        if not match:
            raise AssertionError(f"unexpected part {part!r} in {line!r}")
        interface, rx, rx_rate, tx, tx_rate = match.groups()
        as_rate = lambda text: None if text == "-" else float(text)  # noqa: E731
        parsed[interface] = (int(rx), as_rate(rx_rate), int(tx), as_rate(tx_rate))
    return parsed


class FollowStatsTest(unittest.TestCase):
    def test_three_updates_while_traffic_flows(self):
        tx_before = counter(ENV.a, "tx_frames")
        sender = subprocess.Popen(  # pylint: disable=consider-using-with
            example_command("send_frames.py", ENV.a, "--hex", frame(5), "--repeat", "3000",
                            "--pps", "1000", "--wait", "10", "--socket", ENV.socket),
            env=example_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            poll(lambda: counter(ENV.a, "tx_frames") > tx_before, "the paced send to start")
            result = example("follow_stats.py", "--count", "3", "--interval", "0.2")
            sender_still_running = sender.poll() is None
            out, err = sender.communicate(timeout=EXAMPLE_TIMEOUT)
        finally:
            if sender.poll() is None:
                sender.kill()
                sender.wait()
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 3, result.stdout)
        updates = [parse_follow_line(line) for line in lines]
        for update in updates:
            self.assertEqual(sorted(update), sorted([ENV.a, ENV.b]))
        for interface in (ENV.a, ENV.b):
            first_rx, first_rx_rate, first_tx, first_tx_rate = updates[0][interface]
            self.assertEqual((first_rx_rate, first_tx_rate), (None, None), lines[0])
            previous_rx, previous_tx = first_rx, first_tx
            for update in updates[1:]:
                rx, rx_rate, tx, tx_rate = update[interface]
                self.assertGreaterEqual(rx, previous_rx)
                self.assertGreaterEqual(tx, previous_tx)
                self.assertIsNotNone(rx_rate)
                self.assertIsNotNone(tx_rate)
                self.assertGreaterEqual(rx_rate, 0.0)
                self.assertGreaterEqual(tx_rate, 0.0)
                previous_rx, previous_tx = rx, tx
        last_tx = updates[-1][ENV.a][2]
        self.assertGreater(last_tx, tx_before)
        self.assertGreaterEqual(counter(ENV.a, "tx_frames"), last_tx)
        if sender_still_running:  # frames flowed during all three updates
            self.assertGreater(last_tx, updates[0][ENV.a][2], result.stdout)
            self.assertGreater(updates[-1][ENV.a][3], 0.0, result.stdout)
        self.assertEqual(sender.returncode, 0, out + err)
        self.assertEqual(out.strip(), "sent 3000 failed 0")

    def test_interface_selects_one_binding(self):
        result = example("follow_stats.py", "--interface", ENV.b, "--count", "1",
                         "--interval", "0.05")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 1, result.stdout)
        self.assertEqual(list(parse_follow_line(lines[0])), [ENV.b])

    def test_ctrl_c_exits_0_without_traceback(self):
        follower = subprocess.Popen(  # pylint: disable=consider-using-with
            example_command("follow_stats.py", "--interval", "0.1", "--socket", ENV.socket),
            env=example_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([follower.stdout], [], [], POLL_SECONDS)
            self.assertTrue(ready, "follow_stats.py printed nothing")
            first = follower.stdout.readline()
            parse_follow_line(first.rstrip("\n"))
            follower.send_signal(signal.SIGINT)
            _, err = follower.communicate(timeout=POLL_SECONDS)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
        self.assertEqual(follower.returncode, 0, err)
        self.assertNotIn("Traceback", err)

    def test_interval_below_minimum_is_usage_error(self):
        result = example("follow_stats.py", "--interval", "0.001", "--count", "1")
        self.assertEqual(result.returncode, 2, result.stderr)


class UnknownInterfaceTest(unittest.TestCase):
    def test_every_example_says_not_found(self):
        missing = "nosuch0"
        runs = {
            "print_stats.py": ("--interface", missing),
            "send_frames.py": (missing, "--hex", frame(1)),
            "tune_pool.py": (missing, "tx-packets", "--descriptors", "64"),
            "follow_stats.py": ("--interface", missing, "--count", "1"),
        }
        for script, args in runs.items():
            result = example(script, *args)
            self.assertEqual(result.returncode, 1, f"{script}: {result.stdout}{result.stderr}")
            self.assertIn("NOT_FOUND", result.stderr, script)
            self.assertIn(f"'{missing}'", result.stderr, script)
            self.assertNotIn("Traceback", result.stderr, script)


def on_sigterm(signum, _frame):
    """SIGTERM (e.g. a ctest timeout): stop the daemon, delete the namespace, exit now.
    (Raising here would only fail the running test: unittest catches SystemExit.)"""
    print("terminated: cleaning up", file=sys.stderr)
    cleanup()
    os._exit(128 + signum)  # pylint: disable=protected-access


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pktpoold", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--stubs-dir", required=True)
    args, unittest_args = parser.parse_known_args()

    if not have_admin_capabilities():
        reason = ("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create a network namespace "
                  "and a veth pair")
        if os.environ.get("CI"):
            print(f"FAIL: CI is set but this process {reason}", file=sys.stderr)
            return 1
        print(f"SKIP: python_examples {reason} (run as root, or set CI to make this a failure)")
        return SKIP
    if not (os.path.isfile(args.pktpoold) and os.access(args.pktpoold, os.X_OK)):
        print(f"FAIL: no pktpoold at {args.pktpoold}: build it first "
              f"(cmake --build BUILD_DIR --target pktpoold)", file=sys.stderr)
        return 1

    PATHS.pktpoold = os.path.abspath(args.pktpoold)
    PATHS.stubs_dir = os.path.abspath(args.stubs_dir)
    PATHS.examples = os.path.join(args.source_dir, "client", "python", "examples")
    PATHS.generate = os.path.join(args.source_dir, "client", "python", "generate.sh")
    generated = run([PATHS.generate, PATHS.stubs_dir], check=False)
    if generated.returncode != 0:
        print(f"FAIL: {PATHS.generate} exited {generated.returncode}:\n{generated.stderr}",
              file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        program = unittest.main(argv=[sys.argv[0], "-v", *unittest_args], exit=False)
        if not program.result.wasSuccessful() and ENV.tmp:
            print(f"pktpoold log:\n{daemon_log()}", file=sys.stderr)
    finally:
        cleanup()
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
