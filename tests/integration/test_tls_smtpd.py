#!/usr/bin/env python3
"""Inbound STARTTLS (SPEC section 10, RFC 3207) with real clients.

openssl s_client -starttls smtp and swaks --tls against the hub; swaks
--tls-on-connect refused without harm; the CVE-2011-0411 injection
(STARTTLS and a command in one write); EHLO required again; tls = encrypt
(530 before STARTTLS); STARTTLS twice or inside a transaction; the handshake
timeout and a broken handshake, both logged and closed; tls_min_protocol;
Received: with ESMTPS and the cipher; the metrics; certificates reloaded by
SIGHUP without dropping a live TLS session, and a bad new certificate
refused with the old one kept; configuration errors at file:line, exit 78.
Certificates are made by the openssl CLI when the test starts.
"""
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import urllib.request

from ddtest import DUMPSTERD, Client, Hub, expect, run, wait_for
from ddtls import Certs, client_context, starttls

CERTS = Certs()
SWAKS = shutil.which("swaks")
OPENSSL = shutil.which("openssl")


def tls_hub(extra_smtp=None, **kw):
    smtp = {"tls_cert_file": CERTS.server, "tls_key_file": CERTS.server_key}
    smtp.update(extra_smtp or {})
    return Hub(smtp=smtp, **kw)


def finish(hub):
    """Stop the hub: a clean exit and no sanitizer report; then remove it."""
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def metric(hub, line_prefix):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hub.admin_port, timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return int(line.split()[-1])
    raise AssertionError("no metric %s" % line_prefix)


def gone(c, timeout=10):
    """The hub closed c's connection (an end of file or a reset) within timeout."""
    c.sock.settimeout(timeout)
    try:
        while c.sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def ehlo(c):
    return expect(c.cmd("EHLO client.example"), 250)


def tls_client(hub, ctx=None):
    """A client in TLS after EHLO, STARTTLS, handshake."""
    c = Client(hub.port)
    assert "STARTTLS" in ehlo(c)
    expect(starttls(c, ctx or client_context(CERTS)), 220)
    return c


def test_starttls_only_with_a_certificate():
    hub = Hub().start()
    try:
        c = Client(hub.port)
        assert "STARTTLS" not in ehlo(c)
        expect(c.cmd("STARTTLS"), 502, "5.5.1")
        c.close()
    finally:
        finish(hub)
    hub = tls_hub(extra_smtp={"tls": "none"}).start()
    try:
        c = Client(hub.port)
        assert "STARTTLS" not in ehlo(c)
        expect(c.cmd("STARTTLS"), 502)
        c.close()
    finally:
        finish(hub)


def read_until(p, buf, pred, timeout=20):
    """Read p's merged output into buf[0] until pred(text) holds."""
    deadline = time.monotonic() + timeout
    while not pred(buf[0]):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
            raise AssertionError("openssl s_client said only:\n" + buf[0])
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            raise AssertionError("openssl s_client ended:\n" + buf[0])
        buf[0] += chunk.decode(errors="replace")


def test_openssl_s_client():
    hub = tls_hub().start()
    try:
        p = subprocess.Popen(
            [OPENSSL, "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % hub.port,
             "-CAfile", CERTS.ca, "-verify_return_error", "-verify_hostname",
             "hub1.example.test", "-brief", "-crlf", "-ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        buf = [""]
        try:
            read_until(p, buf, lambda t: "Verification: OK" in t and "250 SMTPUTF8" in t)
            # one command at a time: PIPELINING is not offered in TLS before the new EHLO
            p.stdin.write(b"EHLO sclient.example\n")
            p.stdin.flush()
            read_until(p, buf, lambda t: t.count("250 SMTPUTF8") == 2)
            p.stdin.write(b"QUIT\n")
            p.stdin.flush()
            read_until(p, buf, lambda t: "221 2.0.0 Bye" in t)
        finally:
            p.stdin.close()
            p.wait(20)
            p.stdout.close()
        out = buf[0]
        assert "Protocol version: TLSv1.3" in out, out
        after = out[out.index("Verification: OK"):]
        assert "250-hub1.example.test" in after, out
        assert "STARTTLS" not in after, "STARTTLS offered again inside TLS:\n" + out
        wait_for(lambda: "Anonymous TLS connection established from unknown[127.0.0.1]: "
                 "TLSv1.3 with cipher" in hub.log(), what="the TLS log line")
        wait_for(lambda: "ehlo=2 starttls=1 quit=1" in hub.log(), what="the disconnect line")
    finally:
        finish(hub)


def stored_bodies(hub):
    return [body for (_, _, body) in hub.queued().values()]


def test_swaks_tls_and_received():
    hub = tls_hub().start()
    try:
        p = subprocess.run(
            [SWAKS, "--server", "127.0.0.1:%d" % hub.port, "--tls", "--tls-verify",
             "--tls-ca-path", CERTS.ca, "--tls-sni", "hub1.example.test", "--ehlo",
             "swaks.example", "--from", "me@example.net", "--to", "someone@example.test",
             "--header", "Subject: over TLS"],
            capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "TLS started" in p.stdout and "queued as" in p.stdout, p.stdout
        bodies = wait_for(lambda: stored_bodies(hub), what="the message in the store")
        head = bodies[0].split(b"\r\n\r\n")[0].decode()
        assert re.search(r"^Received: from swaks\.example \(\[127\.0\.0\.1\]\)\r\n"
                         r"\t\(using TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)\)\r\n"
                         r"\tby hub1\.example\.test \(dumpsterd\) with ESMTPS id ", head), head
        with hub.db() as db:
            assert [p for (p,) in db.execute("SELECT proto FROM message")] == ["ESMTPS"]
    finally:
        finish(hub)


def test_swaks_tls_on_connect_refused_sanely():
    hub = tls_hub().start()
    try:
        p = subprocess.run(
            [SWAKS, "--server", "127.0.0.1:%d" % hub.port, "--tls-on-connect", "--from",
             "me@example.net", "--to", "someone@example.test", "--timeout", "10"],
            capture_output=True, text=True, timeout=60)
        assert p.returncode != 0, p.stdout
        assert "queued as" not in p.stdout
        wait_for(lambda: "disconnect from unknown[127.0.0.1]" in hub.log(),
                 what="the session to end")
        assert hub.accepting() and not stored_bodies(hub)
    finally:
        finish(hub)


def test_pipelined_command_after_starttls_is_dropped():
    """CVE-2011-0411: STARTTLS\\r\\nRSET\\r\\n in one write; only the TLS side counts."""
    hub = tls_hub().start()
    try:
        c = Client(hub.port)
        ehlo(c)
        c.send("STARTTLS\r\nRSET\r\n")
        expect(c.reply(), 220, "2.0.0 Ready to start TLS")
        c.sock = client_context(CERTS).wrap_socket(c.sock, server_hostname="hub1.example.test")
        c.buf = b""
        # the first reply inside TLS must be the EHLO's, not RSET's 250 2.0.0 Ok
        code, lines = c.cmd("EHLO client.example")
        assert code == 250 and lines[0] == "250-hub1.example.test", lines
        c.close()
        # a MAIL smuggled the same way is no transaction
        c = Client(hub.port)
        ehlo(c)
        c.send("STARTTLS\r\nMAIL FROM:<evil@example.net>\r\n")
        expect(c.reply(), 220)
        c.sock = client_context(CERTS).wrap_socket(c.sock, server_hostname="hub1.example.test")
        c.buf = b""
        ehlo(c)
        expect(c.cmd("RCPT TO:<someone@example.test>"), 503, "need MAIL")
        c.close()
    finally:
        finish(hub)


def test_session_reset_after_starttls():
    hub = tls_hub().start()
    try:
        c = tls_client(hub)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 503, "send HELO/EHLO first")
        text = ehlo(c)
        assert "STARTTLS" not in text and "PIPELINING" in text, text
        expect(c.cmd("STARTTLS"), 554, "TLS already active")
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<someone@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        expect(c.cmd("Subject: x\r\n\r\nbody\r\n."), 250, "queued as")
        expect(c.cmd("QUIT"), 221)
        c.close()
        assert metric(hub, 'dumpsterd_smtp_tls_sessions_total{protocol="TLSv1.3"}') == 1
    finally:
        finish(hub)


def test_starttls_inside_a_transaction():
    hub = tls_hub().start()
    try:
        c = Client(hub.port)
        ehlo(c)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("STARTTLS"), 503, "transaction in progress")
        expect(c.cmd("STARTTLS now"), 501)
        c.close()
    finally:
        finish(hub)


def test_encrypt_needs_starttls_first():
    hub = tls_hub(extra_smtp={"tls": "encrypt"}).start()
    try:
        c = Client(hub.port)
        ehlo(c)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 530, "5.7.0 Must issue a STARTTLS command first")
        expect(c.cmd("VRFY someone"), 530)
        expect(c.cmd("NOOP"), 250)
        expect(starttls(c, client_context(CERTS)), 220)
        ehlo(c)
        expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(c.cmd("RCPT TO:<someone@example.test>"), 250)
        c.close()
        # smtplib, a real client library, gets there too
        with smtplib.SMTP("127.0.0.1", hub.port, timeout=30) as s:
            s.starttls(context=client_context(CERTS))
            s.sendmail("a@example.net", ["someone@example.test"], b"Subject: enc\r\n\r\nx\r\n")
        assert len(stored_bodies(hub)) == 1
    finally:
        finish(hub)


def test_handshake_timeout():
    hub = tls_hub(extra_smtp={"tls_handshake_timeout": "1"}).start()
    try:
        c = Client(hub.port)
        ehlo(c)
        expect(c.cmd("STARTTLS"), 220)
        assert gone(c), "the hub did not close a silent handshake"
        wait_for(lambda: "timeout after STARTTLS from unknown[127.0.0.1]" in hub.log(),
                 what="the timeout line")
        assert metric(hub, "dumpsterd_smtp_tls_handshake_failures_total") == 1
    finally:
        finish(hub)


def test_handshake_drip():
    """A handshake dripped an octet at a time meets tls_handshake_timeout as a deadline."""
    hub = tls_hub(extra_smtp={"tls_handshake_timeout": "1"}).start()
    try:
        c = Client(hub.port)
        ehlo(c)
        expect(c.cmd("STARTTLS"), 220)
        record = b"\x16\x03\x01\x02\x00" + b"\x01" * 200  # a ClientHello that never ends
        closed = False
        for i in range(len(record)):
            try:
                c.sock.sendall(record[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if gone(c, timeout=0.2):
                closed = True
                break
        assert closed, "a dripped handshake holds the session"
        wait_for(lambda: "handshake not complete in 1 s" in hub.log(), what="the timeout line")
    finally:
        finish(hub)


def test_broken_handshake_logged_and_closed():
    hub = tls_hub().start()
    try:
        c = Client(hub.port)
        ehlo(c)
        expect(c.cmd("STARTTLS"), 220)
        c.send(b"EHLO this is not a TLS client hello\r\n" * 4)
        assert gone(c), "the hub did not close a broken handshake"
        wait_for(lambda: "SSL_accept error from unknown[127.0.0.1]: " in hub.log(),
                 what="the SSL_accept line")
        assert "lost connection after STARTTLS from unknown[127.0.0.1]" in hub.log()
        assert metric(hub, "dumpsterd_smtp_tls_handshake_failures_total") == 1
        assert hub.accepting()
    finally:
        finish(hub)


def test_min_protocol():
    hub = tls_hub(extra_smtp={"tls_min_protocol": "TLSv1.3"}).start()
    try:
        ctx = client_context(CERTS)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c = Client(hub.port)
        ehlo(c)
        try:
            starttls(c, ctx)
            raise AssertionError("a TLSv1.2 client got through tls_min_protocol = TLSv1.3")
        except ssl.SSLError:
            pass
        wait_for(lambda: "SSL_accept error" in hub.log(), what="the refusal in the log")
        ctx = client_context(CERTS)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        hub2 = tls_hub()
        hub2.start()
        try:  # the default (TLSv1.2) takes it
            c = Client(hub2.port)
            ehlo(c)
            starttls(c, ctx)
            assert c.sock.version() == "TLSv1.2"
            ehlo(c)
        finally:
            finish(hub2)
    finally:
        finish(hub)


def peer_der(hub):
    c = tls_client(hub)
    der = c.sock.getpeercert(binary_form=True)
    c.close()
    return der


def der_of(pem):
    with open(pem) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_sighup_reloads_the_certificate():
    hub = tls_hub()
    cert = os.path.join(hub.tmp, "cert.pem")
    key = os.path.join(hub.tmp, "key.pem")
    shutil.copy(CERTS.server, cert)
    shutil.copy(CERTS.server_key, key)
    hub.conf_text = hub.conf_text.replace(CERTS.server, cert).replace(CERTS.server_key, key)
    with open(hub.conf_path, "w") as f:
        f.write(hub.conf_text)
    hub.start()
    try:
        assert peer_der(hub) == der_of(CERTS.server)
        live = tls_client(hub)
        ehlo(live)
        shutil.copy(CERTS.server2, cert)
        shutil.copy(CERTS.server2_key, key)
        hub.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload: " in hub.log(), what="the reload")
        assert peer_der(hub) == der_of(CERTS.server2)
        # the session that started before the reload goes on with its TLS
        expect(live.cmd("MAIL FROM:<a@example.net>"), 250)
        expect(live.cmd("RCPT TO:<someone@example.test>"), 250)
        expect(live.cmd("DATA"), 354)
        expect(live.cmd("Subject: live\r\n\r\nx\r\n."), 250, "queued as")
        # a broken new certificate: refused, the running one stays
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        hub.proc.send_signal(signal.SIGHUP)
        line = "%s:%d: tls_cert_file: cannot load the certificate from %s" % (
            hub.conf_path, hub.conf_text.splitlines().index("tls_cert_file = " + cert) + 1, cert)
        wait_for(lambda: "configuration reload failed, keeping the old one: " + line in hub.log(),
                 what="the refused reload")
        assert peer_der(hub) == der_of(CERTS.server2)
        expect(live.cmd("QUIT"), 221)
        live.close()
    finally:
        finish(hub)


def dumpsterd(*args):
    p = subprocess.run([DUMPSTERD, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def line_of(hub, text):
    return hub.conf_text.splitlines().index(text) + 1


def test_configuration_errors():
    cases = [
        ({"tls_cert_file": os.path.join(CERTS.dir, "missing.pem")}, "tls_cert_file",
         "No such file or directory"),
        ({"tls_cert_file": CERTS.server, "tls_key_file": CERTS.client_key}, "tls_key_file",
         "key values mismatch"),
        ({"tls_cert_file": CERTS.server, "tls_key_file": CERTS.server_key,
          "tls_ciphers": "NO-SUCH-CIPHER"}, "tls_ciphers", "cannot use the cipher list"),
        ({"tls_cert_file": CERTS.server}, "tls_cert_file", "find the private key"),
        ({"tls": "encrypt"}, "tls", "tls = encrypt needs tls_cert_file"),
        ({"tls": "sometimes"}, "tls", 'is not one of none, may, encrypt'),
        ({"tls_min_protocol": "SSLv3"}, "tls_min_protocol", "is not one of"),
    ]
    for smtp, key, msg in cases:
        hub = Hub(smtp=smtp)
        try:
            where = "%s:%d: " % (hub.conf_path, line_of(hub, "%s = %s" % (key, smtp[key])))
            for args in (("-c", hub.conf_path, "-t"), ("-c", hub.conf_path)):
                rc, out, err = dumpsterd(*args)
                assert rc == 78 and where in err and msg in err, (smtp, rc, err)
        finally:
            hub.cleanup()
    # the combined file (key after the certificate) needs no tls_key_file
    hub = Hub(smtp={"tls_cert_file": CERTS.combined})
    try:
        rc, out, err = dumpsterd("-c", hub.conf_path, "-t")
        assert rc == 0, err
        rc, out, err = dumpsterd("-c", hub.conf_path, "-n")
        assert "smtp.tls_cert_file = " + CERTS.combined in out, out
        hub.start()
        c = tls_client(hub)
        ehlo(c)
        c.close()
    finally:
        finish(hub)


if __name__ == "__main__":
    try:
        if SWAKS is None or OPENSSL is None:
            print("skip: swaks or openssl missing")
            raise SystemExit(77)
        raise SystemExit(1 if run([
            test_starttls_only_with_a_certificate,
            test_openssl_s_client,
            test_swaks_tls_and_received,
            test_swaks_tls_on_connect_refused_sanely,
            test_pipelined_command_after_starttls_is_dropped,
            test_session_reset_after_starttls,
            test_starttls_inside_a_transaction,
            test_encrypt_needs_starttls_first,
            test_handshake_timeout,
            test_handshake_drip,
            test_broken_handshake_logged_and_closed,
            test_min_protocol,
            test_sighup_reloads_the_certificate,
            test_configuration_errors,
        ]) else 0)
    finally:
        CERTS.cleanup()
