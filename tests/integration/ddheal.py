"""ddheal - what the Dovecot heal tests, the sieve measurement and `make demo` share:
the admin API of a hub, a group's probe options, and reading back what Dovecot
stored.
"""
import hashlib
import http.client
import json

from ddtest import wait_for

TOKEN = "dovecot-heal-test-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()


def probe_options(dv):
    """The [storage_group] lines that point a group's probe at Dovecot instance dv."""
    return {"probe": dv.probe_url(), "probe_key_file": dv.key_path}


def api(port, method, path, body=None, token=TOKEN, timeout=30):
    """One admin API call: (status, parsed JSON or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    return r.status, (json.loads(data) if data else None)


def metrics(port, token=TOKEN, timeout=30):
    """GET /metrics: the text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    assert r.status == 200, (r.status, data[:200])
    return data.decode()


def resubmit(port, body):
    status, req = api(port, "POST", "/v1/resubmit", body)
    assert status == 202, (status, req)
    return req


def request(port, rid):
    status, body = api(port, "GET", "/v1/resubmit/%d" % rid)
    assert status == 200, (status, body)
    return body


def wait_request_done(port, rid, timeout=60):
    return wait_for(lambda: (lambda r: r if r["state"] == "done" else None)(request(port, rid)),
                    timeout=timeout, what="resubmit request %d to finish" % rid)


def queue_empty(port, token=TOKEN):
    """True when nothing waits for delivery on the hub (GET /v1/queue)."""
    status, body = api(port, "GET", "/v1/queue", token=token)
    assert status == 200, (status, body)
    msgs = body.get("messages", body) if isinstance(body, dict) else body
    return len(msgs) == 0


def strip_lmtp_trace(raw, hostname):
    """Split a maildir file into (Dovecot's trace fields, what the hub sent).

    Dovecot's LMTP prepends Return-Path:, Delivered-To: (one recipient per
    transaction only) and its own Received: (`by HOSTNAME with LMTP`); nothing
    else is changed (mail_save_crlf = yes keeps the CRLFs). Raises when the
    prefix holds anything else.
    """
    pos, fields = 0, []
    while True:
        end = raw.index(b"\r\n", pos)
        while raw[end + 2:end + 3] in (b" ", b"\t"):
            end = raw.index(b"\r\n", end + 2)
        field = raw[pos:end + 2]
        name = field.split(b":", 1)[0].lower()
        if name in (b"return-path", b"delivered-to"):
            fields.append(field)
        elif name == b"received" and b"by " + hostname.encode() + b" with LMTP" in field:
            fields.append(field)
            return fields, raw[end + 2:]
        else:
            raise AssertionError("unexpected field before Dovecot's Received: %r" % field[:200])
        pos = end + 2


def check_hub_copy(stored, sent, hostname):
    """The hub's stored copy is exactly its Received: field and the sent bytes, plus
    `Message-ID: <QUEUEID@hostname>` at the end of the header section when the
    sent message had none (README section 4). Raises when anything else differs."""
    assert stored.startswith(b"Received: from "), stored[:100]
    end = stored.index(b"\r\n")
    while stored[end + 2:end + 3] in (b" ", b"\t"):
        end = stored.index(b"\r\n", end + 2)
    received, rest = stored[:end + 2], stored[end + 2:]
    assert b"by " + hostname.encode() + b" (dumpsterd) with ESMTP id " in received, received
    if rest == sent:
        return
    head, body = sent.split(b"\r\n\r\n", 1)
    qid = received.split(b" id ", 1)[1].split(b";", 1)[0].strip()
    added = b"Message-ID: <" + qid + b"@" + hostname.encode() + b">\r\n"
    assert rest == head + b"\r\n" + added + b"\r\n" + body, \
        "hub copy differs from the sent message:\n%r\n%r" % (rest[:300], sent[:300])
