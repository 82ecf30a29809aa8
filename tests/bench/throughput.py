"""throughput - `run.py throughput`: dumpsterd vs Postfix, the main table.

one_run() is one run (a fresh relay, the load, wait for the sink, the
figures: rates, CPU, memory, disk, perf, TLS handshakes); cmd_throughput()
runs the warm-up and the A B / B A runs of every workload with each
workload's ceiling, prints the tables and writes the throughput block.
"""
import shutil
import time

import benchlib as B
from loadgen import ceiling_run, parse_workloads, run_load, smtp_source, tlsload_source
from report import (TLS_COLS, ceiling_lines, machine_md, runs_md, summarize, table_md,
                    table_text, tls_text, write_block)

DD_TLS_METRICS = ("dumpsterd_delivery_tls_sessions_total", "dumpsterd_delivery_tls_resumed_total",
                  "dumpsterd_smtp_tls_sessions_total")


def sink_figures(c0, c1, count):
    """The relay -> sink leg from two snapshots of tlsload sink's counters."""
    d = {k: c1[k] - c0[k] for k in c0}
    return {"sink_conn": d["sess"] / count, "hs_full": (d["tls"] - d["resumed"]) / count,
            "hs_resumed": d["resumed"] / count, "plain": d["plain"],
            "n_sink": "%d / %d / %d" % (d["sess"], d["tls"] - d["resumed"], d["resumed"])}


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


def B_fmt(v):
    return "-" if v is None else "%.3f" % v
