#!/usr/bin/env python3
"""seeds.py - a few hand-written inputs per fuzz target, the start of each kept corpus.

    python3 tests/fuzz/seeds.py DIR     writes DIR/NAME/seed-N for every target

run.py --seed puts them into the scratch corpora; a merge then keeps those
that add coverage to tests/fuzz/corpus/NAME/. Each target's input format is
the one its header comment describes (a leading control octet where it says so).
"""
import os
import sys

CONF = b"""[hub]
name = hub1
data_dir = /var/lib/dumpsterd
[smtp]
listen = 127.0.0.1:2525, [::1]:2525
hostname = hub1.example.test
max_connections = 100
data_timeout = 300
[admin]
listen = 127.0.0.1:8025
token_hash = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
[delivery]
retry_initial = 60
retry_max = 3600
[dumpster]
max_size = 1048576
[directory]
file = /etc/dumpsterd/directory.tsv
[storage_group SG1]
destination = lmtp:[127.0.0.1]:2424
[storage_group SG2]
destination = smtp:mx.example.test:25, smtp:[192.0.2.1]:2525
"""

SEEDS = {
    "fuzz_conf": [
        CONF,
        b"[storage_group A]\ndestination = lmtp:unix:/run/dovecot/lmtp\n",
        b"smtp:[127.0.0.1]:25",
        b"lmtp:[::1]:24, smtp:mx.example:25",
        b"[hub]\nname = \"quoted # not a comment\" # comment\n[bogus]\nx = 1\n",
        b"[smtp]\nmax_message_size = 10M\n[smtp]\n=\n",
    ],
    "fuzz_directory": [
        b"# test directory\n@example.test\tSG1\npostmaster@example.test\tSG1\n"
        b"@sales.example.test\tSG2\nboss@sales.example.test\tSG1\nalice@example.org\tSG2\n",
        b"@Example.TEST\tSG1\r\n\"quoted,local\"@example.test\tSG2\n",
        b"nosg@example.test\n@x\tSG9\n\t\n",
    ],
    "fuzz_smtpd_cmd": [
        b"EHLO client.example.net",
        b"HELO [127.0.0.1]",
        b"MAIL FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8",
        b"MAIL FROM:<>",
        b"RCPT TO:<\"quoted local\"@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@x",
        b"RCPT TO:<@relay.example:bob@example.test>",
        b"BDAT 1000 LAST",
        b"BDAT 0",
        b"DATA", b"RSET", b"NOOP hello", b"QUIT", b"STARTTLS", b"VRFY bob", b"AUTH PLAIN",
        b"mail from:<b\xc3\xa9@ex\xc3\xa4mple.test>",
    ],
    "fuzz_smtp_addr": [
        b"<bob@example.test>",
        b"<>",
        b"<\"a b\\\"c\"@example.test>",
        b"<@a.example,@b.example:bob@example.test>",
        b"<bob@[192.0.2.1]>",
        b"<bob@[IPv6:2001:db8::1]>",
        b"<j\xc3\xb6rg@b\xc3\xbccher.example>",
        b"<a.b-c+d@x-y.example.test> SIZE=5",
    ],
    "fuzz_smtpd_data": [
        b"\x01Subject: hi\r\n\r\nbody\r\n..dot-stuffed\r\n.\r\n",
        b"\x07From: a@b\r\nTo: c@d\r\n\r\nline one\nbare lf\r\n.\r\nafter",
        b"\x33\r\n.\r\n",
        b"\x55Subject: x\r\n\r\n" + b"y" * 1100 + b"\r\n.\r\n",
        b"\x02\r\n\r\n\r.\r\n.\n.\r\n",
    ],
    "fuzz_mta_reply": [
        b"220 mx.example.test ESMTP\r\n",
        b"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
        b"250 ENHANCEDSTATUSCODES\r\n",
        b"550 5.1.1 <bob@example.test>: Recipient address rejected\r\n",
        b"451 4.3.0 try later\n421 closing\r\n",
        b"250 2.0.0 Ok: queued as 12345\r\n354 go ahead\r\n",
        b"452-4.2.2 first\r\n452 4.2.2 second\r\n999 bad\r\nxyz\r\n",
    ],
    "fuzz_shadow_env": [
        b"\x01Dd-Hub\0hub1\0Dd-Sg\0SG1\0Dd-From\0<s@example.org>\0"
        b"Dd-Delivered\0<u@example.test> 1764064800123\0Dd-Received\01764064800000\0",
        b"\x00Dd-From\0<s@example.org>\0Dd-Rcpt\0SG1 <u@example.test>\0Dd-Received\01764064800000\0",
        b"\x00Dd-From\0<>\0Dd-Rcpt\0@smarthost <b@example.net>\0Dd-Received\00\0Dd-Body\02 1\0"
        b"Dd-Message-Id\0<m@x>\0",
    ],
    "fuzz_shadow_list": [
        b"\x00a@example.test\nB@Example.Test\n\0b@example.test",
        b"\x01SG1 u@example.test\nSG2 u@example.test\n\0U@EXAMPLE.TEST",
        b"\x00\n\n\0",
        b"\x01SG1 \nSG1\0x",
    ],
    "fuzz_timefmt": [
        b"2026-11-25T10:00:00Z",
        b"2026-11-25t10:00:00.123z",
        b"2026-11-25 10:00:00+01:30",
        b"1795600800",
        b"1795600800.5",
        b"9999-12-31T23:59:59.999Z",
        b"0000-01-01T00:00:00Z",
    ],
    "fuzz_api_req": [
        b"{\"storage_group\":\"SG1\",\"start\":\"2026-11-25T10:00:00Z\","
        b"\"end\":\"2026-11-25T11:00:00Z\"}",
        b"{\"storage_group\":\"SG1\",\"start\":1795600800,\"end\":1795604400.5,"
        b"\"destination\":\"lmtp:[127.0.0.1]:2424\",\"recipient\":\"Bob@Example.TEST\","
        b"\"reason\":\"heal\",\"force\":true,\"dry_run\":false}",
        b"{\"storage_group\":\"S\\u0000G\",\"start\":0,\"end\":1}",
        b"{\"name\":\"SG1\",\"destination\":\"smtp:mx.example:25\"}",
        b"[1,2,{\"a\":null}]",
    ],
    "fuzz_tls_policy": [
        b"\x00EHLO a\r\nSTARTTLS\r\n\x00EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        b"\x03EHLO a\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n",
        b"\x05EHLO a\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\nRSET\r\nSTARTTLS\r\n\x00STARTTLS\r\n",
        b"\x01HELO a\r\nQUIT\r\n",
    ],
    "fuzz_doveadm": [
        b"\x00[[\"doveadmResponse\",[{\"mailbox-guid\":\"g\",\"uid\":\"1\"}],\"0\"]]",
        b"\x01[[\"doveadmResponse\",[],\"2\"],[\"doveadmResponse\",[{}],\"0\"]]",
        b"\x09[[\"doveadmResponse\",[{\"uid\":\"1\"},{\"uid\":\"7\"}],\"0\"],"
        b"[\"error\",{\"type\":\"exitCode\",\"exitCode\":75},\"1\"]]",
        b"\x02[[\"error\",{\"type\":\"exitCode\",\"exitCode\":68},\"0\"]]",
        b"\x07not json",
    ],
    "fuzz_admin_req": [
        b"GET /v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz-token\r\n\r\n",
        b"POST /v1/resubmit HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        b"GET /v1/resubmit?state=outstanding&limit=10 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"HEAD /metrics HTTP/1.0\r\n\r\n",
        b"DELETE /v1/resubmit/42 HTTP/1.1\r\nHost: h\r\nAuthorization: bearer  fuzz-token \r\n\r\n",
        b"GET /v1/dumpster/SG1?start=2026-11-25T10:00:00Z&end=1795604400 HTTP/1.1\r\n\r\n",
        b"POST /v1/resubmit HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
    ],
}


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    for name, inputs in SEEDS.items():
        d = os.path.join(sys.argv[1], name)
        os.makedirs(d, exist_ok=True)
        for i, data in enumerate(inputs):
            with open(os.path.join(d, "seed-%d" % i), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
