"""ddpeers - the real peers of the delivery tests: mbxsink, postfix's
smtp-sink, and a tiny DNS server on loopback.

Every peer listens on 127.0.0.1 only and is stopped by its context manager.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading

from ddtest import free_port, wait_for

BUILD = os.environ.get("DD_BUILD_DIR", "build")
MBXSINK = os.path.join(BUILD, "mbxsink")
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


class Mbxsink:
    """tests/tools/mbxsink: stores messages, drops duplicates by Message-ID."""

    def __init__(self, lmtp=False, args=()):
        self.tmp = tempfile.mkdtemp(prefix="mbxsink-")
        self.port = free_port()
        self.ctl = free_port()
        self.lmtp = lmtp
        self.args = list(args)
        self.proc = None

    def start(self):
        cmd = [MBXSINK, "--listen", "127.0.0.1:%d" % self.port, "--dir", self.tmp,
               "--control", "127.0.0.1:%d" % self.ctl] + self.args
        if self.lmtp:
            cmd.append("--lmtp")
        self.err = open(os.path.join(self.tmp, "stderr"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err)
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise AssertionError("mbxsink did not start: %r" % line)
        return self

    def control(self, line):
        with socket.create_connection(("127.0.0.1", self.ctl), timeout=10) as s:
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            if line.startswith("LIST"):
                while not buf.endswith(b"\n.\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        reply = buf.decode()
        if not reply.startswith("OK"):
            raise AssertionError("mbxsink %s: %s" % (line, reply))
        return reply

    def stats(self):
        words = self.control("STATS").split()[1:]
        return {k: int(v) for k, v in (w.split("=") for w in words)}

    def messages(self):
        """The stored messages' bytes, in the order they were stored."""
        out = []
        for name in sorted(os.listdir(self.tmp)):
            if name.endswith(".eml"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    out.append(f.read())
        return out

    def dest(self):
        return "%s:[127.0.0.1]:%d" % ("lmtp" if self.lmtp else "smtp", self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc:
            self.proc.stdout.close()
            self.err.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class SmtpSink:
    """postfix's smtp-sink dumping every transaction into a directory."""

    def __init__(self, lmtp=False, args=()):
        self.tmp = tempfile.mkdtemp(prefix="smtpsink-")
        os.chmod(self.tmp, 0o777)
        self.port = free_port()
        self.lmtp = lmtp
        self.args = list(args)
        self.proc = None

    def start(self):
        cmd = [SMTP_SINK]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        if self.lmtp:
            cmd.append("-L")
        cmd += self.args + ["-d", self.tmp + "/", "127.0.0.1:%d" % self.port, "100"]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, what="smtp-sink")
        return self

    def dumps(self):
        out = []
        for name in sorted(os.listdir(self.tmp)):
            with open(os.path.join(self.tmp, name), "rb") as f:
                out.append(f.read())
        return out

    def dest(self):
        return "%s:[127.0.0.1]:%d" % ("lmtp" if self.lmtp else "smtp", self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Dns:
    """A DNS server on 127.0.0.1 that answers A queries from a table, counting them."""

    def __init__(self, records, ttl=300):
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.ttl = ttl
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def answer(self, data):
        qid, flags, qd = struct.unpack("!HHH", data[:6])
        pos, labels = 12, []
        while data[pos]:
            labels.append(data[pos + 1:pos + 1 + data[pos]].decode().lower())
            pos += 1 + data[pos]
        qtype, _ = struct.unpack("!HH", data[pos + 1:pos + 5])
        question = data[12:pos + 5]
        name = ".".join(labels)
        self.queries.append((name, qtype))
        ip = self.records.get(name)
        rcode = 0 if ip else 3
        answers = b""
        if ip and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, self.ttl, 4) + socket.inet_aton(ip)
        head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
        return head + question + answers

    def serve(self):
        while not self.stopped:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(data), addr)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.sock.close()
