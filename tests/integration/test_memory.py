#!/usr/bin/env python3
"""A message being received never sits whole in memory.

SESSIONS clients each send a 1 MiB message at the same time; the hub's peak
RSS (VmHWM) must stay far below SESSIONS MiB, which is what holding each
message whole would cost. Under ASan (DD_SANITIZE=1) memory is inflated by
the sanitizer, so only correctness is checked there.
"""
import os
import sys
import threading

from ddtest import Client, Hub, expect, run

SESSIONS = int(os.environ.get("DD_MEMORY_SESSIONS", "300"))
MESSAGE = b"Subject: big\r\n\r\n" + (b"m" * 998 + b"\r\n") * 1049  # 1 MiB


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def test_many_sessions_one_mib_each():
    with Hub(smtp={"max_connections": SESSIONS + 10, "max_connections_per_ip": SESSIONS + 10,
                   "max_message_size": 2 * 1024 * 1024}) as hub:
        base = vm(hub.proc.pid, "VmRSS")
        clients = []
        for _ in range(SESSIONS):
            c = Client(hub.port, timeout=120)
            expect(c.cmd("EHLO m.example.net"), 250)
            expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
            expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
            expect(c.cmd("DATA"), 354)
            clients.append(c)
        results = [None] * SESSIONS
        go = threading.Barrier(SESSIONS)

        def send(i):
            go.wait()
            clients[i].send(MESSAGE + b".\r\n")
            results[i] = clients[i].reply()

        threads = [threading.Thread(target=send, args=(i,)) for i in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            expect(r, 250, "queued as")
        peak = vm(hub.proc.pid, "VmHWM")
        whole = SESSIONS * len(MESSAGE)
        print("sessions=%d message=%d bytes: hub RSS at start %.1f MiB, peak %.1f MiB "
              "(holding messages whole would need %.0f MiB)"
              % (SESSIONS, len(MESSAGE), base / 2**20, peak / 2**20, whole / 2**20))
        assert len(hub.queued()) == SESSIONS
        if os.environ.get("DD_SANITIZE") != "1":
            assert peak < whole / 3, "peak RSS %d is not bounded" % peak


if __name__ == "__main__":
    sys.exit(1 if run([test_many_sessions_one_mib_each]) else 0)
