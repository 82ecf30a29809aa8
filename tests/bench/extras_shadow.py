"""extras_shadow - `run.py shadow`: 5k:20 with shadow copies on and off (3 hubs).

One run: 3 fresh dumpsterd hubs (hub1..hub3, each its own data_dir, all
relaying to one smtp-sink), then 3 smtp-source processes in parallel, one per
hub (-s 7, 7, 6: 20 sessions in all; COUNT messages of 5 KiB split between
them), timed until the sink counted every message. "shadow": a fresh 3-node
nats-server JetStream cluster on loopback (tests/integration/ddjs.py's
NatsCluster) and a [shadow] section in every hub (servers = the 3 nodes,
replicas = 3, publish_timeout = 10); "without": the same hubs with no
[shadow] section and no cluster. Runs alternate without, shadow, without,
shadow, ... (RUNS each), after a short warm-up of each mode; medians, and the
ratio shadow/without as the median of the pairs' ratios.

Per run: accepted msg/s (until the last smtp-source ended), end-to-end msg/s
(until the sink counted all), the hubs' CPU (utime+stime of the 3 trees from
/proc, summed) and the NATS servers' CPU (the 3 nodes, summed) per message,
from just before the load until the hubs and the nodes are idle again (the
purges included); smtp-source's CPU (getrusage of the reaped children) and
smtp-sink's; the publish latency (publish to ack) as the mean of
dumpsterd_shadow_publish_seconds (delta of _sum / delta of _count, the 3
hubs together), dumpsterd_shadow_published_total, _failures_total (must be
0), _removed_total and _in_flight at the end, and the messages left in the
stream DD_QUEUE once the hubs are idle (copies purged: 0 expected; waited
for up to 30 s), and with a build that has the shadow dumpster the messages
in its streams (DD_D_*: one per delivered message expected) and its failures.

The binary (--dumpsterd / BENCH_DUMPSTERD) is copied into the work dir at the
start, so that a rebuild meanwhile changes no run; the block names its sha256
and build time. Each storage group's max_size is SG_MAX_SIZE (256 MiB: every
copy of the run kept, and the shadow dumpster streams, whose MaxBytes it is,
fit the 1 GB of NatsCluster's nodes). Everything listens on 127.0.0.1; the
hubs, the sink, the load and the nats-server nodes are stopped by pid, also
on an error/Ctrl-C (benchcore.PROCS).
"""
import datetime
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import threading
import time

import benchlib as B
from loadgen import run_load, smtp_source

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HUBS = 3
SIZE = 5120
SESSIONS = 20
STREAM = "DD_QUEUE"
MODES = ("without", "shadow")
# a build without one of these reads 0 for it (metrics_sums)
SHADOW_METRICS = ("dumpsterd_shadow_up", "dumpsterd_shadow_published_total",
                  "dumpsterd_shadow_failures_total", "dumpsterd_shadow_in_flight",
                  "dumpsterd_shadow_removed_total", "dumpsterd_shadow_remove_failures_total",
                  "dumpsterd_shadow_publish_seconds_sum", "dumpsterd_shadow_publish_seconds_count",
                  "dumpsterd_shadow_dumpster_kept_total",
                  "dumpsterd_shadow_dumpster_failures_total")
# Each storage group's dumpster bound, also the MaxBytes of its shadow dumpster stream
# (a build with the shadow dumpster): NatsCluster's nodes have max_file_store 1 GB, so 3
# hubs x 256 MiB fit, and a run's copies (COUNT/3 x 5 KiB per hub) stay kept.
SG_MAX_SIZE = 256 << 20


def ddjs():
    """tests/integration/ddjs.py (owned there; imported, not copied)."""
    d = os.path.join(TOP, "tests", "integration")
    if d not in sys.path:
        sys.path.insert(0, d)
    import ddjs as mod
    return mod


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class Cluster:
    """A fresh NatsCluster(3), registered in PROCS (stopped by pid, its dir removed)."""

    def __init__(self):
        self.cl = ddjs().NatsCluster(HUBS)
        self._stop = B.PROCS.add("nats-server cluster", self.stop)
        self.cl.start()

    def pids(self):
        return [p.pid for p in self.cl.procs if p is not None]

    def cpu(self):
        return sum(B.tree_cpu(p) for p in self.pids())

    def stream_messages(self, name=STREAM):
        c = self.cl.client(0)
        try:
            return c.stream_info(name)["state"]["messages"]
        finally:
            c.close()

    def dumpster_copies(self):
        """Messages in the shadow dumpster streams (DD_D_*), or None without any."""
        c = self.cl.client(0)
        try:
            names = c.api("STREAM.NAMES").get("streams") or []
            d = [n for n in names if n.startswith("DD_D_")]
            return sum(c.stream_info(n)["state"]["messages"] for n in d) if d else None
        finally:
            c.close()

    def stop(self):
        B.PROCS.remove(self._stop)
        self.cl.stop()
        shutil.rmtree(self.cl.tmp, ignore_errors=True)


def make_hubs(binary, args, sink, cluster):
    conf = ""
    if cluster is not None:
        conf = ("[shadow]\nservers = %s\nreplicas = %d\npublish_timeout = 10\n"
                % (cluster.cl.urls(), HUBS))
    return [B.Dumpsterd(binary, args.tmp, sink.dest(), False, conf_extra=conf,
                        sg_max_size=SG_MAX_SIZE, hub_extra={"name": "hub%d" % (i + 1)},
                        smtp_extra={"hostname": "hub%d.example.test" % (i + 1)})
            for i in range(HUBS)]


def metric_sums(hubs):
    out = dict.fromkeys(SHADOW_METRICS, 0.0)
    for h in hubs:
        m = h.metrics(SHADOW_METRICS)
        if m is None:
            raise RuntimeError("GET /metrics of %s failed" % h.conf)
        for k in out:
            out[k] += m[k]
    return out


def wait_shadow_up(hubs, timeout=120):
    """Until dumpsterd_shadow_up = 1 on every hub (the stream made or found); the
    hubs' shadow log lines when it does not come."""
    t0 = time.monotonic()
    try:
        B.wait_for(lambda: metric_sums(hubs)["dumpsterd_shadow_up"] == len(hubs), timeout,
                   "dumpsterd_shadow_up = 1 on every hub", interval=0.1)
    except RuntimeError as e:
        lines = ["%s: %s" % (h.conf, ln) for h in hubs for ln in h.log().splitlines()
                 if "shadow" in ln][-30:]
        raise RuntimeError("%s:\n%s" % (e, "\n".join(lines)))
    took = time.monotonic() - t0
    if took > 5:
        B.log("note: shadow up on every hub after %.1f s" % took)


def parallel_load(hubs, count, timeout):
    """One smtp-source per hub, at once; (start, [end of each]) in monotonic time."""
    sess, counts = split(SESSIONS, len(hubs)), split(count, len(hubs))
    ends, errors = [None] * len(hubs), []

    def one(i):
        try:
            cmd, parse = smtp_source(SIZE, sess[i], counts[i], hubs[i].port)
            run_load(cmd, parse, timeout)
            ends[i] = time.monotonic()
        except Exception as e:  # noqa: BLE001 - raised in the main thread
            errors.append("hub%d: %s" % (i + 1, e))
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(hubs))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    if errors:
        raise RuntimeError("smtp-source: " + "; ".join(errors))
    return t0, ends


def one_run(binary, args, sink, mode, count, timeout):
    cluster, hubs = None, []
    try:
        if mode == "shadow":
            cluster = Cluster()
        hubs = make_hubs(binary, args, sink, cluster)
        for h in hubs:
            h.start()
        if cluster is not None:
            wait_shadow_up(hubs)
        time.sleep(2.0)
        loadavg = B.loadavg()
        m0 = metric_sums(hubs)
        hub_cpu = lambda: sum(h.cpu() for h in hubs)  # noqa: E731
        nats_cpu = (lambda: cluster.cpu()) if cluster else (lambda: 0.0)  # noqa: E731
        cpu0, ncpu0, scpu0 = hub_cpu(), nats_cpu(), sink.cpu()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sink.expect(count)
        t0, ends = parallel_load(hubs, count, timeout)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t_done = sink.wait_done(timeout)
        if t_done is None:
            raise RuntimeError("%s: the sink counted %d of %d messages" %
                               (mode, sink.count - (sink.target - count), count))
        # the hubs' (and the nodes') bookkeeping after delivery: dumpster copies, purges
        last, t_q = hub_cpu() + nats_cpu(), time.monotonic()
        while time.monotonic() - t_q < 15:
            time.sleep(0.5)
            now = hub_cpu() + nats_cpu()
            if now - last < 3.0 / B.CLK:
                break
            last = now
        cpu1, ncpu1, scpu1 = hub_cpu(), nats_cpu(), sink.cpu()
        m1 = metric_sums(hubs)
        left = kept = None
        if cluster is not None:
            t_w = time.monotonic()
            while True:
                left = cluster.stream_messages()
                if left == 0 or time.monotonic() - t_w > 30:
                    break
                time.sleep(0.5)
            kept = cluster.dumpster_copies()
            m1 = metric_sums(hubs)
        d = {k: m1[k] - m0[k] for k in SHADOW_METRICS}
        src = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        r = {
            "mode": mode,
            "accept": count / (max(ends) - t0),
            "e2e": count / (t_done - t0),
            "hub_cpu_us": (cpu1 - cpu0) * 1e6 / count,
            "nats_cpu_us": (ncpu1 - ncpu0) * 1e6 / count if cluster else None,
            "src_cpu_us": src * 1e6 / count,
            "sink_cpu_us": (scpu1 - scpu0) * 1e6 / count,
            "load": loadavg,
        }
        r["all_cpu_us"] = r["hub_cpu_us"] + (r["nats_cpu_us"] or 0.0)
        if cluster is not None:
            n = d["dumpsterd_shadow_publish_seconds_count"]
            r.update({
                "pub_ms": d["dumpsterd_shadow_publish_seconds_sum"] * 1e3 / n if n else None,
                "published": d["dumpsterd_shadow_published_total"],
                "failures": d["dumpsterd_shadow_failures_total"],
                "other_failures": d["dumpsterd_shadow_remove_failures_total"] +
                d["dumpsterd_shadow_dumpster_failures_total"],
                "removed": d["dumpsterd_shadow_removed_total"],
                "kept": kept,
                "in_flight": m1["dumpsterd_shadow_in_flight"],
                "left": left,
            })
    finally:
        for h in hubs:
            if getattr(h, "proc", None) is not None:
                h.stop()
        if cluster is not None:
            cluster.stop()
    r["dumpster"] = sum(h.dumpster_items() or 0 for h in hubs)
    for h in hubs:
        shutil.rmtree(h.data_dir, ignore_errors=True)
    return r


# ---------------------------------------------------------------- report

COLS = [("accept", "accepted msg/s", "%.0f"), ("e2e", "end-to-end msg/s", "%.0f"),
        ("hub_cpu_us", "hubs' CPU µs/msg (3 summed)", "%.0f"),
        ("nats_cpu_us", "NATS servers' CPU µs/msg (3 summed)", "%.0f"),
        ("all_cpu_us", "hubs + NATS µs/msg", "%.0f"),
        ("src_cpu_us", "smtp-source µs/msg", "%.0f"), ("sink_cpu_us", "smtp-sink µs/msg", "%.0f"),
        ("pub_ms", "publish→ack ms (mean)", "%.2f")]
RATIO_KEYS = ("accept", "e2e", "hub_cpu_us", "all_cpu_us")


def summarize(results):
    med = {m: {k: B.median([r.get(k) for r in results[m]]) for k, _, _ in COLS} for m in MODES}
    ratio = {}
    for k in RATIO_KEYS:
        rs = [b[k] / a[k] for a, b in zip(results["without"], results["shadow"])
              if a.get(k) and b.get(k) is not None]
        ratio[k] = B.median(rs)
    pairs = ["%.2f" % (b["e2e"] / a["e2e"]) for a, b in zip(results["without"],
                                                             results["shadow"])]
    return med, ratio, pairs


def table_md(med, ratio):
    from report import fmt
    out = ["| shadow copies | " + " | ".join(c[1] for c in COLS) + " |",
           "|" + "---|" * (len(COLS) + 1)]
    for m in MODES:
        out.append("| %s | %s |" % ("off (no [shadow], no cluster)" if m == "without" else
                                     "on (3-node cluster, replicas 3)",
                                     " | ".join(fmt(f, med[m][k]) for k, _, f in COLS)))
    out.append("| **ratio on/off** | %s |" % " | ".join(
        ("**%s**" % fmt("%.2f", ratio[k])) if k in RATIO_KEYS else "" for k, _, _ in COLS))
    return "\n".join(out)


def runs_md(results):
    from report import fmt
    out = ["| run | shadow | accept/s | e2e/s | hubs µs | NATS µs | source µs | sink µs | "
           "publish ms | published | failures | other failures | removed | in flight at end | "
           "left in DD_QUEUE | shadow dumpster copies | dumpster items | load |",
           "|" + "---|" * 18]
    n = max(len(results[m]) for m in MODES)
    for i in range(n):
        for m in MODES:
            if i >= len(results[m]):
                continue
            r = results[m][i]
            out.append("| %d | %s | %.0f | %.0f | %.0f | %s | %.0f | %.0f | %s | %s | %s | %s | "
                       "%s | %s | %s | %s | %d | %.2f |" % (
                           i + 1, "on" if m == "shadow" else "off", r["accept"], r["e2e"],
                           r["hub_cpu_us"], fmt("%.0f", r.get("nats_cpu_us")), r["src_cpu_us"],
                           r["sink_cpu_us"], fmt("%.2f", r.get("pub_ms")),
                           fmt("%.0f", r.get("published")), fmt("%.0f", r.get("failures")),
                           fmt("%.0f", r.get("other_failures")), fmt("%.0f", r.get("removed")),
                           fmt("%.0f", r.get("in_flight")), fmt("%d", r.get("left")),
                           fmt("%d", r.get("kept")), r["dumpster"], r["load"]))
    return "\n".join(out)


def log_run(i, r):
    B.log("run %d %-7s accept %6.0f/s  e2e %6.0f/s  hubs %5.0f us/msg  nats %s us/msg  "
          "source %4.0f  sink %4.0f  publish %s ms  published %s failures %s/%s removed %s "
          "in-flight %s left %s kept %s  dumpster %d  load %.2f" % (
              i, r["mode"], r["accept"], r["e2e"], r["hub_cpu_us"],
              B_fmt0(r.get("nats_cpu_us")), r["src_cpu_us"], r["sink_cpu_us"],
              "-" if r.get("pub_ms") is None else "%.2f" % r["pub_ms"],
              B_fmt0(r.get("published")), B_fmt0(r.get("failures")),
              B_fmt0(r.get("other_failures")), B_fmt0(r.get("removed")),
              B_fmt0(r.get("in_flight")), B_fmt0(r.get("left")), B_fmt0(r.get("kept")),
              r["dumpster"], r["load"]))


def B_fmt0(v):
    return "-" if v is None else "%.0f" % v


def snapshot(args):
    """A copy of the binary in the work dir, so that a rebuild meanwhile changes no run;
    (its path, a line that names it)."""
    src = os.path.abspath(args.dumpsterd)
    dst = os.path.join(args.tmp, "dumpsterd-shadow-bench")
    shutil.copy2(src, dst)
    with open(dst, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    built = datetime.datetime.fromtimestamp(os.stat(src).st_mtime).astimezone().isoformat(
        timespec="seconds")
    return dst, "%s (copied at start; sha256 %s…, built %s)" % (args.dumpsterd, digest, built)


def cmd_shadow(args, write_block, machine_md):
    """5k:20 over 3 hubs, shadow copies off and on, alternating; the block shadow-LABEL."""
    mod = ddjs()
    if not os.path.exists(mod.NATS_SERVER):
        sys.exit("missing nats-server (Debian package nats-server)")
    ver = subprocess.run([mod.NATS_SERVER, "--version"], capture_output=True,
                         text=True).stdout.strip()
    binary, binary_text = snapshot(args)
    B.log("dumpsterd: " + binary_text)
    timeout = max(300, args.count / 10)
    sink = B.Sink().start()
    results = {m: [] for m in MODES}
    try:
        for m in MODES:  # warm-up: page cache, nats-server's first start; not recorded
            log_run(0, one_run(binary, args, sink, m, min(1000, args.count), timeout))
        B.log("warm-up done")
        for i in range(args.runs):
            for m in MODES:
                r = one_run(binary, args, sink, m, args.count, timeout)
                results[m].append(r)
                log_run(i + 1, r)
    finally:
        sink.stop()
    med, ratio, pairs = summarize(results)
    fails = sum(r.get("failures") or 0 for r in results["shadow"])
    other = sum(r.get("other_failures") or 0 for r in results["shadow"])
    lefts = [r.get("left") for r in results["shadow"]]
    kept = [r.get("kept") for r in results["shadow"]]
    share = ratio["e2e"]
    text = "## Shadow copies: 5k:20 over 3 hubs, on and off (%s)\n\n" % args.label
    text += machine_md(args.argv_text)
    text += ("- measured on a shared 2-core machine (another engineer's tests may have run "
             "meanwhile: compare the ratios, not the absolute rates); %s\n" % ver)
    text += "- dumpsterd: %s\n" % binary_text
    text += ("- %d messages of 5 KiB per run, 20 sessions: 3 smtp-source (`-s 7`, `-s 7`, "
             "`-s 6`, `-m` COUNT/3 each, a connection per message) in parallel, one per hub; 3 "
             "fresh dumpsterd hubs (hub1..hub3, each its own data_dir, synchronous=FULL, dumpster "
             "copies kept: max_size %d MiB per hub, room for every copy of the run), all "
             "relaying to one smtp-sink; %d runs each, alternating off, on, off, on, ...; "
             "medians; ratio = median of the back-to-back pairs' ratios\n"
             % (args.count, SG_MAX_SIZE >> 20, args.runs))
    text += ("- on: a fresh 3-node nats-server JetStream cluster per run on the same box "
             "(tests/integration/ddjs.py NatsCluster, file storage, max_file_store 1 GB per "
             "node), `[shadow] servers` = the 3 nodes, `replicas = 3`, `publish_timeout = 10`: "
             "every 250 waits for the JetStream ack; off: the same hubs with no [shadow] "
             "section and no cluster\n")
    text += ("- CPU: utime+stime from /proc of the 3 hubs (summed) and of the 3 nats-server "
             "nodes (summed), from just before the load until both are idle again (purges "
             "included); publish→ack: the mean of dumpsterd_shadow_publish_seconds (Δ_sum / "
             "Δ_count over the 3 hubs)\n\n")
    text += table_md(med, ratio) + "\n\n"
    text += ("End to end with shadow copies: **%.0f %%** of the rate without (pairs: %s); "
             "target (issue): ≥ 60 %% — **%s**. Shadow failures in all runs: %d%s; remove and "
             "shadow dumpster failures: %d. Left in DD_QUEUE once the hubs were idle: %s; "
             "copies in the shadow dumpster streams (DD_D_*): %s.\n\n" % (
                 100 * share, ", ".join(pairs), "met" if share >= 0.6 else "not met", fails,
                 "" if fails == 0 else " (**not 0**)", other,
                 ", ".join(B_fmt0(x) for x in lefts),
                 ", ".join(B_fmt0(x) for x in kept) if any(k is not None for k in kept)
                 else "none (a build without the shadow dumpster)"))
    text += "<details><summary>every run</summary>\n\n" + runs_md(results) + \
        "\n\n</details>\n"
    print()
    print(text)
    write_block(args.out, "shadow-" + args.label, text)
    if fails:
        B.log("warning: %d shadow failures" % fails)
    return results
