"""ddcrash - SIGKILL rounds under load, with delivery and resubmission running.

What test_durability.py (10 rounds, in `make test`) and tests/torture/
torture_sigkill.py (100 rounds, `make torture`) share.

A round: the hub starts on the same data_dir; CLIENTS sessions send mail to
two storage groups (SG1 over LMTP to mbxsink A, SG2 over SMTP to mbxsink B),
each message with a Message-ID of its own, remembering every queue id that
got 250; a resubmit request resends SG1's recent deliveries to mbxsink C;
at a random moment the hub gets SIGKILL. Then, on the files as the crash
left them: PRAGMA integrity_check, the dumpster counters (dumpster_sg) equal
a recount of the items, every message whole. The hub starts again; every
acknowledged recipient is still queued or was delivered to its group's sink
(lost = 0). Once the queue has drained and no request is outstanding, GET
/v1/stats and /metrics must say what the tables say. Duplicates at the
sinks (at-least-once after a kill mid-delivery) are counted, not failed.
"""
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import threading
import time

from ddpeers import Mbxsink
from ddtest import Client, Hub, wait_for

TOKEN = "crash-rounds-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()
SIZES = [300, 3000, 30000, 120000]
RCPT_A = "bob@example.test"             # SG1
RCPT_B = "carol@sales.example.test"     # SG2


def api(hub, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", hub.admin_port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": "Bearer " + TOKEN,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    return r.status, data


def api_json(hub, path):
    status, data = api(hub, "GET", path)
    assert status == 200, (path, status, data[:300])
    return json.loads(data)


class Senders:
    """CLIENTS threads sending in a loop; acked: queue id -> (token, rcpts)."""

    def __init__(self, port, clients, acked, replies):
        self.stop = threading.Event()
        self.acked = acked
        self.replies = replies
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(port, i), daemon=True)
                        for i in range(clients)]
        for t in self.threads:
            t.start()

    def note(self, code):
        with self.lock:
            self.replies[code] = self.replies.get(code, 0) + 1

    def one(self, c, tag, n):
        token = "t%d-%d-%08x" % (tag, n, random.getrandbits(32))
        rcpts = [RCPT_A, RCPT_B] if n % 3 else [RCPT_A]
        size = random.choice(SIZES)
        if c.cmd("MAIL FROM:<s%d@example.net>" % tag)[0] != 250:
            return False
        for r in rcpts:
            if c.cmd("RCPT TO:<%s>" % r)[0] != 250:
                return False
        if c.cmd("DATA")[0] != 354:
            return False
        body = ("Message-ID: <%s@crash.example>\r\nSubject: %s\r\n\r\n" % (token, token)).encode()
        body += (b"z" * 76 + b"\r\n") * (size // 78)
        c.send(body + b".\r\n")
        code, lines = c.reply()
        self.note(code)
        if code == 250:
            self.acked[lines[0].split()[-1]] = (token, tuple(rcpts), len(body))
        return code == 250

    def run(self, port, tag):
        n = 0
        while not self.stop.is_set():
            try:
                c = Client(port, timeout=10)
                c.cmd("EHLO c%d.example.net" % tag)
                while not self.stop.is_set():
                    n += 1
                    if not self.one(c, tag, n):
                        break
                c.close()
            except (OSError, ConnectionError, ValueError, IndexError):
                time.sleep(0.01)

    def halt(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def sink_ids(sink):
    """Message-IDs sink stored (its index.tsv, written durably by mbxsink)."""
    try:
        with open(os.path.join(sink.tmp, "index.tsv"), errors="replace") as f:
            return {line.split("\t")[1] for line in f if "\t" in line}
    except FileNotFoundError:
        return set()


def db_ro(hub):
    path = os.path.join(hub.data_dir, "dumpsterd.db")
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30,
                           isolation_level=None)


def recount(db):
    """Mismatches between the counters and the tables, in one snapshot; and the counters."""
    bad = []
    counters = {}
    for sg, items, nbytes, oldest in db.execute(
            "SELECT sg, items, bytes, oldest FROM dumpster_sg"):
        n, b, o = db.execute("SELECT count(*), coalesce(sum(size), 0), coalesce(min(received), 0)"
                             " FROM dumpster_item WHERE sg = ?", (sg,)).fetchone()
        counters[sg] = (items, nbytes, oldest if items else 0)
        if (items, nbytes) != (n, b) or (items and oldest != o):
            bad.append("%s: counters items=%d bytes=%d oldest=%d, recount %d %d %d"
                       % (sg, items, nbytes, oldest, n, b, o))
    for sg, in db.execute("SELECT DISTINCT sg FROM dumpster_item WHERE sg NOT IN "
                          "(SELECT sg FROM dumpster_sg)"):
        bad.append("%s: items without a counter row" % sg)
    holds = db.execute("SELECT count(*) FROM message m WHERE holds != "
                       "(SELECT count(*) FROM dumpster_item i WHERE i.msg = m.id)").fetchone()[0]
    if holds:
        bad.append("%d messages whose holds differ from their items" % holds)
    whole = db.execute("SELECT count(*) FROM message m WHERE m.nchunks != "
                       "(SELECT count(*) FROM message_body b WHERE b.msg = m.id) OR m.size != "
                       "(SELECT coalesce(sum(length(data)), 0) FROM message_body b"
                       " WHERE b.msg = m.id)").fetchone()[0]
    if whole:
        bad.append("%d messages with incomplete content" % whole)
    orphans = db.execute("SELECT count(*) FROM recipient WHERE msg NOT IN "
                         "(SELECT id FROM message)").fetchone()[0]
    if orphans:
        bad.append("%d recipient rows of messages not in the store" % orphans)
    ledger = db.execute("SELECT count(*) FROM dumpster_ledger l WHERE NOT EXISTS (SELECT 1 FROM"
                        " dumpster_item i WHERE i.sg = l.sg AND i.msg = l.msg)").fetchone()[0]
    if ledger:
        bad.append("%d ledger rows of items not in the dumpster" % ledger)
    return bad, counters


def crashed_state(hub):
    """On the files a SIGKILL left: (integrity_check result, recount mismatches)."""
    db = db_ro(hub)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.execute("BEGIN")
        bad, _ = recount(db)
        db.execute("COMMIT")
    finally:
        db.close()
    return integrity, bad


def lost_recipients(hub, acked, sinks):
    """Acknowledged (queue id, rcpt) neither queued in the store nor at its group's sink.

    The store is read first, in one snapshot, then the sinks: what left the
    store before the snapshot was delivered before it, so it is at the sink."""
    db = db_ro(hub)
    try:
        db.execute("BEGIN")
        queued = set(db.execute(
            "SELECT m.queue_id, r.rcpt FROM recipient r JOIN message m ON m.id = r.msg"
            " WHERE r.request = 0 AND r.state IN (0, 3)").fetchall())
        db.execute("COMMIT")
    finally:
        db.close()
    at = {RCPT_A: sink_ids(sinks[0]), RCPT_B: sink_ids(sinks[1])}
    lost = []
    for qid, (token, rcpts, _) in list(acked.items()):
        mid = "<%s@crash.example>" % token
        for r in rcpts:
            if (qid, r) not in queued and mid not in at[r]:
                lost.append((qid, r))
    return lost


def drained(hub):
    """Nothing to deliver and no resubmit request outstanding."""
    db = db_ro(hub)
    try:
        n = db.execute("SELECT count(*) FROM recipient WHERE state = 0").fetchone()[0]
    finally:
        db.close()
    if n:
        return False
    return not api_json(hub, "/v1/resubmit?state=outstanding").get("requests", [1])


def metric(text, name, sg):
    key = '%s{storage_group="%s"}' % (name, sg)
    for line in text.splitlines():
        if line.startswith(key + " "):
            return int(float(line.split()[-1]))
    return None


def published_match(hub):
    """Mismatches between GET /v1/stats, /metrics and a recount (the hub idle)."""
    stats = api_json(hub, "/v1/stats")
    _, mtext = api(hub, "GET", "/metrics")
    mtext = mtext.decode()
    db = db_ro(hub)
    try:
        db.execute("BEGIN")
        bad, counters = recount(db)
        db.execute("COMMIT")
    finally:
        db.close()
    for g in stats["storage_groups"]:
        items, nbytes, _ = counters.get(g["name"], (0, 0, 0))
        if (g["items"], g["bytes"]) != (items, nbytes):
            bad.append("/v1/stats %s: items=%d bytes=%d, tables %d %d"
                       % (g["name"], g["items"], g["bytes"], items, nbytes))
        mi = metric(mtext, "dumpsterd_dumpster_items", g["name"])
        mb = metric(mtext, "dumpsterd_dumpster_bytes", g["name"])
        if (mi, mb) != (items, nbytes):
            bad.append("/metrics %s: items=%s bytes=%s, tables %d %d"
                       % (g["name"], mi, mb, items, nbytes))
    return bad


class Rounds:
    """The hub, its three sinks and the figures of every round so far."""

    def __init__(self, clients=6, dumpster_max=18874368, slow=1.0):
        self.sinks = [Mbxsink(lmtp=True), Mbxsink(), Mbxsink(lmtp=True)]
        for s in self.sinks:
            s.start()
        self.hub = Hub(dests={"SG1": self.sinks[0].dest(), "SG2": self.sinks[1].dest()},
                       admin={"token_hash": TOKEN_HASH},
                       delivery={"retry_initial": 1, "retry_max": 2},
                       extra="[dumpster]\nmax_size = %d\n" % dumpster_max)
        self.clients = clients
        self.slow = slow
        self.acked = {}
        self.replies = {}
        self.fig = dict(rounds=0, acknowledged=0, lost=0, integrity_bad=0, recount_bad=0,
                        published_bad=0, requests=0, failed_rcpts=0, kill_after_ms=[])
        self.problems = []

    def resubmit(self):
        now = int(time.time())
        status, data = api(self.hub, "POST", "/v1/resubmit",
                           {"storage_group": "SG1", "start": now - 30, "end": now + 1,
                            "destination": self.sinks[2].dest(), "reason": "crash round"})
        if status == 202:
            self.fig["requests"] += 1
        return status

    def one(self, load_s, sig=signal.SIGKILL, hups=0):
        """One round: start, load, resubmit, SIGKILL (or sig), check, restart, drain, check.
        hups: SIGHUPs (reloads) at random moments of the load first."""
        hub = self.hub
        hub.start()
        t0 = time.monotonic()
        before = len(self.acked)
        senders = Senders(hub.port, self.clients, self.acked, self.replies)
        wait_for(lambda: len(self.acked) > before + 2, timeout=60 * self.slow,
                 what="some acknowledgements")
        self.resubmit()
        for _ in range(hups):
            time.sleep(random.uniform(0.0, load_s / max(1, hups)))  # the load's pace
            hub.proc.send_signal(signal.SIGHUP)
        time.sleep(random.uniform(0.0, load_s))  # a random moment under load
        self.fig["kill_after_ms"].append(int((time.monotonic() - t0) * 1000))
        rc = hub.stop(sig)
        if sig != signal.SIGKILL and rc != 0:
            self.problems.append("round %d: exit %s on signal %d" % (self.fig["rounds"], rc, sig))
        senders.halt()
        integrity, bad = crashed_state(hub)
        if integrity != "ok":
            self.fig["integrity_bad"] += 1
            self.problems.append("round %d: integrity_check: %s" % (self.fig["rounds"], integrity))
        if bad:
            self.fig["recount_bad"] += 1
            self.problems += ["round %d (crashed): %s" % (self.fig["rounds"], b) for b in bad]
        hub.start()  # recovery runs at start
        lost = lost_recipients(hub, self.acked, self.sinks)
        if lost:
            self.fig["lost"] += len(lost)
            self.problems.append("round %d: acknowledged but lost: %r" % (self.fig["rounds"],
                                                                          lost[:5]))
        wait_for(lambda: drained(hub), timeout=300 * self.slow, what="the queue to drain")
        bad = published_match(hub)
        if bad:
            self.fig["published_bad"] += 1
            self.problems += ["round %d (published): %s" % (self.fig["rounds"], b) for b in bad]
        hub.stop()
        self.fig["rounds"] += 1
        self.fig["acknowledged"] = len(self.acked)

    def finish(self):
        """After the rounds: every acknowledged copy at its sink; the duplicates."""
        hub = self.hub
        hub.start()
        wait_for(lambda: drained(hub), timeout=300 * self.slow, what="the queue to drain")
        at = [sink_ids(s) for s in self.sinks[:2]]
        missing = 0
        for qid, (token, rcpts, _) in self.acked.items():
            mid = "<%s@crash.example>" % token
            missing += (mid not in at[0]) + (RCPT_B in rcpts and mid not in at[1])
        with hub.db() as db:
            failed = db.execute("SELECT m.queue_id, r.rcpt, r.request, r.last_reply FROM"
                                " recipient r JOIN message m ON m.id = r.msg"
                                " WHERE r.state = 3").fetchall()
        self.fig["failed_rcpts"] = len(failed)
        hub.stop()
        errors = [line for line in hub.log().splitlines() if ": error: " in line
                  or ": fatal: " in line or ": panic: " in line]
        if errors:
            self.problems.append("%d error lines in the log, first: %s"
                                 % (len(errors), errors[0]))
        st = [s.stats() for s in self.sinks]
        self.fig.update(missing_at_sinks=missing,
                        dup_sg1=st[0]["duplicates"], dup_sg2=st[1]["duplicates"],
                        dup_resubmit=st[2]["duplicates"], resubmitted=st[2]["stored"],
                        stored_sg1=st[0]["stored"], stored_sg2=st[1]["stored"],
                        replies=dict(sorted(self.replies.items())))
        if missing:
            self.problems.append("%d acknowledged copies never reached their sink" % missing)
        if self.fig["failed_rcpts"]:
            self.problems.append("%d recipients failed: %r" % (len(failed), failed[:5]))
        return self.fig

    def cleanup(self):
        try:
            self.hub.cleanup()
        finally:
            for s in self.sinks:
                s.stop()
                shutil.rmtree(s.tmp, ignore_errors=True)
