"""extras_store - `run.py startup`, `admin` and `resubmit`: figures on a filled store.

They share one store (Corpus), filled once per invocation: ITEMS messages of
1 KiB delivered to smtp-sink (so kept in the dumpsters), then QUEUED messages
for destinations nobody listens on (only for startup, filled last).
http_get() speaks to the admin API; a figure that needs it is skipped when
nothing answers on its port.
"""
import hashlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request

import benchlib as B
from smtpclient import pct

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
