"""ddtest - start the real dumpsterd and talk to it, for the integration tests.

Every server a test starts listens on 127.0.0.1 only and is stopped when the
test ends. Waiting is done by polling a condition, never by sleeping a fixed
time and hoping.
"""
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

DUMPSTERD = os.environ.get("DUMPSTERD") or os.path.join(
    os.environ.get("DD_BUILD_DIR", "build"), "dumpsterd")

DEFAULT_DIRECTORY = """# test directory
@example.test\tSG1
postmaster@example.test\tSG1
@sales.example.test\tSG2
boss@sales.example.test\tSG1
alice@example.org\tSG2
"""


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_user():
    """The user running the tests, for [hub] user: root stays root, others stay themselves."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "root" if os.geteuid() == 0 else "nobody"


def wait_for(cond, timeout=20.0, what="condition"):
    """Poll cond() until it is true; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


class Hub:
    """One dumpsterd process with its own config, directory and data_dir."""

    def __init__(self, smtp=None, hub=None, extra="", directory=DEFAULT_DIRECTORY,
                 workdir=None, data_dir=None, dests=None, delivery=None, admin=None,
                 sg_options=None, sg_keys=None):
        self.tmp = workdir or tempfile.mkdtemp(prefix="ddtest-")
        self.port = free_port()
        self.data_dir = data_dir or os.path.join(self.tmp, "var")
        self.conf_path = os.path.join(self.tmp, "dumpsterd.conf")
        self.dir_path = os.path.join(self.tmp, "directory.tsv")
        self.log_path = os.path.join(self.tmp, "dumpsterd.log")
        self.proc = None
        smtp_lines = {"listen": "127.0.0.1:%d" % self.port, "hostname": "hub1.example.test"}
        smtp_lines.update(smtp or {})
        # as root the hub would drop to [hub] user (dumpsterd): run as whoever runs the tests
        hub_lines = {"name": "hub1", "data_dir": self.data_dir, "user": run_user()}
        hub_lines.update(hub or {})
        with open(self.dir_path, "w") as f:
            f.write(directory)
        conf = "[hub]\n" + "".join("%s = %s\n" % kv for kv in hub_lines.items())
        conf += "[smtp]\n" + "".join("%s = %s\n" % kv for kv in smtp_lines.items())
        self.admin_port = free_port()
        admin_lines = {"listen": "127.0.0.1:%d" % self.admin_port}
        admin_lines.update(admin or {})
        conf += "[admin]\n" + "".join("%s = %s\n" % kv for kv in admin_lines.items())
        conf += "[directory]\nfile = %s\n" % self.dir_path
        # by default the storage groups point at ports nobody listens on: mail stays queued
        sg_dests = {"SG1": "lmtp:[127.0.0.1]:%d" % free_port(),
                    "SG2": "smtp:[127.0.0.1]:%d" % free_port()}
        sg_dests.update(dests or {})
        if delivery:
            conf += "[delivery]\n" + "".join("%s = %s\n" % kv for kv in delivery.items())
        for name, dest in sg_dests.items():
            conf += "[storage_group %s]\ndestination = %s\n" % (name, dest)
            conf += "".join("%s = %s\n" % kv
                            for kv in dict((sg_options or {}).get(name, {}),
                                           **(sg_keys or {}).get(name, {})).items())
        conf += extra
        self.conf_text = conf
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def start(self, wait=True, args=()):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([DUMPSTERD, "-c", self.conf_path] + list(args),
                                     stdout=self.logf, stderr=self.logf)
        if wait:
            wait_for(self.accepting, what="dumpsterd to listen")
        return self

    def accepting(self):
        if self.proc.poll() is not None:
            raise AssertionError("dumpsterd exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.log()))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.settimeout(5)
                return s.recv(512).startswith(b"220")
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("dumpsterd did not stop on signal %d; its log ends:\n%s"
                                     % (sig, self.log()[-4000:]))
        rc = self.proc.returncode if self.proc else None
        if self.proc:
            self.logf.close()
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def db(self):
        """A read-only connection to the hub's store, to check what is really there."""
        path = os.path.join(self.data_dir, "dumpsterd.db")
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)

    def queued(self):
        """queue_id -> (sender, [recipients], content bytes) of every committed message."""
        out = {}
        with self.db() as db:
            for mid, qid, sender in db.execute("SELECT id, queue_id, sender FROM message"):
                rcpts = [r for (r,) in db.execute(
                    "SELECT rcpt FROM recipient WHERE msg=? ORDER BY rcpt", (mid,))]
                body = b"".join(d for (d,) in db.execute(
                    "SELECT data FROM message_body WHERE msg=? ORDER BY seq", (mid,)))
                out[qid] = (sender, rcpts, body)
        return out

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("---- dumpsterd log ----\n" + self.log()[-8000:])
        self.cleanup()


class Client:
    """A raw SMTP client: exact bytes out, reply lines in."""

    def __init__(self, port, timeout=10, greet=True, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.buf = b""
        if greet:
            self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply: (code, [lines])."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return int(lines[-1][:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self):
        """True when the server closed the connection (after reading what is left); a
        reset is a close too: the server closed with bytes of ours still unread."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def expect(got, code, contains=None):
    """got = (code, lines); check the code and, optionally, a substring."""
    c, lines = got
    text = "\n".join(lines)
    assert c == code, "expected %d, got %r" % (code, text)
    if contains is not None:
        assert contains in text, "expected %r in %r" % (contains, text)
    return text


def run(tests):
    """Run test functions; print a closing line; return the number that failed."""
    failed = 0
    for t in tests:
        try:
            t()
            print("ok   %s" % t.__name__, flush=True)
        except Exception as e:  # noqa: BLE001 - report and continue
            failed += 1
            print("FAIL %s: %s: %s" % (t.__name__, type(e).__name__, e), flush=True)
            import traceback
            traceback.print_exc()
    print("%d passed, %d failed" % (len(tests) - failed, failed))
    return failed
