"""Delivery to mailbox servers: postfix's smtp-sink and our mbxsink as real peers.

Mail goes in with smtplib, out through dumpsterd's pooled SMTP/LMTP client;
what the peers stored (and the store's recipient states) is what is checked.
"""
import email
import os
import re
import signal
import smtplib
import sys
import threading

from ddtest import Hub, free_port, run, wait_for
from ddpeers import MBXSINK, SMTP_SINK, Dns, Mbxsink, SmtpSink


def send(hub, rcpts, subject="test", sender="sender@example.net", body="hello\r\n", mid=None):
    msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n" % (sender, ", ".join(rcpts), subject)
    if mid:
        msg += "Message-ID: <%s>\r\n" % mid
    msg += "\r\n" + body
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
        s.sendmail(sender, rcpts, msg.encode())


def states(hub):
    """rcpt -> state of every recipient row still in the store."""
    with hub.db() as db:
        return {r: st for r, st in db.execute("SELECT rcpt, state FROM recipient")}


def open_recipients(hub):
    """Recipients not yet final (pending or being delivered)."""
    with hub.db() as db:
        return db.execute("SELECT count(*) FROM recipient WHERE state < 2").fetchone()[0]


def test_smtp_sink_delivery():
    with SmtpSink() as sink, Hub(dests={"SG2": sink.dest()}) as hub:
        for i in range(5):
            send(hub, ["alice@example.org"], subject="n%d" % i, body="line %d\r\n.dot\r\n" % i)
        wait_for(lambda: len(sink.dumps()) == 5 and all(b"line " in d for d in sink.dumps()),
                 what="5 messages at smtp-sink")
        for d in sink.dumps():
            assert b"Received: from " in d and b"by hub1.example.test" in d, d
            assert b"alice@example.org" in d
            assert re.search(rb"\n\.dot\r?\n", d), d  # stuffed by us, unstuffed by the sink
        wait_for(lambda: open_recipients(hub) == 0, what="delivered mail to leave the queue")
        # the log line follows the peer's reply, which follows what the peer stored
        wait_for(lambda: hub.log().count("status=sent") == 5, what="5 status=sent lines")
        assert "relay=127.0.0.1[127.0.0.1]:%d" % sink.port in hub.log()


def test_smtp_sink_out_of_step():
    """smtp-sink -W rcpt:3 answers pipelined commands out of step (MAIL's 250, DATA's
    503 "need RCPT command", then the late RCPT 250): a temporary failure of that
    connection, retried with backoff, never a bounce; the same sink without the
    delay (same port) then takes every message once."""
    with SmtpSink(args=["-W", "rcpt:3"]) as sink, \
            Hub(dests={"SG2": sink.dest()},
                delivery={"retry_initial": 1, "retry_max": 2}) as hub:
        for i in range(3):
            send(hub, ["alice@example.org"], subject="oos%d" % i)
        wait_for(lambda: hub.log().count("replies out of step") >= 6,
                 what="two out-of-step deferrals per message")
        log = hub.log()
        assert "status=bounced" not in log and "from=<>" not in log, log
        assert re.search(r"to=<alice@example.org>, .*dsn=4\.5\.0, status=deferred "
                         r"\(replies out of step from 127\.0\.0\.1\[127\.0\.0\.1\]:%d: "
                         r"\"503 5\.5\.1 Error: need RCPT command\" in reply to RCPT TO\)"
                         % sink.port, log), log
        assert set(states(hub).values()) == {0}, states(hub)  # pending, retried
        assert not any(b"Subject: oos" in d for d in sink.dumps())  # no content went
        port = sink.port
        sink.proc.kill()  # the same sink again, in step now
        sink.proc.wait()
        sink.proc = None
        fixed = SmtpSink()
        fixed.port = port
        with fixed:
            wait_for(lambda: open_recipients(hub) == 0, what="the deferred mail delivered")
            assert sorted(re.findall(rb"Subject: (oos\d)", b"".join(fixed.dumps()))) == [
                b"oos0", b"oos1", b"oos2"]
        assert "status=bounced" not in hub.log()


def test_connection_reuse():
    with Mbxsink() as mbx, Hub(dests={"SG2": mbx.dest()},
                               delivery={"concurrency_per_destination": 2}) as hub:
        threads = [threading.Thread(target=lambda k=k: [
            send(hub, ["alice@example.org"], subject="t%d-%d" % (k, i)) for i in range(10)])
            for k in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        wait_for(lambda: mbx.stats()["stored"] == 30, what="30 messages stored")
        st = mbx.stats()
        assert st["connections"] <= 2, st  # reused, never more than the pool allows
        assert st["duplicates"] == 0, st


def test_lmtp_partial_failure():
    with Mbxsink(lmtp=True) as mbx, Hub(dests={"SG1": mbx.dest()}) as hub:
        mbx.control("FAIL LMTP bob@example.test 550")
        send(hub, ["alice@example.test", "bob@example.test"], sender="")
        wait_for(lambda: mbx.stats()["stored"] == 1, what="the message at the sink")
        wait_for(lambda: "to=<bob@example.test>" in hub.log(), what="bob's outcome")
        log = hub.log()
        assert re.search(r"to=<alice@example.test>.*status=sent", log), log
        assert re.search(r"to=<bob@example.test>.*dsn=5\.\d\.\d, status=bounced", log), log
        wait_for(lambda: open_recipients(hub) == 0, what="the message to be final")


def test_retry_after_4xx():
    with Mbxsink() as mbx, Hub(dests={"SG2": mbx.dest()},
                               delivery={"retry_initial": 1, "retry_max": 2}) as hub:
        mbx.control("FAIL RCPT alice@example.org 450")
        send(hub, ["alice@example.org"])
        wait_for(lambda: hub.log().count("status=deferred") >= 2, what="two deferrals")
        assert mbx.stats()["stored"] == 0
        assert states(hub) == {"alice@example.org": 0}
        mbx.control("CLEAR")
        wait_for(lambda: mbx.stats()["stored"] == 1, what="delivery after the 4xx stops")
        wait_for(lambda: open_recipients(hub) == 0, what="the queue to empty")


def test_fallback_second_address():
    dead = free_port()
    with Mbxsink() as mbx:
        dest = "smtp:[127.0.0.1]:%d,%s" % (dead, mbx.dest())
        with Hub(dests={"SG2": dest}) as hub:
            send(hub, ["alice@example.org"])
            wait_for(lambda: mbx.stats()["stored"] == 1, what="delivery to the second address")
            assert "connect to 127.0.0.1[127.0.0.1]:%d" % dead in hub.log(), hub.log()


def test_bounce_after_lifetime():
    """A message that cannot be delivered for max_queue_lifetime bounces to its sender;
    the sender is local here, so the report lands in mbxsink and is parsed whole."""
    dead = free_port()
    with Mbxsink() as mbx:
        directory = "@example.test\tSG1\n@example.org\tSG2\n"
        with Hub(directory=directory, dests={"SG1": "smtp:[127.0.0.1]:%d" % dead,
                                             "SG2": mbx.dest()},
                 delivery={"retry_initial": 1, "retry_max": 1,
                           "max_queue_lifetime": 2}) as hub:
            send(hub, ["nobody@example.test"], sender="alice@example.org", subject="lost one")
            wait_for(lambda: mbx.stats()["stored"] == 1, what="the bounce at the sender's SG")
            dsn = email.message_from_bytes(mbx.messages()[0])
            assert dsn.get_content_type() == "multipart/report", dsn
            assert dsn.get_param("report-type") == "delivery-status"
            assert dsn["To"].strip("<>") == "alice@example.org", dsn["To"]
            parts = dsn.get_payload()
            assert [p.get_content_type() for p in parts] == [
                "text/plain", "message/delivery-status", "text/rfc822-headers"], parts
            status = parts[1].as_string()
            assert "Final-Recipient: rfc822; nobody@example.test" in status, status
            assert "Action: failed" in status and "Status: 4." in status, status
            assert "Subject: lost one" in parts[2].as_string()
            assert re.search(r"to=<nobody@example.test>.*status=bounced", hub.log())
            # the bounce itself came from <> (never bounced again)
            assert "from=<>" in hub.log(), hub.log()


def test_sigkill_during_delivery():
    """At least once: every accepted message arrives, some may arrive twice."""
    with Mbxsink() as mbx:
        hub = Hub(dests={"SG2": mbx.dest()})
        try:
            hub.start()
            mids = ["kill%d@example.net" % i for i in range(60)]
            for m in mids[:30]:
                send(hub, ["alice@example.org"], mid=m)
            hub.kill()
            hub.start()
            for m in mids[30:]:
                send(hub, ["alice@example.org"], mid=m)
            wait_for(lambda: hub.log().count("status=sent") >= 30, what="some deliveries")
            hub.kill()
            hub.start()
            wait_for(lambda: mbx.stats()["stored"] == 60, timeout=60, what="all 60 stored")
            st = mbx.stats()
            got = b"".join(mbx.messages())
            for m in mids:
                assert ("<%s>" % m).encode() in got, m
            wait_for(lambda: open_recipients(hub) == 0, what="the queue to empty")
            print("sigkill: %d stored, %d duplicates dropped by the sink" %
                  (st["stored"], st["duplicates"]))
        finally:
            hub.cleanup()


def test_destination_change_while_deferred():
    dead = free_port()
    with Mbxsink() as mbx:
        hub = Hub(dests={"SG2": "smtp:[127.0.0.1]:%d" % dead},
                  delivery={"retry_initial": 600, "retry_max": 900})
        try:
            hub.start()
            for i in range(3):
                send(hub, ["alice@example.org"], subject="moved %d" % i)
            wait_for(lambda: hub.log().count("status=deferred") == 3, what="3 deferrals")
            with open(hub.conf_path) as f:
                conf = f.read()
            with open(hub.conf_path, "w") as f:
                f.write(conf.replace("smtp:[127.0.0.1]:%d" % dead, mbx.dest()))
            hub.proc.send_signal(signal.SIGHUP)
            # retry_initial is 10 minutes: only the destination change makes them due now
            wait_for(lambda: mbx.stats()["stored"] == 3, what="delivery to the new destination")
        finally:
            hub.cleanup()


def test_unix_socket_destination():
    """lmtp:unix:/path: the mailbox server on a unix socket."""
    import tempfile
    sockdir = tempfile.mkdtemp(prefix="ddsock-")
    path = os.path.join(sockdir, "lmtp.sock")
    try:
        with Mbxsink(lmtp=True, args=["--listen", "unix:" + path]) as mbx, \
                Hub(dests={"SG1": "lmtp:unix:" + path}) as hub:
            send(hub, ["alice@example.test"], subject="over a unix socket")
            wait_for(lambda: mbx.stats()["stored"] == 1, what="delivery over the unix socket")
            wait_for(lambda: "relay=unix:%s" % path in hub.log(), what="the delivery line")
    finally:
        import shutil
        shutil.rmtree(sockdir, ignore_errors=True)


def test_host_destination_dns_ttl():
    """A HOST destination is resolved through the configured DNS server, once per TTL."""
    with Mbxsink() as mbx, Dns({"mbx.example.test": "127.0.0.1"}, ttl=300) as dns:
        with Hub(dests={"SG2": "smtp:mbx.example.test:%d" % mbx.port},
                 delivery={"resolver": "127.0.0.1:%d" % dns.port}) as hub:
            send(hub, ["alice@example.org"], subject="one")
            wait_for(lambda: mbx.stats()["stored"] == 1, what="delivery by host name")
            send(hub, ["alice@example.org"], subject="two")
            wait_for(lambda: mbx.stats()["stored"] == 2, what="second delivery")
            a_queries = [q for q in dns.queries if q == ("mbx.example.test", 1)]
            assert len(a_queries) == 1, dns.queries  # the second came from the cache


if __name__ == "__main__":
    if not os.path.exists(MBXSINK):
        print("skip: %s not built" % MBXSINK)
        sys.exit(77)
    tests = [test_connection_reuse, test_lmtp_partial_failure, test_retry_after_4xx,
             test_fallback_second_address, test_bounce_after_lifetime,
             test_sigkill_during_delivery, test_destination_change_while_deferred,
             test_unix_socket_destination, test_host_destination_dns_ttl]
    if os.path.exists(SMTP_SINK):
        tests[:0] = [test_smtp_sink_delivery, test_smtp_sink_out_of_step]
    else:
        print("note: smtp-sink missing (Debian package postfix); its case is left out")
    sys.exit(1 if run(tests) else 0)
