#!/usr/bin/env python3
"""dumpsterd -V, dumpsterctl --version, and [smtp] banner_version in Received:."""
import os
import re
import smtplib
import subprocess
import sys

from ddtest import DUMPSTERD, Hub, run, wait_for

SRC = os.environ.get("DD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("DD_BUILD_DIR", os.path.dirname(DUMPSTERD))
CTL = os.path.join(BUILD, "dumpsterctl")


def project_version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        return re.search(r"project\(dumpsterd VERSION ([0-9.]+)", f.read()).group(1)


def test_dumpsterd_V():
    p = subprocess.run([DUMPSTERD, "-V"], capture_output=True, text=True)
    assert p.returncode == 0, p
    lines = p.stdout.splitlines()
    assert lines[0] == "dumpsterd " + project_version(), lines
    names = [line.split()[0] for line in lines[1:]]
    assert names[:4] == ["SQLite", "libevent", "libsodium", "jansson"], names
    assert set(names) <= {"SQLite", "libevent", "libsodium", "jansson", "OpenSSL"}, names
    for line in lines[1:]:
        assert re.match(r"^\S+ [0-9][0-9A-Za-z.\-]*( \(built with \S+\))?$", line), line
    # the SQLite line names the library the process really runs with
    sq = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True)
    if sq.returncode == 0:
        assert lines[1].split()[1] == sq.stdout.split()[0], (lines[1], sq.stdout)


def test_dumpsterctl_version():
    p = subprocess.run([CTL, "--version"], capture_output=True, text=True)
    assert p.returncode == 0, p
    assert p.stdout.splitlines()[0] == "dumpsterctl " + project_version(), p.stdout
    assert p.stdout.splitlines()[1].startswith("libevent 2."), p.stdout


def received_of(hub):
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
        s.sendmail("a@example.net", ["bob@example.test"], "Subject: v\r\n\r\nhi\r\n")
    msgs = wait_for(hub.queued, what="the message in the store")
    (_, _, body), = msgs.values()
    return body.split(b"\r\n")[1].decode()  # "\tby HOST (dumpsterd ...) with ESMTP id ..."


def test_banner_version_off_by_default():
    with Hub() as hub:
        assert received_of(hub).startswith("\tby hub1.example.test (dumpsterd) with ESMTP id ")


def test_banner_version_yes():
    with Hub(smtp={"banner_version": "yes"}) as hub:
        line = received_of(hub)
        want = "\tby hub1.example.test (dumpsterd %s) with ESMTP id " % project_version()
        assert line.startswith(want), line


if __name__ == "__main__":
    sys.exit(1 if run([test_dumpsterd_V, test_dumpsterctl_version, test_banner_version_off_by_default,
                       test_banner_version_yes]) else 0)
