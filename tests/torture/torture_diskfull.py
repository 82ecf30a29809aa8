#!/usr/bin/env python3
"""torture_diskfull - a full disk and back, again and again, on a small tmpfs.

data_dir is a 32 MiB tmpfs shared with a ballast file; the hub keeps [hub] min_free
= 6 MiB of it free (MAIL gets 452 4.3.1 below that). Each cycle the
ballast leaves a few MiB, 4 clients send messages of 2 KiB to 1 MiB until the hub
answers 4xx, and then the ballast goes (and the mailbox comes back if it was
down: the queued mail may hold the disk); the time from then to the next 250
is the recovery time. Cycles alternate what happens while
full: delivery running (its outcomes meet the full disk too) or the mailbox
down; a SIGTERM and restart, or a SIGKILL and restart, on the full disk.
The WAL's size is sampled throughout. At the end every acknowledged message
is at the mailbox, nothing is queued, integrity_check is ok and the
counters equal a recount. Needs root (mount); without it the case is a
FAIL row saying so (`make torture` runs as root).
"""
import os
import random
import subprocess
import tempfile
import threading
import time

from tortlib import Family, scaled

import ddcrash
from ddpeers import Mbxsink
from ddtest import Client, Hub, wait_for

TMPFS = "32m"
MIN_FREE = 6 << 20    # [hub] min_free: room kept for outcomes, expiry and checkpoints
ROOM = MIN_FREE + (2 << 20)  # what the ballast leaves free at a cycle's start
SIZES = [2 << 10, 50 << 10, 200 << 10, 1 << 20]


class Load:
    """Clients sending messages of SIZES; acked: Message-ID -> queue id; replies by code."""

    def __init__(self, port, n, acked, replies, tag):
        self.stop = threading.Event()
        self.acked, self.total, self.lock = acked, replies, threading.Lock()
        self.replies = {}  # this load's
        self.threads = [threading.Thread(target=self.run, args=(port, "%s.%d" % (tag, i)),
                                         daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, port, tag):
        n = 0
        while not self.stop.is_set():
            try:
                c = Client(port, timeout=30)
                c.cmd("EHLO full.example.net")
                while not self.stop.is_set():
                    n += 1
                    mid = "<df-%s-%d-%x@full.example>" % (tag, n, random.getrandbits(24))
                    code = c.cmd("MAIL FROM:<a@example.net>")[0]
                    if code != 250:  # 452 4.3.1: under [hub] min_free
                        with self.lock:
                            self.replies[code] = self.replies.get(code, 0) + 1
                        time.sleep(0.05)
                        continue
                    if c.cmd("RCPT TO:<bob@example.test>")[0] != 250 or \
                            c.cmd("DATA")[0] != 354:
                        break
                    body = (b"f" * 98 + b"\r\n") * (random.choice(SIZES) // 100)
                    c.send(b"Message-ID: " + mid.encode() + b"\r\nSubject: fill\r\n\r\n" + body +
                           b".\r\n")
                    code, lines = c.reply()
                    with self.lock:
                        self.replies[code] = self.replies.get(code, 0) + 1
                    if code == 250:
                        self.acked[mid] = lines[0].split()[-1]
                    elif code >= 400:
                        time.sleep(0.05)  # a client backing off after a 4xx
                c.close()
            except (OSError, ConnectionError, ValueError, IndexError):
                time.sleep(0.05)

    def refused(self):
        with self.lock:
            return sum(v for k, v in self.replies.items() if 400 <= k < 500)

    def halt(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        for k, v in self.replies.items():
            self.total[k] = self.total.get(k, 0) + v


def probe_send(port):
    """One small message on a fresh connection: its reply code, or the first refusal's
    (0: no reply)."""
    try:
        c = Client(port, timeout=30)
        try:
            c.cmd("EHLO probe.example.net")
            code = c.cmd("MAIL FROM:<p@example.net>")[0]
            if code != 250:  # 452 4.3.1 under min_free
                return code
            code = c.cmd("RCPT TO:<bob@example.test>")[0]
            if code != 250:
                return code
            code = c.cmd("DATA")[0]
            if code != 354:
                return code
            c.send(b"Subject: probe\r\n\r\nprobe\r\n.\r\n")
            return c.reply()[0]
        finally:
            c.close()
    except (OSError, ConnectionError):
        return 0


class WalWatch(threading.Thread):
    """The largest -wal file seen, sampled every 20 ms."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.peak, self.stopped = path, 0, False

    def run(self):
        while not self.stopped:
            try:
                self.peak = max(self.peak, os.path.getsize(self.path))
            except OSError:
                pass
            time.sleep(0.02)


def ballast(path, room):
    """A file that leaves about `room` bytes free on path's file system."""
    st = os.statvfs(os.path.dirname(path))
    want = st.f_bavail * st.f_frsize - room
    with open(path, "wb") as f:
        try:
            while want > 0:
                n = min(want, 1 << 20)
                f.write(b"\0" * n)
                want -= n
            f.flush()
        except OSError:
            pass


def pending(hub):
    """Messages waiting for delivery, from /metrics: the hub's own count. (Polling the
    database instead opens a reader now and then, and a checkpoint that meets a reader
    cannot reset the WAL, which then outgrows its limit: the test itself held the WAL
    back on a full disk.)"""
    status, data = ddcrash.api(hub, "GET", "/metrics")
    assert status == 200, (status, data[:200])
    return sum(int(float(line.split()[-1])) for line in data.decode().splitlines()
               if line.startswith("dumpsterd_queue_messages{"))


def stuck(hub, mnt):
    """What a queue that does not drain after the space came back looks like."""
    st = os.statvfs(mnt)
    size = {}
    for f in ("dumpsterd.db", "dumpsterd.db-wal"):
        try:
            size[f] = os.path.getsize(os.path.join(mnt, "var", f))
        except OSError:
            size[f] = 0
    with hub.db() as db:
        live = db.execute("SELECT coalesce(sum(size), 0) FROM message").fetchone()[0]
    return ("%d messages waiting; tmpfs free %.1f MiB, "
            "db %.1f MiB, WAL %.1f MiB, messages %.1f MiB; %d 'cannot write to the store' "
            "warnings" % (pending(hub), st.f_bavail * st.f_frsize / 1048576.0,
                          size["dumpsterd.db"] / 1048576.0, size["dumpsterd.db-wal"] / 1048576.0,
                          live / 1048576.0, hub.log().count("cannot write to the store")))


def cycles(n):
    mnt = tempfile.mkdtemp(prefix="ddtorture-full-")
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS,
                                            "tmpfs", mnt]).returncode != 0:
        os.rmdir(mnt)
        raise RuntimeError("cannot mount a tmpfs: needs root")
    sink = Mbxsink(lmtp=True)
    hub = Hub(data_dir=os.path.join(mnt, "var"), dests={"SG1": sink.dest()},
              admin={"token_hash": ddcrash.TOKEN_HASH},
              delivery={"retry_initial": 1, "retry_max": 2},
              hub={"min_free": MIN_FREE}, extra="[dumpster]\nmax_size = 4194304\n")
    wal = WalWatch(os.path.join(mnt, "var", "dumpsterd.db-wal"))
    acked, replies, problems = {}, {}, []
    recovery, drains, restarts, after = [], [], {"term": 0, "kill": 0}, {}
    try:
        sink.start()
        hub.start()
        wal.start()
        for cyc in range(n):
            sink_up = cyc % 2 == 0
            if not sink_up:
                sink.stop()
            ballast(os.path.join(mnt, "ballast"), ROOM)
            load = Load(hub.port, 4, acked, replies, "c%d" % cyc)
            wait_for(lambda: load.refused() >= 8, timeout=180, what="the disk to fill")
            how = ["", "term", "kill"][cyc % 3]
            if how:  # a restart on the full disk: it starts, and says 4xx to new mail
                load.halt()
                rc = hub.stop() if how == "term" else hub.kill()
                if how == "term" and rc != 0:
                    problems.append("cycle %d: exit %s on SIGTERM while full" % (cyc, rc))
                hub.start()
                restarts[how] += 1
                code = probe_send(hub.port)  # 250 too: the stop's checkpoint may free the WAL
                after[code] = after.get(code, 0) + 1
                if not (400 <= code < 500 or code == 250):
                    problems.append("cycle %d: %d after a restart on a full disk" % (cyc, code))
            else:
                load.halt()
            t_free = time.monotonic()
            os.unlink(os.path.join(mnt, "ballast"))
            if not sink_up:
                # the queue may hold the disk now: room comes back as it drains
                sink.start()
            try:
                wait_for(lambda: probe_send(hub.port) == 250, timeout=120,
                         what="a 250 once space came back")
            except AssertionError:
                raise AssertionError("cycle %d: no 250 120 s after the space came back; %s"
                                     % (cyc, stuck(hub, mnt)))
            recovery.append(time.monotonic() - t_free)
            try:
                wait_for(lambda: pending(hub) == 0, timeout=120, what="the queue to drain")
            except AssertionError:
                raise AssertionError("cycle %d: the queue not drained 120 s after the space "
                                     "came back; %s" % (cyc, stuck(hub, mnt)))
            drains.append(time.monotonic() - t_free)
        at = ddcrash.sink_ids(sink)
        lost = [m for m in acked if m not in at]
        if lost:
            problems.append("%d acknowledged messages not delivered: %r" % (len(lost), lost[:3]))
        integrity, bad = "ok", ddcrash.published_match(hub)
        with hub.db() as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append("integrity_check: " + integrity)
        problems += bad
        if hub.stop() != 0:
            problems.append("the last SIGTERM did not exit 0")
        st = sink.stats()
        wal.stopped = True
        fig = {"cycles": n, "acknowledged": len(acked), "lost": len(lost),
               "duplicated": st["duplicates"], "replies": dict(sorted(replies.items())),
               "recovery s max": max(recovery), "recovery s median": sorted(recovery)[n // 2],
               "drained s max": max(drains), "WAL peak": "%.1f MiB" % (wal.peak / 1048576.0),
               "restarts while full": "%d SIGTERM, %d SIGKILL" % (restarts["term"],
                                                                  restarts["kill"]),
               "first reply after a restart": dict(sorted(after.items())),
               "counters != recount": len(bad), "integrity_check": integrity}
        return fig, problems
    finally:
        wal.stopped = True
        try:
            hub.cleanup()
        finally:
            sink.stop()
            subprocess.run(["umount", "-l", mnt])
            os.rmdir(mnt)


if __name__ == "__main__":
    fam = Family("diskfull")
    n = scaled(20, least=3)
    fam.case("%d cycles full and back (tmpfs %s)" % (n, TMPFS), cycles, n)
    fam.exit()
