#!/usr/bin/env python3
"""SMTP smuggling (CVE-2023-51764 class): no variant ends or splits a message.

Each variant is followed by a complete smuggled transaction and only then by
the real CRLF.CRLF. The hub must answer exactly one reply to the whole DATA,
execute none of the smuggled commands, and store no message but the carrier.
With the default `[smtp] bare_newline = reject` that reply is a 5xx reject and
nothing is stored; with `bare_newline = normalize` a variant made of bare LFs
is content of the carrier (stored CRLF-only, the smuggled lines inside it),
and one with a bare CR or a NUL is still rejected. Both modes run.
"""
import sys

from ddtest import Client, Hub, expect, run

VARIANTS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n", b"\n.\r", b"\r.\n",
            b"\r\n\x00.\r\n", b"\r\n.\r\r\n"]
SMUGGLED = (b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nSMUGGLED-BODY\r\n")

HUB = None
NORMALIZE = False


def rejected_anyway(v):
    """A bare CR or a NUL: rejected in both modes (the next octet is SMUGGLED's "M")."""
    data = v + SMUGGLED[:1]
    return b"\x00" in v or any(data[i] == 13 and data[i + 1] != 10 for i in range(len(v)))


def expect_verdict(v, got):
    code, lines = got
    if NORMALIZE and not rejected_anyway(v):
        assert code == 250 and "queued as" in lines[0], (v, lines)
    else:
        assert code == 550 and "5.6.0" in lines[0], (v, lines)


def one_variant(v):
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: carrier\r\n\r\nfirst" + v + SMUGGLED + b"\r\n.\r\n")
    expect_verdict(v, c.reply())
    # The very next reply must answer our VRFY: nothing smuggled ran in between.
    expect(c.cmd("VRFY bob"), 252)
    expect(c.cmd("QUIT"), 221)


def check_store():
    """Only carriers from a@example.net, CRLF-only, each holding what was smuggled."""
    for qid, (sender, rcpts, body) in HUB.queued().items():
        assert sender == "a@example.net" and rcpts == ["bob@example.test"], (qid, sender, rcpts)
        assert body.count(b"\r") == body.count(b"\r\n") == body.count(b"\n"), (qid, body)
        if b"Subject: carrier" in body:
            assert b"SMUGGLED-BODY" in body and b"first" in body, (qid, body)
        else:
            assert b"SMUGGLED-BODY" not in body, (qid, body)


def count_queued():
    return len(HUB.queued())


def test_variants_never_split():
    before = count_queued()
    for v in VARIANTS:
        one_variant(v)
    check_store()
    want = sum(1 for v in VARIANTS if not rejected_anyway(v)) if NORMALIZE else 0
    assert count_queued() - before == want, (count_queued() - before, want)


def test_variants_split_across_writes():
    """The same, with every variant's bytes sent one write at a time."""
    for v in VARIANTS:
        c = Client(HUB.port)
        expect(c.cmd("EHLO client.example.net"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: carrier\r\n\r\nfirst")
        for b in v:
            c.send(bytes([b]))
        c.send(SMUGGLED + b"\r\n.\r\n")
        expect_verdict(v, c.reply())
        expect(c.cmd("VRFY bob"), 252)
    check_store()


def test_clean_message_still_accepted():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: clean\r\n\r\nline\r\n.\r\n")
    expect(c.reply(), 250, "queued as")


def test_bdat_bare_lf():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    data = b"Subject: x\r\n\r\nline\n.\nmore\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(data) + data)
    if NORMALIZE:
        qid = expect(c.reply(), 250, "queued as").split()[-1]
        assert HUB.queued()[qid][2].endswith(b"\r\n\r\nline\r\n.\r\nmore\r\n"), HUB.queued()[qid]
    else:
        expect(c.reply(), 550, "5.6.0")
    expect(c.cmd("VRFY bob"), 252)


def main():
    global HUB, NORMALIZE
    tests = [test_variants_never_split, test_variants_split_across_writes,
             test_clean_message_still_accepted, test_bdat_bare_lf]
    failed = 0
    for mode in ("reject", "normalize"):
        print("== bare_newline = %s" % mode)
        NORMALIZE = mode == "normalize"
        with Hub(smtp={"bare_newline": mode} if NORMALIZE else None) as hub:
            HUB = hub
            failed += run(tests)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
