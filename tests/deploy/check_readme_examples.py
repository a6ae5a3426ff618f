#!/usr/bin/env python3
"""The README's example outputs against what the commands print today.

A fenced block right after a line `<!-- checked: COMMAND -->` is an example of COMMAND's output
(`herd` in COMMAND is the binary under test; it runs from the repository's root). Every line of
the block, apart from `$ ...` command lines and lines that are just `...`, must be a line of the
output, in the block's order; `...` inside a line stands for any text (a figure that changes from
run to run, or the rest of a long line). A printed line may also end in a note in parentheses,
two spaces after the text, that the example leaves out: `(real: held 3.6ms late)` appears only
when a loaded machine made the real herd a few milliseconds late, and is not what the example
shows.

Usage: check_readme_examples.py README HERD REPO_ROOT
Exit 0 when every example matches, 1 (saying where) when one does not.
"""
import re
import shlex
import subprocess
import sys

MARK = re.compile(r"^<!-- checked: (.+) -->$")


def examples(readme):
    """(line number, command, [block lines]) for every checked block."""
    lines = open(readme, encoding="utf-8").read().split("\n")
    out = []
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or lines[i + 1] != "```":
            sys.exit(f"{readme}:{i + 1}: a checked mark must be followed by a ``` block")
        block = []
        for body in lines[i + 2:]:
            if body == "```":
                break
            block.append(body)
        out.append((i + 1, m.group(1), block))
    return out


NOTE = re.compile(r"  \([^()]*\)$")


def matches(pattern, line):
    """Whether `line` reads as `pattern`, or does once a trailing note is taken off."""
    if matches_text(pattern, line):
        return True
    bare = NOTE.sub("", line)
    return bare != line and matches_text(pattern, bare)


def matches_text(pattern, line):
    """Whether `line` reads as `pattern`, each `...` in it standing for any text."""
    parts = pattern.split("...")
    if len(parts) == 1:
        return pattern == line
    if not line.startswith(parts[0]) or not line.endswith(parts[-1]):
        return False
    at = len(parts[0])
    for part in parts[1:-1]:
        found = line.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return at <= len(line) - len(parts[-1])


def check(readme, herd, root):
    failures = 0
    for number, command, block in examples(readme):
        argv = [herd if word == "herd" else word for word in shlex.split(command)]
        run = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=240)
        printed = (run.stdout + run.stderr).split("\n")
        at = 0
        for want in block:
            if want.startswith("$ ") or want.strip() == "...":
                continue
            while at < len(printed) and not matches(want, printed[at]):
                at += 1
            if at == len(printed):
                print(f"{readme}:{number}: `{command}` printed no line reading\n  {want}\n"
                      f"after the ones before it; it printed:\n" +
                      "\n".join("  | " + p for p in printed))
                failures += 1
                break
            at += 1
        else:
            print(f"ok: {readme}:{number}: {command}")
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    found = examples(sys.argv[1])
    if not found:
        sys.exit(f"{sys.argv[1]}: no checked example")
    sys.exit(1 if check(*sys.argv[1:4]) else 0)
