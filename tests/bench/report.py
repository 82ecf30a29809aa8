"""report - the tables of run.py and the blocks it writes (BENCHMARKS.md).

The throughput columns (COLS, TLS_COLS), the medians and pair ratios of the
runs (summarize), the text and Markdown tables, the per-run tables, the
ceiling lines, the --tls block, the machine lines (machine_md) and
write_block(), which replaces a label's block between its markers in --out.
"""
import datetime
import os
import platform
import subprocess

import benchlib as B

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
