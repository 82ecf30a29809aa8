#!/usr/bin/env python3
"""SMTP smuggling (CVE-2023-51764 class): no variant ends or splits a message.

Each variant is followed by a complete smuggled transaction and only then by
the real CRLF.CRLF. The hub must answer exactly one reply to the whole DATA
(a 5xx reject), execute none of the smuggled commands, and store nothing.
"""
import sys

from ddtest import Client, Hub, expect, run

VARIANTS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n", b"\n.\r", b"\r.\n",
            b"\r\n\x00.\r\n", b"\r\n.\r\r\n"]
SMUGGLED = (b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nSMUGGLED-BODY\r\n")

HUB = None


def one_variant(v):
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: carrier\r\n\r\nfirst" + v + SMUGGLED + b"\r\n.\r\n")
    code, lines = c.reply()
    assert code == 550 and "5.6.0" in lines[0], (v, lines)
    # The very next reply must answer our VRFY: nothing smuggled ran in between.
    expect(c.cmd("VRFY bob"), 252)
    expect(c.cmd("QUIT"), 221)


def test_variants_rejected_never_split():
    for v in VARIANTS:
        one_variant(v)
    for qid, (sender, rcpts, body) in HUB.queued().items():
        assert b"SMUGGLED-BODY" not in body and sender != "evil@example.net", qid


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
        code, lines = c.reply()
        assert code == 550, (v, lines)
        expect(c.cmd("VRFY bob"), 252)
    assert not [q for q, m in HUB.queued().items() if b"SMUGGLED-BODY" in m[2]]


def test_clean_message_still_accepted():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: clean\r\n\r\nline\r\n.\r\n")
    expect(c.reply(), 250, "queued as")


def test_bdat_bare_lf_rejected():
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    data = b"Subject: x\r\n\r\nline\n.\nmore\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(data) + data)
    expect(c.reply(), 550, "5.6.0")
    expect(c.cmd("VRFY bob"), 252)


def main():
    global HUB
    with Hub() as hub:
        HUB = hub
        failed = run([test_variants_rejected_never_split, test_variants_split_across_writes,
                      test_clean_message_still_accepted, test_bdat_bare_lf_rejected])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
