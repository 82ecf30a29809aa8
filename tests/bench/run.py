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
    tests/bench/run.py shadow                   # 5k:20 over 3 hubs, shadow copies on/off
                                                # (a 3-node nats-server cluster; extras_shadow.py)

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
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
from loadgen import (parse_workloads, smtp_source, tlsload_source, parse_tlsload, run_load,
                     CEILING_LOADS, ceiling_run, cmd_ceiling)
from report import (COLS, fmt, TLS_COLS, summarize, table_text, table_md, runs_md, machine_md,
                    write_block, ceiling_lines, tls_text, tls_text_tables, RUN_TLS_COLS,
                    runs_tls_md)
from throughput import DD_TLS_METRICS, sink_figures, one_run, tls_relays, cmd_throughput, B_fmt

# the names other scripts (ab.py, ...) import from run
__all__ = [
    "parse_workloads", "smtp_source", "tlsload_source", "parse_tlsload", "run_load",
    "CEILING_LOADS", "ceiling_run", "cmd_ceiling", "COLS", "fmt", "TLS_COLS", "summarize",
    "table_text", "table_md", "runs_md", "machine_md", "write_block", "ceiling_lines",
    "tls_text", "tls_text_tables", "RUN_TLS_COLS", "runs_tls_md", "DD_TLS_METRICS",
    "sink_figures", "one_run", "tls_relays", "cmd_throughput", "B_fmt",
]

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ALL_WORKLOADS = "1k:1,1k:20,1k:50,5k:1,5k:20,5k:50,50k:1,50k:20,50k:50"


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


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="*", default=["throughput"],
                   help="throughput latency rss startup admin resubmit ceiling site shadow all")
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
