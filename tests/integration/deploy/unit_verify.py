#!/usr/bin/python3
"""deploy_unit_verify: deploy/systemd/pktpoold.service passes `systemd-analyze verify`
without a single message about it, keeps the settings the daemon's contract needs, and
its `systemd-analyze security` exposure is the one deploy/README.md states.

verify needs ExecStart's binary to exist, so it checks a copy whose ExecStart names
the built pktpoold; nothing else in the copy differs.
"""
import argparse
import os
import re
import shutil
import tempfile

from deploy_testlib import fail, read_unit, run, skip_unless, unit_values

INSTALLED_DAEMON = "/usr/sbin/pktpoold"
INSTALLED_CONFIG = "/etc/pktpool/pktpoold.textproto"


def verify_messages(unit_path):
    """systemd-analyze verify's exit code and the output lines about this unit."""
    result = run(["systemd-analyze", "verify", unit_path], check=False)
    name = os.path.basename(unit_path)
    about_unit = [line for line in (result.stdout + result.stderr).splitlines()
                  if name in line or unit_path in line]
    return result.returncode, about_unit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", required=True)
    parser.add_argument("--daemon", required=True, help="the built pktpoold")
    parser.add_argument("--readme", required=True, help="deploy/README.md")
    args = parser.parse_args()
    skip_unless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")

    with open(args.unit, encoding="utf-8") as unit_file:
        text = unit_file.read()
    exec_start = f"ExecStart={INSTALLED_DAEMON} "
    if text.count(exec_start) != 1:
        fail(f"{args.unit}: expected exactly one line starting '{exec_start}'")

    with tempfile.TemporaryDirectory(prefix="pktpool-unit-") as scratch:
        copy = os.path.join(scratch, "pktpoold.service")
        with open(copy, "w", encoding="utf-8") as out:
            out.write(text.replace(exec_start, f"ExecStart={args.daemon} "))

        # The check itself must see warnings: a misspelt key and a bad value.
        broken = os.path.join(scratch, "broken", "pktpoold.service")
        os.makedirs(os.path.dirname(broken))
        with open(broken, "w", encoding="utf-8") as out:
            out.write(text.replace(exec_start, f"ExecStart={args.daemon} ")
                      .replace("ProtectSystem=", "ProtectSytem=")
                      .replace("UMask=", "UMask=9"))
        _, broken_messages = verify_messages(broken)
        if len(broken_messages) < 2:
            fail("systemd-analyze verify did not report a misspelt key and a bad UMask in a "
                 f"broken copy, so this check could not see warnings either: {broken_messages}")

        returncode, messages = verify_messages(copy)
        if returncode != 0 or messages:
            fail(f"systemd-analyze verify {args.unit} (ExecStart -> {args.daemon}) exited "
                 f"{returncode}:\n" + "\n".join(messages))
        print(f"systemd-analyze verify: clean ({args.unit})")

        # The contract (ARCHITECTURE.md, deploy/README.md).
        unit = read_unit(args.unit)
        expected = {
            "Type": ["notify"], "NotifyAccess": ["main"], "User": ["pktpool"],
            "Group": ["pktpool"], "RuntimeDirectory": ["pktpoold"],
            "NoNewPrivileges": ["yes"], "ProtectSystem": ["strict"],
            "ExecReload": ["/bin/kill -HUP $MAINPID"], "Restart": ["on-failure"],
        }
        for key, values in expected.items():
            if unit_values(unit, "Service", key) != values:
                fail(f"[Service] {key}= is {unit_values(unit, 'Service', key)}, expected {values}")
        for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
            capabilities = " ".join(unit_values(unit, "Service", key)).split()
            if sorted(capabilities) != ["CAP_NET_ADMIN", "CAP_NET_RAW"]:
                fail(f"[Service] {key}= is {capabilities}: only CAP_NET_RAW and CAP_NET_ADMIN")
        if not unit_values(unit, "Service", "WatchdogSec"):
            fail("[Service] WatchdogSec= is not set")
        for key in ("PrivateNetwork", "PrivateUsers", "IPAddressDeny"):
            if unit_values(unit, "Service", key):
                fail(f"[Service] {key}= would cut the daemon off the host's interfaces")
        families = " ".join(unit_values(unit, "Service", "RestrictAddressFamilies")).split()
        for family in ("AF_UNIX", "AF_INET", "AF_INET6", "AF_PACKET", "AF_NETLINK"):
            if family not in families:
                fail(f"RestrictAddressFamilies= lacks {family}: {families}")
        if unit_values(unit, "Service", "ExecStart")[0].split()[1:] != ["--config", INSTALLED_CONFIG]:
            fail(f"ExecStart= must read {INSTALLED_CONFIG}, the packaged config")

        # The exposure score, against the one the README states.
        security = run(["systemd-analyze", "security", "--offline=true", "--no-pager", copy])
        match = re.search(r"Overall exposure level for pktpoold\.service: (\d+\.\d+)",
                          security.stdout)
        if not match:
            fail(f"no exposure level in systemd-analyze security's output:\n{security.stdout}")
        score = match.group(1)
        with open(args.readme, encoding="utf-8") as readme:
            stated = re.search(r"Overall exposure level for pktpoold\.service: (\d+\.\d+)",
                               readme.read())
        if not stated:
            fail(f"{args.readme} does not state 'Overall exposure level for pktpoold.service: X.Y'")
        if stated.group(1) != score:
            fail(f"systemd-analyze security gives {score}, {args.readme} says {stated.group(1)}: "
                 "update the README (and say what changed)")
        print(f"systemd-analyze security: exposure {score}, as the README states")


if __name__ == "__main__":
    main()
