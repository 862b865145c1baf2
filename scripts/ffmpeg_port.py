#!/usr/bin/env python3
"""Makes a component patch's release-specific changes in another release's
tree (scripts/ffmpeg-series.sh port): its Changelog entries and its version
bumps, as the primary release's copy of the patch makes them.

The rest of the patch has been applied to TREE already (git am --exclude of
Changelog and libav*/version.h). The entries go under "version <next>:",
made before the release's own first section when the tree has none yet;
each library's minor version rises by as much as the primary copy raises
it, and its micro version becomes the one the copy sets, if it sets one.

usage: ffmpeg_port.py PRIMARY_PATCH TREE
"""
import re
import sys
from typing import Optional

VERSION_LINE = re.compile(r"#define (LIBAV[A-Z]+)_VERSION_(MINOR|MICRO)(\s+)(\d+)$")


def die(message: str) -> None:
    sys.exit(f"ffmpeg_port: {message}")


def read_patch(path: str):
    """The Changelog entries a patch adds, and per library (by its macro
    prefix, e.g. LIBAVFORMAT) the minor version's rise and the micro it sets
    (None: it keeps the micro)."""
    entries, old, new, where = [], {}, {}, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("diff --git "):
            where = line.split(" b/", 1)[1]
            continue
        if not line or line[0] not in "+-" or line.startswith(("---", "+++")):
            continue
        if where == "Changelog":
            if line.startswith("+- "):
                entries.append(line[1:])
            elif line not in ("+", "+version <next>:"):
                die(f"{path}: a Changelog change other than an entry: {line!r}")
        elif where is not None and re.fullmatch(r"libav[a-z]+/version\.h", where):
            m = VERSION_LINE.fullmatch(line[1:])
            if not m:
                die(f"{path}: a {where} change other than the minor and micro version: {line!r}")
            (old if line[0] == "-" else new)[(m.group(1), m.group(2))] = int(m.group(4))
        elif where == "doc/APIchanges":
            die(f"{path}: APIchanges names version numbers: make this release's copy by hand")
    bumps = {}
    for lib in {lib for lib, _ in new}:
        rise = 0
        if (lib, "MINOR") in new:
            if (lib, "MINOR") not in old:
                die(f"{path}: {lib}: a minor version without the one it replaces")
            rise = new[(lib, "MINOR")] - old[(lib, "MINOR")]
        bumps[lib] = (rise, new.get((lib, "MICRO")))
    return entries, bumps


def bump(tree: str, lib: str, rise: int, micro: Optional[int]) -> None:
    path = f"{tree}/{lib.lower()}/version.h"
    text = open(path, encoding="utf-8").read()

    def replace(m: re.Match) -> str:
        if m.group(2) == "MINOR":
            value = int(m.group(4)) + rise
        else:
            value = int(m.group(4)) if micro is None else micro
        width = len(m.group(3)) + len(m.group(4))  # numbers stay right-aligned
        return f"#define {m.group(1)}_VERSION_{m.group(2)}" + f" {value}".rjust(width)

    text, n = re.subn(rf"^#define ({lib})_VERSION_(MINOR|MICRO)(\s+)(\d+)$", replace, text,
                      flags=re.M)
    if n != 2:
        die(f"{path}: no {lib}_VERSION_MINOR and _MICRO lines")
    open(path, "w", encoding="utf-8").write(text)


def add_entries(tree: str, entries: list) -> None:
    path = f"{tree}/Changelog"
    lines = open(path, encoding="utf-8").read().split("\n")
    if "version <next>:" in lines:
        at = lines.index("version <next>:") + 1
        while at < len(lines) and lines[at].startswith("- "):
            at += 1
        lines[at:at] = entries
    else:
        at = next((i for i, l in enumerate(lines) if l.startswith("version ")), None)
        if at is None:
            die(f"{path}: no release section")
        lines[at:at] = ["version <next>:", *entries, "", ""]
    open(path, "w", encoding="utf-8").write("\n".join(lines))


def main() -> None:
    if len(sys.argv) != 3:
        die("usage: ffmpeg_port.py PRIMARY_PATCH TREE")
    entries, bumps = read_patch(sys.argv[1])
    for lib, (rise, micro) in sorted(bumps.items()):
        bump(sys.argv[2], lib, rise, micro)
    if entries:
        add_entries(sys.argv[2], entries)


if __name__ == "__main__":
    main()
