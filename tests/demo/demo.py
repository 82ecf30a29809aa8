#!/usr/bin/env python3
"""demo - a lossy mailbox failover healed by the transport dumpster (`make demo`).

Two hubs (dumpsterd hub1, hub2) and two real Dovecot 2.3 instances as the active
(mbx1) and the recovered (mbx2) mailbox server of storage group SG1, all on
loopback in a private network namespace:

 1. mail goes through both hubs to mbx1;
 2. mbx1's maildirs are copied to mbx2 (the replica) part way through;
 3. more mail goes to mbx1 only;
 4. mbx1 stops: a lossy failover, mbx2 lacks the newest mail;
 5. `dumpsterctl --site SITE failover --sg SG1 --dest mbx2 --since T` moves SG1 to
    mbx2 and resubmits [T, now] on every hub in one step;
 6. the result is computed from the maildirs themselves (not from the hubs'
    counters): which lost copies are back, and how many copies are doubled.

Each hub's `[storage_group SG1] probe` points at mbx2's doveadm HTTP API (the
server the resubmission goes to), so the heal must be exact: the hubs resend
only what mbx2 lacks. `--no-probe` resubmits with `"probe": false` and shows the
duplicates that makes.

    python3 tests/demo/demo.py [--short] [--keep] [--margin S] [--narrow] [--no-probe]
    (make demo; as root)

Exit 0 when every lost copy is back (and, with the probe, none is doubled), 1
otherwise, 77 when Dovecot is not installed. Everything it starts is stopped by
pid when it ends, also on Ctrl-C or SIGTERM.
"""
import argparse
import os
import shlex
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("DD_BUILD_DIR", os.path.join(TOP, "build"))

from ddtest import Hub, wait_for  # noqa: E402
import ddheal  # noqa: E402
import dovecot as dc  # noqa: E402

BUILD = os.environ["DD_BUILD_DIR"]
DUMPSTERCTL = os.path.join(BUILD, "dumpsterctl")
USERS = ["alice@example.test", "bob@example.test", "carol@example.test", "dave@example.test"]
SG = "SG1"


def say(text=""):
    print(text, flush=True)


def ctl(site, token_file, *args):
    """Run dumpsterctl as an operator would, echoing the command and its output."""
    cmd = [DUMPSTERCTL, "--site", site] + (["--token-file", token_file] if token_file else [])
    cmd += list(args)
    shown = shlex.join(["dumpsterctl", "--site", os.path.basename(site)] +
                       (["--token-file", os.path.basename(token_file)] if token_file else []) +
                       list(args))
    say("   $ " + shown)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    for line in (p.stdout + p.stderr).rstrip("\n").split("\n"):
        say("     " + line)
    if p.returncode != 0:
        raise RuntimeError("dumpsterctl %s: exit %d" % (args[0], p.returncode))
    return p.stdout


def new_token(work):
    """`dumpsterctl token new`: the token into a file, its token_hash for the hubs."""
    out = subprocess.run([DUMPSTERCTL, "token", "new"], capture_output=True, text=True,
                         check=True, timeout=30).stdout.split("\n")
    token, hash_line = out[0].strip(), out[1].strip()
    assert hash_line.startswith("token_hash = "), out
    path = os.path.join(work, "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path, token, hash_line.split("=", 1)[1].strip()


def send(hubs, first, count):
    """count messages, alternating between the hubs, each to 2..4 of the users."""
    for i in range(first, first + count):
        hub = hubs[i % len(hubs)]
        rcpts = [u for k, u in enumerate(USERS) if (i + k) % 3 != 0] or USERS[:2]
        msg = ("From: demo@example.net\r\nTo: %s\r\nSubject: demo %d via %s\r\n"
               "Message-ID: <demo-%d@example.net>\r\n\r\nmessage %d\r\n" % (
                   ", ".join(rcpts), i, hub.name, i, i))
        with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
            s.sendmail("demo@example.net", rcpts, msg.encode())
    return sum(len([u for k, u in enumerate(USERS) if (i + k) % 3 != 0] or USERS[:2])
               for i in range(first, first + count))


def held(dv):
    """{(user, Message-ID): copies} read from dv's maildirs."""
    return {(u, mid): n for u in USERS for mid, n in dv.message_ids(u).items()}


def outstanding(hub, token):
    status, body = ddheal.api(hub.admin_port, "GET", "/v1/resubmit?state=outstanding",
                              token=token)
    assert status == 200, (status, body)
    reqs = body.get("requests", body) if isinstance(body, dict) else body
    return len(reqs)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


class Demo:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="dumpsterd-demo-")
        os.chmod(self.work, 0o755)  # Dovecot's auth (user dovecot) reads mbx*/users
        self.things = []  # everything started, stopped in reverse order

    def start(self, thing):
        self.things.append(thing)
        return thing.start()

    def stop_all(self):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for thing in reversed(self.things):
            try:
                thing.stop()
            except Exception as e:  # noqa: BLE001 - stop the rest all the same
                say("   (stopping %s: %s)" % (type(thing).__name__, e))
        self.things = []
        if not self.args.keep:
            subprocess.run(["rm", "-rf", self.work])

    def run(self):
        n1, n2 = (12, 8) if self.args.short else (60, 40)
        probe = not self.args.no_probe
        token_file, token, token_hash = new_token(self.work)
        for name in ("mbx1", "mbx2", "hub1", "hub2"):
            os.makedirs(os.path.join(self.work, name))
        mbx1 = dc.Dovecot(users=USERS, name="mbx1", workdir=os.path.join(self.work, "mbx1"))
        mbx2 = dc.Dovecot(users=USERS, name="mbx2", workdir=os.path.join(self.work, "mbx2"))
        self.start(mbx1)
        hubs = []
        for name in ("hub1", "hub2"):
            opts = {SG: ddheal.probe_options(mbx2)}
            hub = Hub(hub={"name": name}, smtp={"hostname": name + ".example.test"},
                      directory="@example.test\t%s\n" % SG, dests={SG: mbx1.dest_tcp()},
                      sg_options=opts, admin={"token_hash": token_hash},
                      workdir=os.path.join(self.work, name),
                      extra="[dumpster]\nmax_age = 86400\n")
            hub.name = name
            hubs.append(hub)
        for hub in hubs:
            self.start(hub)
        site = os.path.join(self.work, "site.conf")
        with open(site, "w") as f:
            f.write("# the demo's site: NAME URL\n" + "".join(
                "%s http://127.0.0.1:%d\n" % (h.name, h.admin_port) for h in hubs))

        say("== dumpsterd demo: a lossy mailbox failover healed (issue 9)")
        say("   work dir %s" % self.work)
        say("   network: %s" % ("private namespace (unshare -n), loopback only"
                                if os.environ.get("DD_NETNS") == "1" else "host loopback"))
        say("   mailbox servers of %s: mbx1 (active) %s, mbx2 (replica) %s; Dovecot %s" % (
            SG, mbx1.dest_tcp(), mbx2.dest_tcp(), dc.version()))
        for h in hubs:
            say("   %s: SMTP 127.0.0.1:%d, admin http://127.0.0.1:%d" % (h.name, h.port,
                                                                          h.admin_port))
        say("   probe: %s probe = %s (mbx2)%s" % (
            SG, mbx2.probe_url(), "" if probe else "; --no-probe: the requests say "
            "\"probe\": false, so the hubs also resend what mbx2 still has"))

        copies1 = send(hubs, 0, n1)
        wait_for(lambda: mbx1.count() == copies1, timeout=60, what="phase 1 at mbx1")
        say("== 1. %d messages through hub1 and hub2 -> mbx1: %d copies in %d mailboxes" % (
            n1, copies1, len(USERS)))

        t_copy = time.time()
        mbx1.copy_mail_to(mbx2)
        self.start(mbx2)
        say("== 2. replica: mbx1's maildirs copied to mbx2 at %s (%d copies)" % (
            rfc3339(t_copy), mbx2.count()))

        half = n2 // 2  # phase 3 in two halves: --narrow starts the window between them
        copies2 = send(hubs, n1, half)
        wait_for(lambda: mbx1.count() == copies1 + copies2, timeout=60, what="phase 3a at mbx1")
        for hub in hubs:  # delivered times recorded on the hubs, not only in the maildir
            wait_for(lambda: ddheal.queue_empty(hub.admin_port, token), what="%s's queue" % hub.name)
        t_half = time.time()
        copies2 += send(hubs, n1 + half, n2 - half)
        wait_for(lambda: mbx1.count() == copies1 + copies2, timeout=60, what="phase 3b at mbx1")
        say("== 3. %d more messages -> mbx1 only: %d copies" % (n2, copies1 + copies2))

        for hub in hubs:
            wait_for(lambda: ddheal.queue_empty(hub.admin_port, token), what="%s's queue" % hub.name)
        at_mbx1 = held(mbx1)
        mbx1.stop()
        replica = held(mbx2)
        lost = sorted(k for k in at_mbx1 if k not in replica)
        say("== 4. mbx1 stopped (lossy failover): mbx2 lacks %d of %d copies" % (
            len(lost), sum(at_mbx1.values())))

        say("== 5. before the failover")
        ctl(site, None, "stats", "--sg", SG)
        since = t_copy - self.args.margin  # a little before the copy: wider than the loss
        if self.args.narrow:
            since = t_half
        say("== 6. failover: route %s to mbx2 and resubmit [%s, now] on every hub" % (
            SG, rfc3339(since)))
        ctl(site, token_file, "failover", "--sg", SG, "--dest", mbx2.dest_tcp(), "--since",
            rfc3339(since), "--reason", "demo: mbx1 lost its newest mail",
            *([] if probe else ["--no-probe"]))
        for hub in hubs:
            wait_for(lambda: outstanding(hub, token) == 0, timeout=60,
                     what="%s's request to finish" % hub.name)
            wait_for(lambda: ddheal.queue_empty(hub.admin_port, token), timeout=60,
                     what="%s's queue to drain" % hub.name)
        say("== 7. after: every request done, every queue empty")
        ctl(site, token_file, "requests", "--all")
        ctl(site, None, "stats", "--sg", SG)

        after = held(mbx2)
        back = [k for k in lost if after.get(k)]
        missing = sorted(k for k in at_mbx1 if not after.get(k))
        dups = sum(n - 1 for n in after.values())
        say("== result, from mbx2's maildirs:")
        say("   recovered %d/%d lost copies, duplicates %d" % (len(back), len(lost), dups))
        ok = not missing and (dups == 0 or not probe)
        if missing:
            say("   MISSING: %s" % ", ".join("%s %s" % k for k in missing[:20]))
        if dups and not probe:
            say("   (--no-probe: the hubs resent the copies of [%s, now] that mbx2 still had, and "
                "Dovecot keeps\n    every copy)" % rfc3339(since))
        elif dups:
            say("   DUPLICATES with the probe configured: the heal is not exact")
        say("== %s" % ("OK" if ok else "FAILED"))
        return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", action="store_true", help="fewer messages (the make test form)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--margin", type=float, default=1.0,
                    help="--since is this many seconds before the copy (default 1)")
    ap.add_argument("--narrow", action="store_true",
                    help="--since half way through the loss: see the demo fail")
    ap.add_argument("--no-probe", action="store_true",
                    help="resubmit with \"probe\": false: see the duplicates it makes")
    args = ap.parse_args()
    why = dc.usable()
    if why:
        print("skip: %s" % why)
        return 77
    for tool in (os.environ.get("DUMPSTERD") or os.path.join(BUILD, "dumpsterd"), DUMPSTERCTL):
        if not os.access(tool, os.X_OK):
            print("demo: %s not built (make build)" % tool)
            return 1
    dc.in_private_netns()
    demo = Demo(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        return demo.run()
    except KeyboardInterrupt:
        say("\n== interrupted: stopping everything")
        return 130
    finally:
        demo.stop_all()


if __name__ == "__main__":
    sys.exit(main())
