#!/usr/bin/env python3
"""Disk full: 451 4.3.0, nothing half-stored, and the hub keeps serving.

data_dir is a small tmpfs (a real full file system, not a simulation). The
hub is fed messages until the store reports full; every 250 must be in the
store whole and no refused message may be in it, the session and the hub
stay usable, and once the file system grows, mail is accepted again and the
content of the refused messages is gone.
Needs root for mount; exits 77 (skipped) without it.
"""
import os
import subprocess
import sys
import tempfile

from ddtest import Client, Hub, expect, run, wait_for

MNT = None


def send(c, size):
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: fill\r\n\r\n" + (b"f" * 98 + b"\r\n") * (size // 100) + b".\r\n")
    return c.reply()


def test_disk_full_451_then_recovers():
    hub = Hub(data_dir=MNT)
    hub.start()
    try:
        c = Client(hub.port, timeout=60)
        expect(c.cmd("EHLO full.example.net"), 250)
        acked, refused = [], 0
        for _ in range(100):
            code, lines = send(c, 300000)
            if code == 250:
                acked.append(lines[0].split()[-1])
                continue
            assert code == 451 and "4.3.0" in lines[0], lines
            refused += 1
            if refused == 3:
                break
        assert refused == 3, "the store never filled up"
        expect(c.cmd("NOOP"), 250)  # the session goes on
        msgs = hub.queued()
        assert sorted(msgs) == sorted(acked), (len(msgs), len(acked))
        subprocess.run(["mount", "-o", "remount,size=64m", MNT], check=True)
        expect(send(c, 300000), 250, "queued as")

        def orphans():
            with hub.db() as db:
                return db.execute("SELECT count(*) FROM message_body WHERE msg NOT IN "
                                  "(SELECT id FROM message)").fetchone()[0]
        wait_for(lambda: orphans() == 0, what="content of refused messages to go")
        expect(c.cmd("QUIT"), 221)
        print("accepted %d, refused 3 with 451 on a full disk, accepted again after growth"
              % len(acked))
    finally:
        hub.cleanup()


def main():
    global MNT
    MNT = tempfile.mkdtemp(prefix="ddfull-")
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                                            MNT]).returncode != 0:
        print("skipped: cannot mount a tmpfs (needs root)")
        sys.exit(77)
    try:
        failed = run([test_disk_full_451_then_recovers])
    finally:
        subprocess.run(["umount", "-l", MNT])
        os.rmdir(MNT)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
