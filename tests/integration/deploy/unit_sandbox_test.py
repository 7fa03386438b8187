#!/usr/bin/python3
"""deploy_unit_sandbox: pktpoold works inside the sandbox pktpoold.service gives it.

systemd cannot run here, so the unit's process-level limits are applied by hand: a
non-root user (uid 65534, as User=pktpool would be), exactly the unit's
AmbientCapabilities / CapabilityBoundingSet, no_new_privs, its UMask, and a runtime
directory owned by that user. pktpoold runs like that under strace in a network
namespace of this test's own, binds both ends of a veth pair, sends and captures
frames, serves /metrics (checked against daemon/metrics/metric_families.txt), answers RPCs and a
reload, and stops; sd_notify goes to a socket of the test
(NOTIFY_SOCKET, WATCHDOG_USEC as systemd sets them).

Then the trace is held against the unit: every system call must pass its
SystemCallFilter, every socket family its RestrictAddressFamilies, every write land
in the runtime directory (ProtectSystem=strict), /proc reads stay in the process's
own entries (ProcSubset=pid) and /dev holds only the pseudo-devices (PrivateDevices).
The daemon must send READY=1 only once its socket exists, and WATCHDOG=1 pings
(the unit sets WatchdogSec=). Needs root; skips without it (fails when CI is set).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from deploy_testlib import fail, read_unit, require_root, run, skip_unless, unit_values

SERVICE_UID = 65534  # nobody: a non-root user without any file of its own
NAMESPACE = f"pktdeploy{os.getpid()}"
# A frame veth0 sends and veth1 receives (experimental EtherType 0x88b5).
FRAME = "020000000002020000000001" + "88b5" + "".join(f"{i:02x}" for i in range(46))
FRAMES_SENT = 100
# /proc files outside the process's own that the daemon reads and copes without
# (ProcSubset=pid hides them): gRPC falls back to SOMAXCONN.
PROC_TOLERATED = {"/proc/sys/net/core/somaxconn"}
DEV_ALLOWED = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
# Calls that change the file system at their path, and every call that names a path.
WRITE_CALLS = {"creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "chmod", "fchmodat",
               "chown", "fchownat", "lchown", "rename", "renameat", "renameat2", "link",
               "linkat", "symlink", "symlinkat", "truncate", "mknod", "mknodat", "bind"}
PATH_CALLS = WRITE_CALLS | {"open", "openat", "openat2", "stat", "lstat", "newfstatat",
                            "statx", "access", "faccessat", "faccessat2", "readlink",
                            "readlinkat", "execve", "connect"}
DEADLINE_SECONDS = 20  # bound on every wait below; never an assertion about speed


def expand_syscall_group(entry, cache):
    """The system calls of a @group (recursively) or the name itself."""
    if not entry.startswith("@"):
        return {entry}
    if entry not in cache:
        names = set()
        output = run(["systemd-analyze", "syscall-filter", "--no-pager", entry]).stdout
        for line in output.splitlines()[1:]:
            item = line.strip()
            if item and not item.startswith("#"):
                names |= expand_syscall_group(item, cache)
        cache[entry] = names
    return cache[entry]


def allowed_syscalls(unit):
    """SystemCallFilter= as systemd applies it: the first allow-list, minus ~ entries."""
    allowed = set()
    cache = {}
    for value in unit_values(unit, "Service", "SystemCallFilter"):
        deny = value.startswith("~")
        entries = value.lstrip("~").split()
        names = set().union(*(expand_syscall_group(e, cache) for e in entries))
        if deny:
            allowed -= names
        else:
            allowed |= names
    if not allowed:
        fail("the unit has no SystemCallFilter allow-list")
    return allowed


def capability_names(unit, key):
    names = " ".join(unit_values(unit, "Service", key)).split()
    return sorted(name.lower().removeprefix("cap_") for name in names)


class NotifySocket:
    """The NOTIFY_SOCKET systemd would give the daemon; collects what it sends."""

    def __init__(self, path):
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        os.chmod(path, 0o666)
        self.messages = []

    def wait_for(self, predicate, what):
        """Receives until a message satisfies `predicate`; bounded by DEADLINE_SECONDS."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        for message in self.messages:
            if predicate(message):
                return message
        while time.monotonic() < deadline:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = self.socket.recv(4096).decode()
            except socket.timeout:
                break
            self.messages.append(message)
            if predicate(message):
                return message
        fail(f"no {what} from the daemon within {DEADLINE_SECONDS} s; it sent {self.messages}")
        return None


def in_namespace(*command):
    return ["ip", "netns", "exec", NAMESPACE, *command]


def create_namespace():
    run(["ip", "netns", "add", NAMESPACE])
    run(in_namespace("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                     "net.ipv6.conf.default.disable_ipv6=1"))
    run(["ip", "-n", NAMESPACE, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"])
    for link in ("lo", "veth0", "veth1"):
        run(["ip", "-n", NAMESPACE, "link", "set", link, "up"])


def free_port_in_namespace():
    """A TCP port free on the namespace's loopback (the namespace is ours alone)."""
    code = "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
    return int(run(in_namespace("/usr/bin/python3", "-c", code)).stdout)


def syscall_lines(trace_path, daemon_path):
    """(pid, call, text) of every call pktpoold made, from its execve on."""
    calls = []
    started = set()
    started_all = False
    with open(trace_path, encoding="utf-8", errors="replace") as trace:
        for line in trace:
            match = re.match(r"(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()", line)
            if not match:
                continue
            pid = match.group(1)
            call = match.group(2) or match.group(3)
            if not started_all:
                # The daemon's own execve: its path is the first argument (a launcher's
                # execve may carry the path in its argv, too).
                if call == "execve" and f'execve("{daemon_path}"' in line and "= 0" in line:
                    started_all = True
                    started.add(pid)
                continue
            calls.append((pid, call, line.rstrip("\n")))
    if not started_all:
        fail(f"the trace has no successful execve of {daemon_path}")
    return calls


def check_trace(calls, unit, runtime_dir):
    allowed = allowed_syscalls(unit)
    used = {call for _, call, _ in calls}
    denied = sorted(used - allowed)
    if denied:
        examples = [text for _, call, text in calls if call in denied][:10]
        fail(f"system calls outside the unit's SystemCallFilter: {denied}\n" + "\n".join(examples))
    families = set(" ".join(unit_values(unit, "Service", "RestrictAddressFamilies")).split())
    for _, call, text in calls:
        if call == "socket":
            family = re.search(r"socket\((AF_\w+)", text)
            if family and family.group(1) not in families:
                fail(f"socket family {family.group(1)} is not in RestrictAddressFamilies: {text}")
        if call not in PATH_CALLS:
            continue
        path = re.search(r'"([^"]*)"', text)
        if not path or not path.group(1).startswith("/"):
            continue  # resumed halves, abstract and unnamed sockets
        path = path.group(1)
        writes = call in WRITE_CALLS or any(flag in text for flag in WRITE_FLAGS)
        if writes and not (path + "/").startswith(runtime_dir + "/"):
            fail(f"writes outside the runtime directory (ProtectSystem=strict): {text}")
        if path.startswith("/proc/") and path not in PROC_TOLERATED and not re.match(
                r"/proc/(self|thread-self|\d+)(/|$)", path):
            fail(f"reads {path}, hidden by ProcSubset=pid: {text}")
        if path.startswith("/dev/") and path not in DEV_ALLOWED:
            fail(f"opens {path}, absent under PrivateDevices=: {text}")
        if path.startswith(("/home/", "/root/")):
            fail(f"touches {path}, hidden by ProtectHome=: {text}")
    print(f"trace: {len(calls)} calls, {len(used)} distinct, all inside the unit's filters")


def check_metrics(exposition, names_path):
    """/metrics has a TYPE line for every family of daemon/metrics/metric_families.txt (the list the
    dashboard and the DaemonSet are checked against) and no label beyond its list."""
    families = {}
    with open(names_path, encoding="utf-8") as names:
        for line in names:
            if line.strip() and not line.startswith("#"):
                name, kind, labels = line.split()
                families[name] = (kind, set() if labels == "-" else set(labels.split(",")))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M))
    for name, (kind, _) in families.items():
        if types.get(name) != kind:
            fail(f"/metrics: '# TYPE {name} {kind}' missing (it has {types.get(name)})")
    extra = sorted(set(types) - set(families))
    if extra:
        fail(f"/metrics serves {extra}, which daemon/metrics/metric_families.txt does not list")
    samples = 0
    for name, labels in re.findall(r"^(pktpool_\w+)(?:\{([^}]*)\})? ", exposition, re.M):
        samples += 1
        used = set(re.findall(r'(\w+)="', labels))
        if used - families[name][1]:
            fail(f"/metrics: {name} has labels {sorted(used)}, listed {sorted(families[name][1])}")
    print(f"metrics: {len(types)} families as daemon/metrics/metric_families.txt lists them, {samples} samples")


def stats(ctl, socket_path):
    result = run([ctl, "--socket", socket_path, "-o", "json", "stats"])
    return {b["binding"]["interface"]: b for b in json.loads(result.stdout).get("bindings", [])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", required=True)
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--ctl", required=True)
    parser.add_argument("--metric-names", required=True, help="daemon/metrics/metric_families.txt")
    args = parser.parse_args()
    require_root()
    for tool in ("strace", "setpriv", "ip", "systemd-analyze"):
        skip_unless(shutil.which(tool), f"{tool} is not installed")

    unit = read_unit(args.unit)
    ambient = capability_names(unit, "AmbientCapabilities")
    bounding = capability_names(unit, "CapabilityBoundingSet")
    umask = int(unit_values(unit, "Service", "UMask")[0], 8)
    no_new_privs = unit_values(unit, "Service", "NoNewPrivileges") == ["yes"]

    scratch = tempfile.mkdtemp(prefix="pktpool-sandbox-")
    os.chmod(scratch, 0o755)
    runtime_dir = os.path.join(scratch, "run")
    os.mkdir(runtime_dir, 0o750)
    os.chown(runtime_dir, SERVICE_UID, SERVICE_UID)
    socket_path = os.path.join(runtime_dir, "pktpoold.sock")
    trace_path = os.path.join(scratch, "trace")
    daemon = None  # strace
    daemon_pid = None  # pktpoold, strace's child
    try:
        create_namespace()
        metrics_port = free_port_in_namespace()
        config_path = os.path.join(scratch, "pktpoold.textproto")
        with open(config_path, "w", encoding="utf-8") as config:
            config.write(f'listen {{ unix_socket: "{socket_path}" }}\n'
                         f'metrics {{ listen_address: "127.0.0.1:{metrics_port}" }}\n'
                         'status_interval_seconds: 1\n'
                         'bindings { interface: "veth0" }\n'
                         'bindings { interface: "veth1" options { promiscuous: true '
                         'direction: DIRECTION_INOUT } }\n')
        os.chmod(config_path, 0o644)
        notify = NotifySocket(os.path.join(scratch, "notify.sock"))
        environment = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        environment.pop("WATCHDOG_PID", None)
        command = in_namespace(
            "strace", "-f", "-qq", "-o", trace_path,
            "setpriv", f"--reuid={SERVICE_UID}", f"--regid={SERVICE_UID}", "--clear-groups",
            "--inh-caps", ",".join(f"+{c}" for c in ambient),
            "--ambient-caps", ",".join(f"+{c}" for c in ambient),
            "--bounding-set", "-all," + ",".join(f"+{c}" for c in bounding),
            *(["--no-new-privs"] if no_new_privs else []),
            args.daemon, "--config", config_path)
        log_path = os.path.join(scratch, "pktpoold.log")
        with open(log_path, "w", encoding="utf-8") as log:
            # ip netns exec execs strace: this process is strace, pktpoold its child.
            daemon = subprocess.Popen(command, env=environment, stdout=log, stderr=log,
                                      preexec_fn=lambda: os.umask(umask))

        notify.wait_for(lambda m: "READY=1" in m, "READY=1")
        with open(f"/proc/{daemon.pid}/task/{daemon.pid}/children", encoding="ascii") as children:
            daemon_pid = int(children.read().split()[0])
        if not os.path.exists(socket_path):
            fail(f"READY=1 came before the socket {socket_path} existed")
        mode = os.stat(socket_path).st_mode & 0o777
        if mode != 0o660:
            fail(f"the socket's mode is {oct(mode)}, not 0660")
        run([args.ctl, "--socket", socket_path, "health"])
        sent = run([args.ctl, "--socket", socket_path, "send", "veth0"]
                   + ["--hex", FRAME] * FRAMES_SENT)
        print(f"send: {sent.stdout.strip()}")
        received = 0
        for _ in range(DEADLINE_SECONDS * 10):
            received = int(stats(args.ctl, socket_path)["veth1"].get("rx_frames", 0))
            if received >= FRAMES_SENT:
                break
            time.sleep(0.1)
        if received < FRAMES_SENT:
            fail(f"veth1 captured {received} of the {FRAMES_SENT} frames veth0 sent")
        print(f"capture as uid {SERVICE_UID} with {ambient}: veth1 received {received} frames")

        scrape = run(in_namespace("/usr/bin/python3", "-c",
                                  "import urllib.request,sys; sys.stdout.write(urllib.request."
                                  f"urlopen('http://127.0.0.1:{metrics_port}/metrics',timeout=5)"
                                  ".read().decode())"), check=False)
        if scrape.returncode != 0:
            fail(f"GET /metrics on 127.0.0.1:{metrics_port} failed: {scrape.stderr}")
        check_metrics(scrape.stdout, args.metric_names)

        os.kill(daemon_pid, signal.SIGHUP)
        run([args.ctl, "--socket", socket_path, "health"])
        notify.wait_for(lambda m: "WATCHDOG=1" in m,
                        "WATCHDOG=1 (the unit sets WatchdogSec=: systemd would kill the daemon)")
        os.kill(daemon_pid, signal.SIGTERM)
        daemon.wait(timeout=DEADLINE_SECONDS)  # strace exits with pktpoold's status
        daemon_pid = None
        if daemon.returncode != 0:
            with open(log_path, encoding="utf-8") as log:
                fail(f"pktpoold exited {daemon.returncode} on SIGTERM:\n{log.read()}")
        daemon = None
        check_trace(syscall_lines(trace_path, args.daemon), unit, runtime_dir)
    except SystemExit:
        log_path = os.path.join(scratch, "pktpoold.log")
        if os.path.exists(log_path):
            with open(log_path, encoding="utf-8", errors="replace") as log:
                print("pktpoold's output:\n" + log.read())
        raise
    finally:
        # pktpoold first: a killed strace would leave it running, detached.
        if daemon is not None and daemon_pid is None and daemon.poll() is None:
            try:
                with open(f"/proc/{daemon.pid}/task/{daemon.pid}/children",
                          encoding="ascii") as children:
                    daemon_pid = int(children.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
        if daemon_pid is not None:
            try:
                os.kill(daemon_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if daemon is not None:
            daemon.kill()
            daemon.wait()
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
