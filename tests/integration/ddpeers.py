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
            # .tmp.N.eml: being written (renamed to N.eml once whole)
            if name.endswith(".eml") and not name.startswith("."):
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
            try:
                with open(os.path.join(self.tmp, name), "rb") as f:
                    out.append(f.read())
            except FileNotFoundError:  # a transaction's file smtp-sink is still moving
                continue
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


class WirePeer:
    """A small SMTP server in a thread, on 127.0.0.1: it offers the EHLO keywords
    it is given, accepts every transaction, and records each one as it came over
    the wire: the MAIL FROM line, the RCPT addresses and the raw DATA bytes
    (still dot-stuffed, up to and without the final CRLF.CRLF)."""

    def __init__(self, keywords=("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES")):
        self.keywords = list(keywords)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.txns = []  # (mail line, [rcpts], raw data bytes)
        self.stopped = False
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def dest(self):
        return "smtp:[127.0.0.1]:%d" % self.port

    def serve(self):
        self.sock.listen(16)
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        buf = b""
        mail, rcpts = None, []

        def say(text):
            conn.sendall(text.encode() + b"\r\n")
        try:
            say("220 wirepeer ESMTP")
            while True:
                while b"\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                line, buf = buf.split(b"\r\n", 1)
                verb = line[:4].upper()
                if verb == b"EHLO":
                    say("\r\n".join(["250-wirepeer"] + ["250-" + k for k in self.keywords[:-1]]
                                    + ["250 " + self.keywords[-1]]) if self.keywords
                        else "250 wirepeer")
                elif verb == b"HELO":
                    say("250 wirepeer")
                elif verb == b"MAIL":
                    mail, rcpts = line.decode("utf-8", "replace"), []
                    say("250 2.1.0 Ok")
                elif verb == b"RCPT":
                    rcpts.append(line[8:].strip(b"<>").decode("utf-8", "replace"))
                    say("250 2.1.5 Ok")
                elif verb == b"DATA":
                    say("354 go ahead")
                    while b"\r\n.\r\n" not in b"\r\n" + buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    data, buf = (b"\r\n" + buf).split(b"\r\n.\r\n", 1)
                    with self.lock:
                        self.txns.append((mail, rcpts, data[2:]))
                    say("250 2.0.0 Ok: queued")
                elif verb == b"RSET" or verb == b"NOOP":
                    say("250 2.0.0 Ok")
                elif verb == b"QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.1 not here")
        except OSError:
            return
        finally:
            conn.close()

    def transactions(self):
        with self.lock:
            return list(self.txns)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
