#!/usr/bin/env python3
"""The key lists of README.md and dumpsterd.conf(5) are the parser's own table.

confdoc (tests/tools/confdoc.c) prints both lists from conf_key_info() and
conf_doc.c; a key added to the parser without documentation makes confdoc
fail, and a list edited by hand (or not regenerated) makes this test fail.
"""
import os
import re
import shutil
import subprocess
import sys

from ddtest import run

SRC = os.environ.get("DD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("DD_BUILD_DIR", os.path.join(SRC, "build"))
CONFDOC = os.path.join(BUILD, "confdoc")
CHECK = os.path.join(SRC, "tests", "tools", "conf_docs.py")


def confdoc(fmt):
    p = subprocess.run([CONFDOC, fmt], capture_output=True, text=True)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stderr == "", p.stderr
    return p.stdout


def test_lists_match_the_parser():
    p = subprocess.run([sys.executable, CHECK, "--check", CONFDOC], capture_output=True, text=True,
                       env=dict(os.environ, DD_SOURCE_DIR=SRC))
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_key_of_the_shipped_config_is_listed():
    rows = [line.split(" | ") for line in confdoc("md").splitlines()[2:]]
    listed = {(r[0].lstrip("| "), r[1]) for r in rows}
    section = None
    with open(os.path.join(SRC, "conf", "dumpsterd.conf")) as f:
        for line in f:
            if line.startswith("["):
                section = line.split("]")[0].strip("[").split()[0]
                section = "storage_group NAME" if section == "storage_group" else section
            m = re.match(r"#?([a-z_]+) = ", line)  # a key, or a commented-out one
            if m:
                assert (section, m.group(1)) in listed, (section, m.group(1))
    # and every key of the table is in the shipped, commented config
    with open(os.path.join(SRC, "conf", "dumpsterd.conf")) as f:
        text = f.read()
    for section, key in listed:
        assert "\n%s = " % key in text or "\n#%s = " % key in text, (section, key)


def test_man_page_renders():
    if shutil.which("man") is None:
        print("skip test_man_page_renders: no man")
        return
    man = subprocess.run(["man", "-l", "-Tutf8", os.path.join(SRC, "conf", "dumpsterd.conf.5")],
                         capture_output=True, text=True, env=dict(os.environ, MANWIDTH="100"))
    assert man.returncode == 0, man.stderr
    text = re.sub(".\b", "", man.stdout)  # no overstrike
    assert "banner_version = no" in text, text[:2000]
    assert "max_message_size = 36700160" in text, text[:2000]
    assert "[storage_group NAME]" in text, text[:2000]


if __name__ == "__main__":
    sys.exit(1 if run([test_lists_match_the_parser, test_every_key_of_the_shipped_config_is_listed,
                       test_man_page_renders]) else 0)
