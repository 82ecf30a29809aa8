#!/usr/bin/env python3
"""mbxsink, the test mailbox server: storage, duplicates, loss, injected faults.

Starts the real binary (DD_BUILD_DIR/mbxsink) on free loopback ports with a
temporary directory, talks to it with smtplib (SMTP and LMTP) and raw sockets,
and checks what it wrote to disk. Exit 77 (skip) when the binary is missing.
"""
import os
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile

from ddtest import Client, expect, free_port, run, wait_for

MBXSINK = os.path.join(os.environ.get("DD_BUILD_DIR", "build"), "mbxsink")


class Sink:
    """One mbxsink process with its own mailbox directory and control port."""

    def __init__(self, lmtp=False, args=(), tmp=None, unix=False):
        self.tmp = tmp or tempfile.mkdtemp(prefix="mbxsink-")
        self.dir = os.path.join(self.tmp, "mbx")
        self.port = free_port()
        self.ctl_port = free_port()
        self.unix_path = os.path.join(self.tmp, "lmtp.sock") if unix else None
        self.lmtp = lmtp
        self.args = list(args)
        self.log_path = os.path.join(self.tmp, "mbxsink.log")
        self.proc = None
        self.out = b""

    def start(self):
        cmd = [MBXSINK, "--listen", "127.0.0.1:%d" % self.port, "--dir", self.dir,
               "--control", "127.0.0.1:%d" % self.ctl_port, "--name", "mbx.example.test"]
        if self.unix_path:
            cmd += ["--listen", "unix:" + self.unix_path]
        if self.lmtp:
            cmd.append("--lmtp")
        self.logf = open(self.log_path, "ab")
        self.out = b""
        self.proc = subprocess.Popen(cmd + self.args, stdout=subprocess.PIPE, stderr=self.logf)
        wait_for(self.ready, what="mbxsink ready")
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("mbxsink exited with %s:\n%s" % (self.proc.returncode,
                                                                 self.log()))
        r, _, _ = select.select([self.proc.stdout], [], [], 0.05)
        if r:
            self.out += os.read(self.proc.stdout.fileno(), 4096)
        return b"mbxsink ready\n" in self.out

    def stop(self, sig=signal.SIGTERM):
        """Stop the process; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mbxsink did not stop on signal %d" % sig)
        rc = self.proc.returncode
        self.proc.stdout.close()
        self.logf.close()
        self.proc = None
        return rc

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def ctl(self, line):
        """One control command: its reply line (LIST: (reply, [lines]))."""
        with socket.create_connection(("127.0.0.1", self.ctl_port), timeout=10) as s:
            f = s.makefile("rb")
            s.sendall(line.encode() + b"\n")
            first = f.readline().decode().rstrip("\r\n")
            if not (line.upper() == "LIST" and first.startswith("OK")):
                return first
            lines = []
            while True:
                l = f.readline()
                assert l, "control connection closed inside LIST"
                l = l.decode().rstrip("\r\n")
                if l == ".":
                    return first, lines
                lines.append(l)

    def stats(self):
        got = self.ctl("STATS")
        assert got.startswith("OK "), got
        return {k: int(v) for k, v in (kv.split("=") for kv in got.split()[1:])}

    def index(self):
        """index.tsv as a list of [seq, message-id, sender, rcpts]."""
        try:
            with open(os.path.join(self.dir, "index.tsv"), newline="") as f:
                return [l.rstrip("\n").split("\t") for l in f]
        except FileNotFoundError:
            return []

    def eml(self, seq):
        with open(os.path.join(self.dir, "%06d.eml" % seq), "rb") as f:
            return f.read()

    def files(self):
        return sorted(os.listdir(self.dir))

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stop(signal.SIGKILL)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            if exc[0] is None and self.proc is not None:
                # A clean exit, so a sanitizer report (errors, leaks) fails the test.
                rc = self.stop()
                assert rc == 0, "mbxsink exited with %s:\n%s" % (rc, self.log()[-8000:])
            elif exc[0] is not None:
                sys.stderr.write("---- mbxsink log ----\n" + self.log()[-8000:])
        finally:
            self.cleanup()


def message(msgid, subject="test", body=b"body\r\n"):
    head = b"Message-ID: " + msgid.encode() + b"\r\n" if msgid else b""
    return head + b"Subject: " + subject.encode() + b"\r\n\r\n" + body


def send(port, rcpts, msg, sender="a@example.net"):
    """One transaction with smtplib: the (code, text) of the end of data."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.example.net")
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        return s.data(msg)


def test_smtp_store_exact_content():
    with Sink() as k:
        with smtplib.SMTP("127.0.0.1", k.port, timeout=30) as s:
            code, _ = s.ehlo("client.example.net")
            assert code == 250
            for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "size"):
                assert s.has_extn(ext), ext
            assert s.esmtp_features["size"] == str(64 << 20)
        body = (b"line one\r\n.leading dot\r\n..two dots\r\n.\tdot tab\r\n"
                b"bare\nLF stays\r\n\x80\xff 8bit\r\n")
        msg = message("<one@test>", body=body)
        code, text = send(k.port, ["b@example.org", "C@Example.org"], msg)
        assert code == 250 and b"stored as 000001" in text, (code, text)
        assert k.eml(1) == msg, k.eml(1)
        folded = (b"From: x@example.net\r\nmessage-id:\r\n \t <fold@test>  \r\n"
                  b"Subject: folded\r\n\r\nMessage-ID: <not-this@test>\r\n")
        send(k.port, ["d@example.org"], folded, sender="")
        assert k.eml(2) == folded
        assert k.index() == [["000001", "<one@test>", "a@example.net",
                              "b@example.org,C@Example.org"],
                             ["000002", "<fold@test>", "", "d@example.org"]], k.index()
        send(k.port, ["d@example.org"], b"Subject: no id\r\n\r\nx\r\n")
        send(k.port, ["d@example.org"], b"Subject: no id\r\n\r\nx\r\n")
        assert [e[1] for e in k.index()] == ["<one@test>", "<fold@test>", "", ""]
        assert k.files() == ["000001.eml", "000002.eml", "000003.eml", "000004.eml",
                             "index.tsv"], k.files()
        st = k.stats()
        assert st == {"stored": 4, "duplicates": 0, "lost": 0, "connections": 5,
                      "messages": 4}, st
        first, lines = k.ctl("LIST")
        assert first == "OK 4" and lines == ["000001 <one@test>", "000002 <fold@test>",
                                             "000003 -", "000004 -"], (first, lines)


def test_duplicates_survive_restart():
    with Sink() as k:
        msg = message("<dup@test>")
        assert b"stored as 000001" in send(k.port, ["b@example.org"], msg)[1]
        code, text = send(k.port, ["c@example.org"], message("<dup@test>", "again"))
        assert code == 250 and b"duplicate of 000001" in text, (code, text)
        st = k.stats()
        assert (st["stored"], st["duplicates"], st["messages"]) == (1, 1, 2), st
        assert k.stop() == 0
        k.start()
        assert k.stats()["stored"] == 1
        code, text = send(k.port, ["b@example.org"], msg)
        assert code == 250 and b"duplicate of 000001" in text, (code, text)
        code, text = send(k.port, ["b@example.org"], message("<new@test>"))
        assert b"stored as 000002" in text, text
        st = k.stats()
        assert (st["stored"], st["duplicates"], st["messages"]) == (2, 1, 2), st
        assert [e[1] for e in k.index()] == ["<dup@test>", "<new@test>"]


def test_lose_then_resend_is_stored_again():
    with Sink() as k:
        for i in range(1, 5):
            send(k.port, ["b@example.org"], message("<m%d@test>" % i))
        assert k.ctl("LOSE 2") == "OK lost=2"
        assert k.files() == ["000001.eml", "000002.eml", "index.tsv"], k.files()
        assert [e[1] for e in k.index()] == ["<m1@test>", "<m2@test>"]
        first, lines = k.ctl("LIST")
        assert (first, lines) == ("OK 2", ["000001 <m1@test>", "000002 <m2@test>"])
        code, text = send(k.port, ["b@example.org"], message("<m4@test>"))
        assert b"stored as 000003" in text, text
        assert b"duplicate" in send(k.port, ["b@example.org"], message("<m1@test>"))[1]
        st = k.stats()
        assert (st["stored"], st["duplicates"], st["lost"]) == (3, 1, 2), st
        k.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: k.stats()["lost"] == 3, what="SIGUSR1 to lose one")
        assert [e[1] for e in k.index()] == ["<m1@test>", "<m2@test>"]
        assert k.ctl("LOSE 10") == "OK lost=2"
        assert k.ctl("LOSE 1") == "OK lost=0"
        assert k.index() == [] and k.files() == ["index.tsv"], k.files()
        assert k.ctl("LOSE x").startswith("ERR")
        with socket.create_connection(("127.0.0.1", k.ctl_port), timeout=10) as s:
            s.sendall(b"list\r\nSTATS\r\nFROB\r\nQUIT\r\n")
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        assert got == (b"OK 0\n.\nOK stored=0 duplicates=1 lost=5 connections=6 messages=6\n"
                       b"ERR unknown command or wrong arguments\nOK bye\n"), got
        assert k.stop() == 0
        k.start()
        assert k.stats()["stored"] == 0
        assert b"stored as 000001" in send(k.port, ["b@example.org"], message("<m1@test>"))[1]


def test_injected_mail_rcpt_data_connect():
    with Sink() as k:
        assert k.ctl("FAIL RCPT Bad@Example.ORG 550") == "OK"
        assert k.ctl("FAIL RCPT <later@example.org> 450") == "OK"
        with smtplib.SMTP("127.0.0.1", k.port, timeout=30) as s:
            refused = s.sendmail("a@example.net", ["ok@example.org", "bad@example.org",
                                                   "LATER@example.org"], message("<r@test>"))
        assert refused == {"bad@example.org": (550, b"5.1.1 mbxsink injected"),
                           "LATER@example.org": (450, b"4.3.0 mbxsink injected")}, refused
        assert k.index()[0][3] == "ok@example.org", k.index()
        assert k.ctl("FAIL DATA 554") == "OK"
        got = send(k.port, ["ok@example.org"], message("<d@test>"))
        assert got == (554, b"5.6.0 mbxsink injected"), got
        assert k.ctl("FAIL MAIL 451") == "OK"
        with smtplib.SMTP("127.0.0.1", k.port, timeout=30) as s:
            s.ehlo("x")
            assert s.mail("a@example.net") == (451, b"4.3.0 mbxsink injected")
        assert k.ctl("FAIL CONNECT 421") == "OK"
        c = Client(k.port)
        assert c.greeting == (421, ["421 4.3.0 mbx.example.test mbxsink injected"]), c.greeting
        assert c.closed()
        c.close()
        assert k.ctl("CLEAR") == "OK"
        assert b"stored as 000002" in send(k.port, ["bad@example.org"], message("<d@test>"))[1]
        st = k.stats()
        assert (st["stored"], st["messages"], st["connections"]) == (2, 3, 5), st
        for bad in ("FAIL RCPT x 250", "FAIL RCPT x 600", "FAIL DATA", "FAIL SOMETHING 450",
                    "FROB", "", "LIST 1", "a b c d e f g", "x" * 2000):
            assert k.ctl(bad).startswith("ERR"), bad


def test_faults_from_the_command_line():
    with Sink(args=["--fail-rcpt", "Bad@Example.org=550", "--fail-data", "451",
                    "--fail-mail", "452"]) as k:
        with smtplib.SMTP("127.0.0.1", k.port, timeout=30) as s:
            s.ehlo("x")
            assert s.mail("a@example.net") == (452, b"4.3.0 mbxsink injected")
        assert k.ctl("FAIL MAIL 0").startswith("ERR")
        assert k.ctl("CLEAR") == "OK"
        assert k.ctl("FAIL RCPT bad@example.org 551") == "OK"
        with smtplib.SMTP("127.0.0.1", k.port, timeout=30) as s:
            s.ehlo("x")
            s.mail("a@example.net")
            assert s.rcpt("bad@example.org") == (551, b"5.1.1 mbxsink injected")
    with Sink(args=["--drop-after-data"]) as k:
        c = Client(k.port)
        expect(c.cmd("EHLO x"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<b@example.org>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(message("<drop@test>") + b".\r\n")
        assert c.closed() and c.buf == b"", c.buf
        c.close()
        st = k.stats()
        assert (st["stored"], st["messages"]) == (0, 1), st
    for bad in (["--fail-rcpt", "x@y"], ["--fail-data", "200"], ["--bogus"]):
        p = subprocess.run([MBXSINK, "--listen", "127.0.0.1:%d" % free_port(), "--dir",
                            tempfile.gettempdir()] + bad, capture_output=True, timeout=30)
        assert p.returncode == 64 and b"usage" in p.stderr, (bad, p)


def test_lmtp_per_recipient_replies():
    with Sink(lmtp=True, unix=True) as k:
        assert k.ctl("FAIL LMTP B@example.org 452") == "OK"
        assert k.ctl("FAIL LMTP d@example.org 550") == "OK"
        assert k.ctl("FAIL RCPT e@example.org 550") == "OK"
        with smtplib.LMTP("127.0.0.1", k.port, timeout=30) as s:
            assert s.ehlo("hub.example.net")[0] == 250 and s.has_extn("pipelining")
            assert s.mail("a@example.net")[0] == 250
            for r in ("a@example.org", "b@example.org", "c@example.org", "d@example.org"):
                assert s.rcpt(r) == (250, b"2.1.5 Ok"), r
            assert s.rcpt("e@example.org") == (550, b"5.1.1 mbxsink injected")
            code, text = s.data(message("<lmtp@test>"))
            assert (code, text) == (250, b"2.1.5 <a@example.org> Ok: stored as 000001"), text
            assert s.getreply() == (452, b"4.3.0 <b@example.org> mbxsink injected")
            assert s.getreply() == (250, b"2.1.5 <c@example.org> Ok: stored as 000001")
            assert s.getreply() == (550, b"5.1.1 <d@example.org> mbxsink injected")
            # Every recipient refused after data: nothing is stored.
            s.mail("a@example.net")
            s.rcpt("b@example.org")
            assert s.data(message("<none@test>"))[0] == 452
            assert s.noop() == (250, b"2.0.0 Ok")
        assert k.index() == [["000001", "<lmtp@test>", "a@example.net",
                              "a@example.org,c@example.org"]], k.index()
        assert k.eml(1) == message("<lmtp@test>")
        # The same server on its unix socket; EHLO is not LMTP.
        with smtplib.LMTP(k.unix_path, timeout=30) as s:
            assert s.docmd("EHLO x")[0] == 500
            s.ehlo("x")
            s.mail("a@example.net")
            s.rcpt("c@example.org")
            assert s.data(message("<lmtp@test>")) == (
                250, b"2.1.5 <c@example.org> Ok: duplicate of 000001")
        st = k.stats()
        assert (st["stored"], st["duplicates"], st["messages"]) == (1, 1, 3), st
        assert k.stop() == 0
        assert not os.path.exists(k.unix_path), "unix socket left behind"


def test_pipelined_transactions_in_one_write():
    with Sink() as k:
        assert k.ctl("FAIL RCPT nobody@example.org 550") == "OK"
        c = Client(k.port)
        assert c.greeting[0] == 220
        c.send(b"EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\n"
               b"RCPT TO:<b@example.org>\r\nRCPT TO:<nobody@example.org>\r\n"
               b"RCPT TO:<c@example.org>\r\nDATA\r\n"
               b"Message-ID: <p1@test>\r\n\r\n..stuffed\r\nx\n.\r\nstill data\r\n.\r\n"
               b"NOOP\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n"
               b"RSET\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
               b"Message-ID: <p2@test>\r\n\r\n.\r\nQUIT\r\n")
        code, lines = c.reply()
        assert code == 250 and lines[-1] == "250 SIZE 67108864", lines
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        expect(c.reply(), 550, "5.1.1 mbxsink injected")
        expect(c.reply(), 250, "2.1.5")
        expect(c.reply(), 354)
        expect(c.reply(), 250, "stored as 000001")
        expect(c.reply(), 250, "2.0.0")
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 550, "5.1.1")
        expect(c.reply(), 554, "5.5.1")
        expect(c.reply(), 250, "2.0.0")
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        expect(c.reply(), 354)
        expect(c.reply(), 250, "stored as 000002")
        expect(c.reply(), 221)
        assert c.closed()
        c.close()
        assert k.eml(1) == b"Message-ID: <p1@test>\r\n\r\n.stuffed\r\nx\n.\r\nstill data\r\n"
        assert k.eml(2) == b"Message-ID: <p2@test>\r\n\r\n"
        assert k.index()[0][3] == "b@example.org,c@example.org"
        assert k.index()[1][2] == ""


def test_split_reads_and_long_lines():
    with Sink() as k:
        long_line = b"." + b"L" * 300000 + b"\r\n"
        content = b"Message-ID: <split@test>\r\n\r\n" + long_line + b"a\r\n"
        stuffed = content.replace(b"\r\n.", b"\r\n..")
        c = Client(k.port)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        script = (b"EHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n"
                  b"DATA\r\n" + stuffed + b".\r\nQUIT\r\n")
        head, tail = script[:200], script[200:]
        for i in range(len(head)):
            c.send(head[i:i + 1])
        for i in range(0, len(tail), 4093):
            c.send(tail[i:i + 4093])
        for code in (250, 250, 250, 354, 250, 221):
            expect(c.reply(), code)
        assert c.closed()
        c.close()
        assert k.eml(1) == content


def test_limits_and_garbage():
    with Sink() as k:
        c = Client(k.port)
        expect(c.cmd("FROB " + "x" * 4089), 500, "Command unrecognized")  # 4096 with CRLF
        expect(c.cmd("NOOP " + "x" * 4090), 500, "5.5.2 Line too long")
        expect(c.cmd("NOOP " + "y" * 100000), 500, "5.5.2 Line too long")
        expect(c.cmd("NOOP"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 503)
        expect(c.cmd("EHLO x"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net> SIZE=67108865"), 552, "5.3.4")
        expect(c.cmd("MAIL FROM:<a@example.net> SMTPUTF8"), 555)
        expect(c.cmd("MAIL FROM:a@example.net"), 501)
        expect(c.cmd("RCPT TO:<b@example.org>"), 503)
        expect(c.cmd("DATA"), 503)
        expect(c.cmd("MAIL FROM:<a@example.net> SIZE=1000 BODY=8BITMIME"), 250)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 503, "Nested")
        expect(c.cmd("RCPT TO:<>"), 501)
        expect(c.cmd("RCPT TO:<b@example.org>"), 250)
        expect(c.cmd("DATA"), 354)
        line = b"z" * 1023 + b"\r\n"
        big = line * ((64 << 20) // len(line) + 1)
        c.send(b"Message-ID: <big@test>\r\n\r\n" + big + b".\r\n")
        expect(c.reply(), 552, "5.3.4")
        expect(c.cmd("NOOP"), 250)
        c.send(b"\x00\xff\r\r\n\n..\r\n\x1b[2J\r\nMAIL\r\nRCPT TO:<\r\nDATA x\r\n")
        for _ in range(7):
            assert c.reply()[0] >= 500
        expect(c.cmd("QUIT"), 221)
        c.close()
        for junk in (b"\x00" * 5000, b"\r\n" * 100, bytes(range(256)) * 40):
            with socket.create_connection(("127.0.0.1", k.port), timeout=10) as s:
                s.sendall(junk)
            with socket.create_connection(("127.0.0.1", k.ctl_port), timeout=10) as s:
                s.sendall(junk)
        st = k.stats()
        assert (st["stored"], st["messages"]) == (0, 1), st
        assert k.files() == [], k.files()
        assert k.stop() == 0


if __name__ == "__main__":
    if not os.access(MBXSINK, os.X_OK):
        print("skip: %s not built" % MBXSINK)
        sys.exit(77)
    sys.exit(1 if run([
        test_smtp_store_exact_content,
        test_duplicates_survive_restart,
        test_lose_then_resend_is_stored_again,
        test_injected_mail_rcpt_data_connect,
        test_faults_from_the_command_line,
        test_lmtp_per_recipient_replies,
        test_pipelined_transactions_in_one_write,
        test_split_reads_and_long_lines,
        test_limits_and_garbage,
    ]) else 0)
