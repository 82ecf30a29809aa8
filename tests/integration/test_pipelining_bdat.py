#!/usr/bin/env python3
"""PIPELINING (a whole transaction in one write) and CHUNKING (BDAT in pieces)."""
import select
import socket
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


def test_client_not_reading_replies_is_paused_then_served():
    """A client pipelines without reading its replies: the hub stops reading once its
    replies pile up (it does not buffer them without bound), and serves every command,
    in order, as soon as the client reads. 21 MB of NOOPs is more than the two kernels'
    socket buffers hold, so a hub that kept reading would take them all."""
    n = 3500000
    payload = b"NOOP\r\n" * n
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(("127.0.0.1", HUB.port))
    s.settimeout(10)
    got = b""
    while not got.endswith(b"\r\n"):
        got += s.recv(512)
    assert got.startswith(b"220"), got
    s.sendall(b"EHLO client.example.net\r\n")
    got = b""
    while b"\r\n250 " not in got:
        got += s.recv(4096)
    s.setblocking(False)
    sent = 0
    while sent < len(payload):
        try:
            sent += s.send(payload[sent:sent + 65536])
        except BlockingIOError:
            if not select.select([], [s], [], 3.0)[1]:
                break  # the hub took nothing for 3 s: it stopped reading
    assert sent < len(payload), "the hub read all %d octets while its replies waited" % sent
    replies, tail = 0, b""
    while replies < n:
        want_w = [s] if sent < len(payload) else []
        r, w, _ = select.select([s], want_w, [], 10.0)
        assert r or w, "stalled at %d of %d replies" % (replies, n)
        if w:
            try:
                sent += s.send(payload[sent:sent + 65536])
            except BlockingIOError:
                pass
        if r:
            data = tail + s.recv(1 << 20)
            assert data, "the hub closed after %d replies" % replies
            cut = data.rfind(b"\r\n") + 2
            whole, tail = data[:cut], data[cut:]
            k = whole.count(b"\r\n")
            assert whole.count(b"250 2.0.0 Ok\r\n") == k, whole[:200]
            replies += k
    assert replies == n and tail == b"", (replies, tail)
    s.setblocking(True)
    s.sendall(b"QUIT\r\n")
    got = b""
    while not got.endswith(b"\r\n"):
        chunk = s.recv(512)
        assert chunk, got
        got += chunk
    assert got.startswith(b"221"), got
    s.close()


def main():
    global HUB
    with Hub(smtp={"max_message_size": 100000}) as hub:
        HUB = hub
        failed = run([test_whole_transaction_in_one_write, test_bdat_several_chunks,
                      test_bdat_pipelined_with_zero_last, test_bdat_without_mail_consumes_chunk,
                      test_bdat_size_exceeded, test_data_dot_stuffing_and_empty_message,
                      test_client_not_reading_replies_is_paused_then_served])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
