#!/usr/bin/env python3
"""GET /v1/stats costs memory in proportion to what it answers, however many ask.

The dumpster holds items and resubmission requests are outstanding; 64 clients
read GET /v1/stats at once, 5 times each. Each read once allocated room for
1000 requests (about 9.8 MB) on the storage thread, so 64 clients took the
hub's RSS to 321 MiB; now the requests that come while a read is in flight
share its answer, at most ADMIN_SHARE_WAITERS_MAX of them (the rest: 503 with
Retry-After). The hub's peak RSS (VmHWM) may grow by a few reads' worth, not by
one per client. Under ASan (DD_SANITIZE=1) memory is the sanitizer's, so only
the answers are checked there.
"""
import hashlib
import os
import sys

from ddstatsload import LoadedHub, load, outstanding, vm
from ddtest import run

TOKEN = "stats-memory-test-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()
CLIENTS, ROUNDS = 64, 5
READ_MB = 9.8  # what one read of the outstanding requests allocated before


def test_stats_memory_shared():
    with LoadedHub(TOKEN, TOKEN_HASH) as hub:
        assert outstanding(hub) > 0, "no request outstanding: the load would test nothing"
        base = vm(hub.proc.pid, "VmHWM")
        statuses, bad = load(hub, CLIENTS, ROUNDS)
        peak = vm(hub.proc.pid, "VmHWM")
        still = outstanding(hub)
        print("clients=%d rounds=%d answers=%s: peak RSS %.1f MiB before, %.1f MiB after "
              "(one read per client would add %.0f MiB); %d requests still outstanding"
              % (CLIENTS, ROUNDS, statuses, base / 2**20, peak / 2**20, CLIENTS * READ_MB, still))
        assert not bad, bad[:3]
        assert statuses.get(200, 0) > 0, statuses
        assert sum(statuses.values()) == CLIENTS * ROUNDS, statuses
        assert still > 0, "the requests ended during the load: nothing was measured"
        if os.environ.get("DD_SANITIZE") != "1":
            assert peak - base < 8 * READ_MB * 2**20, "peak RSS grew %.1f MiB" % (
                (peak - base) / 2**20)


if __name__ == "__main__":
    sys.exit(1 if run([test_stats_memory_shared]) else 0)
