#!/usr/bin/env python3
"""Greet pause (pregreet test) and command timeouts."""
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


if __name__ == "__main__":
    sys.exit(1 if run([test_pregreet_554, test_command_timeout_421]) else 0)
