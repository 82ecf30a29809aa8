#!/usr/bin/env python3
"""One conversation per reply code of SPEC section 4, against the real dumpsterd."""
import smtplib
import sys

from ddtest import Client, Hub, expect, run, wait_for

HUB = None


def client(**kw):
    c = Client(HUB.port, **kw)
    return c


def ehlo(c):
    return c.cmd("EHLO client.example.net")


def test_greeting_and_ehlo():
    c = client()
    assert c.greeting == (220, ["220 hub1.example.test ESMTP dumpsterd"]), c.greeting
    text = expect(ehlo(c), 250)
    for kw in ("PIPELINING", "SIZE 1048576", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING",
               "SMTPUTF8"):
        assert kw in text, (kw, text)
    expect(c.cmd("QUIT"), 221, "2.0.0")
    assert c.closed()


def test_helo_noop_rset_vrfy_help():
    c = client()
    expect(c.cmd("HELO client.example.net"), 250, "hub1.example.test")
    expect(c.cmd("NOOP"), 250, "2.0.0")
    expect(c.cmd("RSET"), 250, "2.0.0")
    expect(c.cmd("VRFY postmaster"), 252, "2.0.0")
    expect(c.cmd("HELP"), 214)
    expect(c.cmd("QUIT"), 221)


def test_unknown_command_500():
    c = client()
    expect(c.cmd("FROB x"), 500, "5.5.1")
    expect(c.cmd("EXPN staff"), 502, "5.5.1")


def test_out_of_order_503():
    c = client()
    expect(c.cmd("MAIL FROM:<a@example.net>"), 503, "5.5.1")
    ehlo(c)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 503, "5.5.1")
    expect(c.cmd("DATA"), 503, "5.5.1")
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250, "2.1.0")
    expect(c.cmd("MAIL FROM:<a@example.net>"), 503, "5.5.1")
    expect(c.cmd("DATA"), 503, "5.5.1")  # need RCPT command
    expect(c.cmd("RCPT TO:<nobody@elsewhere.example>"), 554, "5.7.1")
    expect(c.cmd("DATA"), 554, "5.5.1")  # no valid recipients


def test_syntax_501_555_553():
    c = client()
    ehlo(c)
    expect(c.cmd("MAIL FROM:<a@@example.net>"), 501, "5.1.7")
    expect(c.cmd("MAIL FROM:<a@example.net> FROB=1"), 555, "5.5.4")
    expect(c.cmd("MAIL FROM:<j\u00f6rg@example.net>"), 553, "5.6.7")
    expect(c.cmd("MAIL FROM:<j\u00f6rg@example.net> SMTPUTF8"), 250)
    expect(c.cmd("RCPT TO:<u@x@example.test>"), 501, "5.1.3")


def test_unknown_user_550_and_relay_554():
    c = client()
    ehlo(c)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<nobody@example.org>"), 550, "5.1.1")
    expect(c.cmd("RCPT TO:<someone@elsewhere.net>"), 554, "5.7.1")
    expect(c.cmd("RCPT TO:<Bob@EXAMPLE.test>"), 250, "2.1.5")
    wait_for(lambda: "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1" in HUB.log(),
             what="reject log line")


def test_command_line_too_long_500():
    c = client()
    ehlo(c)
    expect(c.cmd("NOOP " + "x" * 600), 500, "5.5.2")
    expect(c.cmd("NOOP"), 250)  # the rest of the long line was skipped


def test_size_at_mail_552():
    c = client()
    ehlo(c)
    expect(c.cmd("MAIL FROM:<a@example.net> SIZE=2000000"), 552, "5.3.4")
    expect(c.cmd("MAIL FROM:<a@example.net> SIZE=1000"), 250)


def send_data(c, rcpt, data):
    ehlo(c)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<%s>" % rcpt), 250)
    expect(c.cmd("DATA"), 354)
    c.send(data)
    return c.reply()


def test_size_at_end_of_data_552():
    c = client()
    line = b"x" * 998 + b"\r\n"
    got = send_data(c, "bob@example.test", b"Subject: big\r\n\r\n" + line * 1100 + b".\r\n")
    expect(got, 552, "5.3.4")
    expect(c.cmd("NOOP"), 250)


def test_text_line_too_long_rejected():
    c = client()
    got = send_data(c, "bob@example.test", b"Subject: x\r\n\r\n" + b"y" * 1001 + b"\r\n.\r\n")
    expect(got, 500, "5.5.2")


def test_too_many_recipients_452():
    c = client()
    ehlo(c)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    for i in range(5):
        expect(c.cmd("RCPT TO:<u%d@example.test>" % i), 250)
    expect(c.cmd("RCPT TO:<u9@example.test>"), 452, "4.5.3")


def test_bare_lf_550():
    c = client()
    got = send_data(c, "bob@example.test", b"Subject: x\r\n\r\nline\nmore\r\n.\r\n")
    expect(got, 550, "5.6.0")


def test_hop_limit_554():
    c = client()
    hops = b"".join(b"Received: from h%d by h%d; Wed, 25 Nov 2026 10:00:00 +0000\r\n" % (i, i)
                    for i in range(5))
    got = send_data(c, "bob@example.test", hops + b"Subject: loop\r\n\r\nbody\r\n.\r\n")
    expect(got, 554, "5.4.6")
    c2 = client()
    hops = hops.split(b"\r\n", 1)[1]  # 4 of theirs + ours = 5: still fine
    got = send_data(c2, "bob@example.test", hops + b"Subject: ok\r\n\r\nbody\r\n.\r\n")
    expect(got, 250, "queued as")


def test_queued_250_and_headers():
    c = client()
    got = send_data(c, "bob@example.test", b"Subject: hello\r\n\r\n..dot\r\nbody\r\n.\r\n")
    text = expect(got, 250, "2.0.0 Ok: queued as ")
    qid = text.split()[-1]
    assert len(qid) >= 16, qid
    sender, rcpts, body = HUB.queued()[qid]
    assert sender == "a@example.net" and rcpts == ["bob@example.test"], (sender, rcpts)
    assert body.startswith(b"Received: from client.example.net ([127.0.0.1])\r\n"), body
    assert b"id " + qid.encode() in body.split(b"\r\n\r\n")[0], body
    assert b"Message-ID: <%s@hub1.example.test>\r\n" % qid.encode() in body, body
    assert body.endswith(b"\r\n\r\n.dot\r\nbody\r\n"), body
    wait_for(lambda: "%s: from=<a@example.net>, size=%d, nrcpt=1 (queue active)"
             % (qid, len(body)) in HUB.log(), what="queue active log line")


def test_max_errors_421():
    with Hub(smtp={"max_errors": 3}) as hub:
        c = Client(hub.port)
        expect(c.cmd("BOGUS"), 500)
        expect(c.cmd("RCPT TO:<x@example.test>"), 503)
        expect(c.cmd("BOGUS"), 500)
        expect(c.reply(), 421, "4.7.0")
        assert c.closed()


def test_improper_pipelining_helo_554():
    c = client()
    expect(c.cmd("HELO client.example.net"), 250)
    c.send("MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.test>\r\n")
    expect(c.reply(), 554, "5.5.0")
    assert c.closed()


def test_too_many_connections_421():
    with Hub(smtp={"max_connections": 4, "max_connections_per_ip": 3}) as hub:
        # the start's probe connection must be gone, or it takes one of the 3 slots
        wait_for(lambda: "disconnect from" in hub.log(), what="the probe to be gone")
        held = [Client(hub.port) for _ in range(3)]
        assert [h.greeting[0] for h in held] == [220] * 3, [h.greeting for h in held]
        c = Client(hub.port, greet=False)  # a fourth from the same IP
        expect(c.reply(), 421, "4.7.0")
        assert c.closed()
        held.append(Client(hub.port, source="127.0.0.2"))  # 4 in all: still fine
        c = Client(hub.port, greet=False, source="127.0.0.3")
        expect(c.reply(), 421, "4.7.0")
        assert c.closed()
        held.pop(0).cmd("QUIT")
        wait_for(lambda: Client(hub.port, source="127.0.0.3").greeting[0] == 220,
                 what="a slot to free up")


def test_smtplib_sendmail():
    with smtplib.SMTP("127.0.0.1", HUB.port, timeout=10) as s:
        refused = s.sendmail("a@example.net", ["bob@example.test", "carol@sales.example.test"],
                             "Subject: via smtplib\r\n\r\nhello\r\n")
        assert refused == {}


def main():
    global HUB
    with Hub(smtp={"max_message_size": 1048576, "max_recipients": 5, "max_received_headers": 5}) as hub:
        HUB = hub
        tests = [test_greeting_and_ehlo, test_helo_noop_rset_vrfy_help, test_unknown_command_500,
                 test_out_of_order_503, test_syntax_501_555_553,
                 test_unknown_user_550_and_relay_554, test_command_line_too_long_500,
                 test_size_at_mail_552, test_size_at_end_of_data_552,
                 test_text_line_too_long_rejected, test_too_many_recipients_452,
                 test_bare_lf_550, test_hop_limit_554, test_queued_250_and_headers,
                 test_max_errors_421, test_improper_pipelining_helo_554,
                 test_too_many_connections_421, test_smtplib_sendmail]
        failed = run(tests)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
