"""loadgen - the load generators of run.py, and `run.py ceiling`.

parse_workloads() reads SIZE:SESSIONS lists (BENCH_WORKLOADS); smtp_source()
and tlsload_source() give a load's command and parser; run_load() runs one to
its end; ceiling_run() sends a load straight into a sink (no relay), and
cmd_ceiling() is `run.py ceiling`: each load generator into its sink.
"""
import os
import resource
import signal
import subprocess
import time

import benchlib as B
from report import fmt, machine_md, write_block

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
