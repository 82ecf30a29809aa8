#!/usr/bin/env python3
"""Outbound TLS per storage group (SPEC section 10), against real TLS servers.

The peers are TlsSink (ddtls.py: Python's ssl module, SMTP or LMTP with
STARTTLS) and mbxsink. tls = may takes TLS when offered and plaintext when
not; encrypt defers with Postfix's reason when STARTTLS is missing or
refused; verify needs the certificate to chain to tls_ca_file and to name
the destination (an IP literal, or a host name found through a DNS server on
loopback), so an expired, wrong-name or unknown-CA certificate defers, and
tls_verify_name overrides the name; a client certificate is presented; a
pool resumes its TLS session on the next connection; LMTP over TCP does
STARTTLS, lmtp:unix: never; a broken handshake under may falls back to
plaintext, under encrypt it defers. Log lines and metrics are checked.
"""
import os
import shutil
import smtplib
import ssl
import tempfile
import urllib.request

from ddtest import Hub, run, wait_for
from ddpeers import Dns, Mbxsink
from ddtls import Certs, TlsSink

CERTS = Certs()

def finish(hub):
    """Stop the hub: a clean exit and no sanitizer report; then remove it."""
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def send(hub, rcpts, subject="tls"):
    msg = "From: s@example.net\r\nSubject: %s\r\n\r\nbody\r\n" % subject
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
        s.sendmail("s@example.net", rcpts, msg.encode())


def recipients(hub):
    """rcpt -> (state, last_reply): 0 pending, 1 active, 2 delivered, 3 failed."""
    with hub.db() as db:
        return {r: (st, rep or "") for r, st, rep in
                db.execute("SELECT rcpt, state, last_reply FROM recipient")}


def deferred_with(hub, rcpt, text):
    def cond():
        st, rep = recipients(hub).get(rcpt, (None, ""))
        return st == 0 and text in rep
    wait_for(cond, what="%s deferred with %r; have %r" % (rcpt, text, recipients(hub)))


def metrics(hub):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hub.admin_port, timeout=10) as r:
        return dict(line.rsplit(" ", 1) for line in r.read().decode().splitlines()
                    if line and not line.startswith("#"))


def metric(hub, name):
    return int(metrics(hub)[name])


def tls_hub(sinks, keys, **kw):
    """Storage groups SGA.. to the given destinations, with their TLS keys;
    @a.test goes to SGA, @b.test to SGB, ..."""
    directory = "@example.test\tSG1\n@sales.example.test\tSG2\n" + "".join(
        "@%s.test\t%s\n" % (sg[2:].lower(), sg) for sg in sinks)
    return Hub(directory=directory, dests=sinks, sg_keys=keys, **kw)


def test_may_takes_tls_when_offered_else_plaintext():
    with TlsSink(CERTS.server, CERTS.server_key) as tls, Mbxsink() as plain:
        hub = tls_hub({"SGA": tls.dest(), "SGB": plain.dest()}, {}).start()
        try:
            send(hub, ["x@a.test"], "may with STARTTLS")
            send(hub, ["y@b.test"], "may without STARTTLS")
            wait_for(lambda: len(tls.messages) == 1 and plain.stats()["stored"] == 1,
                     what="both deliveries")
            m = tls.messages[0]
            assert m.tls is not None and m.tls["version"] == "TLSv1.3", m.tls
            assert b"Subject: may with STARTTLS" in m.data
            # the system's CAs do not know the test CA: Untrusted, which may accepts
            assert "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:%d: TLSv1.3 " \
                   "with cipher" % tls.port in hub.log(), hub.log()
            m = metrics(hub)
            assert m['dumpsterd_delivery_tls_sessions_total{result="untrusted",'
                     'protocol="TLSv1.3"}'] == "1", m
            assert m["dumpsterd_delivery_tls_plaintext_total"] == "1", m
        finally:
            finish(hub)


def test_encrypt_defers_without_tls():
    with Mbxsink() as plain, TlsSink(CERTS.server, CERTS.server_key, refuse=True) as refusing:
        hub = tls_hub({"SGA": plain.dest(), "SGB": refusing.dest()},
                      {"SGA": {"tls": "encrypt"}, "SGB": {"tls": "encrypt"}}).start()
        try:
            send(hub, ["x@a.test"])
            send(hub, ["y@b.test"])
            deferred_with(hub, "x@a.test", "TLS is required, but was not offered by host "
                          "127.0.0.1[127.0.0.1]:%d" % plain.port)
            deferred_with(hub, "y@b.test", "TLS is required, but host 127.0.0.1[127.0.0.1]:%d "
                          "refused to start TLS: 454 4.7.0 TLS not available" % refusing.port)
            assert plain.stats()["stored"] == 0 and not refusing.messages
            assert "status=deferred (TLS is required, but was not offered" in hub.log()
            m = metrics(hub)
            assert m['dumpsterd_delivery_tls_policy_failures_total{reason="not_offered"}'] == "1"
            assert m['dumpsterd_delivery_tls_policy_failures_total{reason="refused"}'] == "1"
        finally:
            finish(hub)


def test_verify():
    sinks = [TlsSink(CERTS.server, CERTS.server_key), TlsSink(CERTS.expired, CERTS.expired_key),
             TlsSink(CERTS.wrong, CERTS.wrong_key), TlsSink(CERTS.other, CERTS.other_key),
             TlsSink(CERTS.wrong, CERTS.wrong_key)]
    for s in sinks:
        s.__enter__()
    try:
        verify = {"tls": "verify", "tls_ca_file": CERTS.ca}
        keys = {sg: dict(verify) for sg in ("SGA", "SGB", "SGC", "SGD", "SGE")}
        keys["SGE"]["tls_verify_name"] = "wrong.example.test"
        hub = tls_hub({sg: s.dest() for sg, s in zip(("SGA", "SGB", "SGC", "SGD", "SGE"), sinks)},
                      keys).start()
        try:
            send(hub, ["x@a.test", "x@b.test", "x@c.test", "x@d.test", "x@e.test"])
            wait_for(lambda: len(sinks[0].messages) == 1 and len(sinks[4].messages) == 1,
                     what="the verified deliveries")
            assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]:%d" % \
                sinks[0].port in hub.log()
            deferred_with(hub, "x@b.test", "Server certificate not verified for "
                          "127.0.0.1[127.0.0.1]:%d: certificate has expired" % sinks[1].port)
            deferred_with(hub, "x@c.test", "Server certificate not verified for "
                          "127.0.0.1[127.0.0.1]:%d: IP address mismatch" % sinks[2].port)
            deferred_with(hub, "x@d.test", "unable to get local issuer certificate")
            assert "Trusted TLS connection established to 127.0.0.1[127.0.0.1]:%d" % \
                sinks[2].port in hub.log()
            assert not sinks[1].messages and not sinks[2].messages and not sinks[3].messages
            m = metrics(hub)
            assert m['dumpsterd_delivery_tls_sessions_total{result="verified",'
                     'protocol="TLSv1.3"}'] == "2", m
            assert m['dumpsterd_delivery_tls_policy_failures_total{reason="not_verified"}'] == "3"
        finally:
            finish(hub)
    finally:
        for s in sinks:
            s.__exit__(None, None, None)


def test_verify_host_name_from_dns():
    """smtp:mbx.example.test:PORT: the name checked (and sent as SNI) is the host's."""
    with TlsSink(CERTS.server, CERTS.server_key) as good, \
            TlsSink(CERTS.wrong, CERTS.wrong_key) as bad, \
            Dns({"mbx.example.test": "127.0.0.1", "bad.example.test": "127.0.0.1"}) as dns:
        verify = {"tls": "verify", "tls_ca_file": CERTS.ca}
        hub = tls_hub({"SGA": good.dest("mbx.example.test"), "SGB": bad.dest("bad.example.test")},
                      {"SGA": verify, "SGB": verify},
                      delivery={"resolver": "127.0.0.1:%d" % dns.port}).start()
        try:
            send(hub, ["x@a.test", "y@b.test"])
            wait_for(lambda: len(good.messages) == 1, what="delivery to mbx.example.test")
            assert "Verified TLS connection established to mbx.example.test[127.0.0.1]:%d" % \
                good.port in hub.log()
            deferred_with(hub, "y@b.test", "hostname mismatch")
        finally:
            finish(hub)


def test_client_certificate_and_resumption():
    with TlsSink(CERTS.server, CERTS.server_key, client_ca=CERTS.ca, close_after=True) as sink:
        keys = {"SGA": {"tls": "verify", "tls_ca_file": CERTS.ca,
                        "tls_client_cert_file": CERTS.client,
                        "tls_client_key_file": CERTS.client_key}}
        hub = tls_hub({"SGA": sink.dest()}, keys).start()
        try:
            for i in range(3):  # the sink closes after each message: three connections
                send(hub, ["x@a.test"], "resume %d" % i)
                wait_for(lambda: len(sink.messages) == i + 1, what="message %d" % i)
                wait_for(lambda: sink.ended == i + 1, what="the hub to see connection %d end" % i)
            peers = [m.tls["peer"] for m in sink.messages]
            assert all(p and p.get("commonName") == "client.example.test" for p in peers), peers
            assert [m.tls["resumed"] for m in sink.messages] == [False, True, True], \
                [m.tls for m in sink.messages]
            assert sink.handshakes == 3
            assert hub.log().count("(session reused)") == 2
            assert metric(hub, "dumpsterd_delivery_tls_resumed_total") == 2
        finally:
            finish(hub)


def test_connections_opened_together_each_resume():
    """A TLS 1.3 ticket resumes one connection: after one full handshake (two tickets
    from the server), two connections opened at once both resume."""
    with TlsSink(CERTS.server, CERTS.server_key, close_after=True) as sink:
        keys = {"SGA": {"tls": "verify", "tls_ca_file": CERTS.ca}}
        hub = tls_hub({"SGA": sink.dest()}, keys).start()
        try:
            send(hub, ["x@a.test"], "warm")
            wait_for(lambda: len(sink.messages) == 1 and sink.ended == 1, what="the first")
            send(hub, ["x@a.test"], "together 1")
            send(hub, ["x@a.test"], "together 2")
            wait_for(lambda: len(sink.messages) == 3 and sink.ended == 3, what="two more")
            assert [m.tls["resumed"] for m in sink.messages] == [False, True, True], \
                [m.tls for m in sink.messages]
            assert metric(hub, "dumpsterd_delivery_tls_resumed_total") == 2
        finally:
            finish(hub)


def test_lmtp_starttls_and_unix_never():
    sockdir = tempfile.mkdtemp(prefix="ddsock-")
    path = os.path.join(sockdir, "lmtp.sock")
    try:
        with TlsSink(CERTS.server, CERTS.server_key, lmtp=True) as lmtp, \
                Mbxsink(lmtp=True, args=["--listen", "unix:" + path]) as local:
            encrypt = {"tls": "encrypt"}
            hub = tls_hub({"SGA": lmtp.dest(), "SGB": "lmtp:unix:" + path},
                          {"SGA": encrypt, "SGB": encrypt}).start()
            try:
                send(hub, ["x@a.test", "y@a.test"], "lmtp over tls")
                send(hub, ["z@b.test"], "lmtp over a unix socket")
                wait_for(lambda: len(lmtp.messages) == 1 and local.stats()["stored"] == 1,
                         what="both LMTP deliveries")
                m = lmtp.messages[0]
                assert m.tls is not None and sorted(m.rcpts) == [b"x@a.test", b"y@a.test"], m.tls
                wait_for(lambda: all(st == 2 for st, _ in recipients(hub).values()),
                         what="every recipient delivered")
                assert "relay=unix:%s" % path in hub.log()
            finally:
                finish(hub)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


def test_big_message_in_tls_both_ways():
    """4 MiB in TLS from the client and in TLS to the mailbox: watermarks, refills."""
    line = "".join(chr(33 + i % 90) for i in range(76))
    body = "".join("%06d %s\r\n" % (i, line) for i in range(4 * 1024 * 1024 // 84))
    msg = "From: s@example.net\r\nSubject: big\r\n\r\n" + body + ".leading dot\r\n"
    with TlsSink(CERTS.server, CERTS.server_key) as sink:
        hub = tls_hub({"SGA": sink.dest()}, {"SGA": {"tls": "encrypt"}},
                      smtp={"tls_cert_file": CERTS.server, "tls_key_file": CERTS.server_key,
                            "tls": "encrypt"}).start()
        try:
            ctx = ssl.create_default_context(cafile=CERTS.ca)
            with smtplib.SMTP("127.0.0.1", hub.port, timeout=60) as s:
                s.starttls(context=ctx)
                s.sendmail("s@example.net", ["x@a.test"], msg.encode())
            wait_for(lambda: len(sink.messages) == 1, timeout=60, what="the big message")
            m = sink.messages[0]
            assert m.tls is not None
            got = m.data.decode()
            head, rest = got.split("\r\n\r\n", 1)
            assert rest == body + ".leading dot\r\n", (len(rest), len(body))
            assert "\r\nSubject: big\r\n" in head and "with ESMTPS" in head, head
        finally:
            finish(hub)


def test_broken_handshake():
    """may: plaintext at once on the next connection; encrypt: deferred."""
    with TlsSink(CERTS.server, CERTS.server_key, garbage=True) as may, \
            TlsSink(CERTS.server, CERTS.server_key, garbage=True) as enc:
        hub = tls_hub({"SGA": may.dest(), "SGB": enc.dest()}, {"SGB": {"tls": "encrypt"}}).start()
        try:
            send(hub, ["x@a.test"])
            send(hub, ["y@b.test"])
            wait_for(lambda: len(may.messages) == 1, what="the plaintext fallback")
            assert may.messages[0].tls is None
            deferred_with(hub, "y@b.test", "Cannot start TLS: handshake failure with "
                          "127.0.0.1[127.0.0.1]:%d" % enc.port)
            assert not enc.messages
            assert metric(hub, "dumpsterd_delivery_tls_handshake_failures_total") >= 2
        finally:
            finish(hub)


if __name__ == "__main__":
    try:
        raise SystemExit(1 if run([
            test_may_takes_tls_when_offered_else_plaintext,
            test_encrypt_defers_without_tls,
            test_verify,
            test_verify_host_name_from_dns,
            test_client_certificate_and_resumption,
            test_connections_opened_together_each_resume,
            test_lmtp_starttls_and_unix_never,
            test_big_message_in_tls_both_ways,
            test_broken_handshake,
        ]) else 0)
    finally:
        CERTS.cleanup()
