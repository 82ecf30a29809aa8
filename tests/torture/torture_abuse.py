#!/usr/bin/env python3
"""torture_abuse - what a hostile or broken client can do to the hub's ports.

Each case runs against a hub of its own, sampling the hub's RSS and open
descriptors every 50 ms, and checks after (and, where it says so, during)
the abuse that a whole SMTP transaction on a fresh connection still gets 250:

  drip           DRIP SMTP sessions dripping a command line one octet every
                 0.5 s and DRIP dripping DATA content, against command_timeout
                 = 4 and data_timeout = 8; DRIP admin connections dripping a
                 head against request_timeout = 3: each is closed within its
                 deadline (+2 s), with a reply
  sessions       SESSIONS (10,000) SMTP sessions open at once, each past EHLO
  huge lines     HUGE sessions sending an 8 MiB command line (500 5.5.2), HUGE
                 sending a 4 MiB line inside DATA (a 5xx: text lines are 1000
                 octets at most), the sessions going on after it (NOOP 250);
                 HUGE admin requests with a 1 MiB header (431)
  1 MiB x 1000   BIG sessions (1,000) sending a 1 MiB message at the same moment
  admin flood    FLOOD connections to the admin port at once (max_connections
                 64: the rest wait in the backlog), then REQS requests over 16
                 keep-alive clients
  forged auth    FORGED write requests with forged Authorization headers: all 401

Figures: RSS peak, descriptors peak, replies, seconds, the SMTP probe's time.
"""
import http.client
import json
import random
import select
import socket
import threading
import time

from tortlib import Family, connect_many, fds, mib, proc_status, raise_nofile, scaled, \
    smtp_answers

import ddcrash
from ddtest import Client, Hub, expect, wait_for

raise_nofile()


class Sampler(threading.Thread):
    """The hub's peak RSS and descriptors, sampled every 50 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.rss, self.fds, self.stopped = pid, 0, 0, False
        self.base_rss, self.base_fds = proc_status(pid, "VmRSS"), fds(pid)
        self.start()

    def run(self):
        while not self.stopped:
            try:
                self.rss = max(self.rss, proc_status(self.pid, "VmRSS"))
                self.fds = max(self.fds, fds(self.pid))
            except (OSError, KeyError):
                return
            time.sleep(0.05)

    def figures(self):
        self.stopped = True
        return {"RSS": "%s -> peak %s" % (mib(self.base_rss), mib(self.rss)),
                "fds": "%d -> peak %d" % (self.base_fds, self.fds)}


def abuse_hub(**kw):
    kw.setdefault("admin", {})
    kw["admin"].setdefault("token_hash", ddcrash.TOKEN_HASH)
    hub = Hub(**kw).start()
    return hub, Sampler(hub.proc.pid)


def finish(hub, problems):
    """The probe after the abuse, the exit code, the log's sanitizer lines."""
    try:
        probe = smtp_answers(hub.port)
    except Exception as e:  # noqa: BLE001 - the probe failing is the finding
        problems.append("SMTP after the abuse: %s" % e)
        probe = None
    rc = hub.stop()
    if rc != 0:
        problems.append("exit %s on SIGTERM" % rc)
    log = hub.log()
    for word in ("Sanitizer", "runtime error", "fatal:", "panic:"):
        if word in log:
            problems.append("log has %r" % word)
    return probe


def drip_one(socks, prefix, deadline_s, started):
    """Drip each socket after its prefix, one octet every 0.5 s, until it is closed.
    Returns [(seconds until closed or None, first reply)]."""
    out = [[None, b""] for _ in socks]
    for s, p in zip(socks, prefix):
        s.sendall(p)
    t0 = started
    open_ = set(range(len(socks)))
    while open_ and time.monotonic() - t0 < deadline_s + 10:
        for i in list(open_):
            try:
                socks[i].send(b"x")
            except OSError:
                out[i][0] = time.monotonic() - t0
                open_.discard(i)
        r, _, _ = select.select([socks[i] for i in open_], [], [], 0.5)
        for s in r:
            i = socks.index(s)
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if chunk:
                out[i][1] += chunk
            else:
                out[i][0] = time.monotonic() - t0
                open_.discard(i)
    return out


def drip(n):
    problems = []
    hub, smp = abuse_hub(smtp={"command_timeout": 4, "data_timeout": 8},
                         admin={"request_timeout": 3})
    try:
        cmd = connect_many(hub.port, n)
        data = []
        for _ in range(n):  # sessions inside DATA, then dripping content
            c = Client(hub.port, timeout=30)
            expect(c.cmd("EHLO d.example.net"), 250)
            expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
            expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
            expect(c.cmd("DATA"), 354)
            data.append(c.sock)
        adm = connect_many(hub.admin_port, n, greet=False)
        results = {}

        def run(name, socks, prefix, deadline):
            results[name] = (deadline, drip_one(socks, [prefix] * len(socks), deadline,
                                                time.monotonic()))
        threads = [threading.Thread(target=run, args=a) for a in (
            ("smtp command", cmd, b"MAIL FROM:<drip", 4),
            ("smtp DATA", data, b"", 8),
            ("admin head", adm, b"GET /v1/stats HTTP/1.1\r\nX-Drip: ", 3))]
        for t in threads:
            t.start()
        probes = []
        while any(t.is_alive() for t in threads):
            probes.append(smtp_answers(hub.port))  # SMTP keeps accepting meanwhile
            time.sleep(0.5)
        for t in threads:
            t.join()
        fig = {}
        for name, (deadline, res) in results.items():
            closed = [r[0] for r in res if r[0] is not None]
            codes = {}
            for _, reply in res:
                lines = [ln for ln in reply.split(b"\r\n") if ln[:3].isdigit()]
                last = lines[-1][:3].decode() if lines else (
                    reply.split(b" ")[1][:3].decode() if reply.startswith(b"HTTP/") else "none")
                if reply.startswith(b"HTTP/"):
                    last = reply.split(b" ")[1].decode()
                codes[last] = codes.get(last, 0) + 1
            fig[name] = "%d closed, max %.1f s, replies %s" % (
                len(closed), max(closed) if closed else -1,
                "/".join("%s x%d" % kv for kv in sorted(codes.items())))
            if len(closed) != len(res) or (closed and max(closed) > deadline + 2):
                problems.append("%s: %d of %d closed within %d s (max %s)" % (
                    name, sum(1 for c in closed if c <= deadline + 2), len(res), deadline + 2,
                    max(closed) if closed else None))
        for s in cmd + data + adm:
            s.close()
        fig["probe s max"] = max(probes) if probes else None
        fig.update(smp.figures())
        fig["probe after s"] = finish(hub, problems)
        return fig, problems
    finally:
        hub.cleanup()


def sessions(n):
    problems = []
    hub, smp = abuse_hub(smtp={"max_connections": n + 100, "max_connections_per_ip": n + 100})
    socks = []
    try:
        t0 = time.monotonic()
        for _ in range(n // 500 + 1):  # in batches of 500: greeting, then EHLO
            batch = connect_many(hub.port, min(500, n - len(socks)))
            for s in batch:
                s.sendall(b"EHLO many.example.net\r\n")
            for s in batch:
                buf = b""
                while not buf.endswith(b"\r\n") or b"250 " not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise AssertionError("closed at %d sessions" % len(socks))
                    buf += chunk
            socks += batch
            if len(socks) >= n:
                break
        opened = time.monotonic() - t0
        probe = smtp_answers(hub.port, timeout=60)  # with n sessions open
        fig = {"sessions": len(socks), "opened in s": opened, "probe s with all open": probe}
        for s in socks:
            s.sendall(b"QUIT\r\n")
        for s in socks:
            s.close()
        socks = []
        wait_for(lambda: fds(hub.proc.pid) <= smp.base_fds + 5, timeout=60,
                 what="the sessions' descriptors to be closed")
        fig.update(smp.figures())
        fig["probe after s"] = finish(hub, problems)
        return fig, problems
    finally:
        for s in socks:
            s.close()
        hub.cleanup()


def huge_lines(n):
    problems = []
    hub, smp = abuse_hub()
    try:
        replies = {}

        def note(k):
            replies[k] = replies.get(k, 0) + 1

        def cmd_line():
            c = Client(hub.port, timeout=120)
            c.cmd("EHLO huge.example.net")
            c.send(b"MAIL FROM:<" + b"h" * (8 << 20) + b">\r\n")
            code, _ = c.reply()
            note("command %d" % code)
            note("NOOP after %d" % c.cmd("NOOP")[0])
            c.close()

        def data_line():
            c = Client(hub.port, timeout=120)
            c.cmd("EHLO huge.example.net")
            expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
            expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
            expect(c.cmd("DATA"), 354)
            c.send(b"Subject: huge\r\nX-Huge: " + b"h" * (4 << 20) + b"\r\n\r\nbody\r\n.\r\n")
            note("DATA %d" % c.reply()[0])
            note("NOOP after %d" % c.cmd("NOOP")[0])
            c.close()

        def admin_header():
            s = socket.create_connection(("127.0.0.1", hub.admin_port), timeout=60)
            try:
                s.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * (1 << 20)
                          + b"\r\n\r\n")
            except OSError:
                pass  # refused before all was sent
            try:
                head = s.recv(4096)
                note("admin %s" % (head.split(b" ")[1].decode() if head else "closed"))
            except OSError:
                note("admin reset")
            s.close()
        threads = [threading.Thread(target=f) for f in (cmd_line, data_line, admin_header)
                   for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fig = {"replies": dict(sorted(replies.items()))}
        # a line over 1000 octets in DATA is refused (5xx), the session goes on
        data_5xx = sum(v for k, v in replies.items() if k.startswith("DATA 5"))
        want = {"command 500": replies.get("command 500", 0), "DATA 5xx": data_5xx,
                "admin 431": replies.get("admin 431", 0)}
        for k, v in want.items():
            if v != n:
                problems.append("%s: %d of %d" % (k, v, n))
        if replies.get("NOOP after 250", 0) != 2 * n:
            problems.append("the sessions did not go on after a huge line")
        fig.update(smp.figures())
        fig["probe after s"] = finish(hub, problems)
        return fig, problems
    finally:
        hub.cleanup()


MIB_MESSAGE = b"Subject: big\r\n\r\n" + (b"m" * 998 + b"\r\n") * 1049  # 1 MiB


def big_at_once(n):
    problems = []
    hub, smp = abuse_hub(smtp={"max_connections": n + 100, "max_connections_per_ip": n + 100,
                               "max_message_size": 2 << 20})
    try:
        clients = []
        for _ in range(n):
            c = Client(hub.port, timeout=300)
            expect(c.cmd("EHLO big.example.net"), 250)
            expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
            expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
            expect(c.cmd("DATA"), 354)
            clients.append(c)
        results = [None] * n
        go = threading.Barrier(n + 1)

        def send(i):
            go.wait()
            try:
                clients[i].send(MIB_MESSAGE + b".\r\n")
                results[i] = clients[i].reply()[0]
            except (OSError, ConnectionError) as e:
                results[i] = type(e).__name__
        threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        go.wait()
        t0 = time.monotonic()
        probe = smtp_answers(hub.port, timeout=300)  # while the 1,000 are in flight
        for t in threads:
            t.join()
        secs = time.monotonic() - t0
        for c in clients:
            c.close()
        codes = {}
        for r in results:
            codes[r] = codes.get(r, 0) + 1
        fig = {"messages": n, "replies": dict(sorted(codes.items(), key=str)),
               "seconds": secs, "MiB/s": n * len(MIB_MESSAGE) / 1048576.0 / secs,
               "probe s during": probe}
        if codes.get(250, 0) != n:
            problems.append("%d of %d got 250" % (codes.get(250, 0), n))
        queued = len(hub.queued())
        fig["in the store"] = queued
        if queued != n + 1:
            problems.append("%d messages in the store, %d acknowledged" % (queued, n + 1))
        fig.update(smp.figures())
        fig["probe after s"] = finish(hub, problems)
        return fig, problems
    finally:
        hub.cleanup()


def admin_flood(n, reqs):
    problems = []
    hub, smp = abuse_hub()
    socks = []
    try:
        for _ in range(n):  # past max_connections and the backlog: connects that time out
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", hub.admin_port))
            socks.append(s)
        time.sleep(1.0)
        poll = select.poll()  # past 1024 descriptors: select() cannot take them
        for s in socks:
            poll.register(s, select.POLLOUT)
        ready = {fd for fd, ev in poll.poll(3000) if ev & select.POLLOUT}
        connected = sum(1 for s in socks if s.fileno() in ready and
                        s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        probe = smtp_answers(hub.port)  # SMTP while the admin port is flooded
        held = fds(hub.proc.pid)
        for s in socks:
            s.close()
        socks = []
        codes, lock = {}, threading.Lock()
        per = max(1, reqs // 16)

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", hub.admin_port, timeout=30)
            for i in range(per):
                path = "/v1/stats" if i % 2 else "/metrics"
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                    r.read()
                    st = r.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", hub.admin_port, timeout=30)
                    st = "error"
                with lock:
                    codes[st] = codes.get(st, 0) + 1
            conn.close()
        t0 = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        probe2 = smtp_answers(hub.port)
        for t in threads:
            t.join()
        secs = time.monotonic() - t0
        fig = {"connections": n, "connected at once": connected, "hub fds while flooded": held,
               "probe s while flooded": probe, "requests": per * 16,
               "replies": dict(sorted(codes.items(), key=str)), "req/s": per * 16 / secs,
               "probe s during requests": probe2}
        if codes.get(200, 0) != per * 16:
            problems.append("%d of %d requests got 200" % (codes.get(200, 0), per * 16))
        if held > smp.base_fds + 64 + 8:
            problems.append("the hub held %d descriptors with max_connections 64" % held)
        fig.update(smp.figures())
        fig["probe after s"] = finish(hub, problems)
        return fig, problems
    finally:
        for s in socks:
            s.close()
        hub.cleanup()


def forged_values(n):
    """n forged Authorization values: none is "Bearer " + the token."""
    tok = ddcrash.TOKEN
    fixed = ["", "Bearer", "Bearer ", "Bearer  ", "bearer " + tok[:-1], "Bearer " + tok + "x",
             "Bearer " + tok.upper(), "Basic " + tok, "Bearer " + tok[:-1] + "\t",
             "Bearer " + ddcrash.TOKEN_HASH, "Token " + tok, "Bearer " + tok[1:],
             "Bearer x" + tok, "Bearer " + tok + " " + tok, "Bearer " + "A" * 4000,
             "Bearer %00" + tok, "Bearer " + tok.replace("-", "_"), "Bearer\t" + tok + "y"]
    out = list(fixed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/="
    while len(out) < n:
        k = random.randint(1, 200)
        out.append(random.choice(["Bearer ", "bearer ", "BEARER ", ""]) +
                   "".join(random.choice(alphabet) for _ in range(k)))
    return out[:n]


def forged_auth(n):
    problems = []
    hub, smp = abuse_hub()
    try:
        codes = {}
        body = json.dumps({"storage_group": "SG1", "start": 0, "end": 1})
        conn = http.client.HTTPConnection("127.0.0.1", hub.admin_port, timeout=30)
        for v in forged_values(n):
            headers = {"Content-Type": "application/json"}
            if v:
                headers["Authorization"] = v
            try:
                conn.request("POST", "/v1/resubmit", body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                st = r.status
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                st = "error"
            codes[st] = codes.get(st, 0) + 1
            if st != 401:
                problems.append("%r: %s" % (v[:60], st))
        conn.close()
        status, _ = ddcrash.api(hub, "POST", "/v1/resubmit",
                                {"storage_group": "SG1", "start": 0, "end": 1})
        fig = {"forged": n, "replies": dict(sorted(codes.items(), key=str)),
               "the real token": status}
        if status != 202:
            problems.append("the real token got %s" % status)
        fig.update(smp.figures())
        fig["probe after s"] = finish(hub, problems)
        return fig, problems
    finally:
        hub.cleanup()


if __name__ == "__main__":
    fam = Family("abuse")
    d = scaled(50, least=5)
    fam.case("drip: %d SMTP commands, %d DATA, %d admin heads" % (d, d, d), drip, d)
    n = scaled(10000, least=200)
    fam.case("%d SMTP sessions at once" % n, sessions, n)
    h = scaled(20, least=2)
    fam.case("huge lines: %d x (8 MiB command, 4 MiB DATA line, 1 MiB admin header)" % h,
             huge_lines, h)
    b = scaled(1000, least=50)
    fam.case("%d x 1 MiB at once" % b, big_at_once, b)
    f, q = scaled(2000, least=200), scaled(20000, least=1000)
    fam.case("admin flood: %d connections, %d requests" % (f, q), admin_flood, f, q)
    g = scaled(1000, least=100)
    fam.case("%d forged Authorization headers" % g, forged_auth, g)
    fam.exit()
