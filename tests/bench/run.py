#!/usr/bin/env python3
"""run.py - dumpsterd side by side with Postfix (issue 5; method: shared/BENCH.md).

Usage (as root, from the top of the tree; `make bench` runs the first form
with build/dumpsterd):

    tests/bench/run.py [throughput] [options]   # the main table (default)
    tests/bench/run.py latency                  # accept latency p50/p99 at half load
    tests/bench/run.py rss                      # RSS: 1,000 x 1 MiB sessions, 10,000 idle ones
    tests/bench/run.py startup                  # startup time with a full dumpster and queue
    tests/bench/run.py admin                    # GET /v1/stats and /metrics latency
    tests/bench/run.py resubmit                 # resubmission rate, new mail meanwhile
    tests/bench/run.py all                      # everything above, in that order
    tests/bench/run.py --tls [throughput]       # the table with TLS on both legs (tlsload)
    tests/bench/run.py ceiling [--tls]          # load generator -> sink, no relay between

Environment (each also a flag, see --help):
    BENCH_COUNT=20000        messages per run
    BENCH_RUNS=3             runs per relay and workload (medians; A B A B order)
    BENCH_WORKLOADS=1k:1,... size:sessions list; default every 1k/5k/50k x 1/20/50
    BENCH_DUMPSTERD=build/dumpsterd
    BENCH_OUT=BENCHMARKS.md  where the results go ("-" for none)
    BENCH_LABEL=default      results of one label replace that label's earlier block
    BENCH_EXTRAS=            with `make bench`: extra sub-commands to run after the table,
                             e.g. BENCH_EXTRAS=latency,rss
    BENCH_ITEMS, BENCH_QUEUED, BENCH_GROUPS   sizes of the startup/admin/resubmit figures
    BENCH_TLS=1              STARTTLS on both legs of both relays: tlsload source ->
                             relay -> tlsload sink (build/tlsload), certificates made now
    BENCH_TLS_RECONNECT=1    with TLS: a new connection (and handshake) per message, as
                             smtp-source makes without -d; default: one per session
    BENCH_POSTFIX_TLS_REUSE=yes  Postfix's smtp_tls_connection_reuse (yes: through tlsproxy)
    BENCH_TLSLOAD=build/tlsload
    BENCH_LOAD=smtp-source   without TLS: smtp-source -> smtp-sink, or tlsload (its plain
                             mode, the connections of a --tls run without the TLS)

What one throughput run is: a fresh smtp-sink (`-u nobody -c`), a fresh relay
(dumpsterd with synchronous=FULL and dumpster copies kept, in a new data_dir;
or Postfix from Debian in a private config directory, a loopback relay as
BENCH.md says), then `smtp-source -s SESSIONS -m COUNT -l BYTES -c -f
from@example.net -t rcpt@example.test 127.0.0.1:PORT`. Measured: accepted
msg/s (smtp-source's wall time), end-to-end msg/s (until smtp-sink's counter
reached COUNT), the relay's CPU (utime+stime of its process tree from
/proc/PID/stat, reaped children included) per message, its peak RSS and PSS
(sum over the tree, sampled every 0.25 s; VmHWM for dumpsterd), the flushes
and write I/Os of the disk holding its data per message (/proc/diskstats:
anything else on the machine that syncs counts too), and with perf the
relay's own fsync+fdatasync and syscalls per message. Every figure is the
median of RUNS runs; the ratio dumpsterd/Postfix is the median of the ratios
of the pairs (A B) run back to back.

With --tls the load is `tlsload source` (EHLO, STARTTLS, EHLO, then the
session's share of the messages; smtp-source and smtp-sink speak no TLS) and
the sink `tlsload sink -c`, whose counters give the handshakes per message
of the relay -> sink leg (full and resumed); dumpsterd's own
dumpsterd_delivery_tls_* counters come from GET /metrics. The label of a
--tls run is "tls" unless one is given (never "default": the plain block).

Everything listens on 127.0.0.1 only. Debian's own Postfix instance is stopped
if it runs (and not started again). Every process started here is stopped at
the end, also on an error or Ctrl-C.
"""
import argparse
import datetime
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ALL_WORKLOADS = "1k:1,1k:20,1k:50,5k:1,5k:20,5k:50,50k:1,50k:20,50k:50"


def parse_workloads(text):
    out = []
    for w in text.split(","):
        w = w.strip()
        if not w:
            continue
        size, sess = w.split(":")
        size = size.lower()
        n = int(size.rstrip("kmb"))
        if size.endswith("k"):
            n *= 1024
        elif size.endswith("m"):
            n *= 1024 * 1024
        out.append((w, n, int(sess)))
    return out


# ---------------------------------------------------------------- one run

def smtp_source(size, sessions, count, port):
    """smtp-source's command (a connection per message: no -d) and its parser."""
    cmd = [B.SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-l", str(size), "-c",
           "-f", "from@example.net", "-t", "rcpt@example.test", "127.0.0.1:%d" % port]
    return cmd, None


def tlsload_source(args, plain=False, reconnect=None):
    """A load like smtp_source, from tlsload source; its parser reads the summary line
    ("messages=N sessions=N tls=N resumed=N seconds=S") into per-message figures."""
    def load(size, sessions, count, port):
        cmd = [args.tlsload, "source", "-s", str(sessions), "-m", str(count), "-l", str(size),
               "-f", "from@example.net", "-t", "rcpt@example.test"]
        cmd += ["-P"] if plain else ["-A", args.certs.ca]
        cmd += ["-1"] if (args.tls_reconnect if reconnect is None else reconnect) else []
        return cmd + ["127.0.0.1:%d" % port], lambda out: parse_tlsload(out, count)
    return load


def parse_tlsload(out, count):
    f = dict(kv.split("=", 1) for kv in out.decode(errors="replace").split() if "=" in kv)
    if int(f.get("messages", -1)) != count:
        raise RuntimeError("tlsload source sent %s of %d messages" % (f.get("messages"), count))
    return {"src_conn": int(f["sessions"]) / count, "src_hs": int(f["tls"]) / count,
            "n_src": int(f["tls"])}


DD_TLS_METRICS = ("dumpsterd_delivery_tls_sessions_total", "dumpsterd_delivery_tls_resumed_total",
                  "dumpsterd_smtp_tls_sessions_total")


def sink_figures(c0, c1, count):
    """The relay -> sink leg from two snapshots of tlsload sink's counters."""
    d = {k: c1[k] - c0[k] for k in c0}
    return {"sink_conn": d["sess"] / count, "hs_full": (d["tls"] - d["resumed"]) / count,
            "hs_resumed": d["resumed"] / count, "plain": d["plain"],
            "n_sink": "%d / %d / %d" % (d["sess"], d["tls"] - d["resumed"], d["resumed"])}


def run_load(cmd, parse, timeout):
    """Runs the load generator to its end; its figures (parse of its stdout) or {}."""
    src = subprocess.Popen(cmd, stdout=subprocess.PIPE if parse else subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    stop_src = B.PROCS.add("load", lambda: B.kill_popen(src, signal.SIGKILL))
    try:
        out, err = src.communicate(timeout=timeout)
    finally:
        B.PROCS.remove(stop_src)
        B.kill_popen(src, signal.SIGKILL)
    if src.returncode != 0:
        raise RuntimeError("%s exited %s: %s" % (os.path.basename(cmd[0]), src.returncode,
                                                 err.decode(errors="replace")[-500:]))
    return parse(out) if parse else {}


def one_run(relay, sink, tmp, size, sessions, count, disk, timeout, load=smtp_source):
    """Start relay, send count messages, wait for the sink; the figures of that run."""
    relay.start()
    mem = B.MemSampler(relay.pid)
    mem.start()
    try:
        time.sleep(2.0)                        # startup fsyncs fall in earlier perf intervals
        loadavg = B.loadavg()
        cpu0 = relay.cpu()
        w0, f0 = B.diskstats(disk)
        sink.expect(count)
        counters0 = sink.counters() if hasattr(sink, "counters") else None
        sink_cpu0 = sink.cpu()
        cmd, parse = load(size, sessions, count, relay.port)
        t0 = time.monotonic()
        extra = run_load(cmd, parse, timeout)
        t1 = time.monotonic()
        t_done = sink.wait_done(timeout)
        if t_done is None:
            raise RuntimeError("%s: the sink counted %d of %d messages" %
                               (relay.name, sink.count - (sink.target - count), count))
        # let the relay finish its bookkeeping (dumpster copy, queue file removal)
        last, t_q = relay.cpu(), time.monotonic()
        while time.monotonic() - t_q < 15:
            time.sleep(0.5)
            now = relay.cpu()
            if now - last < 2.0 / B.CLK:
                break
            last = now
        t_end = time.monotonic()
        cpu1 = relay.cpu()
        w1, f1 = B.diskstats(disk)
        mem.stop()
        extra["sink_cpu_us"] = (sink.cpu() - sink_cpu0) * 1e6 / count
        if counters0 is not None:
            extra.update(sink_figures(counters0, sink.counters(), count))
            if isinstance(relay, B.Dumpsterd):
                m = relay.metrics(DD_TLS_METRICS) or {}
                extra["dd_out"] = m.get(DD_TLS_METRICS[0])
                extra["dd_res"] = m.get(DD_TLS_METRICS[1])
                extra["dd_in"] = m.get(DD_TLS_METRICS[2])
        r = {
            "relay": relay.name,
            "accept": count / (t1 - t0),
            "e2e": count / (t_done - t0),
            "cpu_us": (cpu1 - cpu0) * 1e6 / count,
            "rss_mib": mem.peak_rss / 2**20,
            "pss_mib": mem.peak_pss / 2**20,
            "hwm_mib": mem.hwm / 2**20,
            "flush": (f1 - f0) / count,
            "wio": (w1 - w0) / count,
            "load": loadavg,
        }
        r.update(extra)
    finally:
        if mem.is_alive():
            mem.stop()
        relay.stop()
    if relay.perf_out:
        s = B.perf_window(relay.perf_out, t0 - relay.t_perf, t_end - relay.t_perf)
        if s:
            r["fsync"] = (s.get("syscalls:sys_enter_fsync", 0) +
                          s.get("syscalls:sys_enter_fdatasync", 0)) / count
            r["syscalls"] = s.get("raw_syscalls:sys_enter", 0) / count
    if isinstance(relay, B.Dumpsterd):
        r["dumpster"] = relay.dumpster_items()
        shutil.rmtree(relay.data_dir, ignore_errors=True)
    else:
        r["left"] = relay.queued()
    return r


COLS = [("accept", "accepted msg/s", "%.0f"), ("e2e", "end-to-end msg/s", "%.0f"),
        ("cpu_us", "CPU µs/msg", "%.0f"), ("rss_mib", "peak RSS MiB", "%.1f"),
        ("pss_mib", "peak PSS MiB", "%.1f"), ("flush", "disk flushes/msg", "%.3f"),
        ("wio", "disk writes/msg", "%.2f"), ("fsync", "fsync calls/msg", "%.3f"),
        ("syscalls", "syscalls/msg", "%.0f")]


def fmt(f, v):
    return "-" if v is None else f % v


# The TLS runs' figures of the handshakes (per message unless said).
TLS_COLS = [("src_hs", "client→relay handshakes/msg", "%.5f"),
            ("sink_conn", "relay→sink connections/msg", "%.5f"),
            ("hs_full", "relay→sink full handshakes/msg", "%.5f"),
            ("hs_resumed", "relay→sink resumed handshakes/msg", "%.5f"),
            ("plain", "messages in clear", "%.0f"),
            ("dd_in", "dumpsterd_smtp_tls_sessions_total", "%.0f"),
            ("dd_out", "dumpsterd_delivery_tls_sessions_total", "%.0f"),
            ("dd_res", "dumpsterd_delivery_tls_resumed_total", "%.0f"),
            ("sink_cpu_us", "sink CPU µs/msg", "%.0f")]


def summarize(results, cols=COLS):
    """results: {workload: {"dumpsterd": [runs], "postfix": [runs]}} -> rows."""
    rows = []
    for wl, by in results.items():
        dd, pf = by.get("dumpsterd", []), by.get("postfix", [])
        med = {}
        for name, runs in (("dumpsterd", dd), ("postfix", pf)):
            med[name] = {k: B.median([r.get(k) for r in runs]) for k, _, _ in cols}
        ratio = {}
        for k, _, _ in cols:
            pairs = [(a.get(k), b.get(k)) for a, b in zip(dd, pf)]
            rs = [a / b for a, b in pairs if a is not None and b]
            ratio[k] = B.median(rs)
        rows.append((wl, med, ratio, len(dd), len(pf)))
    return rows


def table_text(rows, cols=COLS, ratios=True):
    head = ["workload", "relay"] + [c[1] for c in cols]
    lines = []
    for wl, med, ratio, ndd, npf in rows:
        for name in ("dumpsterd", "postfix"):
            lines.append([wl, name] + [fmt(f, med[name][k]) for k, _, f in cols])
        if ratios:
            lines.append([wl, "ratio dd/pf"] + [fmt("%.2f", ratio[k]) for k, _, _ in cols])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    for ln in lines:
        out.append("  ".join(str(x).ljust(w) for x, w in zip(ln, widths)))
    return "\n".join(out)


def table_md(rows, cols=COLS, ratios=True):
    head = ["workload", "relay"] + [c[1] for c in cols]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl, med, ratio, ndd, npf in rows:
        for name in ("dumpsterd", "postfix"):
            out.append("| %s | %s | %s |" % (wl, name, " | ".join(
                fmt(f, med[name][k]) for k, _, f in cols)))
        if ratios:
            out.append("| %s | **ratio dd/pf** | %s |" % (wl, " | ".join(
                "**%s**" % fmt("%.2f", ratio[k]) for k, _, _ in cols)))
    return "\n".join(out)


def runs_md(results):
    out = ["| workload | run | relay | accept/s | e2e/s | CPU µs | RSS MiB | PSS MiB | "
           "flush/msg | fsync/msg | load | check |", "|" + "---|" * 12]
    for wl, by in results.items():
        for i in range(max(len(by.get("dumpsterd", [])), len(by.get("postfix", [])))):
            for name in ("dumpsterd", "postfix"):
                runs = by.get(name, [])
                if i >= len(runs):
                    continue
                r = runs[i]
                check = ("dumpster items %s" % r.get("dumpster")) if name == "dumpsterd" \
                    else ("left in queue %s" % r.get("left"))
                out.append("| %s | %d | %s | %.0f | %.0f | %.0f | %.1f | %.1f | %.3f | %s | %.2f "
                           "| %s |" % (wl, i + 1, name, r["accept"], r["e2e"], r["cpu_us"],
                                       r["rss_mib"], r["pss_mib"], r["flush"],
                                       fmt("%.3f", r.get("fsync")), r["load"], check))
    return "\n".join(out)


# ---------------------------------------------------------------- BENCHMARKS.md

def machine_md(argv_text):
    uname = platform.uname()
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pfv = subprocess.run([B.POSTCONF, "-d", "-h", "mail_version"], capture_output=True,
                         text=True).stdout.strip()
    return ("- command: `%s`\n- date: %s\n- machine: `nproc` = %d, `uname -r` = %s, %s; "
            "Postfix %s\n" % (argv_text, datetime.datetime.now().astimezone().isoformat(
                timespec="seconds"), os.cpu_count(), uname.release, cpu, pfv))


def write_block(path, key, text):
    """Replace (or append) the block between this key's markers in path."""
    if path in ("", "-"):
        return
    begin, end = "<!-- bench:%s:begin -->" % key, "<!-- bench:%s:end -->" % key
    block = "%s\n%s\n%s\n" % (begin, text.rstrip(), end)
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if begin in old and end in old:
        new = old[:old.index(begin)] + block.rstrip("\n") + old[old.index(end) + len(end):]
    else:
        if not old:
            old = ("# Benchmarks\n\nMade by `make bench` (tests/bench/run.py; method: "
                   "shared/BENCH.md, issue 5). Each block below is replaced when the same "
                   "command runs again with the same label.\n")
        new = old.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(new)
    B.log("results written to %s (block %s)" % (path, key))


# ---------------------------------------------------------------- commands

def setup_common(args):
    if os.geteuid() != 0:
        sys.exit("run.py needs root (Postfix, smtp-sink -u nobody, ulimit -n)")
    for tool in (B.SMTP_SOURCE, B.SMTP_SINK, B.POSTFIX):
        if not os.path.exists(tool):
            sys.exit("missing %s: install postfix (make deps)" % tool)
    if not os.path.exists(args.dumpsterd):
        sys.exit("missing %s: make build" % args.dumpsterd)
    args.needs_tls = args.tls or "ceiling" in args.command
    if (args.needs_tls or args.load == "tlsload") and not os.path.exists(args.tlsload):
        sys.exit("missing %s: make build (tests/bench/tlsload.c)" % args.tlsload)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(hard, 32768), 1048576)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if B.default_postfix_running():
        B.log("Debian's own Postfix instance is running: stopping it (postfix stop)")
        subprocess.run([B.POSTFIX, "stop"], capture_output=True)
    args.use_perf = (not args.no_perf) and B.perf_ok()
    if not args.use_perf:
        B.log("note: perf unavailable or disabled: no fsync/syscall counts")
    args.tmp = tempfile.mkdtemp(prefix="ddbench-", dir=args.tmpdir)
    os.chmod(args.tmp, 0o755)
    args.disk = B.disk_of(args.tmp)
    B.log("work dir %s on disk %s; load average %.2f" % (args.tmp, args.disk, B.loadavg()))
    args.certs = B.Certs(args.tmp) if args.needs_tls else None


def tls_relays(args):
    """With --tls: (the sink, dumpsterd's [smtp] and storage group keys, Postfix's tls)."""
    c = args.certs
    smtp = {"tls": "may", "tls_cert_file": c.relay, "tls_key_file": c.relay_key}
    sg = {"tls": "may", "tls_ca_file": c.ca}
    pf = {"cert": c.relay, "key": c.relay_key, "ca": c.ca, "reuse": args.postfix_tls_reuse}
    return B.TlsSink(args.tlsload, c), smtp, sg, pf


def cmd_throughput(args):
    workloads = parse_workloads(args.workloads)
    results = {}
    if args.tls:
        sink, dd_smtp, dd_sg, pf_tls = tls_relays(args)
        load = tlsload_source(args)
    elif args.load == "tlsload":
        sink, dd_smtp, dd_sg, pf_tls = B.TlsSink(args.tlsload, None), None, None, None
        load = tlsload_source(args, plain=True)
    else:
        sink, dd_smtp, dd_sg, pf_tls, load = B.Sink(), None, None, None, smtp_source
    sink.start()
    pf = B.Postfix(args.tmp, sink.port, args.use_perf, maillog=not args.postfix_syslog,
                   tls=pf_tls)
    timeout = max(300, args.count / 10)

    def make(name):
        if name == "postfix":
            return pf
        return B.Dumpsterd(args.dumpsterd, args.tmp, sink.dest(), args.use_perf,
                           smtp_extra=dd_smtp, sg_extra=dd_sg)

    # warm-up: page cache, Postfix's first start; not recorded
    for name in ("dumpsterd", "postfix"):
        one_run(make(name), sink, args.tmp, 5120, 5, min(500, args.count), args.disk, timeout,
                load)
    B.log("warm-up done")
    ceilings = {}
    for wl, size, sess in workloads:
        results[wl] = {"dumpsterd": [], "postfix": []}
        ceilings[wl] = []
        for i in range(args.runs):
            # the box's ceiling for this load: the same load straight into the sink
            c = ceiling_run(args, sink, load, size, sess, timeout)
            ceilings[wl].append(c)
            B.log("%-7s run %d ceiling   load -> sink %6.0f msg/s  load %.2f" % (
                wl, i + 1, c["rate"], c["load"]))
            order = ("dumpsterd", "postfix") if i % 2 == 0 else ("postfix", "dumpsterd")
            for name in order:
                r = one_run(make(name), sink, args.tmp, size, sess, args.count, args.disk,
                            timeout, load)
                results[wl][name].append(r)
                B.log("%-7s run %d %-9s accept %6.0f/s  e2e %6.0f/s  cpu %6.0f us/msg  "
                      "rss %6.1f MiB  flush/msg %.3f  fsync/msg %s  load %.2f%s" % (
                          wl, i + 1, name, r["accept"], r["e2e"], r["cpu_us"], r["rss_mib"],
                          r["flush"], B_fmt(r.get("fsync")), r["load"],
                          ("  dumpster=%s" % r.get("dumpster")) if name == "dumpsterd"
                          else ("  queued=%s" % r.get("left"))))
                if isinstance(sink, B.TlsSink):
                    B.log("        handshakes client→relay %d; relay→sink connections / "
                          "full / resumed %s, %d in clear%s" % (
                              r["n_src"], r["n_sink"], r["plain"], ("; dumpsterd metrics in %s out %s resumed %s" % (
                                  r.get("dd_in"), r.get("dd_out"), r.get("dd_res")))
                              if name == "dumpsterd" else ""))
    sink.stop()
    rows = summarize(results)
    print()
    print(table_text(rows))
    ceiling_text = ceiling_lines(results, ceilings)
    print(ceiling_text)
    if isinstance(sink, B.TlsSink):
        tls_rows = summarize(results, TLS_COLS)
        print()
        print(table_text(tls_rows, TLS_COLS, ratios=False))
        write_block(args.out, "throughput-" + args.label,
                    tls_text(args, rows, tls_rows, results) + "\n" + ceiling_text)
        return results
    text = "## Throughput: dumpsterd vs Postfix (%s)\n\n" % args.label
    text += machine_md(args.argv_text)
    text += ("- %d messages per run, %d runs per relay and workload, alternating (A B, B A, "
             "...); medians; ratio = median of the back-to-back pairs' ratios\n"
             % (args.count, args.runs))
    text += ("- dumpsterd: %s, synchronous=FULL, dumpster copies kept (max_size 16 GiB); "
             "Postfix: BENCH.md's loopback relay%s; perf counters: %s\n\n"
             % (args.dumpsterd, "" if args.postfix_syslog else
                ", logging through postlogd to a file (no /dev/log here)",
                "yes" if args.use_perf else "no"))
    text += table_md(rows) + "\n\n" + ceiling_text + "\n"
    text += ("Targets (issue 5) at 5k:20: end-to-end ≥ 6× Postfix, relay CPU ≤ 1/10 of "
             "Postfix's. Targets (issue 12): relay CPU ≤ 150 µs/msg at 5k:20 and ≤ 300 at "
             "50k:20; end to end ≥ 6× Postfix at 5k:20 and ≥ 4× at 50k:20, and ≥ 70 % of the "
             "ceiling at 5 KiB.\n\n")
    text += "<details><summary>every run</summary>\n\n" + runs_md(results) + \
        "\n\n</details>\n"
    write_block(args.out, "throughput-" + args.label, text)
    return results


def ceiling_lines(results, ceilings):
    """Markdown: each workload's ceiling (load -> sink, no relay, in the same run) and the
    share of it each relay reached end to end (medians)."""
    out = ["| workload | ceiling msg/s (load → sink, no relay) | dumpsterd e2e % of it | "
           "Postfix e2e % of it | ceiling runs |", "|---|---|---|---|---|"]
    for wl, cs in ceilings.items():
        top = B.median([c["rate"] for c in cs])
        share = {n: 100.0 * B.median([r["e2e"] for r in results[wl][n]]) / top
                 for n in ("dumpsterd", "postfix")}
        out.append("| %s | %.0f | %.0f %% | %.0f %% | %s |" % (
            wl, top, share["dumpsterd"], share["postfix"],
            ", ".join("%.0f" % c["rate"] for c in cs)))
    return "\n".join(out) + "\n"


def tls_text(args, rows, tls_rows, results):
    """The BENCHMARKS.md block of a --tls (or plain tlsload) throughput run."""
    text = "## Throughput %s: dumpsterd vs Postfix (%s)\n\n" % (
        "with TLS on both legs" if args.tls else "without TLS, tlsload as load and sink",
        args.label)
    text += machine_md(args.argv_text)
    text += ("- %d messages per run, %d runs per relay and workload, alternating (A B, B A, "
             "...); medians; ratio = median of the back-to-back pairs' ratios\n"
             % (args.count, args.runs))
    text += ("- load: `tlsload source -s SESSIONS -m COUNT -l BYTES %s` (EHLO, %sthen %s; no "
             "pipelining, as smtp-source); sink: `tlsload sink -c`, PIPELINING%s\n" % (
                 "-A ca.pem" if args.tls else "-P", "STARTTLS, EHLO, " if args.tls else "",
                 "one message per connection, as smtp-source without -d"
                 if args.tls_reconnect else "the session's share of the messages over that "
                 "one connection",
                 ", STARTTLS; certificates: a CA and EC P-256 server certificates (SAN "
                 "IP:127.0.0.1) made at bench time with the openssl CLI" if args.tls else
                 ", no STARTTLS"))
    if not args.tls:
        text += ("- dumpsterd and Postfix as in the plain block (TLS off)%s\n\n" % (
            "; perf counters: yes" if args.use_perf else ""))
        return tls_text_tables(text, rows, tls_rows, results)
    text += ("- dumpsterd: %s, synchronous=FULL, dumpster copies kept; `[smtp] tls = may` with "
             "tls_cert_file/tls_key_file; the storage group `tls = may`, `tls_ca_file` = the "
             "bench CA; its pool: concurrency_per_destination = 20 (default), sessions "
             "resumed from the pool's cache\n" % args.dumpsterd)
    text += ("- Postfix: BENCH.md's loopback relay with `smtpd_tls_security_level = may`, "
             "smtpd_tls_cert_file/key_file = the same certificate, `smtp_tls_security_level = "
             "may`, `smtp_tls_CAfile` = the bench CA, `smtp_tls_session_cache_database = "
             "btree:${data_directory}/smtp_scache` (and smtpd's), "
             "`smtp_connection_cache_on_demand = yes`, `smtp_tls_connection_reuse = %s`%s; "
             "perf counters: %s\n\n" % (
                 "yes" if args.postfix_tls_reuse else "no",
                 " (tlsproxy added to master.cf)" if args.postfix_tls_reuse else "",
                 "yes" if args.use_perf else "no"))
    return tls_text_tables(text, rows, tls_rows, results)


def tls_text_tables(text, rows, tls_rows, results):
    text += table_md(rows) + "\n\n"
    text += ("Handshakes (medians): client→relay from tlsload source's count (one per "
             "connection: no client session cache); relay→sink from tlsload sink's counters "
             "(full = not SSL_session_reused); dumpsterd's counters from GET /metrics at the "
             "end of each run (that run's fresh process; the warm-up is not in them).\n\n")
    text += table_md(tls_rows, TLS_COLS, ratios=False) + "\n\n"
    text += "<details><summary>every run</summary>\n\n" + runs_md(results) + "\n\n"
    text += runs_tls_md(results) + "\n\n</details>\n"
    return text


# The per-run table adds the counts behind the per-message figures.
RUN_TLS_COLS = TLS_COLS + [("n_src", "client→relay handshakes", "%d"),
                           ("n_sink", "relay→sink connections / full / resumed", "%s")]


def runs_tls_md(results):
    head = ["workload", "run", "relay"] + [c[1] for c in RUN_TLS_COLS]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl, by in results.items():
        for i in range(max(len(by.get("dumpsterd", [])), len(by.get("postfix", [])))):
            for name in ("dumpsterd", "postfix"):
                runs = by.get(name, [])
                if i < len(runs):
                    out.append("| %s | %d | %s | %s |" % (wl, i + 1, name, " | ".join(
                        fmt(f, runs[i].get(k)) for k, _, f in RUN_TLS_COLS)))
    return "\n".join(out)


# ---------------------------------------------------------------- ceiling

# (title, tlsload?, TLS?, a connection per message?)
CEILING_LOADS = [("smtp-source → smtp-sink", False, False, True),
                 ("tlsload → tlsload sink, plain", True, False, False),
                 ("tlsload → tlsload sink, TLS", True, True, False),
                 ("tlsload -1 → tlsload sink, TLS", True, True, True)]


def ceiling_run(args, sink, load, size, sess, timeout):
    """One load straight into a sink: msg/s and the CPU of each side per message."""
    sink.expect(args.count)
    cmd, parse = load(size, sess, args.count, sink.port)
    ru0, s0 = resource.getrusage(resource.RUSAGE_CHILDREN), sink.cpu()
    t0 = time.monotonic()
    extra = run_load(cmd, parse, timeout)
    t_done = sink.wait_done(timeout)
    if t_done is None:
        raise RuntimeError("the sink counted %d of %d" % (
            sink.count - (sink.target - args.count), args.count))
    ru1, s1 = resource.getrusage(resource.RUSAGE_CHILDREN), sink.cpu()
    src = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    r = {"rate": args.count / (t_done - t0), "src_cpu_us": src * 1e6 / args.count,
         "sink_cpu_us": (s1 - s0) * 1e6 / args.count, "load": B.loadavg()}
    r.update(extra)
    return r


def cmd_ceiling(args):
    """The box's ceiling: each load generator straight into its sink, no relay."""
    out = {}
    plain_sink = B.Sink().start()
    tls_sink = B.TlsSink(args.tlsload, args.certs).start()
    timeout = max(300, args.count / 10)
    loads = []
    for title, tl, tls, reconnect in CEILING_LOADS:
        if not tl:
            loads.append((title, smtp_source, plain_sink))
        else:
            loads.append((title, tlsload_source(args, plain=not tls, reconnect=reconnect),
                          tls_sink))
    for wl, size, sess in parse_workloads(args.workloads):
        for i in range(args.runs):
            for title, load, sink in (loads if i % 2 == 0 else loads[::-1]):
                r = ceiling_run(args, sink, load, size, sess, timeout)
                out.setdefault((wl, title), []).append(r)
                B.log("%-7s run %d %-32s %6.0f msg/s  source %5.0f us/msg  sink %5.0f us/msg"
                      "  load %.2f" % (wl, i + 1, title, r["rate"], r["src_cpu_us"],
                                       r["sink_cpu_us"], r["load"]))
    plain_sink.stop()
    tls_sink.stop()
    text = "## Ceiling: load generator → sink, no relay (%s)\n\n" % args.label
    text += machine_md(args.argv_text)
    text += ("- %d messages per run, %d runs, loads alternating; medians. smtp-source makes a "
             "connection per message (no -d), as in the plain blocks; tlsload one per session "
             "(as the --tls runs), or with -1 one per message; TLS: STARTTLS with the bench's "
             "EC P-256 certificate, no resumption; CPU: the source's from getrusage of the "
             "reaped child, the sink's from /proc\n\n" % (args.count, args.runs))
    text += ("| workload | load → sink | msg/s | source CPU µs/msg | sink CPU µs/msg | "
             "handshakes/msg |\n|---|---|---|---|---|---|\n")
    for (wl, title), runs in out.items():
        text += "| %s | %s | %.0f | %.0f | %.0f | %s |\n" % (
            wl, title, B.median([r["rate"] for r in runs]),
            B.median([r["src_cpu_us"] for r in runs]),
            B.median([r["sink_cpu_us"] for r in runs]),
            fmt("%.5f", B.median([r.get("src_hs") for r in runs])))
    text += "\nRuns (msg/s): " + "; ".join("%s %s: %s" % (wl, title, ", ".join(
        "%.0f" % r["rate"] for r in runs)) for (wl, title), runs in out.items()) + "\n"
    print()
    print(text)
    write_block(args.out, "ceiling-" + args.label, text)


def B_fmt(v):
    return "-" if v is None else "%.3f" % v


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="*", default=["throughput"],
                   help="throughput latency rss startup admin resubmit ceiling site all")
    env = os.environ.get
    p.add_argument("--count", type=int, default=int(env("BENCH_COUNT", "20000")))
    p.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "3")))
    p.add_argument("--workloads", default=env("BENCH_WORKLOADS", "") or ALL_WORKLOADS)
    p.add_argument("--dumpsterd", default=env("BENCH_DUMPSTERD", "build/dumpsterd"))
    p.add_argument("--out", default=env("BENCH_OUT", os.path.join(TOP, "BENCHMARKS.md")))
    p.add_argument("--label", default=env("BENCH_LABEL", ""),
                   help='names the blocks; default "default" (--tls: "tls", '
                   '--load tlsload: "tlsload")')
    p.add_argument("--tmpdir", default=env("BENCH_TMPDIR", None),
                   help="where the data dirs go (a real disk, not tmpfs)")
    p.add_argument("--no-perf", action="store_true")
    p.add_argument("--postfix-syslog", action="store_true",
                   help="leave Postfix's logging to syslog (lost without /dev/log)")
    p.add_argument("--keep", action="store_true", help="keep the work dir")
    p.add_argument("--tls", action="store_true", default=env("BENCH_TLS", "") not in ("", "0"),
                   help="STARTTLS on both legs of both relays (tlsload source and sink)")
    p.add_argument("--tls-reconnect", action="store_true",
                   default=env("BENCH_TLS_RECONNECT", "") not in ("", "0"),
                   help="with --tls: a new connection per message (smtp-source's pattern)")
    p.add_argument("--postfix-tls-reuse", default=env("BENCH_POSTFIX_TLS_REUSE", "yes"),
                   choices=("yes", "no"), help="Postfix's smtp_tls_connection_reuse")
    p.add_argument("--load", default=env("BENCH_LOAD", "smtp-source"),
                   choices=("smtp-source", "tlsload"),
                   help="without --tls: the load and sink (tlsload: its plain mode)")
    p.add_argument("--tlsload", default=env("BENCH_TLSLOAD", ""),
                   help="the tlsload binary (default: next to --dumpsterd)")
    p.add_argument("--items", type=int, default=int(env("BENCH_ITEMS", "1000000")),
                   help="dumpster items for startup/admin/resubmit")
    p.add_argument("--queued", type=int, default=int(env("BENCH_QUEUED", "100000")),
                   help="queued messages for startup")
    p.add_argument("--groups", type=int, default=int(env("BENCH_GROUPS", "10")))
    p.add_argument("--resubmit", type=int, default=int(env("BENCH_RESUBMIT", "100000")),
                   help="items to resubmit")
    p.add_argument("--latency-seconds", type=float,
                   default=float(env("BENCH_LATENCY_SECONDS", "20")))
    p.add_argument("--big-sessions", type=int, default=int(env("BENCH_BIG_SESSIONS", "1000")))
    p.add_argument("--idle-sessions", type=int,
                   default=int(env("BENCH_IDLE_SESSIONS", "10000")))
    args = p.parse_args()
    args.postfix_tls_reuse = args.postfix_tls_reuse == "yes"
    if args.label in ("", "default") and (args.tls or args.load == "tlsload"):
        args.label = "tls" if args.tls else "tlsload"  # never the plain block's name
    args.label = args.label or "default"
    args.tlsload = args.tlsload or os.path.join(os.path.dirname(args.dumpsterd) or ".",
                                                "tlsload")
    args.argv_text = " ".join(["tests/bench/run.py"] + sys.argv[1:])
    envs = [k for k in sorted(os.environ) if k.startswith("BENCH_")]
    if envs:
        args.argv_text = " ".join("%s=%s" % (k, os.environ[k]) for k in envs) + " " + \
            args.argv_text
    cmds = args.command
    if "all" in cmds:
        cmds = ["throughput", "latency", "rss", "startup", "admin", "resubmit"]

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    rc = 0
    try:
        setup_common(args)
        import extras
        for c in cmds:
            B.log("== %s" % c)
            if c == "throughput":
                cmd_throughput(args)
            elif c == "ceiling":
                cmd_ceiling(args)
            elif c == "site":
                import sitefan
                sitefan.cmd_site(args, write_block, machine_md)
            elif c in extras.COMMANDS:
                extras.COMMANDS[c](args, write_block, machine_md)
            else:
                sys.exit("unknown command %s" % c)
    except KeyboardInterrupt:
        B.log("interrupted: stopping everything")
        rc = 130
    finally:
        B.PROCS.stop_all()
        if getattr(args, "tmp", None) and not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
