#!/usr/bin/env python3
"""stats_rss - the hub's RSS under many clients reading GET /v1/stats (issue 11 item 5).

    python3 tests/bench/stats_rss.py [--dumpsterd PATH] [--clients 64] [--rounds 5]

Starts dumpsterd (tests/integration/ddtest.py) with SG1 delivering to mbxsink,
fills SG1's dumpster, leaves resubmission requests outstanding, then lets
CLIENTS clients read GET /v1/stats at once, ROUNDS times each, and prints the
hub's VmRSS and VmHWM before and after, and the answers by status.
"""
import argparse
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

TOKEN = "stats-rss-bench-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dumpsterd", default=os.environ.get("DUMPSTERD", "build/dumpsterd"))
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    os.environ["DUMPSTERD"] = os.path.abspath(args.dumpsterd)
    import ddtest  # noqa: E402 - after DUMPSTERD is set
    ddtest.DUMPSTERD = os.environ["DUMPSTERD"]
    from ddstatsload import LoadedHub, load, outstanding, vm

    with LoadedHub(TOKEN, TOKEN_HASH) as hub:
        pid = hub.proc.pid
        before = (vm(pid, "VmRSS"), vm(pid, "VmHWM"), outstanding(hub))
        statuses, bad = load(hub, args.clients, args.rounds)
        after = (vm(pid, "VmRSS"), vm(pid, "VmHWM"), outstanding(hub))
    mib = 2.0 ** 20
    print("dumpsterd %s: %d clients x %d rounds of GET /v1/stats" % (args.dumpsterd, args.clients,
                                                                       args.rounds))
    print("  before: VmRSS %.1f MiB, VmHWM %.1f MiB, %d requests outstanding"
          % (before[0] / mib, before[1] / mib, before[2]))
    print("  after:  VmRSS %.1f MiB, VmHWM %.1f MiB, %d requests outstanding"
          % (after[0] / mib, after[1] / mib, after[2]))
    print("  answers: %s%s" % (statuses, "; malformed: %d" % len(bad) if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
