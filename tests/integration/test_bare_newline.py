#!/usr/bin/env python3
"""[smtp] bare_newline = reject|normalize and bare_newline_exclusions.

normalize (Postfix 3.9's smtpd_forbid_bare_newline = normalize): a bare LF in
content is a line end, for internal applications that write bare LF. The end
of data is still only CRLF.CRLF (LF.LF, LF.CRLF and CRLF.LF never end it), the
message is stored CRLF-only and goes downstream CRLF-only and dot-stuffed
(checked on the wire at ddpeers.WirePeer). reject, the default, refuses a bare
LF with 550 5.6.0, except for clients in bare_newline_exclusions, which get
normalize. test_smuggling.py runs its variants in both modes.
"""
import subprocess
import sys

from ddpeers import WirePeer
from ddtest import DUMPSTERD, Client, Hub, expect, run, wait_for

NORM = REJ = SINK = None


def data(hub, body, source="127.0.0.1", rcpt="bob@example.test"):
    """One DATA transaction; (reply, client) so the caller can go on talking."""
    c = Client(hub.port, source=source)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<app@example.net>"), 250)
    expect(c.cmd("RCPT TO:<%s>" % rcpt), 250)
    expect(c.cmd("DATA"), 354)
    c.send(body)
    return c.reply(), c


def crlf_only(b):
    return b.count(b"\r") == b.count(b"\r\n") == b.count(b"\n")


def test_normalize_stored_and_sent_crlf_dot_stuffed():
    body = (b"Subject: lf\nX-Case: lf-1\nMessage-ID: <lf-1@example.net>\n\nline one\n"
            b"..leading dot\n.\n\nlast\r\n.\r\n")
    got, c = data(NORM, body)
    qid = expect(got, 250, "queued as").split()[-1]
    expect(c.cmd("VRFY bob"), 252)
    stored = NORM.queued()[qid][2]
    assert crlf_only(stored), stored
    assert stored.endswith(b"\r\nSubject: lf\r\nX-Case: lf-1\r\nMessage-ID: <lf-1@example.net>\r\n"
                           b"\r\nline one\r\n.leading dot\r\n\r\n\r\nlast\r\n"), stored

    def on_wire():
        return [t for t in SINK.transactions() if b"X-Case: lf-1" in t[2]]
    wire = wait_for(on_wire, what="delivery to the peer")[0][2]
    assert crlf_only(wire), wire
    assert b"\r\n..leading dot\r\n" in wire, wire  # stuffed again
    assert b"\r\n.\r\n" not in wire and not wire.startswith(b".\r\n"), wire


def test_lf_dot_never_ends_data():
    for end in (b"\n.\n", b"\n.\r\n", b"\r\n.\n"):
        # if `end` ended the data, "after" would be a command (500) and a second reply
        got, c = data(NORM, b"Subject: dot\r\n\r\nbefore" + end + b"after\r\n.\r\n")
        qid = expect(got, 250, "queued as").split()[-1]
        expect(c.cmd("VRFY bob"), 252)
        stored = NORM.queued()[qid][2]
        assert stored.endswith(b"\r\n\r\nbefore\r\n\r\nafter\r\n"), (end, stored)


def test_normalize_bare_cr_still_rejected():
    got, c = data(NORM, b"Subject: cr\r\n\r\nbare\rcr\n\r\n.\r\n")
    expect(got, 550, "5.6.0 Message rejected: bare <CR> received")
    expect(c.cmd("VRFY bob"), 252)


def test_normalize_bdat():
    c = Client(NORM.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<app@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    chunk = b"Subject: bdat\n\nx\n.\n"
    c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    stored = NORM.queued()[qid][2]
    assert b"\r\nSubject: bdat\r\n" in stored and stored.endswith(b"\r\n\r\nx\r\n.\r\n"), stored


def test_reject_by_default_and_exclusions():
    body = b"Subject: app\n\nfrom an internal application\r\n.\r\n"
    got, c = data(REJ, body)  # from 127.0.0.1: not in the exclusions
    expect(got, 550, "5.6.0 Message rejected: bare <LF> received")
    expect(c.cmd("VRFY bob"), 252)
    got, c = data(REJ, body, source="127.0.0.2")  # in the exclusions: normalize
    qid = expect(got, 250, "queued as").split()[-1]
    assert crlf_only(REJ.queued()[qid][2])
    got, c = data(REJ, body, source="127.0.0.3")
    expect(got, 550, "5.6.0")


def test_bad_values_refused_at_start():
    for key, value, msg in [
            ("bare_newline", "allow", '"allow" is not one of reject, normalize'),
            ("bare_newline_exclusions", "10.1.2.3/8", "did you mean 10.0.0.0/8?"),
            ("bare_newline_exclusions", "example.org", "not an IPv4 or IPv6 address")]:
        hub = Hub(smtp={key: value})
        try:
            p = subprocess.run([DUMPSTERD, "-c", hub.conf_path, "-t"], capture_output=True,
                               text=True, timeout=30)
            assert p.returncode == 78, (p.returncode, p.stdout, p.stderr)
            assert msg in p.stderr and "dumpsterd.conf:" in p.stderr, p.stderr
        finally:
            hub.cleanup()


def main():
    global NORM, REJ, SINK
    with WirePeer() as sink:
        SINK = sink
        with Hub(smtp={"bare_newline": "normalize"}, dests={"SG1": sink.dest()}) as norm, \
                Hub(smtp={"bare_newline_exclusions": "127.0.0.2/32, ::1"}) as rej:
            NORM, REJ = norm, rej
            failed = run([test_normalize_stored_and_sent_crlf_dot_stuffed,
                          test_lf_dot_never_ends_data, test_normalize_bare_cr_still_rejected,
                          test_normalize_bdat, test_reject_by_default_and_exclusions,
                          test_bad_values_refused_at_start])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
