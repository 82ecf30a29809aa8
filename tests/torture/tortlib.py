"""tortlib - what the torture families share: scale, figures, verdicts.

TORTURE_SCALE (default 1: the numbers of issue 11) multiplies every count
and duration of a family, so `TORTURE_SCALE=0.1` is a quick run while
developing. Each family records one row per case (family, case, figures,
verdict) to the file named by TORTURE_RESULTS (one JSON object a line; the
runner reads them) and prints it. A case fails by raising; its message is
the figures then. Servers listen on 127.0.0.1 only and are stopped by pid.
"""
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

SCALE = float(os.environ.get("TORTURE_SCALE", "1"))


def _stopped(signum, frame):
    raise SystemExit("stopped by signal %d (the family's time bound)" % signum)


# run.py stops a family that overruns its bound with SIGTERM: the finally
# clauses then stop the hubs and peers and unmount what was mounted
signal.signal(signal.SIGTERM, _stopped)


def scaled(n, least=1):
    """n at this scale, at least `least`."""
    return max(least, int(round(n * SCALE)))


def raise_nofile(want=65536):
    """Raise this process's descriptor limit (soft to min(want, hard)); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid, key):
    """A /proc/PID/status field in bytes (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def mib(n):
    return "%.1f MiB" % (n / 1048576.0)


def smtp_answers(port, timeout=30):
    """One whole transaction on a fresh connection: seconds it took, or raise."""
    from ddtest import Client, expect
    t0 = time.monotonic()
    c = Client(port, timeout=timeout)
    try:
        expect(c.cmd("EHLO probe.example.net"), 250)
        expect(c.cmd("MAIL FROM:<probe@example.net>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: probe\r\n\r\nstill answering\r\n.\r\n")
        expect(c.reply(), 250)
        c.cmd("QUIT")
    finally:
        c.close()
    return time.monotonic() - t0


def fmt_figures(fig):
    if isinstance(fig, str):
        return fig
    out = []
    for k, v in fig.items():
        if isinstance(v, float):
            v = "%.2f" % v
        elif isinstance(v, int) and abs(v) >= 10000:
            v = "{:,}".format(v)
        elif isinstance(v, dict):
            v = "{" + ", ".join("%s: %s" % kv for kv in v.items()) + "}"
        out.append("%s %s" % (k, v))
    return ", ".join(out)


class Family:
    """The rows of one family; case() runs one case and records its row."""

    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.path = os.environ.get("TORTURE_RESULTS")

    def record(self, case, figures, ok, seconds):
        row = {"family": self.name, "case": case, "figures": fmt_figures(figures),
               "verdict": "ok" if ok else "FAIL", "seconds": round(seconds, 1)}
        if not ok:
            self.failed += 1
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
        print("%-4s %s / %s (%.1f s): %s" % (row["verdict"], self.name, case, seconds,
                                             row["figures"]), flush=True)

    def case(self, name, fn, *args):
        """fn(*args) returns (figures, problems); problems empty: ok."""
        t0 = time.monotonic()
        try:
            figures, problems = fn(*args)
        except Exception as e:  # noqa: BLE001 - a case that breaks is a failed row
            traceback.print_exc()
            self.record(name, "%s: %s" % (type(e).__name__, str(e)[:400]), False,
                        time.monotonic() - t0)
            return
        if problems:
            sys.stdout.write("".join("  problem: %s\n" % p for p in problems[:30]))
            if isinstance(figures, dict):
                figures = dict(figures, problems="; ".join(problems[:3])[:400])
        self.record(name, figures, not problems, time.monotonic() - t0)

    def exit(self):
        sys.exit(1 if self.failed else 0)


def connect_many(port, n, timeout=30, greet=True):
    """n TCP connections to 127.0.0.1:port (each read up to its greeting when greet)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        socks.append(s)
    if greet:
        for s in socks:
            s.recv(512)
    return socks
