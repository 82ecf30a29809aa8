"""sinks - the sinks the relays deliver to (see run.py).

Sink runs postfix's smtp-sink -c and counts messages from its counter line;
TlsSink runs tlsload sink -c (tests/bench/tlsload.c), the same with STARTTLS
(certificates from tlscerts.Certs), and keeps its handshake counters. Both are
registered in benchcore.PROCS and listen on 127.0.0.1 only.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from benchcore import PROCS, SMTP_SINK, free_port, kill_popen, wait_for
from procstat import tree_cpu

# ---------------------------------------------------------------- sink

class Sink:
    """postfix's smtp-sink -c on 127.0.0.1:port; counts messages from its counter
    line ("sess=N quit=N mesg=N\\r" after every ".")."""

    MESG = re.compile(rb"mesg=(\d+)")
    name = "smtp-sink"

    def __init__(self, port=None, extra=()):
        self.port = port or free_port()
        self.extra = list(extra)
        self.count = 0
        self.target = None
        self.t_done = None
        self.cond = threading.Condition()
        self.proc = None

    def command(self):
        cmd = [SMTP_SINK]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        return cmd + self.extra + ["-c", "127.0.0.1:%d" % self.port, "1000"]

    def took(self, m):
        """The last counter line of a read (called with self.cond held)."""
        self.count = int(m.group(1))

    def start(self):
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._stop = PROCS.add(self.name, self.stop)
        threading.Thread(target=self.reader, daemon=True).start()

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited" % self.name)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, 20, self.name)
        return self

    def reader(self):
        fd = self.proc.stdout.fileno()
        tail = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            buf = tail + data
            m = None
            for m in self.MESG.finditer(buf):
                pass
            tail = buf[-256:]
            if m is not None:
                with self.cond:
                    self.took(m)
                    if self.target is not None and self.t_done is None \
                            and self.count >= self.target:
                        self.t_done = now
                    self.cond.notify_all()

    def expect(self, n):
        """Arm the end-of-run clock: t_done is when the count reaches count + n."""
        with self.cond:
            self.target = self.count + n
            self.t_done = None
            return self.target

    def wait_done(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.t_done is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))
            return self.t_done

    def dest(self):
        return "smtp:[127.0.0.1]:%d" % self.port

    def cpu(self):
        """CPU seconds the sink used so far."""
        return tree_cpu(self.proc.pid)

    def stop(self):
        PROCS.remove(self._stop)
        kill_popen(self.proc, signal.SIGKILL)
        if self.proc:
            self.proc.stdout.close()


class TlsSink(Sink):
    """tlsload sink -c (tests/bench/tlsload.c): smtp-sink's part with STARTTLS
    (without certs: no STARTTLS, a plain sink). Its counter line after every
    message: "sess=N quit=N mesg=N tls=N resumed=N plain=N" (connections,
    QUITs, messages, handshakes, resumed handshakes, messages in clear);
    counters() is the last one read."""

    MESG = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+) tls=(\d+) resumed=(\d+) "
                      rb"plain=(\d+)\n")
    FIELDS = ("sess", "quit", "mesg", "tls", "resumed", "plain")
    name = "tlsload sink"

    def __init__(self, tlsload, certs, port=None):
        super().__init__(port)
        self.tlsload, self.certs = tlsload, certs
        self.last = dict.fromkeys(self.FIELDS, 0)

    def command(self):
        cmd = [self.tlsload, "sink"]
        if self.certs is not None:
            cmd += ["-C", self.certs.sink, "-K", self.certs.sink_key]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        return cmd + ["-c", "127.0.0.1:%d" % self.port]

    def took(self, m):
        self.last = {k: int(v) for k, v in zip(self.FIELDS, m.groups())}
        self.count = self.last["mesg"]

    def counters(self):
        with self.cond:
            return dict(self.last)
