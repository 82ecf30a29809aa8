#!/usr/bin/env python3
"""BODY= and SMTPUTF8 from the client's MAIL FROM go to the next hop (RFC 6152,
6531), kept with the message, so a resubmission carries them too.

SG1 is a server that offers 8BITMIME and SMTPUTF8 (ddpeers.WirePeer, which
records the MAIL FROM lines as they came); SG2 is Postfix's smtp-sink with -8,
which offers neither. To SG2 an 8BITMIME body goes as it is, with a warning
line in the log; a SMTPUTF8 message whose header section is ASCII goes without
SMTPUTF8; one whose header section is UTF-8 cannot go (RFC 6531 3.4) and its
sender gets a report with status 5.6.7.
"""
import hashlib
import os
import sys

from ddpeers import SMTP_SINK, SmtpSink, WirePeer
from ddtest import Client, Hub, expect, run, wait_for
from test_dumpster_e2e import api

TOKEN_HASH = hashlib.blake2b(b"e2e-test-token", digest_size=32).hexdigest()
HUB = SG1 = SG2 = None
UTF8_SUBJECT = "Subject: r\u00e9sum\u00e9 \u00fcber alles\r\n".encode()


def send(params, head, rcpt="bob@example.test", sender="a@example.net"):
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<%s>%s" % (sender, params)), 250)
    expect(c.cmd("RCPT TO:<%s>" % rcpt), 250)
    expect(c.cmd("DATA"), 354)
    c.send(head + b"\r\nb\xc3\xa9dy\r\n.\r\n")
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    c.cmd("QUIT")
    return qid


def txn_with(peer, marker):
    """The first transaction of peer whose data holds marker."""
    def find():
        for t in peer.transactions():
            if marker in t[2]:
                return t
        return None
    return wait_for(find, what="a transaction with %r" % marker)


def test_passed_on_when_offered():
    send(" BODY=8BITMIME SMTPUTF8", UTF8_SUBJECT + b"X-Case: both\r\n")
    send(" BODY=7BIT", b"Subject: seven\r\nX-Case: 7bit\r\n")
    send("", b"Subject: plain\r\nX-Case: none\r\n")
    send(" SMTPUTF8", b"Subject: ascii\r\nX-Case: utf8-ascii\r\n")
    assert txn_with(SG1, b"X-Case: both")[0] == \
        "MAIL FROM:<a@example.net> BODY=8BITMIME SMTPUTF8"
    assert txn_with(SG1, b"X-Case: 7bit")[0] == "MAIL FROM:<a@example.net> BODY=7BIT"
    assert txn_with(SG1, b"X-Case: none")[0] == "MAIL FROM:<a@example.net>"
    assert txn_with(SG1, b"X-Case: utf8-ascii")[0] == "MAIL FROM:<a@example.net> SMTPUTF8"
    with HUB.db() as db:
        rows = dict(db.execute("SELECT queue_id, body * 10 + smtputf8 FROM message").fetchall())
    assert sorted(rows.values()) == [0, 1, 10, 22], rows


def test_carried_on_resubmission():
    send(" BODY=8BITMIME SMTPUTF8", UTF8_SUBJECT + b"Message-ID: <again@example.net>\r\n")
    txn_with(SG1, b"<again@example.net>")
    with HUB.db() as db:
        wait_for(lambda: db.execute("SELECT 1 FROM dumpster_item WHERE message_id ="
                                    " '<again@example.net>'").fetchone(), what="the item")
    status, req = api(HUB, "POST", "/v1/resubmit",
                      {"storage_group": "SG1", "start": 0, "end": 4102444800, "match": "received",
                       "message_id": "<again@example.net>"})
    assert status == 202, (status, req)
    wait_for(lambda: len([t for t in SG1.transactions() if b"<again@example.net>" in t[2]]) == 2,
             what="the resent copy")
    mails = [t[0] for t in SG1.transactions() if b"<again@example.net>" in t[2]]
    assert mails == ["MAIL FROM:<a@example.net> BODY=8BITMIME SMTPUTF8"] * 2, mails


def sink_dump_with(marker):
    def find():
        for d in SG2.dumps():
            if marker in d:
                return d
        return None
    return wait_for(find, what="smtp-sink to get %r" % marker)


def test_8bitmime_not_offered_sent_as_is():
    qid = send(" BODY=8BITMIME", b"Subject: eight\r\nX-Case: sink-8bit\r\n",
               rcpt="carol@sales.example.test")
    dump = sink_dump_with(b"X-Case: sink-8bit")
    mail_args = [l for l in dump.split(b"\n") if l.startswith(b"X-Mail-Args:")]
    assert mail_args == [b"X-Mail-Args: <a@example.net>"], mail_args
    assert b"b\xc3\xa9dy" in dump
    wait_for(lambda: "%s: host 127.0.0.1[127.0.0.1]:%d offers no 8BITMIME" % (qid, SG2.port)
             in HUB.log(), what="the warning line")


def test_smtputf8_ascii_headers_sent_without():
    send(" SMTPUTF8", b"Subject: ascii only\r\nX-Case: sink-utf8-ascii\r\n",
         rcpt="carol@sales.example.test")
    dump = sink_dump_with(b"X-Case: sink-utf8-ascii")
    assert b"X-Mail-Args: <a@example.net>\n" in dump, dump


def test_smtputf8_needed_not_offered_bounces_567():
    qid = send(" SMTPUTF8", UTF8_SUBJECT + b"X-Case: sink-utf8\r\n",
               rcpt="carol@sales.example.test", sender="postmaster@example.test")
    wait_for(lambda: "%s: to=<carol@sales.example.test>" % qid in HUB.log()
             and "dsn=5.6.7, status=bounced" in HUB.log(), what="the 5.6.7 bounce")
    dsn = txn_with(SG1, b"X-Dumpsterd-Queue-ID: " + qid.encode())
    assert dsn[0] == "MAIL FROM:<> BODY=8BITMIME", dsn[0]  # it quotes the UTF-8 header
    assert dsn[1] == ["postmaster@example.test"], dsn[1]
    body = dsn[2]
    assert b"Final-Recipient: rfc822; carol@sales.example.test\r\nAction: failed\r\n" \
           b"Status: 5.6.7\r\n" in body, body
    assert b"Diagnostic-Code: X-Dumpsterd; SMTPUTF8 is required, but was not offered by host" \
        in body, body
    assert not [d for d in SG2.dumps() if b"X-Case: sink-utf8\n" in d], "sent anyway"



def main():
    global HUB, SG1, SG2
    if not os.path.exists(SMTP_SINK):
        print("skip: no smtp-sink")
        sys.exit(77)
    with WirePeer() as sg1, SmtpSink(args=["-8"]) as sg2:
        SG1, SG2 = sg1, sg2
        with Hub(dests={"SG1": sg1.dest(), "SG2": sg2.dest()},
                 admin={"token_hash": TOKEN_HASH}) as hub:
            HUB = hub
            failed = run([test_passed_on_when_offered, test_carried_on_resubmission,
                          test_8bitmime_not_offered_sent_as_is,
                          test_smtputf8_ascii_headers_sent_without,
                          test_smtputf8_needed_not_offered_bounces_567])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
