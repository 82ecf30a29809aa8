"""extras - the other figures of issue 5 (sub-commands of run.py).

latency   accept latency p50/p99 at half the maximum rate: an asyncio SMTP client
          with 20 persistent connections (PIPELINING), first closed-loop for the
          maximum rate, then open-loop at half of it; dumpsterd and Postfix.
rss       dumpsterd's RSS with 1,000 sessions each sending a 1 MiB message at
          once, and with 10,000 idle sessions (after EHLO).
startup   time from exec to the 220 greeting (and to /healthz when the admin API
          is served) with ITEMS dumpster items over GROUPS groups and QUEUED
          messages waiting in the queue.
admin     GET /v1/stats and GET /metrics latency with ITEMS dumpster items.
resubmit  POST /v1/resubmit of one group's items (ITEMS/GROUPS), its rate, and the
          accept and end-to-end rate of new mail (smtp-source 5k:20) meanwhile.

startup, admin and resubmit share one store, filled once per invocation: ITEMS
messages of 1 KiB delivered to smtp-sink (so kept in the dumpsters), then QUEUED
messages for destinations nobody listens on (only for startup, filled last).
A figure that needs the admin API is skipped when nothing answers on its port.
"""
import asyncio
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import benchlib as B
import profgroups

BODY_LINE = b"X" * 76 + b"\r\n"


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def message(size, n):
    head = ("From: <from@example.net>\r\nTo: <rcpt@example.test>\r\nSubject: bench %d\r\n"
            "Message-ID: <%d.%s@bench.example.net>\r\n\r\n" % (n, n, secrets.token_hex(6))
            ).encode()
    lines = max(1, size // len(BODY_LINE))
    return head + BODY_LINE * lines + b".\r\n"


# ---------------------------------------------------------------- SMTP client

class Conn:
    def __init__(self, r, w):
        self.r, self.w = r, w

    async def reply(self):
        lines = []
        while True:
            line = await self.r.readline()
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    async def cmd(self, text, want):
        self.w.write(text)
        code, lines = await self.reply()
        if code != want:
            raise RuntimeError("%r -> %r" % (text[:40], lines))

    async def txn(self, body, rcpt=b"rcpt@example.test"):
        """One pipelined transaction; (total seconds, dot-to-250 seconds)."""
        t0 = time.perf_counter()
        self.w.write(b"MAIL FROM:<from@example.net>\r\nRCPT TO:<" + rcpt + b">\r\nDATA\r\n")
        for want in (250, 250, 354):
            code, lines = await self.reply()
            if code != want:
                raise RuntimeError("transaction: %r" % lines)
        t1 = time.perf_counter()
        self.w.write(body)
        code, lines = await self.reply()
        if code != 250:
            raise RuntimeError("end of data: %r" % lines)
        t2 = time.perf_counter()
        return t2 - t0, t2 - t1

    def close(self):
        try:
            self.w.close()
        except Exception:  # noqa: BLE001
            pass


async def connect(port, ehlo=True, limit=2 ** 20):
    r, w = await asyncio.open_connection("127.0.0.1", port, limit=limit)
    c = Conn(r, w)
    code, lines = await c.reply()
    if code != 220:
        raise RuntimeError("greeting %r" % lines)
    if ehlo:
        await c.cmd(b"EHLO bench.example.net\r\n", 250)
    return c


# ---------------------------------------------------------------- latency

async def closed_loop(port, conns, seconds, size):
    cs = [await connect(port) for _ in range(conns)]
    body = message(size, 0)
    n = 0
    t_end = time.perf_counter() + seconds

    async def worker(c):
        nonlocal n
        while time.perf_counter() < t_end:
            await c.txn(body)
            n += 1
    t0 = time.perf_counter()
    await asyncio.gather(*[worker(c) for c in cs])
    el = time.perf_counter() - t0
    for c in cs:
        c.w.write(b"QUIT\r\n")
        c.close()
    return n, n / el


async def open_loop(port, conns, rate, seconds, size):
    cs = [await connect(port) for _ in range(conns)]
    bodies = [message(size, i) for i in range(64)]
    q = asyncio.Queue()
    lat, dot, sched = [], [], []
    total = int(rate * seconds)

    async def producer():
        t0 = time.perf_counter()
        for k in range(total):
            due = t0 + k / rate
            d = due - time.perf_counter()
            if d > 0:
                await asyncio.sleep(d)
            q.put_nowait(due)
        for _ in cs:
            q.put_nowait(None)

    async def worker(c, i):
        k = i
        while True:
            due = await q.get()
            if due is None:
                return
            a, b = await c.txn(bodies[k % 64])
            k += 1
            lat.append(a)
            dot.append(b)
            sched.append(time.perf_counter() - due)
    t0 = time.perf_counter()
    await asyncio.gather(producer(), *[worker(c, i) for i, c in enumerate(cs)])
    el = time.perf_counter() - t0
    for c in cs:
        c.w.write(b"QUIT\r\n")
        c.close()
    return {"sent": len(lat), "achieved": len(lat) / el, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "max": max(lat) if lat else None, "dot_p50": pct(dot, 50), "dot_p99": pct(dot, 99),
            "sched_p99": pct(sched, 99)}


def cmd_latency(args, write_block, machine_md):
    size, conns = 5120, 20
    sink = B.Sink().start()
    os.makedirs(args.tmp + "/lat", exist_ok=True)
    pf = B.Postfix(args.tmp + "/lat", sink.port, False, maillog=not args.postfix_syslog)
    res = {"dumpsterd": [], "postfix": []}
    for i in range(args.runs):
        for name in (("dumpsterd", "postfix") if i % 2 == 0 else ("postfix", "dumpsterd")):
            relay = pf if name == "postfix" else B.Dumpsterd(args.dumpsterd, args.tmp,
                                                             sink.dest(), False)
            relay.start()
            try:
                time.sleep(1)
                n, mx = asyncio.run(closed_loop(relay.port, conns, 8, size))
                r = asyncio.run(open_loop(relay.port, conns, mx / 2, args.latency_seconds, size))
                r["max_rate"] = mx
            finally:
                relay.stop()
            if isinstance(relay, B.Dumpsterd):
                shutil.rmtree(relay.data_dir, ignore_errors=True)
            res[name].append(r)
            B.log("latency run %d %-9s max %5.0f/s; at %5.0f/s: p50 %.2f ms p99 %.2f ms "
                  "(dot->250 p50 %.2f p99 %.2f; from schedule p99 %.2f)" % (
                      i + 1, name, mx, r["achieved"], r["p50"] * 1e3, r["p99"] * 1e3,
                      r["dot_p50"] * 1e3, r["dot_p99"] * 1e3, r["sched_p99"] * 1e3))
    sink.stop()
    rows = ["| relay | max msg/s (closed loop) | offered msg/s | achieved | p50 ms | p99 ms | "
            "max ms | dot→250 p50 ms | dot→250 p99 ms | p99 from schedule ms |",
            "|" + "---|" * 10]
    for name, rs in res.items():
        m = {k: B.median([r[k] for r in rs]) for k in rs[0]}
        rows.append("| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
            name, m["max_rate"], m["max_rate"] / 2, m["achieved"], m["p50"] * 1e3,
            m["p99"] * 1e3, m["max"] * 1e3, m["dot_p50"] * 1e3, m["dot_p99"] * 1e3,
            m["sched_p99"] * 1e3))
    text = ("## Accept latency at half the maximum rate (%s)\n\n" % args.label +
            machine_md(args.argv_text) +
            "- 5 KiB messages over %d persistent connections with PIPELINING (asyncio client, "
            "tests/bench/extras.py); maximum = closed loop for 8 s; then open loop at half of "
            "it for %g s; latency = MAIL FROM sent → 250 after the dot; medians of %d runs.\n"
            "- Target (issue 5): p99 < 20 ms at half load.\n\n" % (
                conns, args.latency_seconds, args.runs) + "\n".join(rows) + "\n")
    print("\n".join(rows))
    write_block(args.out, "latency-" + args.label, text)


# ---------------------------------------------------------------- rss

async def big_messages(port, n, size):
    sem = asyncio.Semaphore(200)

    async def opened():
        async with sem:
            c = await connect(port)
            c.w.write(b"MAIL FROM:<from@example.net>\r\nRCPT TO:<rcpt@example.test>\r\nDATA\r\n")
            for want in (250, 250, 354):
                code, lines = await c.reply()
                if code != want:
                    raise RuntimeError("big: %r" % lines)
            return c
    cs = await asyncio.gather(*[opened() for _ in range(n)])
    chunk = BODY_LINE * (65536 // len(BODY_LINE))
    t0 = time.perf_counter()

    async def send(c, i):
        c.w.write(b"Subject: big %d\r\nMessage-ID: <big.%d.%s@bench.example.net>\r\n\r\n" % (
            i, i, secrets.token_hex(6).encode()))
        sent = 0
        while sent < size:
            c.w.write(chunk)
            sent += len(chunk)
            await c.w.drain()
        c.w.write(b".\r\n")
        code, lines = await c.reply()
        c.w.write(b"QUIT\r\n")
        c.close()
        return code
    codes = await asyncio.gather(*[send(c, i) for i, c in enumerate(cs)])
    return sum(1 for x in codes if x == 250), time.perf_counter() - t0


async def idle_sessions(port, n, hold, sample):
    sem = asyncio.Semaphore(200)

    async def opened():
        async with sem:
            return await connect(port)
    cs = await asyncio.gather(*[opened() for _ in range(n)], return_exceptions=True)
    ok = [c for c in cs if isinstance(c, Conn)]
    await asyncio.sleep(hold)
    s = sample()
    for c in ok:
        c.close()
    return len(ok), s


def cmd_rss(args, write_block, machine_md):
    sink = B.Sink().start()
    smtp = {"max_connections": str(max(20000, args.idle_sessions + 100)),
            "max_connections_per_ip": str(max(20000, args.idle_sessions + 100))}
    out = []
    # 1,000 x 1 MiB at once
    dd = B.Dumpsterd(args.dumpsterd, args.tmp, sink.dest(), False, smtp_extra=smtp)
    dd.start()
    try:
        base = B.vm_rss(dd.pid)
        mem = B.MemSampler(dd.pid, interval=0.05)
        mem.start()
        sink.expect(args.big_sessions)
        ok, el = asyncio.run(big_messages(dd.port, args.big_sessions, 1 << 20))
        done = sink.wait_done(600)
        mem.stop()
        B.log("rss: %d x 1 MiB: %d accepted in %.1f s, delivered %s; RSS at start %.1f MiB, "
              "peak (VmHWM) %.1f MiB" % (args.big_sessions, ok, el, done is not None,
                                         base / 2**20, mem.hwm / 2**20))
        out.append("| %d sessions each sending a 1 MiB message at once | %.1f | %.1f | "
                   "%d/%d accepted in %.1f s | < 256 MiB |" % (
                       args.big_sessions, base / 2**20, mem.hwm / 2**20, ok,
                       args.big_sessions, el))
    finally:
        dd.stop()
        shutil.rmtree(dd.data_dir, ignore_errors=True)
    # 10,000 idle sessions
    dd = B.Dumpsterd(args.dumpsterd, args.tmp, sink.dest(), False, smtp_extra=smtp)
    dd.start()
    try:
        time.sleep(0.5)
        base = B.vm_rss(dd.pid)
        n, at = asyncio.run(idle_sessions(dd.port, args.idle_sessions, 3.0,
                                          lambda: B.vm_rss(dd.pid)))
        hwm = B.vm_hwm(dd.pid)
        B.log("rss: %d idle sessions open: RSS %.1f MiB (at start %.1f MiB; %.1f KiB per "
              "session); VmHWM %.1f MiB" % (n, at / 2**20, base / 2**20,
                                            (at - base) / 1024 / max(1, n), hwm / 2**20))
        out.append("| %d idle sessions (after EHLO) | %.1f | %.1f (%.1f KiB per session) | "
                   "%d open | |" % (args.idle_sessions, base / 2**20, at / 2**20,
                                    (at - base) / 1024 / max(1, n), n))
    finally:
        dd.stop()
        shutil.rmtree(dd.data_dir, ignore_errors=True)
    sink.stop()
    rows = ["| case | RSS at start MiB | RSS peak / with the sessions MiB | check | target |",
            "|---|---|---|---|---|"] + out
    print("\n".join(rows))
    text = ("## dumpsterd memory (%s)\n\n" % args.label + machine_md(args.argv_text) +
            "- asyncio client (tests/bench/extras.py); peak = VmHWM sampled every 50 ms; "
            "messages delivered to smtp-sink and kept in the dumpster.\n\n" +
            "\n".join(rows) + "\n")
    write_block(args.out, "rss-" + args.label, text)


# ---------------------------------------------------------------- corpus

def http_get(port, path, token=None, timeout=30, data=None, method=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def admin_up(dd):
    try:
        return http_get(dd.admin_port, "/healthz", timeout=2)[0] in (200, 503)
    except OSError:
        return False


class Corpus:
    """One data_dir with items dumpster items over groups groups (+ queued messages)."""

    def __init__(self, args, sink):
        self.args, self.sink = args, sink
        self.groups = args.groups
        self.data_dir = os.path.join(args.tmp, "corpus-var")
        os.makedirs(self.data_dir, exist_ok=True)
        self.token = secrets.token_urlsafe(32)
        self.token_hash = hashlib.blake2b(self.token.encode(), digest_size=32).hexdigest()
        self.items = 0
        self.queued = 0
        self.directory = "".join("@g%d.example.test\tSG%d\n" % (i, i)
                                 for i in range(self.groups))

    def hub(self, dest_for, extra=""):
        sgs = {"SG%d" % i: dest_for(i) for i in range(self.groups)}
        conf = "[dumpster]\nresubmit_rate = 0\n" + extra
        return B.Dumpsterd(self.args.dumpsterd, self.args.tmp, None, False, sgs=sgs,
                           directory=self.directory, data_dir=self.data_dir,
                           conf_extra=conf, admin_token_hash=self.token_hash)

    def inject(self, port, total, size=1024):
        per = total // self.groups
        for g in range(self.groups):
            cmd = [B.SMTP_SOURCE, "-d", "-s", "20", "-m", str(per), "-l", str(size),
                   "-f", "from@example.net", "-t", "rcpt@g%d.example.test" % g,
                   "127.0.0.1:%d" % port]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=36000)
        return per * self.groups

    def fill_items(self):
        if self.items:
            return
        n = self.args.items
        dd = self.hub(lambda i: self.sink.dest())
        dd.start()
        try:
            t0 = time.monotonic()
            self.sink.expect(n - n % self.groups)
            sent = self.inject(dd.port, n)
            if self.sink.wait_done(max(600, n / 50)) is None:
                raise RuntimeError("corpus: the sink did not get %d messages" % sent)
            B.wait_for(lambda: (dd.dumpster_items() or 0) >= sent, 300, "dumpster items",
                       interval=1)
            self.items = dd.dumpster_items()
            B.log("corpus: %d dumpster items over %d groups in %.0f s" % (
                self.items, self.groups, time.monotonic() - t0))
        finally:
            dd.stop()

    def fill_queue(self):
        if self.queued:
            return
        dead = B.free_port()
        dd = self.hub(lambda i: "smtp:[127.0.0.1]:%d" % dead)
        dd.start()
        try:
            t0 = time.monotonic()
            self.queued = self.inject(dd.port, self.args.queued)
            B.log("corpus: %d messages queued in %.0f s" % (self.queued, time.monotonic() - t0))
        finally:
            dd.stop()


def corpus(args):
    if getattr(args, "_corpus", None) is None:
        sink = B.Sink().start()
        args._corpus = Corpus(args, sink)
    return args._corpus


def cmd_startup(args, write_block, machine_md):
    c = corpus(args)
    c.fill_items()
    c.fill_queue()
    dead = B.free_port()
    greet, healthz, rss = [], [], []
    for i in range(3):
        dd = c.hub(lambda g: "smtp:[127.0.0.1]:%d" % dead)
        t0 = time.monotonic()
        dd.start(wait=False)
        try:
            dd.wait_up(timeout=600)
            t1 = time.monotonic()
            greet.append(t1 - t0)
            if True:
                try:
                    B.wait_for(lambda: http_get(dd.admin_port, "/healthz", timeout=2)[0] == 200,
                               5, "healthz", interval=0.005)
                    healthz.append(time.monotonic() - t0)
                except (RuntimeError, OSError):
                    pass
            rss.append(B.vm_rss(dd.pid))
        finally:
            dd.stop()
        B.log("startup %d: 220 after %.3f s%s" % (
            i + 1, greet[-1], (", /healthz 200 after %.3f s" % healthz[-1]) if
            len(healthz) == i + 1 else " (admin API not served)"))
    row = "| %d | %d | %d | %.3f | %s | %.1f |" % (
        c.items, c.groups, c.queued, B.median(greet),
        ("%.3f" % B.median(healthz)) if healthz else "not served",
        B.median(rss) / 2**20)
    rows = ["| dumpster items | groups | queued messages | exec → 220 s | exec → /healthz 200 s "
            "| RSS after start MiB |", "|---|---|---|---|---|---|", row]
    print("\n".join(rows))
    text = ("## dumpsterd startup (%s)\n\n" % args.label + machine_md(args.argv_text) +
            "- store filled through SMTP (1 KiB messages); medians of 3 starts; destinations "
            "of the queued mail refuse connections. Target (issue 5): < 1 s with 1,000,000 "
            "items and 100,000 queued.\n\n" + "\n".join(rows) + "\n")
    write_block(args.out, "startup-" + args.label, text)


def timed_gets(port, path, n):
    ts = []
    size = 0
    for _ in range(n):
        t0 = time.perf_counter()
        code, body = http_get(port, path)
        ts.append(time.perf_counter() - t0)
        if code != 200:
            raise RuntimeError("GET %s: %d %r" % (path, code, body[:200]))
        size = len(body)
    return ts, size


def items_hub(args):
    """The corpus with its items, and a hub on it that delivers to the sink."""
    c = corpus(args)
    c.fill_items()
    dd = c.hub(lambda g: c.sink.dest())
    dd.start()
    return c, dd


def cmd_admin(args, write_block, machine_md):
    c, dd = items_hub(args)
    rows = ["| request | items | p50 ms | p99 ms | max ms | reply bytes |",
            "|---|---|---|---|---|---|"]
    try:
        if not admin_up(dd):
            B.log("admin: the admin API is not served (nothing on its port): skipped")
            rows.append("| (admin API not served by this build: skipped) | %d | | | | |" % c.items)
        else:
            time.sleep(1)
            for path in ("/v1/stats", "/metrics", "/v1/stats/SG0"):
                timed_gets(dd.admin_port, path, 20)      # warm
                ts, size = timed_gets(dd.admin_port, path, 500)
                rows.append("| GET %s | %d | %.2f | %.2f | %.2f | %d |" % (
                    path, c.items, pct(ts, 50) * 1e3, pct(ts, 99) * 1e3, max(ts) * 1e3, size))
                B.log("admin: GET %s p50 %.2f ms p99 %.2f ms" % (path, pct(ts, 50) * 1e3,
                                                                  pct(ts, 99) * 1e3))
    finally:
        dd.stop()
    print("\n".join(rows))
    text = ("## Admin API latency (%s)\n\n" % args.label + machine_md(args.argv_text) +
            "- %d sequential GETs each (urllib, new connection per request) on an idle hub "
            "with the corpus' items over %d groups. Target (issue 5): stats < 2 ms at "
            "1,000,000 items.\n\n" % (500, c.groups) + "\n".join(rows) + "\n")
    write_block(args.out, "admin-" + args.label, text)


def cmd_resubmit(args, write_block, machine_md):
    c, dd = items_hub(args)
    rows = ["| resubmitted items | resubmit msg/s | new mail accepted msg/s meanwhile |",
            "|---|---|---|"]
    try:
        if not admin_up(dd):
            B.log("resubmit: the admin API is not served: skipped")
            rows.append("| (admin API not served by this build: skipped) | | |")
        else:
            body = json.dumps({"storage_group": "SG0", "start": 0, "end": int(time.time()) + 60,
                               "match": "received", "force": True,
                               "reason": "bench"}).encode()
            t0 = time.monotonic()
            code, rep = http_get(dd.admin_port, "/v1/resubmit", token=c.token, data=body,
                                 method="POST")
            if code != 202:
                raise RuntimeError("POST /v1/resubmit: %d %r" % (code, rep[:300]))
            rid = json.loads(rep)["id"]
            # new mail meanwhile: 5 KiB x 20 sessions to group 1
            n_new = min(args.count, 20000)
            src = subprocess.Popen([B.SMTP_SOURCE, "-s", "20", "-m", str(n_new), "-l", "5120",
                                    "-f", "from@example.net", "-t", "rcpt@g1.example.test",
                                    "127.0.0.1:%d" % dd.port], stdout=subprocess.DEVNULL)
            stop_src = B.PROCS.add("smtp-source", lambda: B.kill_popen(src, signal.SIGKILL))
            src.wait()
            t_src = time.monotonic() - t0
            B.PROCS.remove(stop_src)
            info = {}
            while True:
                code, rep = http_get(dd.admin_port, "/v1/resubmit/%s" % rid, token=c.token)
                if code != 200:
                    raise RuntimeError("GET /v1/resubmit/%s: %d %r" % (rid, code, rep[:300]))
                info = json.loads(rep)
                settled = info.get("delivered", 0) + info.get("failed", 0)
                if info.get("state") == "cancelled" or (
                        info.get("state") == "done" and settled >= info.get("queued", 0)):
                    break  # every queued item delivered (or failed), not only queued
                if time.monotonic() - t0 > 3600:
                    break
                time.sleep(0.2)
            el = time.monotonic() - t0
            done = info.get("delivered", 0) + info.get("failed", 0)
            rows.append("| %d of %s matched | %.0f | %.0f |" % (
                done, info.get("matched"), done / el, n_new / t_src))
            B.log("resubmit: %s" % rows[-1])
    finally:
        dd.stop()
    print("\n".join(rows))
    text = ("## Resubmission (%s)\n\n" % args.label + machine_md(args.argv_text) +
            "- POST /v1/resubmit of group SG0 (resubmit_rate = 0: no pacing) while smtp-source "
            "sends 5 KiB x 20 sessions to SG1.\n\n" + "\n".join(rows) + "\n")
    write_block(args.out, "resubmit-" + args.label, text)


# ---------------------------------------------------------------- profile

def cmd_profile(args, write_block, machine_md):
    """perf record -g on dumpsterd during one throughput run per workload; prints the
    top functions (self and with children) and where the box's CPU went."""
    from run import parse_workloads
    out_dir = os.path.join(args.tmp, "profile")
    os.makedirs(out_dir, exist_ok=True)
    args.keep = True
    sink = B.Sink().start()
    texts, groups = [], []
    for wl, size, sess in parse_workloads(args.workloads):
        dd = B.Dumpsterd(args.dumpsterd, args.tmp, sink.dest(), False)
        dd.start()
        data = os.path.join(out_dir, "perf-%s.data" % wl.replace(":", "x"))
        try:
            time.sleep(1)
            sink_cpu0, dd_cpu0 = B.tree_cpu(sink.proc.pid), dd.cpu()
            perf = subprocess.Popen([B.PERF, "record", "-q", "-F", "1999", "--call-graph",
                                     "dwarf,32768", "-o", data, "-p", str(dd.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stop_perf = B.PROCS.add("perf", lambda: B.kill_popen(perf, signal.SIGINT, 120))
            time.sleep(1)
            sink.expect(args.count)
            t0 = time.monotonic()
            src = subprocess.run(["/usr/bin/time", "-f", "%U %S", B.SMTP_SOURCE, "-s", str(sess),
                                  "-m", str(args.count), "-l", str(size), "-c", "-f",
                                  "from@example.net", "-t", "rcpt@example.test",
                                  "127.0.0.1:%d" % dd.port], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
            t_done = sink.wait_done(600)
            time.sleep(1)
            B.PROCS.remove(stop_perf)
            B.kill_popen(perf, signal.SIGINT, 120)
            el = (t_done or time.monotonic()) - t0
            u, s_ = (float(x) for x in src.stderr.strip().split()[-2:])
            cpu = {"dumpsterd": dd.cpu() - dd_cpu0, "smtp-sink": B.tree_cpu(sink.proc.pid) -
                   sink_cpu0, "smtp-source": u + s_}
        finally:
            dd.stop()
            shutil.rmtree(dd.data_dir, ignore_errors=True)
        rep = subprocess.run([B.PERF, "report", "-i", data, "--no-children", "--stdio",
                              "--percent-limit", "1.5", "-g", "none", "--sort", "dso,symbol"],
                             capture_output=True, text=True).stdout
        rep_ch = subprocess.run([B.PERF, "report", "-i", data, "--children", "--stdio",
                                 "--percent-limit", "4", "-g", "none", "--sort", "symbol"],
                                capture_output=True, text=True).stdout
        keep = lambda t: "\n".join(l for l in t.splitlines() if l.strip() and  # noqa: E731
                                    not l.startswith("#"))
        cpu_line = ", ".join("%s %.0f µs/msg (%.0f%% of a core)" % (
            k, v * 1e6 / args.count, 100 * v / el) for k, v in cpu.items())
        t = ("### %s, %d messages: %.0f msg/s end to end\n\nCPU: %s\n\nself:\n```\n%s\n```\n"
             "with children:\n```\n%s\n```\n" % (wl, args.count, args.count / el, cpu_line,
                                                  keep(rep), keep(rep_ch)))
        print(t)
        texts.append(t)
        pct, samples = profgroups.grouped(B.PERF, data)
        groups.append((wl, pct, samples, cpu["dumpsterd"] * 1e6 / args.count))
    sink.stop()
    B.log("perf data kept in %s" % out_dir)
    by_group = profgroups.table(groups)
    print(by_group)
    write_block(args.out, "profile-" + args.label,
                "## perf profile of dumpsterd (%s)\n\n" % args.label +
                machine_md(args.argv_text) +
                "By function group (share of dumpsterd's samples, and of its CPU per message; "
                "tests/bench/profgroups.py says what each group holds):\n\n" + by_group +
                "\n\n" + "\n".join(texts))


COMMANDS = {"profile": cmd_profile, "latency": cmd_latency, "rss": cmd_rss, "startup": cmd_startup,
            "admin": cmd_admin, "resubmit": cmd_resubmit}
