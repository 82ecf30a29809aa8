"""The admin HTTP API (SPEC section 8): every endpoint, every status code.

Each status code of the API is provoked by a real request against the real
dumpsterd: 200/202 on every endpoint, 400 (bad JSON, bad time, start > end,
unknown field, bad query), 401 (no token, wrong token, on writes; on reads
with public_reads = no; every write when token_hash is empty) with
WWW-Authenticate: Bearer, 404 (unknown path, storage group, request), 405
with Allow, 409 (cancel twice), 413 (a body over 64 KiB), and the bounds
(headers over 8 KiB, clients that leave before their answer). GET /metrics
goes through `promtool check metrics` when promtool is installed.
"""
import hashlib
import http.client
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time

from ddtest import Hub, run, wait_for
from ddpeers import Mbxsink

TOKEN = "admin-api-test-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()
METRIC_FAMILIES = [
    "dumpsterd_dumpster_items", "dumpsterd_dumpster_bytes",
    "dumpsterd_dumpster_oldest_received_timestamp_seconds",
    "dumpsterd_dumpster_coverage_seconds", "dumpsterd_dumpster_max_bytes",
    "dumpsterd_dumpster_evicted_total", "dumpsterd_resubmit_requests",
    "dumpsterd_smtp_messages_accepted_total", "dumpsterd_smtp_messages_rejected_total",
    "dumpsterd_smtp_connections_total", "dumpsterd_smtp_sessions", "dumpsterd_queue_messages",
    "dumpsterd_delivery_attempts_total", "dumpsterd_delivery_bounces_total",
    "dumpsterd_delivery_connections_total", "dumpsterd_store_commit_seconds",
    "dumpsterd_store_batch_messages", "dumpsterd_store_fsyncs_total",
    "dumpsterd_store_backlog_bytes",
]


class Answer:
    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers
        self.data = data
        try:
            self.json = json.loads(data) if data else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "HTTP %d %r" % (self.status, self.data[:300])


def api(hub, method, path, body=None, token=TOKEN, raw=None, headers=None):
    """One request on a fresh connection; body: JSON-encoded, raw: bytes as they are."""
    conn = http.client.HTTPConnection("127.0.0.1", hub.admin_port, timeout=30)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def expect(a, status, code=None):
    """The status, and for errors our JSON error body with its code."""
    assert a.status == status, "expected %d, got %r" % (status, a)
    if status >= 400:
        assert a.headers.get("content-type") == "application/json", a.headers
        err = (a.json or {}).get("error")
        assert isinstance(err, dict) and err.get("code") and err.get("message"), a
        if code is not None:
            assert err["code"] == code, "expected code %s, got %r" % (code, a)
    return a.json


def send(hub, rcpts, i=0):
    msg = ("From: s@example.net\r\nTo: x\r\nSubject: api %d\r\nMessage-ID: <api-%d@example.net>"
           "\r\n\r\nbody %d\r\n" % (i, i, i))
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
        s.sendmail("s@example.net", rcpts, msg.encode())


def admin_up(hub):
    """Poll until the admin port answers /healthz with 200."""
    def up():
        try:
            return api(hub, "GET", "/healthz", token=None).status == 200
        except OSError:
            return False
    wait_for(up, what="the admin API")


def started(**kw):
    kw.setdefault("admin", {"token_hash": TOKEN_HASH})
    hub = Hub(**kw).start()
    try:
        admin_up(hub)
    except BaseException:
        hub.cleanup()
        raise
    return hub


def finish(hub):
    """Stop the hub: a clean exit, no sanitizer report in its log; then remove it."""
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def window(sg="SG1", **kw):
    d = {"storage_group": sg, "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    d.update(kw)
    return d


def test_reads_200():
    hub = started()
    try:
        assert expect(api(hub, "GET", "/healthz", token=None), 200) == {"status": "ok"}
        st = expect(api(hub, "GET", "/v1/stats", token=None), 200)
        names = [g["name"] for g in st["storage_groups"]]
        assert names == ["SG1", "SG2"], st
        g = st["storage_groups"][0]
        for key in ("items", "bytes", "oldest_received", "max_bytes", "max_age_seconds",
                    "evicted", "not_kept", "destination", "coverage_seconds"):
            assert key in g, (key, g)
        assert g["items"] == 0 and g["oldest_received"] is None, g
        assert set(g["evicted"]) >= {"size", "age", "replicated"}, g
        assert g["max_bytes"] == 18874368 and g["max_age_seconds"] == 604800, g
        assert st["outstanding_requests"] == [], st
        one = expect(api(hub, "GET", "/v1/stats/SG2", token=None), 200)
        assert [g["name"] for g in one["storage_groups"]] == ["SG2"], one
        # public_reads opens /metrics and /v1/stats only; other reads need the token
        for path in ("/v1/storage-groups", "/v1/queue", "/v1/resubmit"):
            expect(api(hub, "GET", path, token=None), 401)
        sgs = expect(api(hub, "GET", "/v1/storage-groups"), 200)["storage_groups"]
        assert [s["name"] for s in sgs] == ["SG1", "SG2"], sgs
        assert sgs[0]["destination"].startswith("lmtp:[127.0.0.1]:"), sgs
        assert expect(api(hub, "GET", "/v1/storage-groups/SG1"), 200)["name"] == "SG1"
        d = expect(api(hub, "GET", "/v1/storage-groups/SG1/destination"), 200)
        assert d["storage_group"] == "SG1" and d["destination"] == sgs[0]["destination"], d
        assert expect(api(hub, "GET", "/v1/resubmit"), 200) == {"requests": []}
        assert expect(api(hub, "GET", "/v1/resubmit?state=outstanding"), 200)["requests"] == []
        head = api(hub, "HEAD", "/v1/stats")
        assert head.status == 200 and head.data == b"", head
        m = api(hub, "GET", "/metrics", token=None)
        assert m.status == 200 and m.headers["content-type"].startswith(
            "text/plain; version=0.0.4"), m
    finally:
        finish(hub)


def test_queue_200():
    hub = started()  # destinations nobody listens on: mail stays queued
    try:
        send(hub, ["alice@example.test", "bob@sales.example.test"])
        q = wait_for(lambda: (lambda j: j if j["count"] == 1 else None)(
            expect(api(hub, "GET", "/v1/queue"), 200)), what="the message in the queue")
        m = q["messages"][0]
        assert len(m["queue_id"]) >= 16 and m["sender"] == "s@example.net", m
        assert m["size"] > 0 and m["received"].endswith("Z") and m["request"] is None, m
        rc = {r["address"]: r for r in m["recipients"]}
        assert set(rc) == {"alice@example.test", "bob@sales.example.test"}, rc
        assert rc["alice@example.test"]["storage_group"] == "SG1", rc
        for r in rc.values():
            assert r["state"] in ("pending", "active") and "attempts" in r, r
            assert "next_attempt" in r and "last_reply" in r, r
        one = expect(api(hub, "GET", "/v1/queue?storage_group=SG2"), 200)
        assert one["storage_group"] == "SG2" and one["count"] <= 1, one
        f = expect(api(hub, "POST", "/v1/queue/flush"), 200)
        assert isinstance(f["flushed"], int) and f["storage_group"] is None, f
        f = expect(api(hub, "POST", "/v1/queue/flush?storage_group=SG1"), 200)
        assert f["storage_group"] == "SG1", f
    finally:
        finish(hub)


def test_writes_200_202():
    hub = started()
    try:
        a = api(hub, "POST", "/v1/resubmit", window(reason="test", match="received"))
        r = expect(a, 202)
        assert a.headers.get("location") == "/v1/resubmit/%d" % r["id"], a.headers
        assert r["state"] in ("pending", "running", "done") and r["storage_group"] == "SG1", r
        assert r["start"] == "2026-01-01T00:00:00.000Z" and r["match"] == "received", r
        assert set(r["coverage"]) == {"complete", "oldest_available", "evicted_in_range"}, r
        got = expect(api(hub, "GET", "/v1/resubmit/%d" % r["id"]), 200)
        for key in ("matched", "queued", "delivered", "failed", "skipped_duplicate", "state",
                    "created", "updated", "start", "end", "storage_group", "coverage"):
            assert key in got, (key, got)
        assert got["reason"] == "test", got
        listed = expect(api(hub, "GET", "/v1/resubmit"), 200)["requests"]
        assert [x["id"] for x in listed] == [r["id"]], listed
        dry = expect(api(hub, "POST", "/v1/resubmit", window(dry_run=True)), 200)
        assert dry["dry_run"] is True and dry["matched"] == 0 and dry["first_ids"] == [], dry
        assert "bytes" in dry and "skipped_duplicate" in dry and "coverage" in dry, dry
        d = expect(api(hub, "PUT", "/v1/storage-groups/SG2/destination",
                       {"destination": "smtp:[127.0.0.1]:2526"}), 200)
        assert d == {"storage_group": "SG2", "destination": "smtp:[127.0.0.1]:2526"}, d
        sgs = expect(api(hub, "GET", "/v1/storage-groups"), 200)["storage_groups"]
        assert sgs[1]["destination"] == "smtp:[127.0.0.1]:2526", sgs
        rep = expect(api(hub, "POST", "/v1/storage-groups/SG1/replicated",
                         {"until": "2026-01-01T00:00:00Z"}), 200)
        assert rep == {"storage_group": "SG1", "until": "2026-01-01T00:00:00.000Z",
                       "released": 0, "released_copies": 0}, rep
    finally:
        finish(hub)


BAD_REQUESTS = [
    ("POST", "/v1/resubmit", b"{not json", "bad_json"),
    ("POST", "/v1/resubmit", b"", "bad_json"),
    ("POST", "/v1/resubmit", json.dumps(window(start="yesterday")).encode(), "bad_time"),
    ("POST", "/v1/resubmit", json.dumps(window(start="2026-01-03T00:00:00Z")).encode(),
     "bad_range"),
    ("POST", "/v1/resubmit", json.dumps(window(colour="blue")).encode(), "bad_field"),
    ("POST", "/v1/resubmit", json.dumps({"storage_group": "SG1"}).encode(), "missing_field"),
    ("POST", "/v1/resubmit", json.dumps(window(match="sent")).encode(), None),
    ("PUT", "/v1/storage-groups/SG1/destination", b"[]", None),
    ("PUT", "/v1/storage-groups/SG1/destination", b'{"destination": "ftp://x"}', None),
    ("POST", "/v1/storage-groups/SG1/replicated", b'{"until": "soon"}', "bad_time"),
    ("GET", "/v1/resubmit?state=weird", None, "bad_query"),
    ("GET", "/v1/queue?colour=blue", None, "bad_query"),
    ("GET", "/v1/queue?storage_group=SG1&storage_group=SG2", None, "bad_query"),
]


def test_400():
    hub = started()
    try:
        for method, path, raw, code in BAD_REQUESTS:
            expect(api(hub, method, path, raw=raw), 400, code)
        assert expect(api(hub, "GET", "/v1/resubmit"), 200) == {"requests": []}
    finally:
        finish(hub)


def test_401():
    hub = started(admin={"token_hash": TOKEN_HASH})
    try:
        for token, err in ((None, False), ("wrong-token", True), ("", True)):
            for method, path, body in (("POST", "/v1/resubmit", window()),
                                       ("DELETE", "/v1/resubmit/1", None),
                                       ("PUT", "/v1/storage-groups/SG1/destination",
                                        {"destination": "lmtp:[127.0.0.1]:1"}),
                                       ("POST", "/v1/queue/flush", None)):
                a = api(hub, method, path, body, token=token)
                expect(a, 401, "unauthorized")
                assert a.headers.get("www-authenticate", "").startswith("Bearer"), a.headers
                if err:
                    assert "invalid_token" in a.headers["www-authenticate"], a.headers
        a = api(hub, "POST", "/v1/queue/flush", token=None, headers={"Authorization":
                                                                       "bearer  " + TOKEN})
        expect(a, 200)  # the scheme matches without case
        expect(api(hub, "GET", "/v1/stats", token=None), 200)  # public_reads = yes
        assert expect(api(hub, "GET", "/v1/resubmit"), 200) == {"requests": []}  # nothing stored
    finally:
        finish(hub)
    hub = started(admin={"token_hash": TOKEN_HASH, "public_reads": "no"})
    try:
        for path in ("/v1/stats", "/v1/stats/SG1", "/metrics", "/v1/resubmit", "/v1/queue",
                     "/v1/storage-groups"):
            a = api(hub, "GET", path, token=None)
            expect(a, 401, "unauthorized")
            assert a.headers["www-authenticate"].startswith("Bearer"), a.headers
            expect(api(hub, "GET", path, token="nope"), 401)
            assert api(hub, "GET", path).status == 200, path
        expect(api(hub, "GET", "/healthz", token=None), 200)  # probes need no token
    finally:
        finish(hub)
    hub = started(admin={})  # no token_hash: every write refused, reads public
    try:
        a = api(hub, "POST", "/v1/resubmit", window())
        expect(a, 401, "unauthorized")
        assert "token_hash" in a.json["error"]["message"], a
        expect(api(hub, "POST", "/v1/queue/flush", token=""), 401)
        expect(api(hub, "GET", "/v1/stats", token=None), 200)
    finally:
        finish(hub)


def test_404():
    hub = started()
    try:
        for method, path, body in (
                ("GET", "/", None), ("GET", "/nope", None), ("GET", "/v1", None),
                ("GET", "/v1/stats/", None), ("POST", "/v1/resubmits", window()),
                ("GET", "/v1/storage-groups/SG1/nope", None)):
            expect(api(hub, method, path, body), 404, "not_found")
        for method, path, body in (
                ("GET", "/v1/stats/NOPE", None), ("GET", "/v1/storage-groups/NOPE", None),
                ("PUT", "/v1/storage-groups/NOPE/destination", {"destination":
                                                              "lmtp:[127.0.0.1]:1"}),
                ("POST", "/v1/storage-groups/NOPE/replicated", {"until": 0}),
                ("POST", "/v1/resubmit", window("NOPE")),
                ("GET", "/v1/queue?storage_group=NOPE", None),
                ("POST", "/v1/queue/flush?storage_group=NOPE", None)):
            expect(api(hub, method, path, body), 404, "unknown_storage_group")
        for method, path in (("GET", "/v1/resubmit/424242"), ("GET", "/v1/resubmit/abc"),
                             ("GET", "/v1/resubmit/0"),
                             ("GET", "/v1/resubmit/99999999999999999999999"),
                             ("DELETE", "/v1/resubmit/424242")):
            expect(api(hub, method, path), 404, "unknown_request")
    finally:
        finish(hub)


def test_405():
    hub = started()
    try:
        for method, path, allow in (("DELETE", "/v1/stats", "GET, HEAD"),
                                    ("POST", "/healthz", "GET, HEAD"),
                                    ("PUT", "/v1/resubmit", "GET, HEAD, POST"),
                                    ("POST", "/v1/resubmit/1", "GET, HEAD, DELETE"),
                                    ("GET", "/v1/queue/flush", "POST"),
                                    ("PATCH", "/v1/storage-groups/SG1/destination",
                                     "GET, HEAD, PUT"),
                                    ("OPTIONS", "/metrics", "GET, HEAD")):
            for token in (TOKEN, None):  # a wrong method is 405 with or without a token
                a = api(hub, method, path, token=token)
                expect(a, 405, "method_not_allowed")
                assert a.headers.get("allow") == allow, (method, path, a.headers)
    finally:
        finish(hub)


def stats_sg(hub, sg):
    return expect(api(hub, "GET", "/v1/stats/" + sg), 200)["storage_groups"][0]


def test_409_cancel_and_dumpster():
    """Items in the dumpster, a paced request cancelled once (200) and again (409)."""
    with Mbxsink(lmtp=True) as mbx:
        hub = started(dests={"SG1": mbx.dest()}, extra="[dumpster]\nresubmit_rate = 1\n")
        try:
            for i in range(6):
                send(hub, ["user%d@example.test" % i], i)
            wait_for(lambda: stats_sg(hub, "SG1")["items"] == 6, what="6 items in SG1")
            g = stats_sg(hub, "SG1")
            assert g["bytes"] > 0 and g["oldest_received"].endswith("Z"), g
            assert g["coverage_seconds"] >= 0, g
            span = {"start": 0, "end": int(time.time()) + 60, "match": "received"}
            dry = expect(api(hub, "POST", "/v1/resubmit", window(dry_run=True, **span)), 200)
            assert dry["matched"] == 6 and len(dry["first_ids"]) == 6, dry
            assert dry["coverage"]["complete"] is True, dry
            r = expect(api(hub, "POST", "/v1/resubmit", window(force=True, **span)), 202)
            out = expect(api(hub, "GET", "/v1/stats"), 200)["outstanding_requests"]
            assert [(o["id"], o["storage_group"]) for o in out] == [(r["id"], "SG1")], out
            assert set(out[0]) >= {"id", "storage_group", "start", "end", "state"}, out
            c = expect(api(hub, "DELETE", "/v1/resubmit/%d" % r["id"]), 200)
            assert c["id"] == r["id"] and c["state"] == "cancelled", c
            expect(api(hub, "DELETE", "/v1/resubmit/%d" % r["id"]), 409)
            assert expect(api(hub, "GET", "/v1/resubmit?state=outstanding"), 200) == {
                "requests": []}
            got = expect(api(hub, "GET", "/v1/resubmit/%d" % r["id"]), 200)
            assert got["state"] == "cancelled", got
        finally:
            finish(hub)


def test_413():
    hub = started()
    try:
        body = json.dumps(window(reason="x" * (65 * 1024))).encode()
        expect(api(hub, "POST", "/v1/resubmit", raw=body), 413, "too_large")
        a = api(hub, "POST", "/v1/resubmit", raw=b" " * (512 * 1024))  # past evhttp's own cap
        assert a.status == 413, a
        expect(api(hub, "POST", "/v1/resubmit", raw=b" " * 65536), 400, "bad_json")  # at the bound
        expect(api(hub, "GET", "/v1/stats"), 200)
    finally:
        finish(hub)


def raw_exchange(hub, data, close_early=False):
    """Raw bytes to the admin port; what comes back until the server closes or 5 s pass."""
    with socket.create_connection(("127.0.0.1", hub.admin_port), timeout=5) as s:
        s.sendall(data)
        if close_early:
            return b""
        s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


def test_bounds():
    hub = started()
    try:
        big = b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
        out = raw_exchange(hub, big)
        assert out.startswith(b"HTTP/1.1 4"), out[:200]  # over 8 KiB of headers: refused
        for _ in range(50):  # clients that leave before their (asynchronous) answer
            raw_exchange(hub, b"GET /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n", close_early=True)
            raw_exchange(hub, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", close_early=True)
        # at most ADMIN_INFLIGHT_MAX wait for the store (the rest got 503 busy); once their
        # answers came back (to nobody), the server answers again
        wait_for(lambda: raw_exchange(hub, b"GET /v1/stats HTTP/1.0\r\n\r\n").startswith(
            b"HTTP/1.0 200"), what="the answers owed to gone clients to drain")
        expect(api(hub, "GET", "/v1/stats"), 200)
        assert hub.proc.poll() is None, "dumpsterd died"
    finally:
        finish(hub)


def test_metrics_promtool():
    hub = started()
    try:
        send(hub, ["alice@example.test"])
        m = api(hub, "GET", "/metrics", token=None)
        assert m.status == 200, m
        text = m.data.decode()
        for fam in METRIC_FAMILIES:
            assert "# HELP %s " % fam in text and "# TYPE %s " % fam in text, fam
        assert 'dumpsterd_dumpster_items{storage_group="SG1"}' in text, text
        assert 'dumpsterd_dumpster_evicted_total{storage_group="SG1",reason="size"}' in text
        assert 'dumpsterd_store_commit_seconds_bucket{le="+Inf"}' in text, text
        assert "dumpsterd_smtp_messages_accepted_total 1\n" in text, text
        promtool = shutil.which("promtool")
        if promtool is None:
            print("skip promtool check metrics: promtool is not installed (package prometheus)")
            return
        p = subprocess.run([promtool, "check", "metrics"], input=m.data, capture_output=True,
                           timeout=60)
        assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), (
            p.returncode, p.stdout, p.stderr)
    finally:
        finish(hub)


if __name__ == "__main__":
    sys.exit(1 if run([test_reads_200, test_queue_200, test_writes_200_202, test_400, test_401,
                       test_404, test_405, test_409_cancel_and_dumpster, test_413, test_bounds,
                       test_metrics_promtool]) else 0)
