#!/usr/bin/env python3
"""Never lose an acknowledged message: SIGKILL at random moments under load.

Several clients send in a loop and remember every queue id that got 250,
with the unique token in its body. The hub is killed with SIGKILL at a
random moment, restarted on the same data_dir, and the store itself is read:
every acknowledged message must be there, whole, with its recipients. Rounds
repeat so kills land in different phases (mid-DATA, mid-commit, idle).
"""
import random
import sys
import threading
import time

from ddtest import Client, Hub, run, wait_for

ROUNDS = 6
CLIENTS = 6


def sender(hub_port, acked, stop, tag):
    n = 0
    while not stop.is_set():
        try:
            c = Client(hub_port, timeout=5)
            c.cmd("EHLO c%d.example.net" % tag)
            while not stop.is_set():
                n += 1
                token = "tok-%d-%d-%d" % (tag, n, random.randrange(1 << 30))
                size = random.choice([200, 5000, 70000, 300000])
                if c.cmd("MAIL FROM:<s%d@example.net>" % tag)[0] != 250:
                    break
                if c.cmd("RCPT TO:<bob@example.test>")[0] != 250:
                    break
                c.cmd("RCPT TO:<carol@sales.example.test>")
                if c.cmd("DATA")[0] != 354:
                    break
                body = ("Subject: %s\r\n\r\n" % token).encode() + \
                    (b"z" * 76 + b"\r\n") * (size // 78)
                c.send(body + b".\r\n")
                code, lines = c.reply()
                if code == 250:
                    acked[lines[0].split()[-1]] = (token, len(body))
        except (OSError, ConnectionError, ValueError):
            time.sleep(0.01)


def check_store(hub, acked):
    msgs = hub.queued()
    with hub.db() as db:
        bad = db.execute("SELECT m.queue_id FROM message m WHERE m.nchunks != "
                         "(SELECT count(*) FROM message_body b WHERE b.msg = m.id) OR m.size != "
                         "(SELECT coalesce(sum(length(data)),0) FROM message_body b WHERE b.msg = m.id)"
                         ).fetchall()
    assert not bad, "messages with incomplete content: %r" % bad
    missing = [q for q in acked if q not in msgs]
    assert not missing, "acknowledged but lost: %r" % missing[:10]
    for qid, (token, blen) in acked.items():
        sender, rcpts, body = msgs[qid]
        assert token.encode() in body, qid
        assert body.endswith(b"z" * 76 + b"\r\n") or blen < 78 * 2, qid
        assert rcpts == ["bob@example.test", "carol@sales.example.test"], (qid, rcpts)
    return len(msgs)


def test_sigkill_loses_nothing():
    hub = Hub()
    acked = {}
    try:
        for rnd in range(ROUNDS):
            hub.start()
            stop = threading.Event()
            threads = [threading.Thread(target=sender, args=(hub.port, acked, stop, i))
                       for i in range(CLIENTS)]
            for t in threads:
                t.start()
            before = len(acked)
            wait_for(lambda: len(acked) > before + 3, timeout=60, what="some acks")
            time.sleep(random.uniform(0.0, 0.8))  # a random moment under load
            hub.kill()
            stop.set()
            for t in threads:
                t.join()
            hub.start()  # recovery runs at start
            total = check_store(hub, acked)
            print("round %d: %d acknowledged, %d in store" % (rnd, len(acked), total))
            hub.stop()
        assert len(acked) > ROUNDS * 3
    finally:
        hub.cleanup()


if __name__ == "__main__":
    sys.exit(1 if run([test_sigkill_loses_nothing]) else 0)
