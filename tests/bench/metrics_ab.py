"""GET /metrics p50/p99 of several dumpsterd binaries on one store (filled once).

usage: python3 tests/bench/metrics_ab.py --items N --queued Q --tmp DIR BIN_A BIN_B [BIN_A ...]
The store is filled with the first binary (tests/bench/extras_store.py's Corpus), then
each binary in turn starts on it (retries far away: the queue stays quiet),
20 warm-up GETs, then 500 timed GETs of /metrics and of /v1/stats.
"""
import argparse, os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B
import extras as E

p = argparse.ArgumentParser()
p.add_argument("--items", type=int, default=1000000)
p.add_argument("--queued", type=int, default=100000)
p.add_argument("--groups", type=int, default=10)
p.add_argument("--tmp", required=True)
p.add_argument("--n", type=int, default=500)
p.add_argument("bins", nargs="+")
a = p.parse_args()
os.makedirs(a.tmp, exist_ok=True)
a.dumpsterd = a.bins[0]
import socket
c = E.corpus(a)
import sqlite3
dbp = os.path.join(c.data_dir, "dumpsterd.db")
if os.path.exists(dbp):
    db = sqlite3.connect("file:%s?mode=ro" % dbp, uri=True)
    c.items = db.execute("SELECT count(*) FROM dumpster_item").fetchone()[0]
    db.close()
c.fill_items()
# a destination that takes connections into its backlog and never greets: the
# queue stays quiet (no deferral churn), jobs wait for a greeting
hole = socket.socket()
hole.bind(("127.0.0.1", 0))
hole.listen(4096)
dead = hole.getsockname()[1]
extra = "[delivery]\nretry_initial = 900\nretry_max = 900\n"
if a.queued:
    dd = c.hub(lambda g: "smtp:[127.0.0.1]:%d" % dead, extra)
    dd.start()
    try:
        t0 = time.monotonic()
        c.inject(dd.port, a.queued)
        B.log("queued %d more in %.0f s" % (a.queued, time.monotonic() - t0))
    finally:
        dd.stop()
QM = re.compile(rb'dumpsterd_queue_messages\{state="(\w+)"\} (\d+)')
for b in a.bins:
    c.args.dumpsterd = b
    dd = c.hub(lambda g: "smtp:[127.0.0.1]:%d" % dead, extra)
    dd.start()
    try:
        B.wait_for(lambda: E.http_get(dd.admin_port, "/healthz", timeout=2)[0] == 200, 60,
                   "healthz", interval=0.05)
        last, t_end = None, time.monotonic() + 600
        while time.monotonic() < t_end:   # until the queue is quiet (no attempts running)
            _, body = E.http_get(dd.admin_port, "/metrics")
            q = dict((k.decode(), int(v)) for k, v in QM.findall(body))
            if q == last:
                break
            last = q
            time.sleep(2)
        out = []
        for path in ("/metrics", "/v1/stats"):
            ts, size, errs = [], 0, {}
            for i in range(20 + a.n):
                t0 = time.perf_counter()
                code, body = E.http_get(dd.admin_port, path)
                if i >= 20:
                    ts.append(time.perf_counter() - t0)
                if code != 200:
                    errs[code] = errs.get(code, 0) + 1
                size = len(body)
            out.append("%s p50 %.2f ms p99 %.2f ms max %.1f ms (%d octets) errors %s" % (
                path, E.pct(ts, 50) * 1e3, E.pct(ts, 99) * 1e3, max(ts) * 1e3, size, errs))
        print("%s: items %s queue %s: %s; load %s" % (b, c.items, last, "; ".join(out),
              open("/proc/loadavg").read().split()[0]), flush=True)
    finally:
        dd.stop()
