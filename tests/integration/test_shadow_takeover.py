"""Takeover of a silent hub's shadow copies (tests/integration/ddjs.py: a
three-node nats-server cluster on loopback, started and stopped by the test).

Three hubs share the cluster. hub1 acknowledges messages its mailbox server
cannot take (its storage group points at a closed port), then dies with its
disk: SIGKILL and its data directory deleted. Once hub1 has been silent for
takeover_after, exactly one of hub2 and hub3 claims it and delivers every
one of its copies through its own pools, once: the mailbox gets each
Message-ID exactly once, and hub1's copies leave the cluster. A hub that
comes back with its disk after it was taken over learns what was taken and
drops those messages before its delivery starts.
"""
import json
import os
import re
import shutil
import urllib.request
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))

from ddtest import Client, Hub, expect, free_port, run, wait_for  # noqa: E402
from ddjs import NatsCluster  # noqa: E402
from ddpeers import Mbxsink  # noqa: E402
from test_shadow import copies, metric, send, shadow_conf  # noqa: E402
from test_dumpsterctl import TOKEN, TOKEN_HASH, Ctl, ctl  # noqa: E402

TAKEOVER_AFTER = 3


def message_ids(sink):
    out = []
    for m in sink.messages():
        got = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", m)
        out.append(got.group(1).decode() if got else None)
    return out


def test_silent_hub_taken_over_once():
    n = 20
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
        conf = shadow_conf(cl, takeover_after=TAKEOVER_AFTER)
        dead = Hub(hub={"name": "hub1"}, extra=conf,
                   dests={"SG1": "lmtp:[127.0.0.1]:%d" % free_port()})
        peers = [Hub(hub={"name": name}, extra=conf, dests={"SG1": sink.dest()})
                 for name in ("hub2", "hub3")]
        try:
            for h in [dead] + peers:
                h.start()
            for h in peers:
                wait_for(lambda: metric(h, "dumpsterd_shadow_hubs_live") == 2,
                         what="%s sees the two others" % h.port)
            sent = send(dead, n)
            want = sorted(m for q, (_, _, body) in dead.queued().items()
                          for m in re.findall(rb"(?im)^Message-ID:\s*(<[^>]+>)", body))
            assert len(want) == n, want
            nc = cl.client(0)
            assert len(copies(nc, "hub1")) == n, "hub1's copies before it dies"
            dead.kill()
            shutil.rmtree(dead.data_dir)
            t0 = time.monotonic()
            wait_for(lambda: sink.stats()["stored"] >= n, timeout=TAKEOVER_AFTER + 40,
                     what="hub1's %d messages delivered by a peer" % n)
            took = time.monotonic() - t0
            wait_for(lambda: copies(nc, "hub1") == {}, what="hub1's copies gone")
            got = message_ids(sink)
            assert sorted(got) == [m.decode() for m in want], (sorted(got), want)
            takeovers = [metric(h, "dumpsterd_shadow_takeovers_total") for h in peers]
            taken = [metric(h, "dumpsterd_shadow_taken_total") for h in peers]
            assert sorted(takeovers) == [0, 1], "exactly one hub takes over: %r" % takeovers
            assert sorted(taken) == [0, n], taken
            st = sink.stats()
            assert st["stored"] == n and st["duplicates"] == 0, "a message delivered twice: %r" % st
            winner = peers[takeovers.index(1)]
            assert "taken over from hub hub1" in winner.log()
            print("   %d of %d delivered %.1f s after the kill (takeover_after %d s)"
                  % (n, len(sent), took, TAKEOVER_AFTER))
            nc.close()
        finally:
            for h in [dead] + peers:
                h.cleanup()


def test_takeover_skips_what_the_hub_delivered():
    """Each of hub1's messages has a recipient in SG1, whose mailbox takes it, and one in
    SG2, whose mailbox is down; hub1 dies with its disk. Its queue copies still list both
    recipients, but SG1's shadow dumpster holds the delivered copies: the peer that takes
    over sends only the SG2 recipients, and SG1's mailbox gets nothing twice (no probe)."""
    n = 6
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as mbx1, Mbxsink() as mbx2:
        conf = shadow_conf(cl, takeover_after=TAKEOVER_AFTER)
        dead = Hub(hub={"name": "hub1"}, extra=conf,
                   dests={"SG1": mbx1.dest(), "SG2": "smtp:[127.0.0.1]:%d" % free_port()})
        live = Hub(hub={"name": "hub2"}, extra=conf,
                   dests={"SG1": mbx1.dest(), "SG2": mbx2.dest()})
        try:
            for h in (dead, live):
                h.start()
            wait_for(lambda: metric(live, "dumpsterd_shadow_hubs_live") == 1, what="hub2 sees hub1")
            c = Client(dead.port)
            expect(c.cmd("EHLO client.test"), 250)
            for i in range(n):
                expect(c.cmd("MAIL FROM:<s%d@example.org>" % i), 250)
                expect(c.cmd("RCPT TO:<u%d@example.test>" % i), 250)
                expect(c.cmd("RCPT TO:<x%d@sales.example.test>" % i), 250)
                expect(c.cmd("DATA"), 354)
                c.send(b"Subject: m%d\r\nMessage-ID: <two%d.%d@example.org>\r\n\r\nhi\r\n.\r\n"
                       % (i, i, time.time_ns()))
                expect(c.reply(), 250)
            c.cmd("QUIT")
            c.close()
            wait_for(lambda: mbx1.stats()["stored"] == n, what="the SG1 copies delivered")
            wait_for(lambda: metric(dead, "dumpsterd_shadow_dumpster_kept_total") == n,
                     what="hub1's SG1 copies in its shadow dumpster")
            dead.kill()
            shutil.rmtree(dead.data_dir)
            wait_for(lambda: mbx2.stats()["stored"] == n, timeout=TAKEOVER_AFTER + 40,
                     what="the SG2 recipients delivered by hub2")
            wait_for(lambda: metric(live, "dumpsterd_shadow_taken_total") == n,
                     what="every copy taken")
            assert "recipient(s) of hub hub1's copy were delivered by it; not sent again" in \
                live.log(), live.log()[-3000:]
            st = mbx1.stats()
            assert st["stored"] == n and st["duplicates"] == 0 and st["messages"] == n, st
            assert mbx2.stats()["duplicates"] == 0, mbx2.stats()
        finally:
            for h in (dead, live):
                h.cleanup()


def test_takeover_on_full_disk():
    """The one live hub's data directory is a full file system (a tmpfs with a ballast
    file) when it takes hub1 over: its commits of the copies fail, the copies stay in
    the cluster and are offered again; once the ballast goes, every one is delivered,
    once. Needs root (mount); skipped without it."""
    import subprocess
    import tempfile
    if os.geteuid() != 0:
        print("   skipped: mount needs root")
        return
    n = 10
    mnt = tempfile.mkdtemp(prefix="ddfull-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], check=True)
    try:
        with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
            conf = shadow_conf(cl, takeover_after=TAKEOVER_AFTER)
            dead = Hub(hub={"name": "hub1"}, extra=conf,
                       dests={"SG1": "lmtp:[127.0.0.1]:%d" % free_port()})
            live = Hub(hub={"name": "hub2", "min_free": 0}, extra=conf, data_dir=mnt,
                       dests={"SG1": sink.dest()})
            try:
                for h in (dead, live):
                    h.start()
                wait_for(lambda: metric(live, "dumpsterd_shadow_hubs_live") == 1,
                         what="hub2 sees hub1")
                send(dead, n)
                ballast = os.path.join(mnt, "ballast")
                subprocess.run(["dd", "if=/dev/zero", "of=" + ballast, "bs=64k"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                dead.kill()
                shutil.rmtree(dead.data_dir)
                wait_for(lambda: "could not be committed here" in live.log(),
                         timeout=TAKEOVER_AFTER + 40, what="a taken copy refused by the full disk")
                assert sink.stats()["stored"] == 0
                nc = cl.client(0)
                assert len(copies(nc, "hub1")) == n, "hub1's copies left while none was taken"
                os.unlink(ballast)
                wait_for(lambda: sink.stats()["stored"] >= n, timeout=60,
                         what="hub1's %d messages delivered once the disk has room" % n)
                wait_for(lambda: copies(nc, "hub1") == {}, what="hub1's copies gone")
                st = sink.stats()
                assert st["stored"] == n and st["duplicates"] == 0, st
                assert metric(live, "dumpsterd_shadow_taken_total") == n
                nc.close()
            finally:
                for h in (dead, live):
                    h.cleanup()
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


def back_and_peer(cl, own, sink):
    """hub1, whose mailbox server (own) refuses for now, and hub2 delivering to sink,
    both started and seeing each other."""
    conf = shadow_conf(cl, takeover_after=TAKEOVER_AFTER)
    own.control("FAIL CONNECT 421")
    back = Hub(hub={"name": "hub1"}, extra=conf, dests={"SG1": own.dest()})
    peer = Hub(hub={"name": "hub2"}, extra=conf, dests={"SG1": sink.dest()})
    try:
        back.start()
        peer.start()
        wait_for(lambda: metric(peer, "dumpsterd_shadow_hubs_live") == 1, what="hub2 sees hub1")
    except BaseException:
        back.cleanup()
        peer.cleanup()
        raise
    return back, peer


def test_hub_back_after_takeover():
    n = 10
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink, Mbxsink(lmtp=True) as own:
        back, peer = back_and_peer(cl, own, sink)
        try:
            sent = send(back, n)
            back.kill()  # the disk stays
            wait_for(lambda: sink.stats()["stored"] >= n, timeout=TAKEOVER_AFTER + 40,
                     what="hub1's messages delivered by hub2")
            assert all(q in back.queued() for q in sent), "hub1's disk kept its messages"
            own.control("CLEAR")
            back.start()
            wait_for(lambda: "%d messages of this hub were taken over" % n in back.log(),
                     timeout=90, what="hub1 learns what was taken (once the takes settled)")
            wait_for(lambda: not any(q in back.queued() for q in sent),
                     what="the taken messages leave hub1's queue")
            later = send(back, 1)
            wait_for(lambda: own.stats()["stored"] == 1, what="hub1 delivers new mail")
            assert own.stats()["messages"] == 1, own.stats()
            assert later[0] in back.log()
            st = sink.stats()
            assert st["stored"] == n and st["duplicates"] == 0, st
        finally:
            back.cleanup()
            peer.cleanup()


def test_hub_back_during_takeover():
    """hub1 comes back (its disk kept) while hub2 is in the middle of taking its
    copies over: hub2 stops at hub1's first beat, hub1 reads what was taken only once
    hub2's takes in flight have settled, and between them every message is delivered
    exactly once."""
    n = 300
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink, Mbxsink(lmtp=True) as own:
        back, peer = back_and_peer(cl, own, sink)
        try:
            send(back, n)
            back.kill()  # the disk stays
            wait_for(lambda: sink.stats()["messages"] > 0, timeout=TAKEOVER_AFTER + 40,
                     what="hub2 taking hub1's copies over")
            own.control("CLEAR")
            back.start()
            wait_for(lambda: "took this hub over while it was away" in back.log(),
                     what="hub1 knows it was taken over")
            wait_for(lambda: sink.stats()["stored"] + own.stats()["stored"] >= n, timeout=90,
                     what="every message delivered by one of the two")
            queued = lambda h: sum(metric(h, 'dumpsterd_queue_messages{state="%s"}' % st)
                                   for st in ("pending", "active", "deferred"))
            for h in (back, peer):  # nothing left that could still go out twice
                wait_for(lambda: queued(h) == 0, timeout=60, what="an empty queue")
            ids_peer, ids_own = message_ids(sink), message_ids(own)
            both = set(ids_peer) & set(ids_own)
            assert not both, "delivered by both hubs: %r" % sorted(both)[:5]
            assert len(ids_peer) + len(ids_own) == n, (len(ids_peer), len(ids_own))
            assert sink.stats()["duplicates"] == 0 and own.stats()["duplicates"] == 0
            print("   hub2 took %d, hub1 delivered %d itself" % (len(ids_peer), len(ids_own)))
        finally:
            back.cleanup()
            peer.cleanup()


def test_failover_from_shadow_dumpster():
    """hub1 delivered 12 messages and died with its disk; the mailbox server then
    fails over lossily (mbx2 has none of the window): dumpsterctl failover cannot
    reach hub1, so hub2 resends hub1's share from hub1's shadow dumpster."""
    n = 12
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as mbx1, Mbxsink(lmtp=True) as mbx2:
        conf = shadow_conf(cl, takeover_after=3600)
        c = Ctl()
        hubs = [Hub(hub={"name": name}, extra=conf, dests={"SG1": mbx1.dest()},
                    admin={"token_hash": TOKEN_HASH}) for name in ("hub1", "hub2")]
        try:
            for h in hubs:
                h.start()
                wait_for(lambda: metric(h, "dumpsterd_shadow_up") == 1, what="shadow up")
            since = str(int(time.time()) - 2)
            send(hubs[0], n)
            send(hubs[1], 3)
            wait_for(lambda: mbx1.stats()["stored"] == n + 3, what="every message delivered")
            wait_for(lambda: metric(hubs[0], "dumpsterd_shadow_dumpster_kept_total") == n,
                     what="hub1's shadow dumpster copies")
            want = sorted(message_ids(mbx1))
            # hub2 reads every hub's shadow dumpster statistics (every 30 s)
            series = 'dumpsterd_shadow_dumpster_items{hub="hub1",storage_group="SG1"}'
            wait_for(lambda: metric(hubs[1], series) == n, timeout=45,
                     what="hub2's view of hub1's shadow dumpster")
            with urllib.request.urlopen("http://127.0.0.1:%d/v1/stats/SG1" % hubs[1].admin_port,
                                        timeout=10) as r:
                shadows = {d["hub"]: d for d in json.loads(r.read())["shadow_dumpsters"]}
            assert shadows["hub1"]["items"] == n and shadows["hub1"]["oldest_stored"], shadows
            assert shadows["hub2"]["items"] == 3, shadows
            hubs[0].kill()
            shutil.rmtree(hubs[0].data_dir)
            site = c.site([("hub1", hubs[0].admin_port), ("hub2", hubs[1].admin_port)])
            rc, out, err = ctl("--site", site, "stats", "--sg", "SG1")
            assert rc == 69 and "DumpsterStatisticsNotAvailable: {hub1}" in out, (rc, out, err)
            rows = [ln.split() for ln in out.split("SHADOW DUMPSTERS", 1)[-1].splitlines()]
            assert ["hub1", "SG1", str(n)] in [r[:3] for r in rows], out  # the dead hub's
            wait_for(lambda: metric(hubs[1], "dumpsterd_shadow_up") == 1, what="hub2's link")
            rc, out, err = ctl("--site", site, "--token-file", c.token_file, "failover", "--sg",
                               "SG1", "--dest", mbx2.dest(), "--since", since)
            # on a failure: what hub2 did with the request, and whether it still runs
            why = (rc, out, err, hubs[1].proc.poll(), hubs[1].log()[-4000:])
            assert rc == 69, why  # hub1 did not answer
            assert "hub2: resends the share of hub1 (no answer) from their shadow dumpsters" in out, why
            wait_for(lambda: mbx2.stats()["stored"] >= n + 3, timeout=60,
                     what="the whole window back at mbx2")
            assert sorted(message_ids(mbx2)) == want, (sorted(message_ids(mbx2)), want)
            assert mbx2.stats()["duplicates"] == 0, mbx2.stats()
            assert "resubmission of SG1" in hubs[1].log() and "for hub hub1 done" in hubs[1].log()
            # the same failover again: the ledgers (hub2's own, and the cluster's for hub1's
            # share) know every copy went to mbx2 already, so none goes twice
            shares_done = lambda: hubs[1].log().count("for hub hub1 done")
            rc, out, err = ctl("--site", site, "--token-file", c.token_file, "failover", "--sg",
                               "SG1", "--dest", mbx2.dest(), "--since", since)
            assert rc == 69, (rc, out, err)
            wait_for(lambda: shares_done() == 2, timeout=60, what="the second share read")
            wait_for(lambda: requests_done(hubs[1]), what="hub2's own requests done")
            assert "%d copies read, 0 recipients resent, %d resent there before" % (n, n) in \
                hubs[1].log(), hubs[1].log()[-3000:]
            assert mbx2.stats()["stored"] == n + 3 and mbx2.stats()["duplicates"] == 0, \
                mbx2.stats()
            # --force: the operator asks for them again, and they go again
            rc, out, err = ctl("--site", site, "--token-file", c.token_file, "failover", "--sg",
                               "SG1", "--dest", mbx2.dest(), "--since", since, "--force")
            assert rc == 69, (rc, out, err)
            wait_for(lambda: shares_done() == 3, timeout=60, what="the forced share read")
            wait_for(lambda: mbx2.stats()["duplicates"] == n + 3, timeout=60,
                     what="the forced copies at mbx2")
            wait_for(lambda: requests_done(hubs[1]), what="hub2's own requests done")
            assert "%d copies read, %d recipients resent, 0 resent there before" % (n, n) in \
                hubs[1].log(), hubs[1].log()[-3000:]
            assert mbx2.stats()["stored"] == n + 3 and mbx2.stats()["messages"] == 2 * (n + 3), \
                mbx2.stats()
        finally:
            for h in hubs:
                h.cleanup()
            c.cleanup()


def requests_done(hub):
    """every resubmission request of hub is done"""
    req = urllib.request.Request("http://127.0.0.1:%d/v1/resubmit?state=all" % hub.admin_port,
                                 headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=10) as r:
        reqs = json.loads(r.read())["requests"]
    return len(reqs) > 0 and all(q["state"] == "done" for q in reqs)


if __name__ == "__main__":
    sys.exit(1 if run([test_silent_hub_taken_over_once, test_takeover_skips_what_the_hub_delivered,
                       test_takeover_on_full_disk,
                       test_hub_back_after_takeover, test_hub_back_during_takeover,
                       test_failover_from_shadow_dumpster]) else 0)
