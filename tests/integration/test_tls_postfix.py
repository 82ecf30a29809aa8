#!/usr/bin/env python3
"""A private Postfix on loopback as the hub's TLS peer, both ways.

Postfix sends to the hub with smtp_tls_security_level = encrypt (it defers
rather than send in clear) and the hub stores the message with
"with ESMTPS (using TLSv1.3 ...)"; the hub delivers with tls = verify to a
Postfix listener with smtpd_tls_security_level = encrypt, and Postfix, which
relays on to smtp-sink, writes its own ESMTPS Received: line. A storage
group with tls = none gets Postfix's 530 and stays deferred. Needs root for
Postfix (exit 77 otherwise). Certificates come from the openssl CLI.
"""
import smtplib

from ddtest import Hub, run, wait_for
from ddpeers import SmtpSink
from ddpostfix import Postfix, available
from ddtls import Certs

CERTS = Certs()


def finish(hub):
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def send(port, rcpt, subject):
    msg = "From: s@example.net\r\nSubject: %s\r\nMessage-ID: <%s@example.net>\r\n\r\nx\r\n" % (
        subject, subject.replace(" ", "-"))
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("s@example.net", [rcpt], msg.encode())


def test_postfix_both_ways():
    hub = Hub(smtp={"tls_cert_file": CERTS.server, "tls_key_file": CERTS.server_key},
              directory="@example.test\tSG1\n@sales.example.test\tSG2\n@plain.test\tSG3\n",
              dests={"SG3": "smtp:[127.0.0.1]:1"},
              sg_keys={"SG2": {"tls": "verify", "tls_ca_file": CERTS.ca},
                       "SG3": {"tls": "none"}})
    with SmtpSink() as sink:
        settings = [
            "relay_domains=example.test, sales.example.test, plain.test",
            "transport_maps=inline:{ example.test=smtp:[127.0.0.1]:%d, "
            "sales.example.test=smtp:[127.0.0.1]:%d, plain.test=smtp:[127.0.0.1]:%d }"
            % (hub.port, sink.port, sink.port),
            "smtpd_tls_cert_file=" + CERTS.server, "smtpd_tls_key_file=" + CERTS.server_key,
            "smtpd_tls_security_level=none",
            "smtp_tls_security_level=encrypt", "smtp_tls_CAfile=" + CERTS.ca,
            # on to smtp-sink, which has no TLS, in clear
            "smtp_tls_policy_maps=inline:{ [127.0.0.1]:%d=none }" % sink.port,
        ]
        listeners = {"inject": [], "tls": ["-o", "smtpd_tls_security_level=encrypt"]}
        with Postfix(settings, listeners) as pf:
            # the hub's SG2 goes to Postfix's TLS listener, SG3 too but in clear
            hub.conf_text = hub.conf_text.replace(
                "[storage_group SG2]\ndestination = ",
                "[storage_group SG2]\ndestination = smtp:[127.0.0.1]:%d\n# was: "
                % pf.ports["tls"]).replace(
                "smtp:[127.0.0.1]:1", "smtp:[127.0.0.1]:%d" % pf.ports["tls"])
            with open(hub.conf_path, "w") as f:
                f.write(hub.conf_text)
            hub.start()
            try:
                # Postfix -> hub: smtp_tls_security_level = encrypt
                send(pf.ports["inject"], "someone@example.test", "postfix to hub")
                wait_for(lambda: hub.queued(), what="the message from Postfix in the hub")
                (_, rcpts, body), = hub.queued().values()
                head = body.split(b"\r\n\r\n")[0].decode()
                assert "\t(using TLSv1.3 with cipher " in head and " with ESMTPS id " in head, head
                assert "Subject: postfix to hub" in head
                assert "Anonymous TLS connection established from unknown[127.0.0.1]" in hub.log()
                wait_for(lambda: "TLS connection established to 127.0.0.1[127.0.0.1]:%d" %
                         hub.port in pf.log(), what="Postfix's TLS line")
                # hub -> Postfix: tls = verify to smtpd_tls_security_level = encrypt
                send(hub.port, "boss@sales.example.test", "hub to postfix")
                wait_for(lambda: any(b"hub to postfix" in d for d in sink.dumps()),
                         what="the message through Postfix at smtp-sink")
                dump = [d for d in sink.dumps() if b"hub to postfix" in d][0].decode(
                    errors="replace")
                assert "(using TLSv1.3 with cipher" in dump and "with ESMTPS" in dump, dump
                assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]:%d" % \
                    pf.ports["tls"] in hub.log()
                # tls = none: Postfix's encrypt listener refuses the mail
                send(hub.port, "x@plain.test", "in clear")
                wait_for(lambda: "to=<x@plain.test>, relay=127.0.0.1[127.0.0.1]:%d" %
                         pf.ports["tls"] in hub.log(), what="the clear text attempt")
                assert "status=bounced (530 5.7.0 Must issue a STARTTLS command first)" in \
                    hub.log(), hub.log()
                assert not any(b"in clear" in d for d in sink.dumps())
            except AssertionError:
                print("---- postfix log ----\n" + pf.log()[-6000:])
                raise
            finally:
                finish(hub)


if __name__ == "__main__":
    try:
        if not available():
            print("skip: Postfix needs root")
            raise SystemExit(77)
        raise SystemExit(1 if run([test_postfix_both_ways]) else 0)
    finally:
        CERTS.cleanup()
