"""dumpsterctl (SPEC section 9) against real hubs, one of them unreachable.

token new, the Exchange-style lines of stats and requests, resubmit (dry run
and real), cancel [HUB:]ID, route, failover, queue (table and --json), and
the exit codes: 0 every hub answered, 69 one is unavailable, 64 usage, 65
bad data (bad values, a bad site file, a hub that refuses).
"""
import hashlib
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile

from ddtest import Hub, free_port, run, wait_for
from ddpeers import Mbxsink

BUILD = os.environ.get("DD_BUILD_DIR", "build")
DUMPSTERCTL = os.path.join(BUILD, "dumpsterctl")
TOKEN = "dumpsterctl-test-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()


class Ctl:
    """A scratch directory with a token file and site files."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="ctltest-")
        self.token_file = self.write("token", TOKEN + "\n")

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def site(self, hubs):
        return self.write("site.conf", "# test site\n" + "".join(
            "%s http://127.0.0.1:%d\n" % (n, p) for n, p in hubs))

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def finish(hub):
    """Stop the hub: a clean exit, no sanitizer report in its log; then remove it."""
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def ctl(*args):
    p = subprocess.run([DUMPSTERCTL] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def expect_rc(got, rc):
    assert got[0] == rc, "expected exit %d, got %d\nstdout: %s\nstderr: %s" % (
        rc, got[0], got[1], got[2])
    return got[1]


def send(hub, rcpt, i):
    msg = "From: s@example.net\r\nSubject: ctl %d\r\nMessage-ID: <ctl-%d@example.net>\r\n\r\nx\r\n"
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
        s.sendmail("s@example.net", [rcpt], (msg % (i, i)).encode())


def items(hub, sg):
    out = ctl("--hub", "http://127.0.0.1:%d" % hub.admin_port, "--json", "stats", "--sg", sg)
    if out[0] != 0:
        return -1
    groups = json.loads(out[1])["answers"][0]["reply"]["storage_groups"]
    return groups[0]["items"]


def test_token_new():
    out = expect_rc(ctl("token", "new"), 0)
    tok, line = out.splitlines()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", tok), tok
    assert line == "token_hash = " + hashlib.blake2b(tok.encode(), digest_size=32).hexdigest()
    j = json.loads(expect_rc(ctl("--json", "token", "new"), 0))
    assert j["token_hash"] == hashlib.blake2b(j["token"].encode(), digest_size=32).hexdigest()


def test_usage_and_bad_data():
    c = Ctl()
    try:
        for args in ((), ("nope",), ("--bogus", "stats"), ("token",), ("stats", "--all"),
                     ("resubmit", "--sg", "SG1", "--start", "now"), ("stats", "--sg"),
                     ("route", "--sg", "SG1"), ("cancel",), ("--hub",),
                     ("--hub", "http://127.0.0.1:1", "--site", c.site([("a", 1)]), "stats")):
            expect_rc(ctl(*args), 64)
        for args in (("stats", "--sg", "bad name"),
                     ("resubmit", "--sg", "SG1", "--start", "yesterday", "--end", "now"),
                     ("resubmit", "--sg", "SG1", "--start", "now", "--end", "-1h"),
                     ("route", "--sg", "SG1", "--dest", "ftp://x"),
                     ("cancel", "abc"), ("--hub", "gopher://127.0.0.1:1", "stats"),
                     ("--hub", "https://", "stats"),
                     ("--timeout", "0", "stats")):
            expect_rc(ctl(*args), 65)
        for text in ("hub1\n", "hub1 http://127.0.0.1:1 ca.pem\n", "hub1 ftp://x\n",
                     "hub1 https://127.0.0.1:1 ca.pem extra\n",
                     "a http://127.0.0.1:1\na http://127.0.0.1:2\n", "# nothing\n",
                     "bad/name http://127.0.0.1:1\n"):
            expect_rc(ctl("--site", c.write("bad.conf", text), "stats"), 65)
        expect_rc(ctl("--site", os.path.join(c.tmp, "missing"), "stats"), 66)
        expect_rc(ctl("--token-file", os.path.join(c.tmp, "missing"), "stats"), 66)
        expect_rc(ctl("--token-file", c.write("empty", "\n"), "stats"), 65)
    finally:
        c.cleanup()


def test_site_stats_requests_cancel():
    c = Ctl()
    dead = free_port()
    with Mbxsink(lmtp=True) as mbx:
        hub = Hub(dests={"SG1": mbx.dest()}, admin={"token_hash": TOKEN_HASH},
                  extra="[dumpster]\nresubmit_rate = 1\n").start()
        try:
            wait_for(lambda: items(hub, "SG1") == 0, what="the admin API")
            site = c.site([("hub1", hub.admin_port), ("hub4", dead)])
            out = expect_rc(ctl("--site", site, "stats"), 69)
            lines = out.splitlines()
            assert lines[0] == "DumpsterStatistics: {hub1 (-; 0; 0)}", out
            assert lines[1] == "DumpsterStatisticsNotAvailable: {hub4}", out
            assert re.search(r"^hub1 +SG1 +0 +0 ", out, re.M), out
            for i in range(3):
                send(hub, "user%d@example.test" % i, i)
            wait_for(lambda: items(hub, "SG1") == 3, what="3 items in SG1")
            out = expect_rc(ctl("--site", site, "stats", "--sg", "SG1"), 69)
            assert re.match(r"DumpsterStatistics: \{hub1 \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z; "
                            r"3; \d+\)\}\n", out), out
            one = ["--hub", "http://127.0.0.1:%d" % hub.admin_port]
            out = expect_rc(ctl(*one, "--token-file", c.token_file, "resubmit", "--sg", "SG1",
                                "--start", "-1h", "--end", "now", "--dry-run"), 0)
            assert "dry run: 3 message(s)" in out, out
            assert "the mailbox holds" not in out, out  # SG1 has no probe
            out = expect_rc(ctl(*one, "--token-file", c.token_file, "--json", "resubmit", "--sg",
                                "SG1", "--start", "-1h", "--end", "now", "--dry-run",
                                "--no-probe"), 0)
            assert '"probe":false' in out and '"dry_run":true' in out, out
            expect_rc(ctl(*one, "resubmit", "--sg", "SG1", "--start", "-1h", "--end", "now"), 65)
            out = expect_rc(ctl("--site", site, "--token-file", c.token_file, "resubmit", "--sg",
                                "SG1", "--start", "-1h", "--end", "now",
                                "--match", "received", "--force"), 69)
            rid = int(re.search(r"^hub1: request (\d+) ", out, re.M).group(1))
            out = expect_rc(ctl("--site", site, "--token-file", c.token_file, "requests"), 69)
            assert out.startswith("OutstandingDumpsterRequests: {hub1 (20"), out
            assert "OutstandingDumpsterRequestsNotAvailable: {hub4}" in out, out
            out = expect_rc(ctl("--site", site, "--token-file", c.token_file, "cancel",
                                "hub1:%d" % rid), 0)
            assert out == "hub1: request %d cancelled\n" % rid, out
            expect_rc(ctl(*one, "--token-file", c.token_file, "cancel", str(rid)), 65)  # 409
            out = expect_rc(ctl(*one, "--token-file", c.token_file, "requests", "--all"), 0)
            assert out.startswith("OutstandingDumpsterRequests: {}\n"), out
            assert re.search(r"^\S+ +%d +SG1 +cancelled " % rid, out, re.M), out
        finally:
            c.cleanup()
            finish(hub)


def test_route_failover_queue():
    c = Ctl()
    with Mbxsink(lmtp=True) as a, Mbxsink(lmtp=True) as b:
        hub = Hub(dests={"SG1": a.dest()}, admin={"token_hash": TOKEN_HASH}).start()
        try:
            one = ["--hub", "http://127.0.0.1:%d" % hub.admin_port, "--token-file", c.token_file]
            wait_for(lambda: items(hub, "SG1") == 0, what="the admin API")
            out = expect_rc(ctl(*one, "route", "--sg", "SG2", "--dest", "smtp:[127.0.0.1]:2526"),
                            0)
            assert out.endswith(": SG2 -> smtp:[127.0.0.1]:2526\n"), out
            send(hub, "alice@example.test", 1)
            wait_for(lambda: items(hub, "SG1") == 1, what="1 item in SG1")
            out = expect_rc(ctl(*one, "failover", "--sg", "SG1", "--dest", b.dest(),
                                "--since", "-1h", "--match", "received"), 0)
            assert ": SG1 -> %s\n" % b.dest() in out and ": request " in out, out
            wait_for(lambda: b.stats()["stored"] == 1, what="the message resent to B")
            send(hub, "alice@example.org", 2)  # SG2: nobody listens on 2526
            out = wait_for(lambda: (lambda r: r[1] if r[0] == 0 and r[1] else None)(
                ctl(*one, "--json", "queue", "--sg", "SG2")), what="the queued message")
            m = json.loads(out.splitlines()[0])
            assert m["hub"].startswith("127.0.0.1:") and m["recipients"][0]["address"] == \
                "alice@example.org", m
            out = expect_rc(ctl(*one, "queue"), 0)
            assert "-Queue ID-" in out and m["queue_id"] in out and "1 Request." in out, out
        finally:
            c.cleanup()
            finish(hub)


if __name__ == "__main__":
    if not os.path.exists(DUMPSTERCTL):
        print("skip: %s not built" % DUMPSTERCTL)
        sys.exit(77)
    sys.exit(1 if run([test_token_new, test_usage_and_bad_data, test_site_stats_requests_cancel,
                       test_route_failover_queue]) else 0)
