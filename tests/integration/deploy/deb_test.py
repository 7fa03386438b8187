#!/usr/bin/python3
"""deploy_deb: cpack builds pktpool_<version>_<arch>.deb from the build directory; it
holds the two programs, the unit, the sysusers entry and the config (a conffile), and
no test or benchmark; dpkg-shlibdeps' Depends name the Debian library packages; the
extracted pktpoold runs (--version); the maintainer scripts do what they say with
systemd-sysusers, useradd and systemctl replaced by recorders.

Needs pktpoold and pktpoolctl built (cpack installs what is built, builds nothing).
"""
import argparse
import glob
import os
import re
import shutil
import stat
import tempfile

from deploy_testlib import fail, run, skip_unless

REQUIRED_FILES = [
    "./usr/sbin/pktpoold",
    "./usr/bin/pktpoolctl",
    "./usr/lib/sysusers.d/pktpool.conf",
    "./etc/pktpool/pktpoold.textproto",
    "./usr/share/doc/pktpool/examples/pktpoold.textproto",
    "./usr/share/doc/pktpool/examples/grafana/pktpool-dashboard.json",
    "./usr/share/doc/pktpool/examples/kubernetes/daemonset.yaml",
]
UNIT_PATHS = ["./lib/systemd/system/pktpoold.service", "./usr/lib/systemd/system/pktpoold.service"]
PROGRAMS = {"./usr/sbin/pktpoold", "./usr/bin/pktpoolctl",
            "./usr/lib/x86_64-linux-gnu/wireshark/extcap/pktpool-extcap"}
REQUIRED_DEPENDS = ["libpcap0.8", "libgrpc++1.51", "libprotobuf32", "libsystemd0"]


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def check_contents(deb):
    """The file list: what must be there, and no executable but the two programs."""
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    entries = {}
    for line in listing:
        fields = line.split(None, 5)
        entries[fields[5].split(" -> ")[0]] = fields[0]
    for path in REQUIRED_FILES:
        if path not in entries:
            fail(f"{deb} lacks {path}; it has:\n" + "\n".join(sorted(entries)))
    units = [path for path in UNIT_PATHS if path in entries]
    if len(units) != 1:
        fail(f"{deb} should hold pktpoold.service once, in {UNIT_PATHS}: {units}")
    executables = {path for path, mode in entries.items()
                   if mode.startswith("-") and "x" in mode}
    if executables != PROGRAMS:
        fail(f"executables in {deb}: {sorted(executables)}; expected only {sorted(PROGRAMS)} "
             "(no tests, benchmarks or tools)")
    print(f"contents: {len(entries)} entries, unit at {units[0]}, executables {sorted(executables)}")
    return units[0]


def check_control(deb, version, scratch):
    fields = {}
    for name in ("Package", "Version", "Architecture", "Section", "Maintainer", "Depends"):
        fields[name] = run(["dpkg-deb", "-f", deb, name]).stdout.strip()
    architecture = run(["dpkg", "--print-architecture"]).stdout.strip()
    expected = {"Package": "pktpool", "Version": version, "Architecture": architecture,
                "Section": "net"}
    for name, value in expected.items():
        if fields[name] != value:
            fail(f"control field {name} is '{fields[name]}', expected '{value}'")
    if not re.match(r".+ <[^>]+@[^>]+>$", fields["Maintainer"]):
        fail(f"Maintainer '{fields['Maintainer']}' is not 'Name <email>'")
    depends = {re.split(r"[ (]", part.strip())[0] for part in fields["Depends"].split(",")}
    for package in REQUIRED_DEPENDS:
        if package not in depends:
            fail(f"Depends lacks {package} (dpkg-shlibdeps): {fields['Depends']}")
    print(f"Depends: {fields['Depends']}")

    control = os.path.join(scratch, "control")
    run(["dpkg-deb", "-e", deb, control])
    conffiles = read(os.path.join(control, "conffiles")).split()
    if conffiles != ["/etc/pktpool/pktpoold.textproto"]:
        fail(f"conffiles is {conffiles}, expected the config only")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control, script)
        if not os.path.exists(path) or not os.stat(path).st_mode & stat.S_IXUSR:
            fail(f"control archive lacks an executable {script}")
    if shutil.which("shellcheck"):
        run(["shellcheck", "-s", "sh"] + [os.path.join(control, s) for s in ("postinst", "prerm", "postrm")])
        print("maintainer scripts: shellcheck clean")
    return control


def check_extracted(deb, unit_entry, source_dir, scratch):
    root = os.path.join(scratch, "root")
    run(["dpkg-deb", "-x", deb, root])
    # Installed with prefix /usr the unit is the checked-in one, byte for byte.
    same = {
        unit_entry: "deploy/systemd/pktpoold.service",
        "./usr/lib/sysusers.d/pktpool.conf": "deploy/systemd/pktpool.sysusers",
        "./etc/pktpool/pktpoold.textproto": "deploy/pktpoold.textproto",
    }
    for entry, source in same.items():
        if read(os.path.join(root, entry)) != read(os.path.join(source_dir, source)):
            fail(f"{entry} in the package differs from {source}")
    print("unit, sysusers entry and config: as checked in")
    return root


def check_programs_run(root, version):
    """The extracted programs start: their libraries resolve, --version answers."""
    run([os.path.join(root, "usr/bin/pktpoolctl"), "--help"])
    result = run([os.path.join(root, "usr/sbin/pktpoold"), "--version"], check=False)
    if result.returncode != 0 or version not in result.stdout:
        fail(f"extracted pktpoold --version exited {result.returncode}, printed "
             f"{result.stdout!r} {result.stderr!r}; expected exit 0 and '{version}'")
    print(f"pktpoold --version: {result.stdout.strip()}")


def check_maintainer_scripts(control, scratch):
    """postinst/prerm with recorders for the commands they call (never the real ones)."""
    stubs = os.path.join(scratch, "stubs")
    os.makedirs(stubs)
    log = os.path.join(scratch, "calls.log")
    for command, exit_code in (("systemd-sysusers", 0), ("systemctl", 0), ("useradd", 0),
                               ("groupadd", 0), ("getent", 2)):
        with open(os.path.join(stubs, command), "w", encoding="utf-8") as stub:
            stub.write(f'#!/bin/sh\necho "{command} $*" >> "{log}"\nexit {exit_code}\n')
        os.chmod(os.path.join(stubs, command), 0o755)
    # Only the recorders on PATH: a real systemd-sysusers, useradd or systemctl must
    # never run here (the scripts need nothing else: /bin/sh runs them, the rest is
    # shell builtins).
    environment = dict(os.environ, PATH=stubs)
    systemd_running = os.path.isdir("/run/systemd/system")

    def calls(script, *arguments, without=()):
        for command in without:
            os.remove(os.path.join(stubs, command))
        if os.path.exists(log):
            os.remove(log)
        run(["/bin/sh", os.path.join(control, script), *arguments], env=environment)
        return read(log).splitlines() if os.path.exists(log) else []

    made = calls("postinst", "configure", "")
    if "systemd-sysusers pktpool.conf" not in made:
        fail(f"postinst configure did not run systemd-sysusers pktpool.conf: {made}")
    if not systemd_running and any(c.startswith("systemctl") for c in made):
        fail(f"postinst called systemctl without a running systemd: {made}")
    removed = calls("prerm", "remove")
    if "systemctl --no-reload disable pktpoold.service" not in removed:
        fail(f"prerm remove did not disable the unit: {removed}")
    upgraded = calls("prerm", "upgrade", "0.1.0")
    if any("stop" in c or "disable" in c for c in upgraded):
        fail(f"prerm upgrade stopped or disabled the daemon: {upgraded}")
    by_hand = calls("postinst", "configure", "", without=("systemd-sysusers",))
    if ("groupadd --system pktpool" not in by_hand
            or not any(c.startswith("useradd --system --gid pktpool") for c in by_hand)):
        fail(f"postinst without systemd-sysusers did not make the group and user: {by_hand}")
    print("maintainer scripts: sysusers, useradd fallback, disable on remove, not on upgrade")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
        skip_unless(shutil.which(tool), f"{tool} is not installed")
    for program in ("daemon/pktpoold", "client/pktpoolctl/pktpoolctl"):
        if not os.path.exists(os.path.join(args.build_dir, program)):
            fail(f"{program} is not built in {args.build_dir}: "
                 "cmake --build BUILD --target pktpoold pktpoolctl")

    with tempfile.TemporaryDirectory(prefix="pktpool-deb-") as scratch:
        out = os.path.join(scratch, "out")
        run(["cpack", "--config", os.path.join(args.build_dir, "CPackConfig.cmake"), "-B", out])
        debs = glob.glob(os.path.join(out, f"pktpool_{args.version}_*.deb"))
        if len(debs) != 1:
            fail(f"expected one pktpool_{args.version}_*.deb in {out}: {os.listdir(out)}")
        deb = debs[0]
        print(f"built {os.path.basename(deb)}")
        unit_entry = check_contents(deb)
        control = check_control(deb, args.version, scratch)
        root = check_extracted(deb, unit_entry, args.source_dir, scratch)
        check_maintainer_scripts(control, scratch)
        check_programs_run(root, args.version)


if __name__ == "__main__":
    main()
