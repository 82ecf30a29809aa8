#!/usr/bin/env python3
"""dumpsterd -t / -n, exit 78 with file:line, SIGHUP reload of the directory, and the
descriptor budget against RLIMIT_NOFILE."""
import os
import re
import resource
import signal
import subprocess
import sys

from ddtest import DUMPSTERD, Client, Hub, expect, run, wait_for

SRC = os.environ.get("DD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def dumpsterd(*args, cwd=None):
    p = subprocess.run([DUMPSTERD, *args], capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def test_shipped_config_checks_clean():
    rc, out, err = dumpsterd("-c", "conf/dumpsterd.conf", "-t", cwd=SRC)
    assert rc == 0, (rc, err)
    rc, out, err = dumpsterd("-c", "conf/dumpsterd.conf", "-n", cwd=SRC)
    assert rc == 0, (rc, err)


def nofile(soft, hard):
    """preexec_fn: the child starts with these RLIMIT_NOFILE limits."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def limits_of(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3]), int(line.split()[4])
    raise AssertionError("no Max open files line")


def test_descriptor_budget():
    hard = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 4096)
    # the defaults (2000 SMTP + 64 admin connections + delivery) do not fit in 512
    hub = Hub()
    try:
        p = subprocess.run([DUMPSTERD, "-c", hub.conf_path], capture_output=True, text=True,
                           preexec_fn=nofile(256, 512), timeout=60)
        assert p.returncode == 78, (p.returncode, p.stderr)
        # 512 (the hard limit it can raise to); valgrind keeps some descriptors for
        # itself and shows the program a lower one
        lim = re.search(r"RLIMIT_NOFILE is (\d+)", p.stderr)
        assert lim and int(lim.group(1)) <= 512, p.stderr
        assert "[smtp] max_connections 2000" in p.stderr, p.stderr
    finally:
        hub.cleanup()
    # limits that fit: the soft limit is raised to the hard one at start
    hub = Hub(smtp={"max_connections": 100, "max_connections_per_ip": 100},
              admin={"max_connections": 8}, delivery={"concurrency_per_destination": 2})
    try:
        hub.logf = open(hub.log_path, "ab")
        hub.proc = subprocess.Popen([DUMPSTERD, "-c", hub.conf_path], stdout=hub.logf,
                                    stderr=hub.logf, preexec_fn=nofile(64, hard))
        wait_for(hub.accepting, what="dumpsterd to listen")
        assert limits_of(hub.proc.pid) == (hard, hard), limits_of(hub.proc.pid)
        c = Client(hub.port)
        expect(c.cmd("EHLO budget.example"), 250)
        c.close()
    finally:
        hub.cleanup()


def test_bad_config_exit_78_file_line():
    hub = Hub()
    try:
        with open(hub.conf_path) as f:
            nlines = len(f.read().splitlines())
        with open(hub.conf_path, "a") as f:
            f.write("[storage_group SG3]\n")  # no destination: an error at its line
            f.write("frobnicate = 1\n")  # unknown key: an error at this line
            f.write("[smtp]\n")  # a second [smtp] section
        nlines += 3
        rc, out, err = dumpsterd("-c", hub.conf_path, "-t")
        assert rc == 78, (rc, err)
        for line in (nlines - 2, nlines - 1, nlines):
            assert "%s:%d:" % (hub.conf_path, line) in err, (line, err)
        # the hub itself refuses to start the same way
        rc, out, err = dumpsterd("-c", hub.conf_path)
        assert rc == 78 and "%s:%d:" % (hub.conf_path, nlines) in err, (rc, err)
    finally:
        hub.cleanup()


def test_print_nondefaults():
    hub = Hub(smtp={"max_recipients": 77})
    try:
        rc, out, err = dumpsterd("-c", hub.conf_path, "-n")
        assert rc == 0, err
        assert "max_recipients = 77" in out, out
        assert "max_errors" not in out, out  # still the default
    finally:
        hub.cleanup()


def test_bad_directory_exit_78():
    hub = Hub(directory="@example.test\tNOSUCHSG\n")
    try:
        rc, out, err = dumpsterd("-c", hub.conf_path, "-t")
        assert rc == 78 and "%s:1:" % hub.dir_path in err, (rc, err)
    finally:
        hub.cleanup()


def test_usage_64():
    rc, out, err = dumpsterd("-x")
    assert rc == 64, rc


def rcpt_code(hub, addr):
    c = Client(hub.port)
    expect(c.cmd("EHLO reload.example"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    code = c.cmd("RCPT TO:<%s>" % addr)[0]
    c.cmd("QUIT")
    return code


def test_sighup_reload():
    with Hub() as hub:
        assert rcpt_code(hub, "x@new.example.test") == 554
        with open(hub.dir_path, "a") as f:
            f.write("@new.example.test\tSG2\n")
        hub.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: rcpt_code(hub, "x@new.example.test") == 250, what="reload")
        # a bad directory is refused and the old one stays
        with open(hub.dir_path, "a") as f:
            f.write("@broken.example.test\tNOSUCHSG\n")
        hub.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "keeping the old one" in hub.log(), what="reload refusal")
        assert "directory.tsv:8:" in hub.log(), hub.log()
        assert 'unknown storage group "NOSUCHSG"' in hub.log(), hub.log()
        assert rcpt_code(hub, "x@new.example.test") == 250
        assert rcpt_code(hub, "x@broken.example.test") == 554


if __name__ == "__main__":
    sys.exit(1 if run([test_shipped_config_checks_clean, test_bad_config_exit_78_file_line,
                       test_print_nondefaults, test_bad_directory_exit_78, test_usage_64,
                       test_sighup_reload, test_descriptor_budget]) else 0)
