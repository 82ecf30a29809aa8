#!/usr/bin/env python3
"""PIPELINING (a whole transaction in one write) and CHUNKING (BDAT in pieces)."""
import sys

from ddtest import Client, Hub, expect, run

HUB = None


def stored(qid):
    return HUB.queued()[qid]


def test_whole_transaction_in_one_write():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    c.send(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.test>\r\n"
           b"RCPT TO:<nobody@elsewhere.net>\r\nRCPT TO:<carol@sales.example.test>\r\nDATA\r\n"
           b"Subject: pipelined\r\n\r\nbody\r\n.\r\n"
           b"MAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: second\r\n\r\n.\r\n"
           b"QUIT\r\n")
    expect(c.reply(), 250, "2.1.0")
    expect(c.reply(), 250, "2.1.5")
    expect(c.reply(), 554, "5.7.1")
    expect(c.reply(), 250, "2.1.5")
    expect(c.reply(), 354)
    q1 = expect(c.reply(), 250, "queued as").split()[-1]
    expect(c.reply(), 250, "2.1.0")
    expect(c.reply(), 250, "2.1.5")
    expect(c.reply(), 354)
    q2 = expect(c.reply(), 250, "queued as").split()[-1]
    expect(c.reply(), 221)
    assert c.closed()
    sender, rcpts, body = stored(q1)
    assert rcpts == ["bob@example.test", "carol@sales.example.test"], rcpts
    assert b"\r\nSubject: pipelined\r\n" in body and body.endswith(b"\r\n\r\nbody\r\n"), body
    sender, rcpts, body = stored(q2)
    assert sender == "" and b"\r\nSubject: second\r\n" in body, (sender, body)
    assert body.endswith(b"@hub1.example.test>\r\n\r\n"), body


def bdat_session():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    return c


def test_bdat_several_chunks():
    c = bdat_session()
    content = b"Subject: chunked\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(2000))
    pieces = [content[:7], content[7:19], content[19:20], content[20:5000], content[5000:]]
    for p in pieces[:-1]:
        c.send(b"BDAT %d\r\n" % len(p) + p)
        expect(c.reply(), 250, "octets received")
    c.send(b"BDAT %d LAST\r\n" % len(pieces[-1]) + pieces[-1])
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    body = stored(qid)[2]
    head, text = content.split(b"\r\n\r\n", 1)
    assert head + b"\r\n" in body and body.endswith(b"\r\n\r\n" + text), body[-200:]
    assert body.count(b"Message-ID: <%s@" % qid.encode()) == 1
    # BDAT content is not dot-stuffed: a line "." is just a line
    c.cmd("MAIL FROM:<a@example.net>")
    c.cmd("RCPT TO:<bob@example.test>")
    data = b"Subject: dots\r\n\r\n.\r\n..\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(data) + data)
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    assert stored(qid)[2].endswith(b"\r\n\r\n.\r\n..\r\n")


def test_bdat_pipelined_with_zero_last():
    c = bdat_session()
    data = b"Subject: z\r\n\r\nhello\r\n"
    c.send(b"BDAT %d\r\n" % len(data) + data + b"BDAT 0 LAST\r\nNOOP\r\n")
    expect(c.reply(), 250, "%d octets" % len(data))
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    expect(c.reply(), 250, "2.0.0")
    body = stored(qid)[2]
    assert b"\r\nSubject: z\r\n" in body and body.endswith(b"\r\n\r\nhello\r\n"), body


def test_bdat_without_mail_consumes_chunk():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    c.send(b"BDAT 12\r\nNOOP\r\nNOOP\r\n")  # the 12 octets are content, not commands
    expect(c.reply(), 503, "5.5.1")
    expect(c.cmd("VRFY x"), 252)


def test_bdat_size_exceeded():
    c = bdat_session()
    data = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n"
    n = 0
    while True:
        c.send(b"BDAT %d\r\n" % len(data) + data)
        code, lines = c.reply()
        n += 1
        if code != 250:
            break
        assert n < 200
    assert code == 552 and "5.3.4" in lines[0], lines
    c.send(b"BDAT 3 LAST\r\nabc")
    expect(c.reply(), 503, "5.5.1")  # the transaction is gone


def test_data_dot_stuffing_and_empty_message():
    c = bdat_session()
    expect(c.cmd("DATA"), 354)
    c.send(b".\r\n")
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    body = stored(qid)[2]
    assert body.startswith(b"Received: ") and body.endswith(b"@hub1.example.test>\r\n"), body


def main():
    global HUB
    with Hub(smtp={"max_message_size": 100000}) as hub:
        HUB = hub
        failed = run([test_whole_transaction_in_one_write, test_bdat_several_chunks,
                      test_bdat_pipelined_with_zero_last, test_bdat_without_mail_consumes_chunk,
                      test_bdat_size_exceeded, test_data_dot_stuffing_and_empty_message])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
