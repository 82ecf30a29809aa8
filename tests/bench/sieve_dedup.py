#!/usr/bin/env python3
"""sieve_dedup - issue 9 item 3, measured: does Dovecot's recipe without a probe
(Pigeonhole sieve `duplicate` in `sieve_before`) keep a resubmission from doubling
mail, with concurrency_per_destination = 1 and = 20?

Each case: a private Dovecot A (tests/integration/dovecot.py) with the dedup script
in sieve_before, 3 users; the real dumpsterd delivers batch 1 (every message to all
3 users) at ORIG connections per destination; A's mail is copied to a replica B
(the "recovered" mailbox server), with or without the sieve duplicate database;
batch 2 is delivered to A only; the storage group moves to B, the hub is reloaded
(SIGHUP) with RESUB connections, and the whole time range (batches 1 and 2, wider
than the loss) is resubmitted. Counted from B's maildirs: duplicates (copies past
the first of a Message-ID) and missing copies (lost and not healed).

Modes: `replica+db` copies the home with its .dovecot.lda-dupes (a snapshot of the
whole home); `replica` copies the maildirs only (what dsync replicates);
`inplace` deletes batch 2's files from A itself (the database keeps their ids).
`+userlimit` adds `lmtp_user_concurrency_limit = 1` to both Dovecots (one delivery
per user at a time; the others get 4xx and the hub retries after 1 s).

    tests/bench/sieve_dedup.py [--runs N] [--batch N] [--hubs N] [--cases 20:20:replica+db,...]

Runs inside a private network namespace (unshare -n, as root) like the tests.
"""
import argparse
import os
import re
import signal
import smtplib
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from ddtest import Hub, free_port, wait_for  # noqa: E402
import ddheal  # noqa: E402
import dovecot as dc  # noqa: E402

USERS = ["alice@example.test", "bob@example.test", "carol@example.test"]
DEFAULT_CASES = "20:20:replica+db,20:1:replica+db,1:1:replica+db,20:1:replica,20:1:inplace"


def send_batch(hub, tag, n, clients=10, first=0, step=1):
    """Messages first, first+step, ... < n to all USERS, from `clients` SMTP sessions."""
    def worker(k):
        with smtplib.SMTP("127.0.0.1", hub.port, timeout=60) as s:
            for i in range(first + k * step, n, clients * step):
                msg = ("From: s@example.net\r\nSubject: %s %d\r\nMessage-ID: <%s-%d@example.net>"
                       "\r\n\r\nbody %d\r\n" % (tag, i, tag, i, i))
                s.sendmail("s@example.net", USERS, msg.encode())
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def set_concurrency(hub, n):
    """Rewrite the hub's concurrency_per_destination and SIGHUP it; wait for the reload."""
    text = re.sub(r"concurrency_per_destination = \d+", "concurrency_per_destination = %d" % n,
                  open(hub.conf_path).read())
    with open(hub.conf_path, "w") as f:
        f.write(text)
    before = hub.log().count("reload: ")
    hub.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: hub.log().count("reload: ") > before, what="the hub to reload")


def route(hubs, dest):
    for hub in hubs:
        status, body = ddheal.api(hub.admin_port, "PUT", "/v1/storage-groups/SG1/destination",
                                  {"destination": dest})
        assert status == 200, (status, body)


def drained(hubs):
    for hub in hubs:
        wait_for(lambda: ddheal.queue_empty(hub.admin_port), timeout=120, what="an empty queue")


def deliver_queued(hubs, dest, total_at, dv):
    """Point SG1 at dest on every hub: every queued recipient is due at once, ORIG
    connections deep per hub."""
    route(hubs, dest)
    wait_for(lambda: dv.count(USERS) >= total_at, timeout=120, what="%d copies" % total_at)
    drained(hubs)


def send_all(hubs, tag, n):
    """n messages split over the hubs (each hub gets its own Message-IDs)."""
    threads = [threading.Thread(target=send_batch, args=(h, tag, n, 10 // len(hubs) or 1, k,
                                                         len(hubs)))
               for k, h in enumerate(hubs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def one_case(orig, resub, mode, batch, nhubs=1):
    limit = mode.endswith("+userlimit")
    mode = mode[:-len("+userlimit")] if limit else mode
    extra = "lmtp_user_concurrency_limit = 1\n" if limit else ""
    a = dc.Dovecot(users=USERS, name="a", sieve_dedup=True, extra_conf=extra).start()
    b = dc.Dovecot(users=USERS, name="b", sieve_dedup=True, extra_conf=extra).start() \
        if mode != "inplace" else None
    nowhere = "lmtp:[127.0.0.1]:%d" % free_port()
    delivery = {"concurrency_per_destination": orig}
    if extra:  # Dovecot answers 4xx past one delivery per user: retry soon
        delivery.update(retry_initial=1, retry_max=2)
    hubs = []
    try:
        for k in range(nhubs):
            hubs.append(Hub(hub={"name": "hub%d" % (k + 1)}, directory="@example.test\tSG1\n",
                            dests={"SG1": nowhere}, delivery=delivery,
                            extra="[dumpster]\nmax_age = 86400\n",
                            admin={"token_hash": ddheal.TOKEN_HASH}).start())
        t0 = time.time()
        # batch 1 queued while SG1 points nowhere, then released at once: ORIG connections
        send_all(hubs, "b1", batch)
        deliver_queued(hubs, a.dest_tcp(), batch * len(USERS), a)
        if b:
            b.stop()
            a.copy_mail_to(b, with_dupes_db=(mode == "replica+db"))
            b.start()
        route(hubs, nowhere)
        send_all(hubs, "b2", batch)
        deliver_queued(hubs, a.dest_tcp(), 2 * batch * len(USERS), a)
        if b:
            a.stop()
            target = b
        else:
            for u in USERS:
                a.lose_newest(u, batch)
            target = a
        present = target.count(USERS)
        for hub in hubs:
            set_concurrency(hub, resub)
        route(hubs, target.dest_tcp())
        reqs = [ddheal.resubmit(h.admin_port, {"storage_group": "SG1", "start": t0 - 1,
                                               "end": time.time() + 1}) for h in hubs]
        for h, req in zip(hubs, reqs):
            ddheal.wait_request_done(h.admin_port, req["id"], timeout=120)
        drained(hubs)
        held = {u: target.message_ids(u) for u in USERS}
        want = ["<b%d-%d@example.net>" % (k, i) for k in (1, 2) for i in range(batch)]
        missing = sum(1 for u in USERS for mid in want if not held[u].get(mid))
        dups = target.duplicates(USERS)
        return {"present": present, "lost": 2 * batch * len(USERS) - present,
                "duplicates": dups, "missing": missing}
    finally:
        for hub in hubs:
            hub.cleanup()
        for d in (a, b):
            if d:
                d.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=40, help="messages per batch (x3 users)")
    ap.add_argument("--cases", default=DEFAULT_CASES, help="ORIG:RESUB:MODE,...")
    ap.add_argument("--hubs", type=int, default=1, help="hubs of the site, sharing the load")
    args = ap.parse_args()
    why = dc.usable()
    if why:
        print("skip: %s" % why)
        return 77
    dc.in_private_netns()
    print("%d hub(s); batch %d messages x %d users; copies resent per run: %d" % (
        args.hubs, args.batch, len(USERS), 2 * args.batch * len(USERS)))
    print("%-5s %-5s %-11s %-8s %s" % ("orig", "resub", "mode", "lost", "duplicates / missing per run"))
    for case in args.cases.split(","):
        orig, resub, mode = case.split(":")
        res = [one_case(int(orig), int(resub), mode, args.batch, args.hubs)
               for _ in range(args.runs)]
        print("%-5s %-5s %-11s %-8d %s" % (orig, resub, mode, res[0]["lost"], "  ".join(
            "%d/%d" % (r["duplicates"], r["missing"]) for r in res)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
