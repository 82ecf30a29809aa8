"""smtpclient - the asyncio SMTP client of the extra figures (extras.py).

message() builds a test message of about SIZE octets, Conn reads replies and
runs a pipelined transaction (its total and dot-to-250 times), connect()
opens a session (greeting, EHLO); pct() is the percentile of the tables.
"""
import asyncio
import secrets
import time

BODY_LINE = b"X" * 76 + b"\r\n"


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def message(size, n):
    head = ("From: <from@example.net>\r\nTo: <rcpt@example.test>\r\nSubject: bench %d\r\n"
            "Message-ID: <%d.%s@bench.example.net>\r\n\r\n" % (n, n, secrets.token_hex(6))
            ).encode()
    lines = max(1, size // len(BODY_LINE))
    return head + BODY_LINE * lines + b".\r\n"


# ---------------------------------------------------------------- SMTP client

class Conn:
    def __init__(self, r, w):
        self.r, self.w = r, w

    async def reply(self):
        lines = []
        while True:
            line = await self.r.readline()
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    async def cmd(self, text, want):
        self.w.write(text)
        code, lines = await self.reply()
        if code != want:
            raise RuntimeError("%r -> %r" % (text[:40], lines))

    async def txn(self, body, rcpt=b"rcpt@example.test"):
        """One pipelined transaction; (total seconds, dot-to-250 seconds)."""
        t0 = time.perf_counter()
        self.w.write(b"MAIL FROM:<from@example.net>\r\nRCPT TO:<" + rcpt + b">\r\nDATA\r\n")
        for want in (250, 250, 354):
            code, lines = await self.reply()
            if code != want:
                raise RuntimeError("transaction: %r" % lines)
        t1 = time.perf_counter()
        self.w.write(body)
        code, lines = await self.reply()
        if code != 250:
            raise RuntimeError("end of data: %r" % lines)
        t2 = time.perf_counter()
        return t2 - t0, t2 - t1

    def close(self):
        try:
            self.w.close()
        except Exception:  # noqa: BLE001
            pass


async def connect(port, ehlo=True, limit=2 ** 20):
    r, w = await asyncio.open_connection("127.0.0.1", port, limit=limit)
    c = Conn(r, w)
    code, lines = await c.reply()
    if code != 220:
        raise RuntimeError("greeting %r" % lines)
    if ehlo:
        await c.cmd(b"EHLO bench.example.net\r\n", 250)
    return c
