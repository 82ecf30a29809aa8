"""Shadow copies on a NATS JetStream cluster (tests/integration/ddjs.py: a
three-node nats-server cluster on loopback, started and stopped by the test).

A message is answered 250 only once its copy is stored on a quorum of the
cluster, under dd.q.HUB.QUEUEID with its envelope in headers; the copy goes
once the message's recipients are final. A node killed under load costs no
message and no copy; with the whole cluster down the hub accepts without a
copy (shadow_failure = accept) or refuses with 451 4.4.0 and keeps nothing
(defer); a message larger than the server's max_payload goes in parts.
"""
import signal
import sys
import threading
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))

from ddtest import Client, Hub, expect, free_port, run, wait_for  # noqa: E402
from ddjs import NatsClient, NatsCluster  # noqa: E402
from ddpeers import Mbxsink  # noqa: E402

STREAM = "DD_QUEUE"


def shadow_conf(cluster, **keys):
    # a stream's new leader after a node is lost can take seconds on a loaded box:
    # the publishes retry until publish_timeout
    lines = {"servers": cluster.urls(), "replicas": 3, "publish_timeout": 20}
    lines.update(keys)
    return "[shadow]\n" + "".join("%s = %s\n" % kv for kv in lines.items())


def send(hub, n, body=b"hello\r\n", size=0, expect_code=250):
    """n messages over one session; the queue ids of the 250s (or the replies)."""
    c = Client(hub.port)
    expect(c.cmd("EHLO client.test"), 250)
    out = []
    for i in range(n):
        expect(c.cmd("MAIL FROM:<s%d@example.org>" % i), 250)
        expect(c.cmd("RCPT TO:<u%d@example.test>" % i), 250)
        expect(c.cmd("DATA"), 354)
        data = b"Subject: m%d\r\nMessage-ID: <m%d.%d@example.org>\r\n\r\n" % (i, i, time.time_ns())
        data += body if not size else (b"x" * 998 + b"\r\n") * (size // 1000)
        c.send(data + b".\r\n")
        code, lines = c.reply()
        if expect_code is None:
            out.append((code, lines))
            continue
        assert code == expect_code, lines
        out.append(lines[-1].split()[-1] if code == 250 else lines[-1])
    c.cmd("QUIT")
    c.close()
    return out


def metric(hub, name):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hub.admin_port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def copies(nc, hub_name="hub1"):
    return nc.subject_counts(STREAM, "dd.q.%s.>" % hub_name)


def test_copy_before_250():
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl))
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            qids = send(hub, 10)
            nc = cl.client(1)
            queued = hub.queued()
            for q in qids:
                got = nc.stream_msg_get(STREAM, last_by_subj="dd.q.hub1.%s" % q)
                assert got is not None, "no copy of %s when its 250 came" % q
                hdrs, data, subj, _ = got
                assert data == queued[q][2], "the copy of %s differs from the stored content" % q
                assert hdrs.get("Nats-Msg-Id") == "hub1.%s.0" % q, hdrs
                assert hdrs.get("Dd-Queue-Id") == q and hdrs.get("Dd-Hub") == "hub1", hdrs
                assert hdrs.get("Dd-From", "").startswith("<s"), hdrs
                assert "SG1 <u" in str(hdrs.get("Dd-Rcpt")), hdrs
            info = nc.stream_info(STREAM)
            assert info["config"]["num_replicas"] == 3, info["config"]
            assert metric(hub, "dumpsterd_shadow_published_total") == 10
            nc.close()


def test_copy_removed_when_delivered():
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
        hub = Hub(extra=shadow_conf(cl), dests={"SG1": sink.dest()})
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            send(hub, 20)
            nc = cl.client(0)
            wait_for(lambda: sink.stats()["stored"] == 20, what="20 delivered")
            wait_for(lambda: copies(nc) == {}, what="every copy removed")
            assert metric(hub, "dumpsterd_shadow_removed_total") >= 20
            nc.close()


def test_node_killed_under_load():
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl))
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            results, slowest = [], [0.0]

            def session():
                for _ in range(8):
                    t = time.monotonic()
                    results.extend(send(hub, 5))
                    slowest[0] = max(slowest[0], (time.monotonic() - t) / 5)
            threads = [threading.Thread(target=session) for _ in range(4)]
            for t in threads:
                t.start()
            wait_for(lambda: len(results) >= 40, what="load under way")
            cl.kill(0)  # the node the hub is likely connected to
            for t in threads:
                t.join(120)
            assert len(results) == 160, len(results)
            nc = cl.client(1)
            have = copies(nc)
            missing = [q for q in results if "dd.q.hub1.%s" % q not in have]
            assert not missing, "%d acknowledged messages without a copy:\n%s" % (
                len(missing), "\n".join(l for l in hub.log().splitlines() if "shadow" in l))
            assert all(v == 1 for v in have.values()), "a copy stored twice"
            assert metric(hub, "dumpsterd_shadow_failures_total") == 0
            nc.close()


def test_cluster_down_accept():
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl))
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            for i in range(3):
                cl.kill(i)
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 0, what="shadow down")
            qids = send(hub, 3)
            assert set(qids) <= set(hub.queued()), "accepted without being queued"
            wait_for(lambda: "accepted without one" in hub.log(), what="the failure logged")
            assert metric(hub, "dumpsterd_shadow_failures_total") >= 3
            cl.start()  # the same nodes, their stores kept
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, timeout=60, what="up again")
            q = send(hub, 1)[0]
            nc = cl.client(2)
            assert "dd.q.hub1.%s" % q in copies(nc)
            nc.close()


def test_cluster_down_defer():
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl, shadow_failure="defer"))
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            for i in range(3):
                cl.kill(i)
            replies = send(hub, 3, expect_code=None)
            for code, lines in replies:
                assert code == 451 and "4.4.0" in lines[-1], lines
            assert hub.queued() == {}, "a refused message stayed in the store"
            cl.start()
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, timeout=60, what="up again")
            assert len(send(hub, 2)) == 2, "refused once the cluster is back"


def test_large_message_in_parts():
    with NatsCluster(3, max_payload=65536) as cl:
        hub = Hub(extra=shadow_conf(cl))
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            q = send(hub, 1, size=300000)[0]
            nc = cl.client(0)
            subj = "dd.q.hub1.%s" % q
            nparts = copies(nc)[subj]
            assert nparts >= 5, nparts
            parts = {}
            for hdrs, data, s, _ in nc.stream_msgs(STREAM, filter=subj):
                parts[int(hdrs["Dd-Part"])] = data
            assert sorted(parts) == list(range(nparts))
            assert b"".join(parts[i] for i in range(nparts)) == hub.queued()[q][2]
            nc.close()


def test_stream_cannot_be_created():
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl, replicas=5))
        with hub:
            wait_for(lambda: "cannot create the stream" in hub.log(), what="the error logged")
            assert metric(hub, "dumpsterd_shadow_up") == 0
            qids = send(hub, 1)  # accept: the message is taken without a copy
            assert qids[0] in hub.queued()


def test_hub_killed_between_commit_and_ack():
    """Committed, publish not acked, hub SIGKILLed: the client never saw a 250; the
    restarted hub delivers the message once and no copy is left behind."""
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
        hub = Hub(extra=shadow_conf(cl, publish_timeout=60), dests={"SG1": sink.dest()})
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            for i in range(3):
                cl.kill(i, signal.SIGSTOP)  # connections open, nothing answers
            c = Client(hub.port)
            expect(c.cmd("EHLO client.test"), 250)
            expect(c.cmd("MAIL FROM:<s@example.org>"), 250)
            expect(c.cmd("RCPT TO:<u@example.test>"), 250)
            expect(c.cmd("DATA"), 354)
            c.send(b"Subject: held\r\nMessage-ID: <held@example.org>\r\n\r\nhi\r\n.\r\n")
            wait_for(lambda: len(hub.queued()) == 1, what="the local commit")
            assert sink.stats()["stored"] == 0, "delivered before its copy was acked"
            hub.kill()
            try:
                code, lines = c.reply()
                raise AssertionError("the client got %r from a killed hub" % lines)
            except (ConnectionError, OSError):
                pass
            c.close()
            for i in range(3):
                cl.kill(i, signal.SIGCONT)
            wait_for(cl.ready, what="the cluster back")
            hub.start()
            wait_for(lambda: sink.stats()["stored"] == 1, what="the message delivered")
            nc = cl.client(0)
            wait_for(lambda: copies(nc) == {}, what="no copy left behind")
            assert sink.stats()["stored"] == 1
            nc.close()


def test_hub_killed_under_load():
    """SIGKILL while 4 sessions send (nothing delivered): every 250 has its copy."""
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl))
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            acked = []

            def session(k):
                try:
                    c = Client(hub.port)
                    expect(c.cmd("EHLO client.test"), 250)
                    for i in range(1000):
                        expect(c.cmd("MAIL FROM:<s%d@example.org>" % k), 250)
                        expect(c.cmd("RCPT TO:<u%d@example.test>" % i), 250)
                        expect(c.cmd("DATA"), 354)
                        c.send(b"Subject: m%d\r\n\r\nbody\r\n.\r\n" % i)
                        code, lines = c.reply()
                        if code == 250:
                            acked.append(lines[-1].split()[-1])
                except (ConnectionError, OSError):
                    pass
            threads = [threading.Thread(target=session, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            wait_for(lambda: len(acked) >= 60, what="load under way")
            hub.kill()
            for t in threads:
                t.join(30)
            nc = cl.client(2)
            have = copies(nc)
            missing = [q for q in acked if "dd.q.hub1.%s" % q not in have]
            assert not missing, "%d of %d acknowledged messages without a copy" % (
                len(missing), len(acked))
            stored = hub.queued()
            assert all(q in stored for q in acked), "an acknowledged message not stored"
            nc.close()


def test_shadow_dumpster():
    """A delivered copy moves from the shadow queue to its SG's shadow dumpster, a
    stream bounded by the SG's dumpster limits (oldest dropped)."""
    stream = "DD_D_3_SG1_hub1"
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
        hub = Hub(extra=shadow_conf(cl), dests={"SG1": sink.dest()},
                  sg_keys={"SG1": {"max_size": 12000, "max_age": 3600}})
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            nc = cl.client(0)
            cfg = nc.stream_info(stream)["config"]
            assert cfg["max_bytes"] == 12000 and cfg["max_age"] == 3600 * 10**9, cfg
            assert cfg["discard"] == "old" and cfg["num_replicas"] == 3, cfg
            assert cfg["subjects"] == ["dd.d.SG1.hub1.>"], cfg
            t0 = int(time.time() * 1000)
            qids = send(hub, 4)
            wait_for(lambda: sink.stats()["stored"] == 4, what="4 delivered")
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_kept_total") == 4,
                     what="4 shadow dumpster copies")
            wait_for(lambda: copies(nc) == {}, what="the queue copies removed")
            got = {m[0]["Dd-Queue-Id"]: m for m in nc.stream_msgs(stream)}
            assert sorted(got) == sorted(qids), (sorted(got), qids)
            delivered = sink.messages()
            for q, (hdrs, data, subj, _) in got.items():
                assert subj == "dd.d.SG1.hub1.%s" % q, subj
                assert hdrs["Dd-Sg"] == "SG1" and hdrs["Dd-Hub"] == "hub1", hdrs
                addr, when = hdrs["Dd-Delivered"].rsplit(" ", 1)
                assert addr.startswith("<u") and addr.endswith("@example.test>"), hdrs
                assert t0 <= int(when) <= int(time.time() * 1000), hdrs
                assert any(data in m for m in delivered), "the copy of %s differs" % q
            # 16 more of ~2 KiB: the stream keeps within 12,000 bytes, the newest last
            more = send(hub, 16, size=2000)
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_kept_total") == 20,
                     what="20 shadow dumpster copies")
            state = nc.stream_info(stream)["state"]
            assert state["bytes"] <= 12000 and 0 < state["messages"] < 20, state
            last = nc.stream_msg_get(stream, last_by_subj="dd.d.SG1.hub1.>")
            assert last[0]["Dd-Queue-Id"] == more[-1], last[0]
            assert metric(hub, "dumpsterd_shadow_dumpster_failures_total") == 0
            nc.close()


def test_dumpster_bounds_on_reload():
    """A reload brings a shadow dumpster stream's limits in line with its group's new
    dumpster bounds, and creates the stream of a group that has a dumpster now."""
    stream = "DD_D_3_SG1_hub1"
    with NatsCluster(3) as cl:
        hub = Hub(extra=shadow_conf(cl), sg_keys={"SG1": {"max_size": 12000, "max_age": 3600}})
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            nc = cl.client(0)
            cfg = nc.stream_info(stream)["config"]
            assert cfg["max_bytes"] == 12000 and cfg["max_age"] == 3600 * 10**9, cfg
            text = hub.conf_text.replace("max_size = 12000", "max_size = 24000")
            text = text.replace("max_age = 3600", "max_age = 7200")
            text += "[storage_group SG3]\ndestination = lmtp:[127.0.0.1]:%d\n" % free_port()
            assert text != hub.conf_text
            with open(hub.conf_path, "w") as f:
                f.write(text)
            hub.proc.send_signal(signal.SIGHUP)

            def limits():
                c = nc.stream_info(stream)["config"]
                return c["max_bytes"], c["max_age"]
            wait_for(lambda: limits() == (24000, 7200 * 10**9), what="the new limits")

            def sg3():
                try:
                    return nc.stream_info("DD_D_3_SG3_hub1")["config"]["subjects"]
                except Exception:
                    return None
            wait_for(lambda: sg3() == ["dd.d.SG3.hub1.>"], what="SG3's stream")
            assert "reload:" in hub.log()
            nc.close()


def test_dumpster_copy_sent_again():
    """Delivered while the whole cluster is down: the shadow dumpster copies fail,
    are noted in the store, survive a restart of the hub, and go once the cluster
    is back: every one in the stream, none twice."""
    stream = "DD_D_3_SG1_hub1"
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
        hub = Hub(extra=shadow_conf(cl, publish_timeout=5), dests={"SG1": sink.dest()})
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            for i in range(3):
                cl.kill(i)
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 0, what="shadow down")
            qids = send(hub, 4)
            wait_for(lambda: sink.stats()["stored"] == 4, what="4 delivered")
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_failures_total") == 4,
                     timeout=60, what="4 shadow dumpster copies failed")
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_owed") == 4,
                     what="4 copies owed")
            hub.stop()
            hub.start()
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_owed") == 4,
                     what="4 copies owed after the restart")
            cl.start()
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, timeout=60, what="up again")
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_kept_again_total") == 4,
                     timeout=90, what="the 4 copies stored when sent again")
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_owed") == 0,
                     what="none owed")
            nc = cl.client(0)
            got = [m[0]["Dd-Queue-Id"] for m in nc.stream_msgs(stream)]
            assert sorted(got) == sorted(qids), (sorted(got), qids)
            delivered = sink.messages()
            for hdrs, data, subj, _ in nc.stream_msgs(stream):
                assert subj == "dd.d.SG1.hub1.%s" % hdrs["Dd-Queue-Id"], subj
                assert hdrs["Dd-Delivered"].startswith("<u"), hdrs
                assert any(data in m for m in delivered), "a copy differs"
            nc.close()
            assert sink.stats()["stored"] == 4, "delivered again"


def test_tls_with_ca_file():
    """tls:// servers and ca_file: the copy goes over TLS to a node whose certificate
    that CA signed; with another CA the hub does not connect, says why, and accepts
    without a copy."""
    from ddtls import Certs
    certs = Certs()
    try:
        with NatsCluster(1, tls=(certs.server, certs.server_key, certs.ca)) as cl:
            assert cl.urls().startswith("tls://")
            hub = Hub(extra=shadow_conf(cl, replicas=1, ca_file=certs.ca))
            with hub:
                wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
                q = send(hub, 1)[0]
                nc = cl.client(0)
                assert "dd.q.hub1.%s" % q in copies(nc)
                nc.close()
            other = Hub(extra=shadow_conf(cl, replicas=1, ca_file=certs.path("other-ca.pem")))
            with other:
                wait_for(lambda: "certificate" in other.log().lower(), what="the TLS error")
                assert metric(other, "dumpsterd_shadow_up") == 0
                assert send(other, 1)[0] in other.queued()  # accepted without a copy
    finally:
        certs.cleanup()


def test_dumpster_stream_too_big():
    """A group's shadow dumpster the cluster has no room for (max_size 100 GiB on
    nodes of 1 GB) is logged; the queue copies go on, the dumpster copies fail."""
    with NatsCluster(3) as cl, Mbxsink(lmtp=True) as sink:
        hub = Hub(extra=shadow_conf(cl), dests={"SG1": sink.dest()},
                  sg_keys={"SG1": {"max_size": 100 * 2**30}})
        with hub:
            wait_for(lambda: metric(hub, "dumpsterd_shadow_up") == 1, what="shadow up")
            assert "no shadow dumpster for SG1" in hub.log(), hub.log()[-3000:]
            send(hub, 3)
            wait_for(lambda: sink.stats()["stored"] == 3, what="3 delivered")
            wait_for(lambda: metric(hub, "dumpsterd_shadow_dumpster_failures_total") == 3,
                     what="3 dumpster copies failed")
            assert metric(hub, "dumpsterd_shadow_published_total") == 3
            assert metric(hub, "dumpsterd_shadow_failures_total") == 0


if __name__ == "__main__":
    sys.exit(1 if run([test_copy_before_250, test_copy_removed_when_delivered,
                       test_node_killed_under_load, test_cluster_down_accept,
                       test_cluster_down_defer, test_large_message_in_parts,
                       test_stream_cannot_be_created, test_hub_killed_between_commit_and_ack,
                       test_hub_killed_under_load, test_shadow_dumpster,
                       test_dumpster_bounds_on_reload, test_dumpster_copy_sent_again,
                       test_tls_with_ca_file, test_dumpster_stream_too_big]) else 0)
