"""Shared pieces of the deploy tests: skipping, the unit file, running commands."""
import os
import subprocess
import sys

# ctest's SKIP_RETURN_CODE for these tests.
SKIP = 77


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def skip_unless(condition, reason):
    """Skips (exit 77) when `condition` is false; fails instead when CI is set."""
    if condition:
        return
    if os.environ.get("CI"):
        fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def require_root():
    skip_unless(os.geteuid() == 0, "needs root (network namespaces, setpriv, strace)")


def run(command, check=True, **kwargs):
    """Runs `command`; returns the CompletedProcess (text). Fails the test on error."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        fail(f"{' '.join(map(str, command))} exited {result.returncode}\n"
             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def read_unit(path):
    """The unit file as {section: [(key, value), ...]}, in order, repeated keys kept."""
    sections = {}
    current = None
    with open(path, encoding="utf-8") as unit:
        for raw in unit:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], [])
                continue
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit, section, key):
    """Every value of `key` in `section`, in order."""
    return [value for k, value in unit.get(section, []) if k == key]
