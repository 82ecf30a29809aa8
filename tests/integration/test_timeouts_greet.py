#!/usr/bin/env python3
"""Greet pause (pregreet test), command timeouts, and the deadlines a drip cannot push back.

command_timeout is a time of silence and also a deadline for a whole command
line from its first octet; data_timeout is a deadline for a message's content
from the 354 (or the first BDAT) to its end. A client that sends one octet at a
time keeps the silence timer quiet but meets the deadline: 421 4.4.2.
"""
import socket
import sys
import time

from ddtest import Client, Hub, expect, run, wait_for


def test_pregreet_554():
    with Hub(smtp={"greet_pause_ms": 1500}) as hub:
        # the Hub's readiness probe waits for the 220, so the pause works
        c = Client(hub.port, greet=False)
        c.send("EHLO too.early.example\r\n")
        expect(c.reply(), 554, "5.5.0")
        assert c.closed()
        c = Client(hub.port, greet=False)
        t0 = time.monotonic()
        code, lines = c.reply()  # a patient client gets the banner after the pause
        assert code == 220 and time.monotonic() - t0 >= 1.0, (lines, time.monotonic() - t0)
        expect(c.cmd("EHLO patient.example"), 250)


def test_command_timeout_421():
    with Hub(smtp={"command_timeout": 1}) as hub:
        c = Client(hub.port)
        expect(c.cmd("EHLO slow.example"), 250)
        expect(c.reply(), 421, "4.4.2")  # nothing sent for a second
        assert c.closed()
        c = Client(hub.port)
        expect(c.cmd("EHLO slow.example"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send("Subject: stalled\r\n\r\nhalf a mess")
        expect(c.reply(), 421, "4.4.2")  # stalled in DATA
        assert c.closed()
        assert not hub.queued()
        wait_for(lambda: "timeout after DATA from unknown[127.0.0.1]" in hub.log(),
                 what="the timeout line")


def drip(c, data, step=0.2, limit=100):
    """Send data an octet at a time, one every step seconds (a slow client, on
    purpose), until the server answers; the answer, or None after limit octets."""
    for i in range(min(limit, len(data))):
        try:
            c.send(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        c.sock.settimeout(step)
        try:
            chunk = c.sock.recv(4096)
        except socket.timeout:
            continue
        c.sock.settimeout(10)
        c.buf += chunk
        return c.reply() if chunk else None
    c.sock.settimeout(10)
    return None


def gone(c):
    """The server closed c: an end of file, or a reset (a chunk was on its way)."""
    try:
        while c.sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_line_deadline_421():
    with Hub(smtp={"command_timeout": 1}) as hub:
        c = Client(hub.port)
        expect(c.cmd("EHLO dripper.example"), 250)
        got = drip(c, b"MAIL FROM:<" + b"d" * 80 + b"@example.net>\r\n")
        assert got is not None, "a dripped command line holds the session"
        expect(got, 421, "4.4.2")
        assert c.closed()
        wait_for(lambda: "command line not complete in time" in hub.log(), what="the log line")


def test_data_deadline_421():
    with Hub(smtp={"command_timeout": 2, "data_timeout": 1}) as hub:
        c = Client(hub.port)
        expect(c.cmd("EHLO dripper.example"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        got = drip(c, b"Subject: drip\r\n\r\n" + b"x\r\n" * 100)
        assert got is not None, "dripped content holds the session"
        expect(got, 421, "4.4.2")
        assert c.closed()
        assert not hub.queued()
        wait_for(lambda: "message content not complete in time" in hub.log(),
                 what="the log line")
        # BDAT chunks, each on time, but the message as a whole is not
        c = Client(hub.port)
        expect(c.cmd("EHLO dripper.example"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        got = None
        for _ in range(50):
            c.send("BDAT 3\r\nab\n")
            c.sock.settimeout(0.5)
            try:
                got = c.reply()
            except socket.timeout:
                break
            finally:
                c.sock.settimeout(10)
            if got[0] != 250:
                break
            time.sleep(0.1)  # the slow client's pace, not a wait for the server
        assert got is not None and got[0] == 421, got
        assert gone(c)
        assert not hub.queued()


if __name__ == "__main__":
    sys.exit(1 if run([test_pregreet_554, test_command_timeout_421, test_line_deadline_421,
                       test_data_deadline_421]) else 0)
