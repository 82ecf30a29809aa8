"""ddtls - certificates and TLS peers for the TLS integration tests.

Certs() makes, with the openssl CLI, in a scratch directory: a CA, a server
certificate (hub1.example.test, mbx.example.test and IP 127.0.0.1), a client
certificate, an expired server certificate, one for another name only
(wrong.example.test), and a second CA with a server certificate of its own
(for "unknown CA"). EC keys: they are made in milliseconds.

TlsSink is a small SMTP/LMTP server on 127.0.0.1 in a thread of the test,
with Python's ssl module: it can offer STARTTLS or not, refuse it, answer it
with garbage instead of a handshake, ask for a client certificate, and close
after each message so that the next one needs a new connection. It records
for every message whether it came over TLS, the protocol, whether the TLS
session was resumed and the client certificate's subject.
"""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

from ddtest import free_port

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

CA_CNF = """[ca]
default_ca = dd
[dd]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def _run(*args, cwd):
    subprocess.run([OPENSSL] + list(args), cwd=cwd, check=True, capture_output=True)


class Certs:
    """Every certificate the TLS tests need, made now, removed by cleanup()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ddcerts-")
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        self._ca("ca", "dumpsterd test CA")
        self._ca("other-ca", "some other CA")
        self.server, self.server_key = self._cert(
            "server", "hub1.example.test",
            "DNS:hub1.example.test,DNS:mbx.example.test,IP:127.0.0.1")
        self.server2, self.server2_key = self._cert(
            "server2", "hub1.example.test", "DNS:hub1.example.test,IP:127.0.0.1")
        self.client, self.client_key = self._cert("client", "client.example.test",
                                                  "DNS:client.example.test",
                                                  usage="clientAuth")
        self.expired, self.expired_key = self._cert(
            "expired", "hub1.example.test", "DNS:hub1.example.test,IP:127.0.0.1",
            dates=("20200101000000Z", "20200201000000Z"))
        self.wrong, self.wrong_key = self._cert("wrong", "wrong.example.test",
                                                "DNS:wrong.example.test")
        self.other, self.other_key = self._cert(
            "other", "hub1.example.test", "DNS:hub1.example.test,IP:127.0.0.1", ca="other-ca")
        # the certificate and its key in one file, as tls_key_file may be left empty
        self.combined = self.path("combined.pem")
        with open(self.combined, "w") as out:
            for p in (self.server, self.server_key):
                with open(p) as f:
                    out.write(f.read())

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        d = self.path(name + ".d")
        os.makedirs(d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF.format(dir=d))
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "30",
             "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def _cert(self, name, cn, san, usage="serverAuth", dates=None, ca="ca"):
        key, csr, pem = name + ".key", name + ".csr", name + ".pem"
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + cn,
             "-addext", "subjectAltName=" + san, "-addext", "extendedKeyUsage=" + usage,
             cwd=self.dir)
        d = self.path(ca + ".d")
        when = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "30"]
        _run("ca", "-batch", "-notext", "-config", os.path.join(d, "ca.cnf"),
             "-cert", ca + ".pem", "-keyfile", ca + ".key", "-in", csr, "-out", pem, *when,
             cwd=self.dir)
        return self.path(pem), self.path(key)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Message:
    def __init__(self, tls, sender, rcpts, data):
        self.tls = tls  # None, or dict(version, cipher, resumed, peer)
        self.sender, self.rcpts, self.data = sender, rcpts, data


class TlsSink:
    """An SMTP (or LMTP) server with STARTTLS on 127.0.0.1, in a thread."""

    def __init__(self, cert, key, lmtp=False, offer=True, refuse=False, garbage=False,
                 client_ca=None, close_after=False, min_version=None):
        self.port = free_port()
        self.lmtp, self.offer, self.refuse, self.garbage = lmtp, offer, refuse, garbage
        self.close_after = close_after
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        if min_version:
            self.ctx.minimum_version = min_version
        if client_ca:
            self.ctx.load_verify_locations(client_ca)
            self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.messages = []
        self.connections = 0
        self.ended = 0  # sessions over: the client went away
        self.handshakes = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def dest(self, host="[127.0.0.1]"):
        return "%s:%s:%d" % ("lmtp" if self.lmtp else "smtp", host, self.port)

    def serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        try:
            conn.settimeout(30)
            self.converse(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self.lock:
                self.ended += 1

    def converse(self, conn):
        io = _Lines(conn)
        io.send(b"220 sink.example.test ESMTP tlssink\r\n")
        tls = None
        sender, rcpts = None, []
        while True:
            line = io.line()
            if line is None:
                return
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"LHLO", b"HELO"):
                exts = [b"PIPELINING", b"8BITMIME"]
                if self.offer and tls is None:
                    exts.append(b"STARTTLS")
                io.send(b"250-sink.example.test\r\n" +
                        b"".join(b"250-" + e + b"\r\n" for e in exts[:-1]) +
                        b"250 " + exts[-1] + b"\r\n")
            elif verb == b"STARTTLS":
                if self.refuse or not self.offer:
                    io.send(b"454 4.7.0 TLS not available\r\n")
                    continue
                io.send(b"220 2.0.0 go ahead\r\n")
                if self.garbage:
                    conn.sendall(b"this is not a TLS server hello\r\n" * 4)
                    return
                conn = self.ctx.wrap_socket(conn, server_side=True)
                with self.lock:
                    self.handshakes += 1
                peer = conn.getpeercert()
                subject = dict(x[0] for x in peer["subject"]) if peer else None
                tls = {"version": conn.version(), "cipher": conn.cipher()[0],
                       "resumed": conn.session_reused, "peer": subject}
                io = _Lines(conn)
            elif verb == b"MAIL":
                sender, rcpts = line[10:].strip(b"<>"), []
                io.send(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                rcpts.append(line[8:].strip(b"<>"))
                io.send(b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                io.send(b"354 go\r\n")
                data = io.until_dot()
                with self.lock:
                    self.messages.append(Message(tls, sender, rcpts, data))
                n = len(rcpts) if self.lmtp else 1
                io.send(b"250 2.0.0 Ok: stored\r\n" * n)
                if self.close_after:
                    if isinstance(conn, ssl.SSLSocket):
                        try:
                            conn.unwrap()
                        except (OSError, ssl.SSLError):
                            pass
                    # the client reads the close: it goes away
                    while conn.recv(65536):
                        pass
                    return
            elif verb == b"RSET" or verb == b"NOOP":
                io.send(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                io.send(b"221 2.0.0 Bye\r\n")
                if isinstance(conn, ssl.SSLSocket):
                    try:
                        conn.unwrap()
                    except (OSError, ssl.SSLError):
                        pass
                return
            else:
                io.send(b"502 5.5.2 unknown\r\n")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.sock.close()


class _Lines:
    """Lines from a socket (plain or TLS), without their CRLF."""

    def __init__(self, conn):
        self.conn, self.buf = conn, b""

    def send(self, data):
        self.conn.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_dot(self):
        out = []
        while True:
            line = self.line()
            if line is None or line == b".":
                return b"\r\n".join(out) + b"\r\n"
            out.append(line[1:] if line.startswith(b"..") else line)


def client_context(certs, ca=None):
    """A client context that trusts ca (default: the test CA) and checks names."""
    ctx = ssl.create_default_context(cafile=ca or certs.ca)
    return ctx


def starttls(client, ctx, server_hostname="hub1.example.test"):
    """STARTTLS on a ddtest.Client: 220, then the handshake; the client reads TLS after."""
    code, lines = client.cmd("STARTTLS")
    if code != 220:
        return code, lines
    client.sock = ctx.wrap_socket(client.sock, server_hostname=server_hostname)
    client.buf = b""
    return code, lines
