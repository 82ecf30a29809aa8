#!/usr/bin/env python3
"""The Message-ID an item is known by: the message's first Message-ID field,
unfolded (SPEC section 6).

A folded "Message-ID:\\r\\n <id>" is recorded as "<id>" (not the hub's own
id, which is not in the message), so a resubmission filtered by that id
finds the item; a message with two Message-ID fields is known by the first;
the hub adds its own field only to a message that has none, and an empty
field is not replaced.
"""
import hashlib
import sys

from ddtest import Client, Hub, expect, run, wait_for
from ddpeers import Mbxsink
from test_dumpster_e2e import api

TOKEN_HASH = hashlib.blake2b(b"e2e-test-token", digest_size=32).hexdigest()
HUB = None


def send(head, rcpt="bob@example.test"):
    c = Client(HUB.port)
    expect(c.cmd("EHLO client.example.net"), 250)
    expect(c.cmd("MAIL FROM:<a@example.net>"), 250)
    expect(c.cmd("RCPT TO:<%s>" % rcpt), 250)
    expect(c.cmd("DATA"), 354)
    c.send(head + b"\r\nbody\r\n.\r\n")
    qid = expect(c.reply(), 250, "queued as").split()[-1]
    c.cmd("QUIT")
    return qid


def recorded(qid):
    with HUB.db() as db:
        (mid,) = db.execute("SELECT message_id FROM message WHERE queue_id = ?", (qid,)).fetchone()
    return mid


def header_section(qid):
    return HUB.queued()[qid][2].split(b"\r\n\r\n", 1)[0]


def test_folded_recorded_unfolded():
    qid = send(b"From: s@example.net\r\nMessage-ID:\r\n <fold-1@example.net>\r\nSubject: f\r\n")
    assert recorded(qid) == "<fold-1@example.net>", recorded(qid)
    head = header_section(qid)
    assert head.count(b"Message-ID:") == 1, head  # the hub added none
    assert b"Message-ID:\r\n <fold-1@example.net>\r\n" in head, head


def test_folded_found_by_a_filtered_resubmission():
    qid = send(b"From: s@example.net\r\nMessage-Id:\r\n\t<fold-2@example.net>\r\n")
    with HUB.db() as db:
        (mid,) = wait_for(lambda: db.execute("SELECT message_id FROM dumpster_item"
                                             " WHERE queue_id = ?", (qid,)).fetchone(),
                          what="the delivered copy kept in the dumpster")
    assert mid == "<fold-2@example.net>", mid
    status, preview = api(HUB, "POST", "/v1/resubmit",
                          {"storage_group": "SG1", "start": 0, "end": 4102444800,
                           "message_id": "<fold-2@example.net>", "dry_run": True})
    assert status == 200 and preview["matched"] == 1, (status, preview)


def test_first_of_two():
    qid = send(b"Message-ID: <first@example.net>\r\nMessage-ID: <second@example.net>\r\n")
    assert recorded(qid) == "<first@example.net>", recorded(qid)


def test_none_gets_ours():
    qid = send(b"Subject: no id\r\n")
    assert recorded(qid) == "<%s@hub1.example.test>" % qid, recorded(qid)
    assert b"\r\nMessage-ID: <%s@hub1.example.test>" % qid.encode() in header_section(qid)


def test_empty_field_kept():
    qid = send(b"Subject: empty id\r\nMessage-ID:\r\n")
    assert recorded(qid) is None, recorded(qid)
    assert header_section(qid).count(b"Message-ID:") == 1, header_section(qid)


def main():
    global HUB
    with Mbxsink(lmtp=True) as sink:
        with Hub(dests={"SG1": sink.dest()}, admin={"token_hash": TOKEN_HASH}) as hub:
            HUB = hub
            failed = run([test_folded_recorded_unfolded,
                          test_folded_found_by_a_filtered_resubmission, test_first_of_two,
                          test_none_gets_ours, test_empty_field_kept])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
