#!/usr/bin/env python3
"""Never an open relay: a corpus of relay tricks, each refused or kept local.

A recipient is either refused (5xx) or accepted into the storage group the
directory gives its domain; nothing is ever queued for a domain that is not
ours, whatever %, !, source routes, extra @ or quoting say.
"""
import sys

from ddtest import Client, Hub, expect, run

# (recipient as sent, expected reply code, storage group if accepted)
CORPUS = [
    ("<victim@elsewhere.net>", 554, None),
    ("<victim@ELSEWHERE.NET>", 554, None),
    ("<victim@[10.0.0.1]>", 554, None),
    ("<victim@[127.0.0.1]>", 554, None),
    ("<victim@[IPv6:::1]>", 554, None),
    ("<@example.test:victim@elsewhere.net>", 554, None),
    ("<@example.test,@relay.example.test:victim@elsewhere.net>", 554, None),
    ("<victim%elsewhere.net@[127.0.0.1]>", 554, None),
    ("<victim@elsewhere.net@example.test>", 501, None),
    ("<elsewhere.net!victim>", 501, None),
    ("<\"victim@elsewhere.net\">", 501, None),
    ("<victim>", 501, None),
    ("<postmaster>", 501, None),
    ("victim@elsewhere.net", 501, None),
    ("<victim@sub.example.test>", 554, None),
    ("<victim@example.test.elsewhere.net>", 554, None),
    ("<victim@example.testx>", 554, None),
    ("<victim@elsewhere.net>  ", 554, None),
    ("<victim%elsewhere.net@example.test>", 250, "SG1"),
    ("<elsewhere.net!victim@example.test>", 250, "SG1"),
    ("<\"victim@elsewhere.net\"@example.test>", 250, "SG1"),
    ("<@elsewhere.net:victim@example.test>", 250, "SG1"),
    ("<nobody@example.org>", 550, None),
    ("<alice@EXAMPLE.ORG>", 250, "SG2"),
    ("<boss@sales.example.test>", 250, "SG1"),
    ("<clerk@sales.example.test>", 250, "SG2"),
]


def test_relay_corpus():
    with Hub(smtp={"max_errors": 1000}) as hub:
        c = Client(hub.port)
        expect(c.cmd("EHLO relay.tester.example"), 250)
        for rcpt, code, sg in CORPUS:
            expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
            got = c.cmd("RCPT TO:" + rcpt)
            assert got[0] == code, (rcpt, got)
            if code != 250:
                expect(c.cmd("RSET"), 250)
                continue
            expect(c.cmd("DATA"), 354)
            c.send(b"Subject: relay test\r\n\r\nx\r\n.\r\n")
            qid = expect(c.reply(), 250, "queued as").split()[-1]
            with hub.db() as db:
                rows = db.execute("SELECT r.rcpt, r.sg FROM recipient r JOIN message m "
                                  "ON m.id = r.msg WHERE m.queue_id = ?", (qid,)).fetchall()
            assert len(rows) == 1 and rows[0][1] == sg, (rcpt, rows)
            domain = rows[0][0].rsplit("@", 1)[1]
            assert domain in ("example.test", "example.org", "sales.example.test"), rows
        with hub.db() as db:
            sgs = {sg for (sg,) in db.execute("SELECT DISTINCT sg FROM recipient")}
        assert sgs <= {"SG1", "SG2"}, sgs


if __name__ == "__main__":
    sys.exit(1 if run([test_relay_corpus]) else 0)
