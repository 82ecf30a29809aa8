#!/usr/bin/env python3
"""torture_downstream - every downstream fault of smtp-sink, a sink down, a cut in DATA.

One hub per case; SG1 (bob@example.test) delivers over SMTP to postfix's
smtp-sink started with one fault flag, SG2 (the senders' own domain, so
bounces have a home) to an mbxsink. 4 clients send MESSAGES messages, each
with a Message-ID of its own and a last line naming it, so a copy at the
sink counts only when it is whole. The fault stays until it has shown
(deferrals or failures in /metrics), then a sink without it takes the same
port and the queue drains:

  -r RCPT   4xx to every RCPT: deferred, then delivered once healed
  -f RCPT   5xx to every RCPT: failed, a bounce to each sender, nothing retried
  -q .      the end of DATA read, then the connection dropped without a reply:
            retried, so a copy can arrive twice (at least once)
  -Q MAIL   421 and the connection closed after MAIL: deferred, then delivered
  -W .:2    2 s before every reply to the end of DATA: slow, never a failure
  sink down no sink for DOWN_S seconds (60 at scale 1) while the clients send,
            then a sink: the time to drain is the recovery
  cut DATA  a proxy before the sink cuts connections inside DATA (after a
            random part of the content): retried, no partial copy counted

Per case: sent, acknowledged, delivered (whole copies, once), attempts by
result from /metrics (retried/deferred, failed), bounced, partial copies,
lost (acknowledged but neither delivered nor failed: must be 0), duplicated.
"""
import random
import re
import socket
import threading
import time
import urllib.request

from tortlib import Family, scaled

from ddpeers import Mbxsink, SmtpSink
from ddtest import Client, Hub, free_port, wait_for

MESSAGES = 200
RCPT = "bob@example.test"             # SG1: the faulty sink
SENDER = "alice@example.org"          # SG2: bounces land in an mbxsink


def metrics(hub):
    """/metrics as {name{labels}: value} (public reads)."""
    url = "http://127.0.0.1:%d/metrics" % hub.admin_port
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def attempts(hub, result):
    return int(metrics(hub).get('dumpsterd_delivery_attempts_total{result="%s"}' % result, 0))


def send_all(port, case, n, clients=4, size=6000):
    """n messages over `clients` sessions; the Message-IDs that got 250, and the replies."""
    acked, replies, lock = [], {}, threading.Lock()
    todo = list(range(n))

    def run(tag):
        c = None
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop()
            mid = "ds-%s-%d-%x" % (case, i, random.getrandbits(24))
            try:
                if c is None:
                    c = Client(port, timeout=30)
                    c.cmd("EHLO ds%d.example.net" % tag)
                code = 0
                if c.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250 and \
                        c.cmd("RCPT TO:<%s>" % RCPT)[0] == 250 and c.cmd("DATA")[0] == 354:
                    body = (b"d" * 98 + b"\r\n") * (size // 100)
                    c.send(("Message-ID: <%s@downstream.example>\r\nSubject: %s\r\n\r\n"
                            % (mid, case)).encode() + body +
                           ("end-of-%s\r\n.\r\n" % mid).encode())
                    code = c.reply()[0]
                with lock:
                    replies[code] = replies.get(code, 0) + 1
                    if code == 250:
                        acked.append(mid)
            except (OSError, ConnectionError, ValueError):
                with lock:
                    replies["error"] = replies.get("error", 0) + 1
                c = None
        if c is not None:
            c.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acked, replies


def copies(dumps):
    """Message-ID -> whole copies, and the number of partial ones, in smtp-sink dumps."""
    whole, partial = {}, 0
    for d in dumps:
        m = re.search(rb"Message-ID: <(ds-[^@]+)@downstream\.example>", d)
        if not m:
            continue
        mid = m.group(1).decode()
        if ("end-of-%s" % mid).encode() in d:
            whole[mid] = whole.get(mid, 0) + 1
        else:
            partial += 1
    return whole, partial


def open_rcpts(hub):
    """SG1 recipients not final yet (pending or being delivered)."""
    with hub.db() as db:
        return db.execute("SELECT count(*) FROM recipient WHERE rcpt = ? AND state < 2",
                          (RCPT,)).fetchone()[0]


def shut(*socks):
    """Both directions of each socket shut (the proxy's pair ends together)."""
    for x in socks:
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Cutter:
    """A TCP proxy on 127.0.0.1 before the sink: up to `cuts` connections are cut
    inside DATA, after 100..4000 octets of content; the rest pass whole."""

    def __init__(self, target_port, cuts):
        self.target = target_port
        self.left = cuts
        self.cut = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        self.sock.listen(64)
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.pair, args=(c,), daemon=True).start()

    def pair(self, c):
        try:
            s = socket.create_connection(("127.0.0.1", self.target), timeout=60)
        except OSError:
            c.close()
            return
        state = {"data": False, "after": None}
        with self.lock:
            if self.left > 0 and random.random() < 0.7:
                self.left -= 1
                state["after"] = random.randint(100, 4000)

        def down():  # sink to hub: notice the 354
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    if b"354" in b:
                        state["data"] = True
                    c.sendall(b)
            except OSError:
                pass
            shut(c, s)
        t = threading.Thread(target=down, daemon=True)
        t.start()
        sent = 0
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                if state["data"] and state["after"] is not None:
                    room = state["after"] - sent
                    if len(b) >= room:
                        s.sendall(b[:max(0, room)])
                        with self.lock:
                            self.cut += 1
                        break
                    sent += len(b)
                s.sendall(b)
        except OSError:
            pass
        shut(c, s)
        t.join(10)
        c.close()
        s.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.sock.close()


def figures(hub, n, acked, replies, whole, partial, bounces, extra=None):
    failed = attempts(hub, "failed")  # a failed recipient whose bounce went is not kept
    delivered = sum(1 for m in acked if m in whole)
    lost = len(acked) - delivered - failed
    fig = {"sent": n, "acknowledged": len(acked), "delivered": delivered,
           "retried/deferred": attempts(hub, "deferred"), "failed": failed,
           "bounced": bounces, "partial copies": partial,
           "lost": lost, "duplicated": sum(v - 1 for v in whole.values() if v > 1)}
    if set(replies) - {250}:
        fig["replies"] = dict(sorted(replies.items(), key=str))
    fig.update(extra or {})
    return fig


def fault_case(flag, heal=True, shows="deferred"):
    """A sink with `flag` until the fault shows in /metrics, then (heal) one without."""
    n = scaled(MESSAGES, least=20)
    case = flag.replace(" ", "").replace(".", "dot").replace(":", "")
    sink = SmtpSink(args=flag.split())
    with Mbxsink() as bounces:
        hub = Hub(dests={"SG1": sink.dest(), "SG2": bounces.dest()},
                  delivery={"retry_initial": 1, "retry_max": 4})
        try:
            sink.start()
            hub.start()
            acked, replies = send_all(hub.port, case, n)
            wait_for(lambda: attempts(hub, shows) >= min(len(acked), 20), timeout=120,
                     what="the fault to show (%s attempts)" % shows)
            dumps = []
            if heal:
                dumps += sink.dumps()
                sink.__exit__(None, None, None)
                fixed = SmtpSink()
                fixed.port = sink.port
                sink = fixed.start()
            wait_for(lambda: open_rcpts(hub) == 0,
                     timeout=300, what="the queue to drain")
            if not heal and shows == "failed":
                wait_for(lambda: bounces.stats()["stored"] >= len(acked), timeout=120,
                         what="a bounce for every failed message")
            dumps += sink.dumps()
            whole, partial = copies(dumps)
            fig = figures(hub, n, acked, replies, whole, partial, bounces.stats()["stored"])
            return fig, problems_of(fig, expect_failed=(shows == "failed"))
        finally:
            hub.cleanup()
            sink.__exit__(None, None, None)


def problems_of(fig, expect_failed=False, dup_ok=True):
    p = []
    if fig["lost"]:
        p.append("%d acknowledged messages neither delivered nor failed" % fig["lost"])
    if fig["acknowledged"] != fig["sent"]:
        p.append("%d of %d acknowledged" % (fig["acknowledged"], fig["sent"]))
    if expect_failed and fig["failed"] != fig["acknowledged"]:
        p.append("%d failed of %d under a 5xx" % (fig["failed"], fig["acknowledged"]))
    if not expect_failed and fig["failed"]:
        p.append("%d failed under a temporary fault" % fig["failed"])
    if expect_failed and fig["bounced"] < fig["failed"]:
        p.append("%d bounces for %d failed" % (fig["bounced"], fig["failed"]))
    if not dup_ok and fig["duplicated"]:
        p.append("%d duplicated" % fig["duplicated"])
    return p


def sink_down(down_s):
    """No sink at SG1's port for down_s seconds while the clients send, then one."""
    n = scaled(MESSAGES, least=20)
    port = free_port()
    with Mbxsink() as bounces:
        hub = Hub(dests={"SG1": "smtp:[127.0.0.1]:%d" % port, "SG2": bounces.dest()},
                  delivery={"retry_initial": 1, "retry_max": 8})
        sink = None
        try:
            hub.start()
            t0 = time.monotonic()
            acked, replies = [], {}
            while time.monotonic() - t0 < down_s:  # send in waves while the sink is down
                a, r = send_all(hub.port, "down", max(1, n // 10))
                acked += a
                for k, v in r.items():
                    replies[k] = replies.get(k, 0) + v
                time.sleep(min(5.0, max(0.0, down_s - (time.monotonic() - t0))))
            sink = SmtpSink()
            sink.port = port
            sink.start()
            t_up = time.monotonic()
            wait_for(lambda: open_rcpts(hub) == 0,
                     timeout=300, what="the queue to drain")
            recovery = time.monotonic() - t_up
            whole, partial = copies(sink.dumps())
            fig = figures(hub, sum(v for v in replies.values()), acked, replies, whole,
                          partial, bounces.stats()["stored"],
                          {"down s": down_s, "drained s after up": recovery})
            return fig, problems_of(fig, dup_ok=False)
        finally:
            hub.cleanup()
            if sink:
                sink.__exit__(None, None, None)


def cut_in_data():
    """A proxy before the sink cuts connections inside DATA."""
    n = scaled(MESSAGES, least=20)
    cuts = max(5, n // 4)
    sink = SmtpSink()
    with Mbxsink() as bounces:
        sink.start()
        with Cutter(sink.port, cuts) as cutter:
            hub = Hub(dests={"SG1": "smtp:[127.0.0.1]:%d" % cutter.port, "SG2": bounces.dest()},
                      delivery={"retry_initial": 1, "retry_max": 4,
                                "concurrency_per_destination": 4})
            try:
                hub.start()
                acked, replies = send_all(hub.port, "cut", n, size=20000)
                wait_for(lambda: open_rcpts(hub) == 0,
                         timeout=300, what="the queue to drain")
                whole, partial = copies(sink.dumps())
                fig = figures(hub, n, acked, replies, whole, partial, bounces.stats()["stored"],
                              {"connections cut in DATA": cutter.cut})
                p = problems_of(fig, dup_ok=False)
                if cutter.cut == 0:
                    p.append("no connection was cut inside DATA")
                return fig, p
            finally:
                hub.cleanup()
                sink.__exit__(None, None, None)


if __name__ == "__main__":
    fam = Family("downstream")
    fam.case("smtp-sink -r RCPT (4xx), then healed", fault_case, "-r RCPT")
    fam.case("smtp-sink -f RCPT (5xx)", fault_case, "-f RCPT", False, "failed")
    fam.case("smtp-sink -q . (no reply to the end of DATA), then healed", fault_case, "-q .")
    fam.case("smtp-sink -Q MAIL (421, closed), then healed", fault_case, "-Q MAIL")
    fam.case("smtp-sink -W .:2 (2 s before each end-of-DATA reply)", fault_case, "-W .:2",
             False, "delivered")
    down = scaled(60, least=10)
    fam.case("sink down for %d s, then back" % down, sink_down, down)
    fam.case("connections cut inside DATA (proxy)", cut_in_data)
    fam.exit()
