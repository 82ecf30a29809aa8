"""ddstatsload - many clients reading GET /v1/stats of a hub with outstanding requests.

The scenario of issue 11 item 5: the dumpster holds items, resubmission requests
are outstanding (paced by resubmit_rate = 1, so they stay open a while), and
CLIENTS clients read GET /v1/stats at once, ROUNDS times each, each request on a
fresh connection. Used by test_admin_memory.py (which bounds the growth of the
hub's peak RSS) and by tests/bench/stats_rss.py (which prints the figures).
"""
import http.client
import json
import smtplib
import threading
import time

from ddpeers import Mbxsink
from ddtest import Hub, wait_for


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def get(port, path, method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def outstanding(hub):
    st, _, body = get(hub.admin_port, "/v1/stats")
    assert st == 200, (st, body)
    return len(json.loads(body)["outstanding_requests"])


def prepare(hub, items=20, requests=10):
    """items in SG1's dumpster, then requests outstanding resubmits of all of them."""
    for i in range(items):
        with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
            s.sendmail("s@example.net", ["user%d@example.test" % i],
                       b"Subject: load %d\r\nMessage-ID: <load-%d@example.net>\r\n\r\nx\r\n"
                       % (i, i))

    def kept():
        st, _, body = get(hub.admin_port, "/v1/stats/SG1")
        return st == 200 and json.loads(body)["storage_groups"][0]["items"] == items
    wait_for(kept, timeout=60, what="%d items in SG1" % items)
    body = json.dumps({"storage_group": "SG1", "start": 0, "end": int(time.time()) + 3600,
                       "match": "received", "force": True}).encode()
    for _ in range(requests):
        st, _, answer = get(hub.admin_port, "/v1/resubmit", "POST", body,
                            {"Authorization": "Bearer " + hub.token,
                             "Content-Type": "application/json"})
        assert st == 202, (st, answer)


def load(hub, clients, rounds):
    """clients x rounds GET /v1/stats at once; (answers by status, 503s without Retry-After)."""
    statuses = {}
    bad = []
    lock = threading.Lock()
    go = threading.Barrier(clients)

    def client():
        go.wait()
        for _ in range(rounds):
            st, h, body = get(hub.admin_port, "/v1/stats")
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
                if st == 503 and (h.get("retry-after") != "1" or b'"busy"' not in body):
                    bad.append((st, h, body))
                elif st not in (200, 503):
                    bad.append((st, h, body))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, bad


class LoadedHub:
    """A hub whose SG1 delivers to an mbxsink, with items and outstanding requests."""

    def __init__(self, token, token_hash, items=20, requests=10):
        self.token, self.token_hash = token, token_hash
        self.items, self.requests = items, requests

    def __enter__(self):
        self.mbx = Mbxsink(lmtp=True).start()
        self.hub = Hub(dests={"SG1": self.mbx.dest()}, admin={"token_hash": self.token_hash},
                       extra="[dumpster]\nresubmit_rate = 1\n").start()
        self.hub.token = self.token
        try:
            prepare(self.hub, self.items, self.requests)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.hub

    def __exit__(self, *exc):
        try:
            self.hub.cleanup()
        finally:
            self.mbx.stop()
