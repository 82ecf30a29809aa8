#!/usr/bin/env python3
"""The admin API over HTTPS and dumpsterctl verifying it (SPEC sections 8-10).

curl and dumpsterctl against an HTTPS hub: the good CA (--cacert, or the
site file's CA column), a wrong CA, a certificate for another name, an
expired one; plain http:// to an HTTPS hub and https:// to a plain one.
Each failure is that hub's, with the reason, and exit 69 overall, never a
plaintext retry. Writes with the token go over TLS. dumpsterd -t warns about
an admin listener off loopback that takes writes without TLS. Certificates
are made by the openssl CLI when the test starts.
"""
import hashlib
import json
import os
import shutil
import subprocess

from ddtest import DUMPSTERD, Hub, run, wait_for
from ddtls import Certs

CERTS = Certs()
BUILD = os.environ.get("DD_BUILD_DIR", "build")
DUMPSTERCTL = os.path.join(BUILD, "dumpsterctl")
CURL = shutil.which("curl")
TOKEN = "tls-admin-test-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()


def https_hub(cert=None, key=None):
    admin = {"token_hash": TOKEN_HASH, "tls_cert_file": cert or CERTS.server,
             "tls_key_file": key or CERTS.server_key}
    return Hub(admin=admin).start()


def finish(hub):
    try:
        rc = hub.stop()
        log = hub.log()
        assert "Sanitizer" not in log and "runtime error" not in log, log[-6000:]
        assert rc == 0, "dumpsterd exited with %s:\n%s" % (rc, log[-3000:])
    finally:
        hub.cleanup()


def ctl(*args):
    p = subprocess.run([DUMPSTERCTL] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def url(hub, scheme="https"):
    return "%s://127.0.0.1:%d" % (scheme, hub.admin_port)


def test_curl_and_dumpsterctl_with_the_right_ca():
    hub = https_hub()
    try:
        def healthy():
            p = subprocess.run([CURL, "-sS", "--cacert", CERTS.ca, url(hub) + "/healthz"],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p
            return json.loads(p.stdout)["status"] == "ok"
        wait_for(healthy, what="GET /healthz over HTTPS")
        rc, out, err = ctl("--hub", url(hub), "--cacert", CERTS.ca, "stats")
        assert rc == 0, (rc, out, err)
        assert "DumpsterStatistics: {127.0.0.1:%d (-; 0; 0)}" % hub.admin_port in out, out
        # a write, with the token, over TLS
        token = os.path.join(hub.tmp, "token")
        with open(token, "w") as f:
            f.write(TOKEN + "\n")
        rc, out, err = ctl("--hub", url(hub), "--cacert", CERTS.ca, "--token-file", token,
                           "--json", "queue")
        assert rc == 0, (rc, out, err)
        # the site file's CA column, relative to the site file
        site = os.path.join(hub.tmp, "site.conf")
        shutil.copy(CERTS.ca, os.path.join(hub.tmp, "site-ca.pem"))
        with open(site, "w") as f:
            f.write("# one hub over https\nhubA %s site-ca.pem\n" % url(hub))
        rc, out, err = ctl("--site", site, "stats")
        assert rc == 0 and "DumpsterStatistics: {hubA (-; 0; 0)}" in out, (rc, out, err)
        # plain HTTP to the HTTPS listener gets nothing
        p = subprocess.run([CURL, "-sS", url(hub, "http") + "/healthz"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode != 0 and '"ok"' not in p.stdout, p
        rc, out, err = ctl("--hub", url(hub, "http"), "stats")
        assert rc == 69, (rc, out, err)
    finally:
        finish(hub)


def test_wrong_ca_name_expired():
    cases = [
        (CERTS.server, CERTS.server_key, CERTS.path("other-ca.pem"),
         "certificate verify failed: unable to get local issuer certificate"),
        (CERTS.wrong, CERTS.wrong_key, CERTS.ca, "certificate verify failed: IP address mismatch"),
        (CERTS.expired, CERTS.expired_key, CERTS.ca,
         "certificate verify failed: certificate has expired"),
    ]
    good = https_hub()
    try:
        for cert, key, ca, why in cases:
            hub = https_hub(cert, key)
            try:
                rc, out, err = ctl("--hub", url(hub), "--cacert", ca, "stats")
                assert rc == 69, (why, rc, out, err)
                assert why in err, (why, err)
                assert "DumpsterStatisticsNotAvailable: {127.0.0.1:%d}" % hub.admin_port in out
                p = subprocess.run([CURL, "-sS", "--cacert", ca, url(hub) + "/healthz"],
                                   capture_output=True, text=True, timeout=30)
                assert p.returncode != 0, p
            finally:
                finish(hub)
        # one good hub and one that fails: the good one answers, exit 69
        bad = https_hub(CERTS.wrong, CERTS.wrong_key)
        try:
            site = os.path.join(good.tmp, "site.conf")
            with open(site, "w") as f:
                f.write("good %s %s\nbad %s %s\n" % (url(good), CERTS.ca, url(bad), CERTS.ca))
            rc, out, err = ctl("--site", site, "stats")
            assert rc == 69, (rc, out, err)
            assert "DumpsterStatistics: {good (-; 0; 0)}" in out, out
            assert "DumpsterStatisticsNotAvailable: {bad}" in out, out
        finally:
            finish(bad)
    finally:
        finish(good)


def test_https_to_a_plain_hub():
    hub = Hub().start()
    try:
        rc, out, err = ctl("--hub", url(hub), "--cacert", CERTS.ca, "stats")
        assert rc == 69 and "TLS: " in err, (rc, out, err)
    finally:
        finish(hub)


def test_bad_ca_options():
    rc, out, err = ctl("--hub", "https://127.0.0.1:1", "--cacert", CERTS.path("nope.pem"), "stats")
    assert rc == 66 and "nope.pem" in err, (rc, err)
    site = CERTS.path("site.conf")
    with open(site, "w") as f:
        f.write("h1 http://127.0.0.1:1 %s\n" % CERTS.ca)
    rc, out, err = ctl("--site", site, "stats")
    assert rc == 65 and "site.conf:1: a CA file for a hub that is not https://" in err, (rc, err)


def test_warning_off_loopback_without_tls():
    def check(admin):
        hub = Hub(admin=admin)
        try:
            p = subprocess.run([DUMPSTERD, "-c", hub.conf_path, "-t"], capture_output=True,
                               text=True)
            return p.returncode, p.stderr
        finally:
            hub.cleanup()
    rc, err = check({"listen": "0.0.0.0:18025", "token_hash": TOKEN_HASH})
    assert rc == 0 and "warning: [admin] listen 0.0.0.0:18025 is not a loopback address and " \
        "takes writes (token_hash is set) without TLS" in err, (rc, err)
    for admin in ({"listen": "0.0.0.0:18025"},
                  {"listen": "0.0.0.0:18025", "token_hash": TOKEN_HASH,
                   "tls_cert_file": CERTS.server, "tls_key_file": CERTS.server_key},
                  {"listen": "127.0.0.1:18025, [::1]:18025", "token_hash": TOKEN_HASH}):
        rc, err = check(admin)
        assert rc == 0 and "warning" not in err, (admin, rc, err)


if __name__ == "__main__":
    try:
        if CURL is None:
            print("skip: curl missing")
            raise SystemExit(77)
        raise SystemExit(1 if run([
            test_curl_and_dumpsterctl_with_the_right_ca,
            test_wrong_ca_name_expired,
            test_https_to_a_plain_hub,
            test_bad_ca_options,
            test_warning_off_loopback_without_tls,
        ]) else 0)
    finally:
        CERTS.cleanup()
