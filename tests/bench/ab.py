#!/usr/bin/env python3
"""ab - two dumpsterd builds alternately on one workload (no Postfix).

    tests/bench/ab.py NEW OLD [--size 5120] [--sessions 20] [--count 20000]
                      [--rounds 4] [--old-drop user] [--postfix-between]

smtp-source → dumpsterd → smtp-sink as run.py's throughput runs do (its
one_run: the same configuration, dumpster copies kept), the two binaries in
A B, B A order after a warm-up of each; prints each run, the medians and the
NEW/OLD ratio of each back-to-back pair. --old-drop names [hub] keys OLD does
not know (a build from before `user` existed refuses it). --postfix-between
puts a Postfix run of the same workload (not recorded) before each measured
run, as run.py's alternation does: the box as make bench leaves it for each
dumpsterd run (Postfix's writeback, its freed memory). As root.
"""
import argparse
import os
import statistics
import sys
import tempfile

import benchlib as B
import run as R


def main():
    p = argparse.ArgumentParser()
    p.add_argument("new")
    p.add_argument("old")
    p.add_argument("--size", type=int, default=5120)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--old-drop", action="append", default=[])
    p.add_argument("--postfix-between", action="store_true")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="ddab-", dir=os.environ.get("BENCH_TMPDIR"))
    os.chmod(tmp, 0o755)
    disk = B.disk_of(tmp)
    sink = B.Sink().start()
    bins = {"new": args.new, "old": args.old}

    def make(name):
        d = B.Dumpsterd(bins[name], tmp, sink.dest(), False)
        if name == "old" and args.old_drop:
            with open(d.conf) as f:
                lines = [ln for ln in f if ln.split("=")[0].strip() not in args.old_drop]
            with open(d.conf, "w") as f:
                f.writelines(lines)
        return d

    res = {"new": [], "old": []}
    pf = B.Postfix(tmp, sink.port, False) if args.postfix_between else None
    try:
        for name in ("new", "old"):
            R.one_run(make(name), sink, tmp, 5120, 5, 500, disk, 300)
        for i in range(args.rounds):
            for name in (("new", "old") if i % 2 == 0 else ("old", "new")):
                if pf:
                    R.one_run(pf, sink, tmp, args.size, args.sessions, args.count, disk, 600)
                r = R.one_run(make(name), sink, tmp, args.size, args.sessions, args.count,
                              disk, 300)
                res[name].append(r)
                print("%s run %d e2e %.0f msg/s cpu %.0f us/msg load %.2f" % (
                    name, i + 1, r["e2e"], r["cpu_us"], r["load"]), flush=True)
    finally:
        sink.stop()
        B.PROCS.stop_all()
    for name in ("new", "old"):
        print("%s median e2e %.0f msg/s cpu %.0f us/msg" % (
            name, statistics.median(r["e2e"] for r in res[name]),
            statistics.median(r["cpu_us"] for r in res[name])))
    pairs = [a["e2e"] / b["e2e"] for a, b in zip(res["new"], res["old"])]
    print("pairs new/old: %s (median %.3f)" % (", ".join("%.2f" % x for x in pairs),
                                               statistics.median(pairs)))
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("ab.py needs root (smtp-sink -u nobody)")
    sys.exit(main())
