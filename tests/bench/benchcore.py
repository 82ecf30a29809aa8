"""benchcore - what every piece of the benchmark shares (see run.py, benchlib.py).

The tools' paths (smtp-source, smtp-sink, postfix, postconf, openssl), log(),
free_port(), wait_for(), greets() (a 220 on a port), median(), the registry of
every process started (PROCS, which run.py empties with PROCS.stop_all() on a
normal end, on an error and on Ctrl-C / SIGTERM), kill_popen(), and Relay, the
base of both relays under test (relay_dumpsterd.py, relay_postfix.py).
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time

from procstat import tree_cpu

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def log(msg):
    print(msg, flush=True)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(interval)


def greets(port, timeout=1.0):
    """True when 127.0.0.1:port answers with a 220 greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(5)
            ok = s.recv(512).startswith(b"220")
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return ok
    except OSError:
        return False


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- processes

class Procs:
    """Every process the benchmark started, so that all of them are stopped."""

    def __init__(self):
        self.items = []   # (name, stop callable)
        self.lock = threading.Lock()

    def add(self, name, stop):
        with self.lock:
            self.items.append((name, stop))
        return stop

    def remove(self, stop):
        with self.lock:
            self.items = [(n, s) for (n, s) in self.items if s is not stop]

    def stop_all(self):
        while True:
            with self.lock:
                if not self.items:
                    return
                name, stop = self.items.pop()
            try:
                stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                log("warning: stopping %s: %s" % (name, e))


PROCS = Procs()


def kill_popen(p, sig=signal.SIGTERM, timeout=15):
    """Stop one process that we started (its own process group as a fallback)."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            p.kill()
        p.wait()


# ---------------------------------------------------------------- relays

class Relay:
    """A relay under test: start() -> pid of the process tree's root; stop()."""
    name = "?"
    pid = None
    port = None
    data_dir = None
    perf_out = None
    t_perf = None

    def cpu(self):
        return tree_cpu(self.pid)
