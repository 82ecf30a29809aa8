#!/usr/bin/env python3
"""torture_sigkill - 100 SIGKILL rounds under load, delivery and resubmission running.

The rounds of tests/integration/ddcrash.py (test_durability.py runs 10 of
them in `make test`): 6 clients sending to two storage groups delivered to
two mbxsinks, a resubmit request per round resending SG1's last 30 s to a
third, SIGKILL at a random moment of the load. Checked after every kill:
PRAGMA integrity_check on the crashed files, dumpster counters = a recount
of the items, every acknowledged recipient queued or delivered (lost = 0),
and once drained GET /v1/stats and /metrics = the recount. At the end every
acknowledged copy is at its sink. Duplicates (at least once) are figures.
A second case reloads (SIGHUP) and stops (SIGTERM, exit 0) under load.
"""
import signal
import time

from tortlib import Family, scaled

from ddcrash import Rounds


def figures(fig, t0):
    return {
        "rounds": fig["rounds"], "acknowledged": fig["acknowledged"], "lost": fig["lost"],
        "missing at the end": fig["missing_at_sinks"],
        "duplicated": fig["dup_sg1"] + fig["dup_sg2"],
        "resubmitted": fig["resubmitted"], "resubmit duplicates": fig["dup_resubmit"],
        "counters != recount": fig["recount_bad"] + fig["published_bad"],
        "integrity_check not ok": fig["integrity_bad"],
        "requests": fig["requests"],
        "replies": fig["replies"],
        "seconds": time.monotonic() - t0,
    }


def kill_rounds(n):
    t0 = time.monotonic()
    r = Rounds(clients=6)
    try:
        for _ in range(n):
            r.one(load_s=2.0)
        fig = r.finish()
        return figures(fig, t0), r.problems
    finally:
        r.cleanup()


def hup_term_rounds(n, hups):
    t0 = time.monotonic()
    r = Rounds(clients=6)
    try:
        for _ in range(n):
            r.one(load_s=2.0, sig=signal.SIGTERM, hups=hups)
        fig = r.finish()
        out = figures(fig, t0)
        out["SIGHUPs"] = n * hups
        return out, r.problems
    finally:
        r.cleanup()


if __name__ == "__main__":
    fam = Family("sigkill")
    n = scaled(100, least=2)
    fam.case("%d SIGKILL rounds under load" % n, kill_rounds, n)
    m = scaled(3)
    fam.case("%d SIGHUPs, %d SIGTERMs under load" % (4 * m, m), hup_term_rounds, m, 4)
    fam.exit()
