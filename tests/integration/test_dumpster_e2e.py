"""The transport dumpster end to end: a lossy failover healed by resubmission.

40 messages go to a storage group on mailbox server A (mbxsink); A loses its
newest 15; the group moves to B and the loss window is resubmitted through
the admin API: B gets every lost message byte-identical, a second identical
request resends nothing, a dry run queues nothing, and a window older than
the oldest kept item reports incomplete coverage.
"""
import hashlib
import http.client
import json
import os
import smtplib
import sys
import time

from ddtest import Hub, run, wait_for
from ddpeers import MBXSINK, Mbxsink

TOKEN = "e2e-test-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()
DIRECTORY = "@example.test\tSG1\n@example.org\tSG2\n"


def admin_port(hub):
    port = getattr(hub, "admin_port", None)
    if port:
        return port
    for line in hub.conf_text.splitlines():  # the [admin] listen line
        if line.startswith("listen") and "[admin]" in hub.conf_text.split(line)[0][-40:]:
            return int(line.rsplit(":", 1)[1])
    raise AssertionError("no admin port")


def api(hub, method, path, body=None, token=TOKEN):
    conn = http.client.HTTPConnection("127.0.0.1", admin_port(hub), timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, (json.loads(data) if data else None)


def send(hub, i, rcpt="user%d@example.test"):
    msg = ("From: s@example.net\r\nTo: x\r\nSubject: e2e %d\r\nMessage-ID: <e2e-%d@example.net>"
           "\r\n\r\nbody %d\r\n" % (i, i, i))
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
        s.sendmail("s@example.net", [rcpt % i if "%d" in rcpt else rcpt], msg.encode())


def by_mid(messages):
    out = {}
    for m in messages:
        for line in m.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                out[line.split(b":", 1)[1].strip().decode()] = m
                break
    return out


def sg_stats(hub, sg):
    status, body = api(hub, "GET", "/v1/stats/" + sg)
    assert status == 200, (status, body)
    groups = body.get("storage_groups", body if isinstance(body, list) else [body])
    for g in groups if isinstance(groups, list) else [groups]:
        if g.get("name") == sg:
            return g
    raise AssertionError("no stats for %s: %r" % (sg, body))


def wait_request_done(hub, rid):
    def done():
        status, body = api(hub, "GET", "/v1/resubmit/%d" % rid)
        assert status == 200, (status, body)
        return body if body["state"] == "done" else None
    return wait_for(done, timeout=60, what="request %d to finish" % rid)


def test_lossy_failover_resubmit():
    with Mbxsink(lmtp=True) as a, Mbxsink(lmtp=True) as b:
        with Hub(directory=DIRECTORY, dests={"SG1": a.dest()},
                 extra="[dumpster]\nmax_age = 86400\n", admin={"token_hash": TOKEN_HASH}) as hub:
            for i in range(25):
                send(hub, i)
            wait_for(lambda: a.stats()["stored"] == 25, what="25 at A")
            time.sleep(0.01)  # a timestamp strictly between the two groups of deliveries
            t_mid = time.time()
            time.sleep(0.01)
            for i in range(25, 40):
                send(hub, i)
            wait_for(lambda: a.stats()["stored"] == 40, what="40 at A")
            wait_for(lambda: sg_stats(hub, "SG1")["items"] == 40, what="40 items in SG1")
            before = by_mid(a.messages())
            a.control("LOSE 15")
            assert a.stats()["stored"] == 25
            lost = set(before) - set(by_mid(a.messages()))
            assert lost == {"<e2e-%d@example.net>" % i for i in range(25, 40)}, lost

            status, body = api(hub, "PUT", "/v1/storage-groups/SG1/destination",
                               {"destination": b.dest()})
            assert status == 200, (status, body)
            window = {"storage_group": "SG1", "start": t_mid, "end": time.time() + 1}

            status, preview = api(hub, "POST", "/v1/resubmit", dict(window, dry_run=True))
            assert status == 200 and preview["matched"] == 15, (status, preview)
            assert b.stats()["messages"] == 0  # a dry run queues nothing

            status, req = api(hub, "POST", "/v1/resubmit", window)
            assert status == 202, (status, req)
            assert req["coverage"]["complete"] is True, req
            done = wait_request_done(hub, req["id"])
            assert done["matched"] == 15 and done["queued"] == 15, done
            wait_for(lambda: b.stats()["stored"] == 15, what="15 resent to B")
            got = by_mid(b.messages())
            assert set(got) == lost, set(got) ^ lost
            for mid in lost:
                assert got[mid] == before[mid], "%s differs after resubmission" % mid
            assert sg_stats(hub, "SG1")["items"] == 40  # resent items are not kept twice

            status, again = api(hub, "POST", "/v1/resubmit", window)
            assert status == 202, (status, again)
            done2 = wait_request_done(hub, again["id"])
            assert done2["queued"] == 0 and done2["skipped_duplicate"] == 15, done2
            assert b.stats()["messages"] == 15, b.stats()  # nothing reached B again


def index_rcpts(sink):
    """Message-ID -> the recipients the sink got it for (its index.tsv)."""
    out = {}
    with open(os.path.join(sink.tmp, "index.tsv")) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 4:
                out[cols[1]] = sorted(cols[3].split(","))
    return out


def test_late_recipient_healed():
    """alice's copy is delivered at once, bob's after a retry: a window around bob's
    delivery finds bob's copy alone, and the resent envelope holds bob only."""
    with Mbxsink(lmtp=True) as a, Mbxsink(lmtp=True) as b:
        with Hub(directory=DIRECTORY, dests={"SG1": a.dest()},
                 delivery={"retry_initial": 1, "retry_max": 1},
                 admin={"token_hash": TOKEN_HASH}) as hub:
            a.control("FAIL LMTP bob@example.test 451")
            msg = ("From: s@example.net\r\nSubject: late\r\nMessage-ID: <late@example.net>"
                   "\r\n\r\nbody\r\n")
            with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as c:
                c.sendmail("s@example.net", ["alice@example.test", "bob@example.test"],
                           msg.encode())
            wait_for(lambda: "status=deferred" in hub.log(), what="bob deferred")
            t_bob = time.time()  # alice's copy is delivered by now, bob's is not
            a.control("CLEAR")
            wait_for(lambda: hub.log().count("status=sent") == 2, what="bob delivered later")
            status, body = api(hub, "PUT", "/v1/storage-groups/SG1/destination",
                               {"destination": b.dest()})
            assert status == 200, (status, body)
            window = {"storage_group": "SG1", "start": t_bob, "end": time.time() + 1}
            status, preview = api(hub, "POST", "/v1/resubmit", dict(window, dry_run=True))
            assert status == 200, (status, preview)
            assert preview["matched"] == 1 and preview["messages"] == 1, preview
            assert preview["coverage"]["complete"] is True, preview
            status, req = api(hub, "POST", "/v1/resubmit", window)
            assert status == 202, (status, req)
            done = wait_request_done(hub, req["id"])
            assert done["queued"] == 1, done
            wait_for(lambda: b.stats()["stored"] == 1, what="bob's copy at B")
            assert index_rcpts(b) == {"<late@example.net>": ["bob@example.test"]}, index_rcpts(b)


def test_coverage_incomplete():
    """A group bounded to 2 messages of about 260 octets: a window over all 8 reports
    the evictions."""
    with Mbxsink(lmtp=True) as a:
        with Hub(directory=DIRECTORY, dests={"SG1": a.dest()},
                 extra="[dumpster]\nmax_size = 600\n", admin={"token_hash": TOKEN_HASH}) as hub:
            t0 = time.time() - 1
            for i in range(8):
                send(hub, i)
            wait_for(lambda: a.stats()["stored"] == 8, what="8 at A")
            # the sink stores a copy before the hub commits its outcome (and the keep)
            def accounted():
                st = sg_stats(hub, "SG1")
                return st["items"] + st["evicted"]["size"] == 8
            wait_for(accounted, what="every copy kept or evicted")
            st = sg_stats(hub, "SG1")
            assert st["bytes"] <= 600, st
            assert st["evicted"]["size"] >= 4 and st["items"] + st["evicted"]["size"] == 8, st
            window = {"storage_group": "SG1", "start": t0, "end": time.time() + 1,
                      "dry_run": True}
            status, preview = api(hub, "POST", "/v1/resubmit", window)
            assert status == 200, (status, preview)
            cov = preview["coverage"]
            assert cov["complete"] is False and cov["evicted_in_range"] == st["evicted"]["size"], \
                preview
            assert preview["matched"] == st["items"], preview


if __name__ == "__main__":
    if not os.path.exists(MBXSINK):
        print("skip: %s not built" % MBXSINK)
        sys.exit(77)
    sys.exit(1 if run([test_lossy_failover_resubmit, test_late_recipient_healed,
                       test_coverage_incomplete]) else 0)
