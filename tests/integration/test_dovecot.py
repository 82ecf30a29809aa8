"""The real Dovecot 2.3 as the mailbox server (issue 9): delivery and a lossy
failover healed by resubmission, over LMTP on TCP and on a unix socket.

Each scenario: a private Dovecot (tests/integration/dovecot.py) with three users
and the sender's own mailbox; the real dumpsterd delivers ten messages with
several recipients each; one recipient is unknown to Dovecot and gets its own
550 at RCPT while the others are delivered, and the sender gets exactly one
DSN. Every copy in every maildir is the hub's stored copy byte for byte (after
Dovecot's own trace fields), and that is the sent message plus the hub's
Received: (and Message-ID: when it had none). One message moves to another
folder. Then a lossy failover: the newest messages of two users are deleted
from their maildirs, and the admin API resubmits a window wider than the loss.
Every lost copy must come back, byte for byte.

The group's mailbox probe points at Dovecot's doveadm HTTP API, so the heal is
exact: no duplicate, `skipped_present` = the copies never lost, and the probe's
metrics count them. The same request with `"probe": false` shows what the probe
prevents: Dovecot keeps every copy the hub resends, so the duplicates are then
exactly the copies never lost. With the probe unreachable the request waits and
resends nothing, then heals exactly once it answers. The test also pins down the
doveadm HTTP API exchange the probe uses (tests/integration/DOVEADM_HTTP_API.md).
And Dovecot's LMTP with STARTTLS: tls = verify against a CA made at test time
delivers in TLS byte for byte; a name the certificate lacks defers.

Runs inside its own network namespace (dovecot.in_private_netns); exit 77 only
when Dovecot is not installed.
"""
import base64
import os
import smtplib
import socket
import sys
import threading
import time

from ddtest import Hub, run, wait_for
import ddheal
import ddtls
import dovecot as dc

USERS = ["alice@example.test", "bob@example.test", "carol@example.test"]
OWNER = "owner@example.test"  # the sender: its DSN is delivered to SG1 as well
UNKNOWN = "zed@example.test"  # in the hub's directory (@example.test), unknown to Dovecot
LOSE = {"alice@example.test": 2, "bob@example.test": 3}


def corpus(tag):
    """Ten messages: (recipients, bytes). Several recipients each; message 3 also to
    the unknown user; message 5 without a Message-ID (the hub adds one); message 7
    with dot lines and a 998-octet line."""
    sets = [USERS, USERS[:2], USERS[1:], [USERS[0], USERS[2]]]
    out = []
    for i in range(10):
        rcpts = list(sets[i % 4])
        if i == 3:
            rcpts.insert(1, UNKNOWN)
        head = "From: %s\r\nTo: %s\r\nSubject: heal %s %d\r\n" % (OWNER, ", ".join(rcpts), tag, i)
        if i != 5:
            head += "Message-ID: <heal-%s-%d@example.net>\r\n" % (tag, i)
        body = "message %d of %s\r\n" % (i, tag)
        if i == 7:
            body += ".\r\n..two dots\r\n.leading dot\r\n" + "x" * 998 + "\r\n"
        out.append((rcpts, (head + "\r\n" + body).encode()))
    return out


def send_all(hub, msgs):
    for rcpts, data in msgs:
        with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
            refused = s.sendmail(OWNER, rcpts, data)
            assert not refused, refused  # the hub takes every @example.test address


def hub_copies(hub, msgs, tag):
    """Message-ID -> the hub's stored bytes, for each sent message (checked against
    what was sent) and the DSN; returns (by_mid, [mid of each sent message], dsn_mid)."""
    stored = hub.queued()
    by_mid, mids, dsn = {}, [], []
    for qid, (sender, rcpts, body) in stored.items():
        mid = dc.header_value(body, "Message-ID")
        by_mid[mid] = body
        if sender == "":
            dsn.append(mid)
    for i, (rcpts, data) in enumerate(msgs):
        subject = b"Subject: heal %s %d\r\n" % (tag.encode(), i)
        match = [m for m, body in by_mid.items() if subject in body and m not in dsn]
        assert len(match) == 1, (i, match)
        ddheal.check_hub_copy(by_mid[match[0]], data, "hub1.example.test")
        mids.append(match[0])
    assert len(dsn) == 1, "expected one DSN in the hub's store, got %r" % dsn
    return by_mid, mids, dsn[0]


def check_mailboxes(dv, expected, by_mid):
    """Each user holds exactly the expected Message-IDs, once each, and each copy is
    the hub's stored copy byte for byte after Dovecot's trace fields."""
    for user in USERS + [OWNER]:
        got = dv.messages(user)
        ids = sorted(m.message_id for m in got)
        assert ids == sorted(expected[user]), (user, ids, sorted(expected[user]))
        for m in got:
            _, rest = ddheal.strip_lmtp_trace(m.raw, dv.hostname)
            assert rest == by_mid[m.message_id], "%s: %s differs from the hub's copy" % (
                user, m.message_id)


def check_dsn(dv, hub, dsn_mid, orig_mid):
    """The sender's mailbox holds exactly one DSN: the unknown user, 5.1.1, the
    original's headers."""
    got = dv.messages(OWNER)
    assert [m.message_id for m in got] == [dsn_mid], got
    raw = got[0].raw
    assert dc.header_value(raw, "Return-Path") == "<>", raw[:300]
    assert b"multipart/report; report-type=delivery-status" in raw, raw[:600]
    assert b"Final-Recipient: rfc822; %s\r\n" % UNKNOWN.encode() in raw, raw
    assert b"Status: 5.1.1\r\n" in raw, raw
    assert raw.count(b"Final-Recipient:") == 1, raw
    assert orig_mid.encode() in raw
    log = hub.log()
    assert log.count("sender non-delivery notification") == 1, log
    assert "to=<%s>" % UNKNOWN in log and "dsn=5.1.1, status=bounced (550 5.1.1" in log, log


def heal(transport, probe_down=False, probe=True):
    """One whole scenario over LMTP `transport` ("tcp" or "unix"); probe False:
    the request says "probe": false."""
    tag = transport + ("-pd" if probe_down else "") + ("" if probe else "-np")
    msgs = corpus(tag)
    with dc.Dovecot(users=USERS + [OWNER]) as dv:
        gate = Gate(dv.http_port) if probe_down else None
        dest = dv.dest_tcp() if transport == "tcp" else dv.dest_unix()
        sg = {"SG1": ddheal.probe_options(dv)}
        if gate:
            sg["SG1"]["probe"] = "doveadm:http://127.0.0.1:%d" % gate.port
        with Hub(directory="@example.test\tSG1\n", dests={"SG1": dest}, sg_options=sg,
                 extra="[dumpster]\nmax_age = 86400\n",
                 admin={"token_hash": ddheal.TOKEN_HASH}) as hub:
            t0 = time.time()
            send_all(hub, msgs)
            total = sum(len([r for r in rc if r != UNKNOWN]) for rc, _ in msgs) + 1
            wait_for(lambda: dv.count(USERS + [OWNER]) >= total, what="%d copies" % total)
            wait_for(lambda: ddheal.queue_empty(hub.admin_port), what="an empty queue")
            by_mid, mids, dsn_mid = hub_copies(hub, msgs, tag)
            expected = {u: [mids[i] for i, (rc, _) in enumerate(msgs) if u in rc] for u in USERS}
            expected[OWNER] = [dsn_mid]
            check_mailboxes(dv, expected, by_mid)
            check_dsn(dv, hub, dsn_mid, mids[3])

            # one copy in another folder: "all folders" is the probe's and our reader's job
            dv.doveadm_cli("move", "-u", USERS[0], "Archive", "mailbox", "INBOX",
                           "header", "Message-ID", mids[0])
            assert [m.folder for m in dv.messages(USERS[0]) if m.message_id == mids[0]] == \
                ["Archive"]
            pairs = [(u, mid) for u in expected for mid in expected[u]]
            assert all(dv.has_message_ids(pairs).values())

            # the lossy failover
            lost = [(m.user, m.message_id) for u, n in LOSE.items() for m in dv.lose_newest(u, n)]
            assert len(lost) == sum(LOSE.values())
            assert not any(dv.has_message_ids(lost).values()), "doveadm still finds lost mail"
            copies, never_lost = len(pairs), len(pairs) - len(lost)

            window = {"storage_group": "SG1", "start": t0 - 1, "end": time.time() + 1,
                      "reason": "test_dovecot lossy failover"}
            if not probe:
                window["probe"] = False
            if not gate:
                st, dry = ddheal.api(hub.admin_port, "POST", "/v1/resubmit",
                                     dict(window, dry_run=True))
                assert st == 200 and dry["matched"] == copies, (st, dry)
                want = {"asked": True, "present": never_lost, "missing": len(lost),
                        "unknown": 0} if probe else {"asked": False, "present": 0, "missing": 0,
                                                     "unknown": copies}
                assert dry["probe_answers"] == want, dry
            if gate:
                gate.down()
            req = ddheal.resubmit(hub.admin_port, window)
            assert req["coverage"]["complete"] is True, req
            if gate:
                check_waits_for_probe(hub, dv, req["id"], copies - len(lost))
                gate.up()
            done = ddheal.wait_request_done(hub.admin_port, req["id"])
            target = copies if probe else 2 * copies - len(lost)
            wait_for(lambda: dv.count(USERS + [OWNER]) >= target, what="%d copies" % target)
            wait_for(lambda: ddheal.queue_empty(hub.admin_port), what="an empty queue")
            if gate:
                gate.stop()

            # every lost copy is back, byte for byte
            for user, mid in lost:
                back = [m for m in dv.messages(user) if m.message_id == mid]
                assert back, "%s: lost copy %s not resent" % (user, mid)
                for m in back:
                    assert ddheal.strip_lmtp_trace(m.raw, dv.hostname)[1] == by_mid[mid], mid
            for user in expected:  # and nothing the user had is gone
                held = dv.message_ids(user)
                assert all(held.get(mid) for mid in expected[user]), (user, held)
            dups = dv.duplicates(USERS + [OWNER])
            print("     %s: %d copies, %d lost, all %d back; matched %d; duplicates %d" % (
                tag, copies, len(lost), len(lost), done["matched"], dups), flush=True)
            answers = probe_answers(hub)
            if probe:
                assert dups == 0, "exact heal: %d duplicates" % dups
                assert done.get("skipped_present") == never_lost, done
                assert done.get("queued") == len(lost), done
                assert dv.count(USERS + [OWNER]) == copies
                asks = 1 if gate else 2  # the dry run asked too
                assert answers["present"] == asks * never_lost, answers
                assert answers["missing"] == asks * len(lost), answers
                assert (answers["error"] > 0) == bool(gate), answers
            else:
                # the hub resends every copy of the window and Dovecot keeps them all
                assert done.get("skipped_present") == 0, done
                assert dups == never_lost, (dups, never_lost)
                assert dv.count(USERS + [OWNER]) == 2 * copies - len(lost)
                assert answers["present"] == answers["missing"] == 0, answers


def probe_answers(hub):
    """dumpsterd_probe_answers_total by answer, from GET /metrics."""
    out = {}
    for line in ddheal.metrics(hub.admin_port).splitlines():
        if line.startswith("dumpsterd_probe_answers_total{answer=\""):
            name = line.split('"')[1]
            out[name] = int(float(line.rsplit(" ", 1)[1]))
    assert set(out) == {"present", "missing", "no_user", "error"}, out
    return out


def check_waits_for_probe(hub, dv, rid, present):
    """While the probe cannot be reached the request resends nothing and is not done."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        r = ddheal.request(hub.admin_port, rid)
        assert r["state"] != "done", "request done while the probe was down: %r" % r
        assert dv.count(USERS + [OWNER]) == present, "resent while the probe was down"
        time.sleep(0.1)  # observing a period in which nothing may happen


class Gate:
    """A TCP relay in front of Dovecot's doveadm HTTP port that can refuse
    connections (down: nothing listens) and then forward them (up)."""

    def __init__(self, target):
        self.target = target
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.sock = None
        self.threads = []

    def down(self):
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() in serve()
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def up(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        t = threading.Thread(target=self.serve, args=(self.sock,), daemon=True)
        t.start()
        self.threads.append(t)

    def serve(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target), timeout=30)
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.down()


def test_doveadm_http_api():
    """The exchange DOVEADM_HTTP_API.md documents, against the private Dovecot."""
    with dc.Dovecot(users=USERS) as dv:
        mid = "<api-1@example.net>"
        data = ("From: %s\r\nMessage-ID: %s\r\nSubject: api\r\n\r\nx\r\n" % (OWNER, mid)).encode()
        replies = dc.lmtp_send(dv.dest_tcp(), OWNER, [USERS[0], UNKNOWN, USERS[1]], data)
        assert [c for c, _ in replies] == [250, 250], replies
        dv.doveadm_cli("move", "-u", USERS[1], "Archive", "mailbox", "INBOX", "all")
        batch = [["search", {"user": USERS[0], "query": ["mailbox", "*", "header", "Message-ID",
                                                          mid]}, "0"],
                 ["search", {"user": USERS[1], "query": ["mailbox", "*", "header", "Message-ID",
                                                          mid]}, "1"],
                 ["search", {"user": USERS[2], "query": ["mailbox", "*", "header", "Message-ID",
                                                          mid]}, "2"],
                 ["search", {"user": UNKNOWN, "query": ["mailbox", "*", "header", "Message-ID",
                                                        mid]}, "3"]]
        for auth in ("api-key", "basic"):
            status, answer = dv.doveadm_http(batch, auth=auth)
            assert status == 200, (auth, status, answer)
            assert [a[2] for a in answer] == ["0", "1", "2", "3"], answer
            assert [a[0] for a in answer] == ["doveadmResponse"] * 3 + ["error"], answer
            assert len(answer[0][1]) == 1 and set(answer[0][1][0]) == {"mailbox-guid", "uid"}
            assert len(answer[1][1]) == 1 and answer[2][1] == [], answer
            assert answer[3][1] == {"type": "exitCode", "exitCode": 67}, answer
        key = base64.b64encode(b"wrong").decode()
        assert dv.doveadm_http(batch, auth="X-Dovecot-API " + key)[0] == 401
        assert dv.doveadm_http(batch, auth="Basic " + key)[0] == 401
        # fetch names the folder and gives the exact header value
        status, answer = dv.doveadm_http([["fetch", {
            "user": USERS[1], "field": ["mailbox", "uid", "hdr.message-id"],
            "query": ["mailbox", "*", "header", "Message-ID", mid]}, "f"]])
        assert status == 200 and answer[0][1] == [
            {"mailbox": "Archive", "uid": "1", "hdr.message-id": mid}], answer
        # HEADER is a case-insensitive substring match: the angle brackets make it whole
        got = dv.has_message_ids([(USERS[0], mid), (USERS[0], "<api-1@example.ne>"),
                                  (USERS[0], mid.upper()), (USERS[0], "api-1@example.net")])
        assert list(got.values()) == [True, False, True, True], got
        # a copy deleted behind Dovecot's back is not found any more (maildir resync)
        os.unlink(dv.messages(USERS[0])[0].path)
        assert dv.has_message_ids([(USERS[0], mid), (USERS[1], mid)]) == {
            (USERS[0], mid): False, (USERS[1], mid): True}


def test_heal_lmtp_tcp():
    heal("tcp")


def test_heal_lmtp_unix():
    heal("unix")


def test_heal_probe_down():
    """The probe unreachable for the first seconds: the request waits, then heals
    exactly."""
    heal("tcp", probe_down=True)


def test_heal_without_probe():
    """"probe": false: every copy of the window is resent; Dovecot keeps the doubles."""
    heal("tcp", probe=False)


def test_lmtp_starttls_verified():
    """Dovecot's LMTP with STARTTLS: tls = verify against the test CA delivers in TLS
    (Dovecot's Received: says LMTPS), byte for byte; a name the certificate does not
    carry defers and delivers nothing."""
    certs = ddtls.Certs()
    try:
        with dc.Dovecot(users=USERS, name="mxtls", ssl=(certs.server, certs.server_key)) as dv:
            good = {"tls": "verify", "tls_ca_file": certs.ca, "tls_verify_name": "mbx.example.test"}
            with Hub(directory="@example.test\tSG1\n", dests={"SG1": dv.dest_tcp()},
                     sg_options={"SG1": good}) as hub:
                data = ("From: %s\r\nMessage-ID: <tls-1@example.net>\r\nSubject: tls\r\n\r\n"
                        "in TLS\r\n" % OWNER).encode()
                with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as c:
                    assert not c.sendmail(OWNER, USERS[:2], data)
                wait_for(lambda: dv.count(USERS[:2]) == 2, what="2 copies over STARTTLS")
                assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]:%d" % \
                    dv.lmtp_port in hub.log(), hub.log()[-2000:]
                (_, stored), = [(q, b) for q, (_, _, b) in hub.queued().items()]
                for user in USERS[:2]:
                    (m,) = dv.messages(user)
                    trace, rest = ddheal.strip_lmtp_trace(m.raw, dv.hostname)
                    assert b"with LMTPS" in trace[-1], trace[-1]
                    assert rest == stored, user
            bad = dict(good, tls_verify_name="wrong.example.test")
            with Hub(directory="@example.test\tSG1\n", dests={"SG1": dv.dest_tcp()},
                     sg_options={"SG1": bad}) as hub:
                with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as c:
                    assert not c.sendmail(OWNER, [USERS[2]], data)
                wait_for(lambda: "status=deferred" in hub.log(), what="the deferral")
                assert "Server certificate not verified for 127.0.0.1[127.0.0.1]:%d" % \
                    dv.lmtp_port in hub.log(), hub.log()[-2000:]
                assert dv.count([USERS[2]]) == 0, "delivered to a server of the wrong name"
    finally:
        certs.cleanup()


def main():
    why = dc.usable()
    if why:
        print("skip: %s" % why)
        return 77
    ns = dc.in_private_netns()
    print("network: %s" % ("private namespace (unshare -n), lo only" if ns else
                           "host loopback (no namespace: not root)"), flush=True)
    return 1 if run([test_doveadm_http_api, test_heal_lmtp_tcp, test_heal_lmtp_unix,
                     test_heal_probe_down, test_heal_without_probe,
                     test_lmtp_starttls_verified]) else 0


if __name__ == "__main__":
    sys.exit(main())
