#!/usr/bin/env python3
"""The systemd unit's command line, as systemd would build it from the unit and the env file its
own comment documents, must be one that `herd serve` takes: the server starts (on 127.0.0.1 and
folders of this test's own), or the test fails with what herd said.

usage: check_unit.py UNIT HERD_BINARY WORK_DIR
"""
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time


def exec_start(unit_text):
    """The ExecStart line, its continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", unit_text)
    for line in joined.splitlines():
        if line.startswith("ExecStart="):
            return line[len("ExecStart="):]
    sys.exit("no ExecStart in the unit")


def documented_env(unit_text):
    """The NAME.env example of the unit's header comment: `#   KEY=value` lines."""
    env = {}
    for line in unit_text.splitlines():
        m = re.match(r"#\s+(HERD_[A-Z_]+)=(.*)$", line)
        if m:
            env[m.group(1)] = m.group(2).strip()
    if "HERD_FLAGS" not in env:
        sys.exit("the unit documents no HERD_FLAGS example")
    return env


def expand(command, env):
    """systemd's rules: ${VAR} is one word, $VAR is split on white space, %i the instance."""
    words = []
    for word in shlex.split(command.replace("%i", "Alford")):
        whole = re.fullmatch(r"\$\{(\w+)\}(.*)", word)
        if whole:
            words.append(env.get(whole.group(1), "") + whole.group(2))
            continue
        split = re.fullmatch(r"\$(\w+)", word)
        if split:
            words.extend(env.get(split.group(1), "").split())
            continue
        words.append(word)
    return words


def main():
    unit, herd, work = sys.argv[1], sys.argv[2], sys.argv[3]
    text = open(unit).read()
    os.makedirs(work, exist_ok=True)
    port = random.randint(20000, 30000)
    env = documented_env(text)
    env["HERD_ADMIN"] = "127.0.0.1:%d" % (port + 1)  # the example's port may be taken here
    env["CREDENTIALS_DIRECTORY"] = work
    with open(os.path.join(work, "herd.secret"), "w") as f:
        f.write("a secret for the unit test\n")
    with open(os.path.join(work, "herd.conf"), "w") as f:
        f.write("server Alford 127.0.0.1:%d\n" % port)
    args = expand(exec_start(text), env)
    paths = {"/usr/local/bin/herd": herd, "/etc/herd/herd.conf": os.path.join(work, "herd.conf"),
             "/var/log/herd": os.path.join(work, "log"),
             "/var/lib/herd/Alford": os.path.join(work, "data")}
    args = [paths.get(a, a) for a in args]
    print("HERD_FLAGS=%s -> %s" % (env["HERD_FLAGS"], " ".join(args)))
    out_path = os.path.join(work, "serve.out")
    with open(out_path, "w") as out:
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if p.poll() is not None:
                break
            if "listening on" in open(out_path).read():
                print("herd serve took the unit's command line")
                return 0
            time.sleep(0.1)
        sys.exit("herd serve did not start:\n" + open(out_path).read())
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(10)


if __name__ == "__main__":
    sys.exit(main())
