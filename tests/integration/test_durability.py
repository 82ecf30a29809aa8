#!/usr/bin/env python3
"""Never lose an acknowledged message: SIGKILL at random moments under load,
with delivery and resubmission running (the short form of `make torture`'s
100 rounds; ddcrash.py says what a round checks).

ROUNDS rounds (DD_CRASH_ROUNDS, default 10): several clients send to two
storage groups delivered to two mbxsinks while a resubmit request resends to
a third; SIGKILL at a random moment; on the crashed files integrity_check is
ok and the dumpster counters equal a recount; after the restart every
acknowledged recipient is queued or delivered (lost = 0); once drained,
GET /v1/stats and /metrics equal the recount. At the end every acknowledged
copy is at its sink; duplicates (at least once) are printed.
"""
import os
import sys

from ddcrash import Rounds
from ddtest import run

ROUNDS = int(os.environ.get("DD_CRASH_ROUNDS", "10"))
CLIENTS = 6


def test_sigkill_rounds_lose_nothing():
    r = Rounds(clients=CLIENTS)
    try:
        for _ in range(ROUNDS):
            r.one(load_s=1.0)
        fig = r.finish()
        print("%d rounds: %d acknowledged, lost %d, duplicates at the sinks %d/%d, "
              "resubmitted %d (%d duplicates), replies %r"
              % (fig["rounds"], fig["acknowledged"], fig["lost"], fig["dup_sg1"], fig["dup_sg2"],
                 fig["resubmitted"], fig["dup_resubmit"], fig["replies"]))
        assert not r.problems, "\n".join(r.problems[:20])
        assert fig["acknowledged"] > ROUNDS * 3
    finally:
        r.cleanup()


if __name__ == "__main__":
    sys.exit(1 if run([test_sigkill_rounds_lose_nothing]) else 0)
