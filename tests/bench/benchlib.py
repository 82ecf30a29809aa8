"""benchlib - the pieces of the dumpsterd / Postfix benchmark (see run.py), in one name.

Everything here listens on 127.0.0.1 only and is stopped by Procs.stop_all(),
which run.py calls on a normal end, on an error and on Ctrl-C / SIGTERM.
The TLS runs (run.py --tls) add Certs (a CA and a server certificate made
with the openssl CLI, as tests/integration/ddtls.py does), TlsSink (tlsload
sink, built from tests/bench/tlsload.c) and the TLS settings of both relays.

The code lives in: benchcore.py (tools, log, waiting, PROCS, Relay),
procstat.py (/proc, disks, perf), sinks.py (Sink, TlsSink), tlscerts.py
(Certs), relay_dumpsterd.py (Dumpsterd) and relay_postfix.py (Postfix);
`import benchlib as B` gives every one of their names, as before the split.
"""
from benchcore import (SMTP_SOURCE, SMTP_SINK, POSTFIX, POSTCONF, OPENSSL, log, free_port,
                       wait_for, greets, median, Procs, PROCS, kill_popen, Relay)
from procstat import (CLK, PAGE, PERF, PERF_EVENTS, read_stat, all_stats, tree_pids, tree_cpu,
                      proc_field, pss, vm_hwm, vm_rss, MemSampler, disk_of, diskstats, loadavg,
                      perf_ok, perf_prefix, perf_window)
from sinks import Sink, TlsSink
from tlscerts import CA_CNF, Certs
from relay_dumpsterd import metrics_sums, Dumpsterd
from relay_postfix import Postfix, default_postfix_running

__all__ = [
    "SMTP_SOURCE", "SMTP_SINK", "POSTFIX", "POSTCONF", "OPENSSL", "log", "free_port",
    "wait_for", "greets", "median", "Procs", "PROCS", "kill_popen", "Relay", "CLK", "PAGE",
    "PERF", "PERF_EVENTS", "read_stat", "all_stats", "tree_pids", "tree_cpu", "proc_field",
    "pss", "vm_hwm", "vm_rss", "MemSampler", "disk_of", "diskstats", "loadavg", "perf_ok",
    "perf_prefix", "perf_window", "Sink", "TlsSink", "CA_CNF", "Certs", "metrics_sums",
    "Dumpsterd", "Postfix", "default_postfix_running",
]
