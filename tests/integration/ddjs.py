"""ddjs - a NATS JetStream cluster for the shadow tests, and a small client.

NatsCluster starts n nats-server processes on 127.0.0.1 (ports from bind(0),
a config and a store per node in a temp dir), waits until JetStream answers
with a meta leader, and stops every process by its pid. NatsClient speaks
the NATS protocol on a raw socket (no library needed): requests, and the
JetStream API calls the tests read the streams with.
"""
import atexit
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ddtest import free_port, wait_for

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
_live = set()


@atexit.register
def _kill_all():
    for p in list(_live):
        if p.poll() is None:
            p.kill()
            p.wait()


class NatsError(Exception):
    pass


class NatsClient:
    """One connection; request() sends and waits for the one reply."""

    def __init__(self, url, user=None, password=None, token=None, timeout=5, ca_file=None):
        host, port = url.split("://", 1)[-1].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""
        self.sid = 0
        self.info = json.loads(self._line().split(b" ", 1)[1])
        if self.info.get("tls_required"):  # INFO in the clear, then the handshake
            import ssl
            ctx = ssl.create_default_context(cafile=ca_file)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        opts = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                "protocol": 1, "lang": "python", "version": "0"}
        if user:
            opts.update(user=user, **{"pass": password})
        if token:
            opts["auth_token"] = token
        self.sock.sendall(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        while True:
            line = self._line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode())

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise NatsError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _next_msg(self):
        """(headers, payload) of the next MSG/HMSG; answers PINGs on the way."""
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode())
            parts = line.split()
            if parts[0] == b"MSG":
                return {}, self._take(int(parts[-1]))
            if parts[0] == b"HMSG":
                hlen, total = int(parts[-2]), int(parts[-1])
                raw = self._take(total)
                return parse_headers(raw[:hlen]), raw[hlen:]

    def publish(self, subject, payload=b"", headers=None, reply=None):
        r = (" " + reply) if reply else ""
        if headers:
            h = b"NATS/1.0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                                          for k, v in headers.items()) + b"\r\n"
            self.sock.sendall(b"HPUB %s%s %d %d\r\n" % (subject.encode(), r.encode(), len(h),
                                                        len(h) + len(payload)) + h + payload
                              + b"\r\n")
        else:
            self.sock.sendall(b"PUB %s%s %d\r\n" % (subject.encode(), r.encode(), len(payload))
                              + payload + b"\r\n")

    def request(self, subject, payload=b"", headers=None, timeout=5):
        self.sid += 1
        inbox = "_INBOX.ddjs.%d.%d" % (os.getpid(), self.sid)
        self.sock.sendall(b"SUB %s %d\r\nUNSUB %d 1\r\n" % (inbox.encode(), self.sid, self.sid))
        self.publish(subject, payload if isinstance(payload, bytes) else payload.encode(),
                     headers, reply=inbox)
        self.sock.settimeout(timeout)
        hdrs, data = self._next_msg()
        if hdrs.get(":status") == "503":
            raise NatsError("no responders for " + subject)
        return hdrs, data

    def api(self, subject, body=None):
        _, data = self.request("$JS.API." + subject, json.dumps(body).encode() if body else b"")
        reply = json.loads(data)
        if "error" in reply:
            e = NatsError(reply["error"].get("description", str(reply["error"])))
            e.code = reply["error"].get("err_code")
            raise e
        return reply

    def stream_info(self, name, subjects_filter=None):
        body = {"subjects_filter": subjects_filter} if subjects_filter else None
        return self.api("STREAM.INFO." + name, body)

    def subject_counts(self, stream, filter=">"):
        """{subject: messages} of the stream's subjects that match filter."""
        return self.stream_info(stream, filter)["state"].get("subjects") or {}

    def stream_msg_get(self, stream, seq=None, last_by_subj=None, next_by_subj=None):
        """(headers, data, subject, seq), or None when there is no such message."""
        body = {"seq": seq} if seq is not None else {}
        if last_by_subj:
            body = {"last_by_subj": last_by_subj}
        if next_by_subj:
            body["next_by_subj"] = next_by_subj
        try:
            m = self.api("STREAM.MSG.GET." + stream, body)["message"]
        except NatsError as e:
            if getattr(e, "code", None) == 10037:
                return None
            raise
        hdrs = parse_headers(base64.b64decode(m["hdrs"])) if m.get("hdrs") else {}
        data = base64.b64decode(m.get("data") or b"")
        return hdrs, data, m["subject"], m["seq"]

    def stream_msgs(self, stream, filter=None):
        """Every message of the stream (of subject filter), in order."""
        seq = 1
        while True:
            got = self.stream_msg_get(stream, seq=seq, next_by_subj=filter or ">")
            if got is None:
                return
            yield got
            seq = got[3] + 1

    def close(self):
        self.sock.close()


def parse_headers(raw):
    """A NATS/1.0 header block: {key: value}; a repeated key gives a list."""
    lines = raw.decode("utf-8", "replace").split("\r\n")
    out = {}
    first = lines[0].split(None, 2)
    if len(first) > 1:
        out[":status"] = first[1]
    for line in lines[1:]:
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        k, v = k.strip(), v.strip()
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


class NatsCluster:
    """n nats-server processes with JetStream, clustered when n > 1."""

    def __init__(self, n=3, user=None, password=None, token=None, max_payload=None,
                 tls=None):
        """tls: (cert, key, ca) of the client port (tls:// URLs); routes stay plain."""
        self.tls = tls
        self.n = n
        self.tmp = tempfile.mkdtemp(prefix="ddjs-")
        self.ports = [free_port() for _ in range(n)]
        self.cports = [free_port() for _ in range(n)]
        self.auth = dict(user=user, password=password, token=token)
        self.max_payload = max_payload
        self.procs = [None] * n

    def _conf(self, i):
        c = ['server_name: n%d' % (i + 1), 'listen: "127.0.0.1:%d"' % self.ports[i],
             'jetstream { store_dir: "%s", max_memory_store: 64MB, max_file_store: 1GB }'
             % os.path.join(self.tmp, "js%d" % i)]
        if self.max_payload:
            c.append("max_payload: %d" % self.max_payload)
        if self.tls:
            c.append('tls { cert_file: "%s", key_file: "%s" }' % self.tls[:2])
        if self.auth["user"]:
            c.append('authorization { user: "%s", password: "%s" }' % (self.auth["user"],
                                                                      self.auth["password"]))
        elif self.auth["token"]:
            c.append('authorization { token: "%s" }' % self.auth["token"])
        if self.n > 1:
            routes = ", ".join('"nats-route://127.0.0.1:%d"' % p
                               for j, p in enumerate(self.cports) if j != i)
            c.append('cluster { name: ddjs, listen: "127.0.0.1:%d", routes: [%s] }'
                     % (self.cports[i], routes))
        path = os.path.join(self.tmp, "n%d.conf" % i)
        with open(path, "w") as f:
            f.write("\n".join(c) + "\n")
        return path

    def url(self, i):
        return "%s://127.0.0.1:%d" % ("tls" if self.tls else "nats", self.ports[i])

    def urls(self):
        return ",".join(self.url(i) for i in range(self.n))

    def client(self, i):
        return NatsClient(self.url(i), self.auth["user"], self.auth["password"],
                          self.auth["token"], ca_file=self.tls[2] if self.tls else None)

    def log(self, i):
        with open(os.path.join(self.tmp, "n%d.log" % i), errors="replace") as f:
            return f.read()

    def start_node(self, i, wait=True):
        logf = open(os.path.join(self.tmp, "n%d.log" % i), "ab")
        p = subprocess.Popen([NATS_SERVER, "-c", self._conf(i)], stdout=logf, stderr=logf)
        logf.close()
        self.procs[i] = p
        _live.add(p)
        if wait:
            wait_for(lambda: self._serves(i), timeout=30, what="nats-server n%d" % (i + 1))

    def _serves(self, i):
        if self.procs[i].poll() is not None:
            raise AssertionError("nats-server n%d exited:\n%s" % (i + 1, self.log(i)[-3000:]))
        try:
            c = self.client(i)
        except (OSError, NatsError):
            return False
        c.close()
        return True

    def ready(self):
        """JetStream has a meta leader: a replicated stream can be made."""
        c = self.client(0)
        try:
            c.api("STREAM.CREATE.DDJS_PROBE", {"name": "DDJS_PROBE", "subjects": ["ddjs.probe"],
                                                "num_replicas": self.n, "storage": "memory"})
            c.api("STREAM.DELETE.DDJS_PROBE")
            return True
        except (OSError, NatsError):
            return False
        finally:
            c.close()

    def start(self):
        for i in range(self.n):
            self.start_node(i, wait=False)
        for i in range(self.n):
            wait_for(lambda: self._serves(i), timeout=30, what="nats-server n%d" % (i + 1))
        wait_for(self.ready, timeout=60, what="a JetStream meta leader")
        return self

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs[i]
        if p and p.poll() is None:
            p.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                p.wait(30)
                _live.discard(p)

    def stop(self):
        for i in range(self.n):
            p = self.procs[i]
            if p and p.poll() is None:
                if p.poll() is None:
                    p.kill()
                p.wait(30)
            _live.discard(p)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
