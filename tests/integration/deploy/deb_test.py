#!/usr/bin/python3
"""deploy_deb: cpack builds pktpool_<version>_<arch>.deb from the build directory; it
holds the two programs, the unit, the sysusers entry and the config (a conffile), the
DEP-5 copyright file and the changelog, and no test or benchmark; dpkg-shlibdeps'
Depends name the Debian library packages; lintian reports no error and no warning; the
extracted pktpoold runs (--version); the maintainer scripts do what they say, the way
dh_installsystemd's do, with systemd-sysusers, useradd, deb-systemd-helper,
deb-systemd-invoke and systemctl replaced by recorders.

Needs pktpoold and pktpoolctl built (cpack installs what is built, builds nothing).
"""
import argparse
import glob
import gzip
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
    "./usr/share/doc/pktpool/copyright",
    "./usr/share/doc/pktpool/changelog.gz",
    "./usr/share/lintian/overrides/pktpool",
    "./usr/share/man/man8/pktpoold.8.gz",
    "./usr/share/man/man8/pktpoolctl.8.gz",
    "./usr/share/man/man5/pktpoold.textproto.5.gz",
    "./usr/share/bash-completion/completions/pktpoolctl",
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


def check_docs(root, source_dir, version):
    """The license (DEP-5 copyright naming Apache-2.0, as LICENSE says) and the changelog
    (gzip -9n: no name, no time stamp; its newest entry is this version)."""
    copyright_text = read(os.path.join(root, "usr/share/doc/pktpool/copyright"))
    if copyright_text != read(os.path.join(source_dir, "deploy/debian/copyright")):
        fail("usr/share/doc/pktpool/copyright differs from deploy/debian/copyright")
    if not copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                                     "copyright-format/1.0/"):
        fail("the copyright file is not in the DEP-5 format (no Format: line)")
    files_stanza = re.search(r"^Files: \*\n(?:.+\n)*?License: (\S+)", copyright_text, re.M)
    if not files_stanza or files_stanza.group(1) != "Apache-2.0":
        fail("the copyright file's 'Files: *' stanza does not name License: Apache-2.0")
    license_text = read(os.path.join(source_dir, "LICENSE"))
    if "Apache License" not in license_text or "Version 2.0, January 2004" not in license_text:
        fail("LICENSE is not the Apache License 2.0")
    changelog = os.path.join(root, "usr/share/doc/pktpool/changelog.gz")
    with open(changelog, "rb") as file:
        compressed = file.read()
    header = compressed[:10]
    # gzip header: magic, method, flags (FNAME is bit 3), then a 4-byte mtime.
    if header[:2] != b"\x1f\x8b" or header[3] & 0x08 or header[4:8] != b"\0\0\0\0":
        fail(f"{changelog} is not gzip -9n output (a file name or time stamp is in its header)")
    parsed = run(["dpkg-parsechangelog", "-l", "-", "-S", "Version"],
                 input=gzip.decompress(compressed).decode("utf-8")).stdout.strip()
    if parsed != version:
        fail(f"the packaged changelog's newest entry is {parsed}, not {version}")
    print(f"copyright: DEP-5, Apache-2.0; changelog.gz: gzip -9n, newest entry {parsed}")


def check_lintian(deb):
    """Debian's package checker: no error and no warning (overrides carry their reason in
    deploy/debian/lintian-overrides); informational tags are printed, not failed."""
    skip_unless(shutil.which("lintian"), "lintian is not installed (scripts/install-deps.sh)")
    result = run(["lintian", "--fail-on", "error,warning", "--info", deb], check=False)
    tags = [line for line in result.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    bad = [line for line in tags if line[0] in "EW"]
    if result.returncode != 0 or bad:
        fail(f"lintian {os.path.basename(deb)} exited {result.returncode} with errors or "
             "warnings:\n" + "\n".join(bad or result.stdout.splitlines()) +
             f"\nstderr: {result.stderr.strip()}")
    print(f"lintian: no error, no warning; {len(tags)} informational tags")
    for line in tags:
        print(f"  {line}")


def check_maintainer_scripts(control, scratch):
    """postinst/prerm/postrm with recorders for the commands they call (never the real
    ones), with and without a running systemd (containers, chroots)."""
    stubs = os.path.join(scratch, "stubs")
    os.makedirs(stubs)
    log = os.path.join(scratch, "calls.log")
    # deb-systemd-helper answers its queries as on a first install: the unit is not
    # debian-installed and was not enabled ($DSH_ENABLED=1 says it was).
    stub_bodies = {
        "systemd-sysusers": "exit 0", "systemctl": "exit 0", "useradd": "exit 0",
        "groupadd": "exit 0", "getent": "exit 2", "deb-systemd-invoke": "exit 0",
        "deb-systemd-helper": ('case "$1 $2" in\n'
                               '  debian-installed*|"--quiet was-enabled") '
                               'exit "$((1 - ${DSH_ENABLED:-0}))" ;;\n'
                               'esac\nexit 0'),
    }
    for command, body in stub_bodies.items():
        with open(os.path.join(stubs, command), "w", encoding="utf-8") as stub:
            stub.write(f'#!/bin/sh\necho "{command} $*" >> "{log}"\n{body}\n')
        os.chmod(os.path.join(stubs, command), 0o755)
    systemd_running = os.path.isdir("/run/systemd/system")

    def calls(script, *arguments, without=(), enabled=False):
        for command in without:
            os.remove(os.path.join(stubs, command))
        if os.path.exists(log):
            os.remove(log)
        # Only the recorders on PATH: a real systemd-sysusers, useradd, systemctl or
        # deb-systemd-helper must never run here (the rest is shell builtins).
        environment = dict(os.environ, PATH=stubs, DSH_ENABLED="1" if enabled else "0")
        run(["/bin/sh", os.path.join(control, script), *arguments], env=environment)
        return read(log).splitlines() if os.path.exists(log) else []

    def expect(made, present=(), absent=(), what=""):
        for call in present:
            if call not in made:
                fail(f"{what}: expected the call '{call}'; the calls were {made}")
        for call in made:
            if any(call.startswith(prefix) for prefix in absent):
                fail(f"{what}: unexpected call '{call}'; the calls were {made}")

    # Lintian's maintainer-script-calls-systemctl: only daemon-reload goes to systemctl.
    never = ("systemctl enable", "systemctl disable", "systemctl start", "systemctl stop",
             "systemctl restart", "systemctl try-restart")
    fresh = calls("postinst", "configure", "")
    expect(fresh, present=["systemd-sysusers pktpool.conf",
                           "deb-systemd-helper update-state pktpoold.service"],
           absent=never + ("deb-systemd-helper enable", "deb-systemd-invoke"),
           what="postinst configure (first install: disabled and stopped)")
    if not systemd_running and any(c.startswith("systemctl") for c in fresh):
        fail(f"postinst called systemctl without a running systemd: {fresh}")
    kept = calls("postinst", "configure", "0.0.9", enabled=True)
    expect(kept, present=["deb-systemd-helper enable pktpoold.service"], absent=never,
           what="postinst configure on an upgrade of an enabled unit")
    if systemd_running:
        expect(kept, present=["deb-systemd-invoke try-restart pktpoold.service"],
               what="postinst configure on an upgrade with systemd running")
    else:
        expect(kept, absent=("deb-systemd-invoke", "systemctl"),
               what="postinst on an upgrade without a running systemd")
    removed = calls("prerm", "remove")
    expect(removed, absent=never, what="prerm remove")
    if systemd_running:
        expect(removed, present=["deb-systemd-invoke stop pktpoold.service"], what="prerm remove")
    else:
        expect(removed, absent=("deb-systemd-invoke",), what="prerm remove without systemd")
    upgraded = calls("prerm", "upgrade", "0.1.0")
    if any("stop" in c or "disable" in c for c in upgraded):
        fail(f"prerm upgrade stopped or disabled the daemon: {upgraded}")
    # As dh writes it, postrm calls deb-systemd-helper only if /usr/bin/deb-systemd-helper
    # exists (init-system-helpers is essential in Debian): then the recorder sees the call.
    purged = calls("postrm", "purge")
    expect(purged, absent=never, what="postrm purge")
    if os.access("/usr/bin/deb-systemd-helper", os.X_OK):
        expect(purged, present=["deb-systemd-helper purge pktpoold.service"], what="postrm purge")
    by_hand = calls("postinst", "configure", "", without=("systemd-sysusers",))
    if ("groupadd --system pktpool" not in by_hand
            or not any(c.startswith("useradd --system --gid pktpool") for c in by_hand)):
        fail(f"postinst without systemd-sysusers did not make the group and user: {by_hand}")
    print(f"maintainer scripts (systemd {'running' if systemd_running else 'not running'}): "
          "sysusers, useradd fallback, deb-systemd-helper state, disabled and stopped on a "
          "first install, kept enabled on upgrade, stopped on remove, not on upgrade; "
          "systemctl only for daemon-reload")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "dpkg-parsechangelog", "lintian"):
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
        check_docs(root, args.source_dir, args.version)
        check_maintainer_scripts(control, scratch)
        check_programs_run(root, args.version)
        check_lintian(deb)


if __name__ == "__main__":
    main()
