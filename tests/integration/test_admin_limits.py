#!/usr/bin/env python3
"""The admin port's limits and errors, with raw sockets against the real dumpsterd.

Every refusal is the API's JSON error, never libevent's HTML page: a bad
request line (400), headers over 8 KiB (431), Content-Length: abc (400), an
unknown method (501), two Authorization headers (400), HTTP/2.0 (505),
Transfer-Encoding (411), an odd Expect (417). A Content-Length over 64 KiB
is answered 413 at once, before the body is sent. HEAD answers carry the
GET answer's Content-Length and no body. [admin] request_timeout bounds a
request from its first octet: a one-byte drip of a head gets 408, a drip
of a body is dropped. [admin] max_connections: the connections past it wait
in the listen backlog and cost the hub no descriptor, while SMTP keeps
working; they are served once others close.
"""
import json
import os
import smtplib
import socket
import sys
import time

from ddtest import Hub, run, wait_for

BODY_MAX = 65536


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Raw:
    """One raw connection to the admin port: bytes out, HTTP answers in."""

    def __init__(self, hub, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", hub.admin_port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed; have %r" % self.buf[:300])
        self.buf += chunk

    def answer(self, head_only=False):
        """(status, headers, body) of the next answer."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self):
        """True once the server closed (what it still sent is kept)."""
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


def json_error(answer, status, code=None):
    st, h, body = answer
    assert st == status, (st, h, body[:300])
    assert h.get("content-type") == "application/json", (h, body[:300])
    err = json.loads(body)["error"]
    assert err["code"] and err["message"], err
    if code is not None:
        assert err["code"] == code, err
    return err


def exchange(hub, data, wait_close=True):
    """A fresh connection, data sent, the one answer and whether it closed."""
    r = Raw(hub)
    try:
        r.send(data)
        a = r.answer()
        return a, r.closed() if wait_close else None
    finally:
        r.close()


def started(**kw):
    hub = Hub(**kw).start()
    try:
        wait_for(lambda: exchange(hub, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                  wait_close=False)[0][0] == 200, what="the admin API")
    except BaseException:
        hub.cleanup()
        raise
    return hub


def finish(hub):
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def test_head_has_no_body():
    hub = started()
    try:
        r = Raw(hub)
        r.send(b"HEAD /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, h, _ = r.answer(head_only=True)
        assert st == 200 and int(h["content-length"]) > 100, h
        assert h["content-type"] == "application/json", h
        st, h, body = r.answer()  # the next answer follows at once: no body in between
        assert st == 200 and json.loads(body) == {"status": "ok"}, (st, body)
        assert r.closed() and r.buf == b"", r.buf[:200]
        r.close()
    finally:
        finish(hub)


BAD = [
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n", 431,
     "headers_too_large"),
    (b"POST /v1/resubmit HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
     "bad_request"),
    (b"BREW /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not_implemented"),
    (b"GET /v1/resubmit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
     b"Authorization: Bearer b\r\n\r\n", 400, "bad_request"),
    (b"GET /v1/stats HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
    (b"POST /v1/resubmit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     411, "length_required"),
    (b"POST /v1/resubmit HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n{}",
     417, "expectation_failed"),
    (b"GET /v1/stats HTTP/1.1\r\nHost x\r\n\r\n", 400, "bad_request"),
    (b"GET /v1/stats HTTP/1.1\nHost: x\n\n", 400, "bad_request"),
    (b"GET /v1/stats HTTP/1.1\r\nX-Dumpsterd-Reject: 8\r\n\r\n", 400, "bad_request"),
    (b"GET //[bad/v1/stats HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
]


def test_refusals_are_json():
    hub = started()
    try:
        for data, status, code in BAD:
            a, closed = exchange(hub, data)
            json_error(a, status, code)
            assert closed, data[:60]
        # a refusal after a good request on the same connection comes in order
        r = Raw(hub)
        r.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nBREW / HTTP/1.1\r\n\r\n")
        assert r.answer()[0] == 200
        json_error(r.answer(), 501, "not_implemented")
        assert r.closed()
        r.close()
        assert exchange(hub, b"GET /healthz HTTP/1.0\r\n\r\n")[0][0] == 200
        wait_for(lambda: "request refused status=501" in hub.log(), what="the log line")
    finally:
        finish(hub)


def test_413_at_once():
    hub = started()
    try:
        r = Raw(hub, timeout=10)  # the old behaviour: no answer for 30 s
        r.send(b"POST /v1/resubmit HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
               b"0123456789")
        err = json_error(r.answer(), 413, "too_large")
        assert str(BODY_MAX) in err["message"], err
        r.close()
        # a client that sends the whole large body anyway reads its 413, no reset
        r = Raw(hub, timeout=10)
        big = b"x" * (512 * 1024)
        r.send(b"POST /v1/resubmit HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big)
               + big)
        json_error(r.answer(), 413, "too_large")
        r.close()
    finally:
        finish(hub)


def test_request_deadline():
    hub = started(admin={"request_timeout": 1})
    try:
        # a head dripped one octet at a time: 408 after request_timeout
        r = Raw(hub)
        got = None
        for ch in b"GET /v1/stats HTTP/1.1\r\nX-Drip: " + b"d" * 200:
            try:
                r.send(bytes([ch]))
            except (BrokenPipeError, ConnectionResetError):
                break
            r.sock.settimeout(0.1)
            try:
                r._fill()
                got = True
                break
            except socket.timeout:
                pass
            except ConnectionError:
                break
        assert got, "no answer to a dripped head"
        r.sock.settimeout(10)
        json_error(r.answer(), 408, "request_timeout")
        assert r.closed()
        r.close()
        # a body dripped: the connection is dropped
        r = Raw(hub)
        r.send(b"POST /v1/resubmit HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
        dropped = False
        for _ in range(200):
            try:
                r.send(b" ")
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            r.sock.settimeout(0.1)
            try:
                chunk = r.sock.recv(100)
                if chunk == b"":
                    dropped = True
                    break
                raise AssertionError("an answer to half a body: %r" % chunk)
            except socket.timeout:
                pass
            except ConnectionResetError:
                dropped = True
                break
        assert dropped, "a dripped body holds the connection"
        r.close()
        assert exchange(hub, b"GET /healthz HTTP/1.0\r\n\r\n")[0][0] == 200
        wait_for(lambda: "request not complete within 1 s" in hub.log(), what="the log line")
    finally:
        finish(hub)


def test_connection_cap():
    hub = started(admin={"max_connections": 4})
    try:
        idle = [Raw(hub) for _ in range(4)]
        for r in idle:  # answered: accepted and counted
            r.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert r.answer()[0] == 200
        base = fds(hub.proc.pid)
        flood = [socket.create_connection(("127.0.0.1", hub.admin_port)) for _ in range(100)]  # within the backlog (128)
        # the flood waits in the backlog: the hub holds no descriptor for it
        with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
            s.sendmail("a@example.net", ["alice@example.test"], b"Subject: cap\r\n\r\nbody\r\n")
        assert fds(hub.proc.pid) <= base + 2, (base, fds(hub.proc.pid))
        waiting = Raw(hub)
        waiting.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in flood:
            s.close()
        for r in idle:
            r.close()
        st, _, body = waiting.answer()  # served once the others are gone
        assert st == 200, (st, body)
        waiting.close()
        wait_for(lambda: "([admin] max_connections): not accepting" in hub.log(),
                 what="the log line")
    finally:
        finish(hub)


if __name__ == "__main__":
    sys.exit(1 if run([test_head_has_no_body, test_refusals_are_json, test_413_at_once,
                       test_request_deadline, test_connection_cap]) else 0)
