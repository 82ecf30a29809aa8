"""extras_profile - `run.py profile`: perf record -g on dumpsterd (profgroups.py).

One throughput run per workload with perf record on dumpsterd; prints the top
functions (self and with children), where the box's CPU went, and the share
of each function group; the perf data is kept in the work dir.
"""
import os
import shutil
import signal
import subprocess
import time

import benchlib as B
import profgroups

# ---------------------------------------------------------------- profile

def cmd_profile(args, write_block, machine_md):
    """perf record -g on dumpsterd during one throughput run per workload; prints the
    top functions (self and with children) and where the box's CPU went."""
    from loadgen import parse_workloads
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
