#!/usr/bin/python3
"""deploy_man_pages: the man pages built from doc/man (cmake/ManPages.cmake) render
without a single groff warning, and cannot drift from the programs and the schema:

- pktpoold(8): every flag of `pktpoold --help` is an entry of OPTIONS, and OPTIONS has
  no entry for a flag the daemon does not have;
- pktpoolctl(8): the same for the global flags; every subcommand of `pktpoolctl --help`
  is a subsection of COMMANDS, with an example, its positionals, every flag of
  `pktpoolctl COMMAND --help` as an entry and every choice of its options; every
  environment variable the help names is under ENVIRONMENT;
- pktpoold.textproto(5): every field of pktpool.v1.DaemonConfig, and of every message
  it holds (from the .proto), is an entry ("name:" or "name {") naming its type, its
  default and what a reload does with it; every value of those enums appears; each
  example config loads with the daemon's loader (deploy_config_check).

The installed files (NAME.SECTION.gz) are checked too: gzip without a name or time
stamp (reproducible), rendered by man -l, NAME parsed by lexgrog when installed.
"""
import argparse
import gzip
import os
import re
import shutil
import tempfile

from deploy_testlib import fail, run, skip_unless

PAGES = ("pktpoold.8", "pktpoolctl.8", "pktpoold.textproto.5")
# groff: the man macros, tbl for tables, every warning, no output.
GROFF_CHECK = ["groff", "-k", "-t", "-man", "-Tutf8", "-ww", "-z"]
# Plain text, one line per paragraph (a long line length, no hyphenation), so that a
# flag is never split across lines; indentation kept (sections 0, subsections 3,
# entries 7, their bodies 11 and deeper).
GROFF_TEXT = ["groff", "-k", "-t", "-man", "-Tutf8", "-rLL=1500n", "-rHY=0",
              "-P-c", "-P-b", "-P-u"]
HYPHENS = {"\u2010": "-", "\u2011": "-", "\u2212": "-"}
# Flags every program has; documented once, in the program's OPTIONS.
HELP_FLAGS = {"-h", "--help"}
# Messages of the schema defined outside pktpool.proto: the fields the page must name.
WELL_KNOWN = {"google.protobuf.Duration": ("seconds", "nanos")}
PROTO_SCALARS = {"double", "float", "int32", "int64", "uint32", "uint64", "sint32",
                 "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool",
                 "string", "bytes"}


def render_text(path):
    """The page as plain text (see GROFF_TEXT)."""
    text = run(GROFF_TEXT + [path]).stdout
    for odd, plain in HYPHENS.items():
        text = text.replace(odd, plain)
    return text


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def sections(text):
    """{SECTION: [lines]} of a rendered page (headings start in column 0)."""
    result = {}
    name = None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Z0-9 -]*", line):
            name = line
            result[name] = []
        elif name is not None:
            result[name].append(line)
    return result


def subsections(lines):
    """{name: [lines]} of a section's subsections (headings indented 3)."""
    result = {}
    name = None
    for line in lines:
        if indent_of(line) == 3 and line.strip():
            name = line.strip()
            result[name] = []
        elif name is not None:
            result[name].append(line)
    return result


def entry_terms(lines, first_char="-"):
    """The term lines of a section's entries: at the section's base indent, starting with
    `first_char`, and followed by a more indented body line."""
    bodies = [line for line in lines if line.strip()]
    base = min((indent_of(line) for line in bodies), default=0)
    terms = []
    for line, after in zip(bodies, bodies[1:] + [""]):
        if (indent_of(line) == base and line.strip().startswith(first_char)
                and indent_of(after) > base):
            terms.append(line.strip())
    return terms


def flags_in(term):
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", term))


def has_word(text, word, ignore_case=False):
    pattern = r"(?<![\w-])" + re.escape(word) + r"(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE if ignore_case else 0) is not None


def parse_help(text):
    """What a CLI11 --help lists: {"flags", "choices", "env", "positionals",
    "subcommands"}."""
    found = {"flags": set(), "choices": set(), "env": set(), "positionals": set(),
             "subcommands": []}
    block = None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Za-z ]*:", line):
            block = line[:-1]
            continue
        if not line.strip():
            block = None
            continue
        if block is None:
            continue
        for choices in re.findall(r":\{([^}]*)\}", line):
            found["choices"].update(choice for choice in choices.split(",") if choice)
        found["env"].update(re.findall(r"\(Env:(\w+)\)", line))
        item = re.match(r"  (\S+)", line)
        if not item:
            continue
        if block == "Options" and item.group(1).startswith("-"):
            found["flags"].update(name for name in item.group(1).split(",") if name)
        elif block == "Positionals":
            found["positionals"].add(item.group(1))
        elif block == "Subcommands":
            found["subcommands"].append(item.group(1))
    return found


def check_rendering(man_dir, scratch, problems):
    """groff -ww is silent on every page, and sees a warning in a broken copy."""
    broken = os.path.join(scratch, "broken.8")
    with open(os.path.join(man_dir, PAGES[0]), encoding="utf-8") as page:
        text = page.read()
    with open(broken, "w", encoding="utf-8") as out:
        out.write(text + "\n.NOSUCHMACRO\n\\f[NOSUCHFONT]x\n")
    result = run(GROFF_CHECK + [broken], check=False)
    if not result.stderr.strip():
        fail(f"{' '.join(GROFF_CHECK)} reported nothing for a page with an undefined macro "
             "and font, so this check could not see warnings either")
    clean = True
    for page in PAGES:
        path = os.path.join(man_dir, page)
        result = run(GROFF_CHECK + [path], check=False)
        if result.returncode != 0 or result.stderr.strip():
            clean = False
            problems.append(f"{page}: groff -ww exited {result.returncode}:\n"
                            f"{result.stderr.strip()}")
    if clean:
        print(f"groff -ww: no warnings ({', '.join(PAGES)})")


def check_installed_files(man_dir, scratch, problems):
    """The .gz files: gzip -n, the same page, rendered by man -l, NAME for lexgrog."""
    for page in PAGES:
        path = os.path.join(man_dir, page + ".gz")
        with open(path, "rb") as compressed:
            header = compressed.read(10)
        # RFC 1952: FLG bit 3 is FNAME; bytes 4-7 MTIME.
        if header[:2] != b"\x1f\x8b" or header[3] & 0x08 or header[4:8] != b"\0\0\0\0":
            problems.append(f"{page}.gz: not gzip -n (a file name or time stamp in its "
                            "header makes the .deb differ from build to build)")
        with gzip.open(path, "rt", encoding="utf-8") as compressed:
            unpacked = compressed.read()
        with open(os.path.join(man_dir, page), encoding="utf-8") as roff:
            if unpacked != roff.read():
                problems.append(f"{page}.gz differs from {page}: rebuild man_pages")
        if shutil.which("man"):
            environment = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat",
                               PAGER="cat")
            result = run(["man", "--warnings", "-l", path], check=False, env=environment)
            if result.returncode != 0 or result.stderr.strip() or not result.stdout.strip():
                problems.append(f"man --warnings -l {page}.gz exited {result.returncode}:\n"
                                f"{result.stderr.strip()}")
        if shutil.which("lexgrog"):
            result = run(["lexgrog", path], check=False)
            if result.returncode != 0:
                problems.append(f"lexgrog {page}.gz cannot parse its NAME section "
                                f"(whatis, apropos): {result.stdout.strip()}")
    tools = [tool for tool in ("man", "lexgrog") if shutil.which(tool)]
    print(f"installed pages: gzip -n, same as the roff"
          f"{', checked with ' + ' and '.join(tools) if tools else ''}")


def check_version(page, text, version, problems):
    footer = [line for line in text.splitlines() if line.strip()][-1]
    if f"pktpool {version}" not in footer:
        problems.append(f"{page}: footer '{footer.strip()}' does not name pktpool {version} "
                        "(the programs' --version)")


def check_options(page, lines, expected, problems, where="OPTIONS"):
    """Each flag of `expected` is in an entry term of `lines`, and each entry's flag is
    in `expected`."""
    documented = set()
    for term in entry_terms(lines):
        documented |= flags_in(term)
    for flag in sorted(expected - documented):
        problems.append(f"{page}: {where} has no entry for {flag} (it is in --help)")
    for flag in sorted(documented - expected):
        problems.append(f"{page}: {where} documents {flag}, which --help does not list")
    return documented


def check_pktpoold(man_dir, daemon, version, problems):
    page = "pktpoold.8"
    text = render_text(os.path.join(man_dir, page))
    check_version(page, text, version, problems)
    found = parse_help(run([daemon, "--help"]).stdout)
    if not {"--config", "--help"} <= found["flags"]:
        fail(f"could not read the flags of {daemon} --help (found {sorted(found['flags'])})")
    options = sections(text).get("OPTIONS")
    if options is None:
        problems.append(f"{page}: no OPTIONS section")
        return
    documented = check_options(page, options, found["flags"], problems)
    print(f"{page}: {len(found['flags'])} flags of pktpoold --help, "
          f"{len(documented & found['flags'])} documented")


def check_pktpoolctl(man_dir, ctl, version, problems):
    page = "pktpoolctl.8"
    text = render_text(os.path.join(man_dir, page))
    check_version(page, text, version, problems)
    parts = sections(text)
    for name in ("OPTIONS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS"):
        if name not in parts:
            problems.append(f"{page}: no {name} section")
            return
    top = parse_help(run([ctl, "--help"]).stdout)
    if len(top["subcommands"]) < 2 or "--socket" not in top["flags"]:
        fail(f"could not read the commands and flags of {ctl} --help: {top}")
    check_options(page, parts["OPTIONS"], top["flags"], problems)
    options_text = "\n".join(parts["OPTIONS"])
    for choice in sorted(top["choices"]):
        if not has_word(options_text, choice):
            problems.append(f"{page}: OPTIONS does not name '{choice}', a choice in --help")
    environment = "\n".join(parts["ENVIRONMENT"])
    for variable in sorted(top["env"]):
        if not has_word(environment, variable):
            problems.append(f"{page}: ENVIRONMENT does not describe {variable} (in --help)")

    commands = subsections(parts["COMMANDS"])
    for command in sorted(set(commands) - set(top["subcommands"])):
        problems.append(f"{page}: COMMANDS has a subsection '{command}', which is not a "
                        "command of pktpoolctl --help")
    flag_count = 0
    for command in top["subcommands"]:
        if command not in commands:
            problems.append(f"{page}: COMMANDS has no subsection for the command '{command}'")
            continue
        lines = commands[command]
        section_text = "\n".join(lines)
        found = parse_help(run([ctl, command, "--help"]).stdout)
        flags = found["flags"] - HELP_FLAGS
        flag_count += len(flags)
        check_options(page, lines, flags, problems, where=f"COMMANDS, {command},")
        for choice in sorted(found["choices"]):
            if not has_word(section_text, choice):
                problems.append(f"{page}: COMMANDS, {command}, does not name '{choice}', "
                                "a choice in its --help")
        for positional in sorted(found["positionals"]):
            if not has_word(section_text, positional, ignore_case=True):
                problems.append(f"{page}: COMMANDS, {command}, does not name its argument "
                                f"{positional.upper()}")
        examples = [line for line in lines if indent_of(line) > 7
                    and line.strip().startswith("pktpoolctl ") and has_word(line, command)]
        if not examples:
            problems.append(f"{page}: COMMANDS, {command}, has no example "
                            f"(an indented 'pktpoolctl ... {command} ...' line)")
    print(f"{page}: {len(top['flags'])} global flags, {len(top['subcommands'])} commands "
          f"with {flag_count} flags, {len(top['env'])} environment variables checked")


def proto_definitions(path):
    """{"messages": {name: [(label, type, field)]}, "enums": {name: [value]}} of a .proto
    (definitions keyed by their simple name; nested ones too)."""
    with open(path, encoding="utf-8") as proto:
        text = re.sub(r"//[^\n]*", "", proto.read())
    messages, enums = {}, {}

    def body_at(open_brace):
        depth = 0
        for index in range(open_brace, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    return text[open_brace + 1:index]
        fail(f"{path}: unbalanced braces")

    for match in re.finditer(r"\b(message|enum)\s+(\w+)\s*\{", text):
        kind, name = match.groups()
        body = body_at(match.end() - 1)
        if kind == "enum":
            enums[name] = re.findall(r"^\s*(\w+)\s*=\s*-?\d+", body, re.MULTILINE)
            continue
        # This message's own fields: nested definitions removed.
        own = body
        while True:
            nested = re.search(r"\b(message|enum)\s+\w+\s*\{", own)
            if not nested:
                break
            start = nested.start()
            depth, index = 0, nested.end() - 1
            while True:
                depth += {"{": 1, "}": -1}.get(own[index], 0)
                if depth == 0:
                    break
                index += 1
            own = own[:start] + own[index + 1:]
        messages[name] = re.findall(
            r"^\s*(optional\s+|repeated\s+)?(map<[^>]*>|[\w.]+)\s+(\w+)\s*=\s*\d+",
            own, re.MULTILINE)
    return {"messages": messages, "enums": enums}


def config_schema(proto_path):
    """Every field reachable from DaemonConfig: [(message, label, type, field)], and the
    enums they use."""
    definitions = proto_definitions(proto_path)
    messages, enums = definitions["messages"], definitions["enums"]
    if "DaemonConfig" not in messages:
        fail(f"{proto_path} has no message DaemonConfig")
    fields, used_enums, seen = [], set(), set()
    queue = ["DaemonConfig"]
    while queue:
        message = queue.pop(0)
        if message in seen:
            continue
        seen.add(message)
        for label, type_name, field in messages[message]:
            fields.append((message, label.strip(), type_name, field))
            simple = type_name.split(".")[-1]
            if simple in messages and simple not in seen:
                queue.append(simple)
            elif simple in enums:
                used_enums.add(simple)
    return fields, {name: enums[name] for name in sorted(used_enums)}


def type_word(type_name):
    """How an entry's term names a field's type: the scalar type, or the message or
    enum's simple name."""
    if type_name in PROTO_SCALARS:
        return type_name
    return type_name.split(".")[-1]


def entries(text, field):
    """Each entry of `field` in a rendered page: its term line and its body (the lines
    indented deeper than the term, until the next line that is not)."""
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not (stripped.startswith(field + ":") or stripped.startswith(field + " {")):
            continue
        indent = indent_of(line)
        body = []
        for after in lines[index + 1:]:
            if after.strip() and indent_of(after) <= indent:
                break
            body.append(after)
        found.append((stripped, "\n".join(body)))
    return found


def check_textproto(man_dir, proto_path, config_check, scratch, version, problems):
    page = "pktpoold.textproto.5"
    text = render_text(os.path.join(man_dir, page))
    check_version(page, text, version, problems)
    fields, enums = config_schema(proto_path)
    for message, label, type_name, field in fields:
        where = f"{message}.{field} ({label + ' ' if label else ''}{type_name})"
        candidates = entries(text, field)
        if not candidates:
            problems.append(f"{page}: no entry for {where}: a line starting "
                            f"'{field}:' or '{field} {{'")
            continue
        word = type_word(type_name)
        shortfalls = []
        for term, body in candidates:
            missing = []
            if not has_word(term, word):
                missing.append(f"its type ({word}) in the term '{term}'")
            if label == "repeated" and not has_word(term, "repeated"):
                missing.append(f"'repeated' in the term '{term}'")
            if not re.search(r"\bdefault\b", term + body, re.IGNORECASE):
                missing.append("its default ('Default ...')")
            if not re.search(r"\breload\b", term + body, re.IGNORECASE):
                missing.append("what a reload does ('Reload: ...')")
            shortfalls.append(missing)
        # The closest entry (a line of an example config may start the same way).
        missing = min(shortfalls, key=len)
        if missing:
            problems.append(f"{page}: the entry for {where} lacks " + "; ".join(missing))
        for nested in WELL_KNOWN.get(type_name, ()):
            if not has_word(text, nested):
                problems.append(f"{page}: {where} is a {type_name}; the page does not "
                                f"name its field {nested}")
    for enum, values in enums.items():
        for value in values:
            if not has_word(text, value):
                problems.append(f"{page}: the enum value {value} ({enum}) is not named")
    messages = sorted({message for message, _, _, _ in fields})
    print(f"{page}: {len(fields)} fields of {len(messages)} messages ({', '.join(messages)}) "
          f"and {sum(len(v) for v in enums.values())} enum values checked")

    examples = []
    block = []
    for line in sections(text).get("EXAMPLES", []) + [""]:
        if line.strip() and indent_of(line) > 7:
            block.append(line)
            continue
        if block and re.fullmatch(r"\w+ \{", block[0].strip()):
            cut = indent_of(block[0])
            examples.append("\n".join(part[cut:] for part in block) + "\n")
        block = []
    if not examples:
        problems.append(f"{page}: EXAMPLES has no example config (an indented block "
                        "starting 'name {')")
    elif config_check:
        paths = []
        for number, example in enumerate(examples, 1):
            path = os.path.join(scratch, f"example{number}.textproto")
            with open(path, "w", encoding="utf-8") as out:
                out.write(example)
            paths.append(path)
        result = run([config_check] + paths, check=False)
        if result.returncode != 0:
            problems.append(f"{page}: an example config does not load with the daemon's "
                            f"loader:\n{result.stdout}{result.stderr}")
        else:
            print(f"{page}: {len(examples)} example configs load ({config_check})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--man-dir", required=True,
                        help="the built pages: BUILD/man (cmake --build BUILD --target "
                             "man_pages)")
    parser.add_argument("--daemon", required=True, help="the built pktpoold")
    parser.add_argument("--ctl", required=True, help="the built pktpoolctl")
    parser.add_argument("--proto", required=True, help="proto/pktpool/v1/pktpool.proto")
    parser.add_argument("--config-check", help="deploy_config_check: load the examples")
    args = parser.parse_args()
    skip_unless(shutil.which("groff"), "groff is not installed (Debian package groff-base)")
    for page in PAGES:
        for name in (page, page + ".gz"):
            if not os.path.exists(os.path.join(args.man_dir, name)):
                fail(f"{name} is not built in {args.man_dir}: "
                     "cmake --build BUILD --target man_pages")
    version = run([args.daemon, "--version"]).stdout.split()[-1]

    problems = []
    with tempfile.TemporaryDirectory(prefix="pktpool-man-") as scratch:
        check_rendering(args.man_dir, scratch, problems)
        check_installed_files(args.man_dir, scratch, problems)
        check_pktpoold(args.man_dir, args.daemon, version, problems)
        check_pktpoolctl(args.man_dir, args.ctl, version, problems)
        check_textproto(args.man_dir, args.proto, args.config_check, scratch, version,
                        problems)
    if problems:
        fail(f"{len(problems)} problems with the man pages (doc/man/*.scd):\n"
             + "\n".join(problems))
    print("man pages: render cleanly and agree with --help and the config schema")


if __name__ == "__main__":
    main()
