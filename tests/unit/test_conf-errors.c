/*
 * test_conf-errors.c - table tests of bad configuration files
 *
 * Bad files are checked by the line and a piece of the message of each
 * error, and by how many errors there are, so a bad line may not hide
 * behind cascades: structure, values of every kind, storage groups, TLS,
 * pairs of keys that contradict each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "conffix.h"

struct bad_case {
    const char *name;
    const char *text;
    unsigned line; /* of the (first) error */
    const char *msg;
    size_t nerr; /* 0: exactly one */
};

static const struct bad_case bad_cases[] = {
    /* Structure. */
    {"unknown section", "[hubs]\nname = x\n", 1, "unknown section [hubs]", 0},
    {"section case", "[HUB]\n", 1, "unknown section", 0},
    {"section with junk", "[hub x]\n", 1, "unknown section", 0},
    {"section without ]", "[hub\n", 1, "must end with ]", 0},
    {"section junk after ]", "[hub] x\n", 1, "must end with ]", 0},
    {"duplicate section", "[smtp]\nmax_errors = 5\n[hub]\n[smtp]\nmax_errors = 6\n", 4,
     "duplicate section [smtp] (first at line 1)", 0},
    {"key outside any section", "name = hub1\n", 1, "outside any section", 0},
    {"no =", "[hub]\nname hub1\n", 2, "expected \"key = value\"", 0},
    {"missing key", "[hub]\n = hub1\n", 2, "missing key", 0},
    {"unknown key", "[smtp]\nmax_error = 5\n", 2, "unknown key \"max_error\" in [smtp]", 0},
    {"key in the wrong section", "[hub]\nlisten = 127.0.0.1:25\n", 2,
     "unknown key \"listen\" in [hub]", 0},
    {"key case", "[hub]\nName = x\n", 2, "unknown key", 0},
    {"duplicate key", "[smtp]\nmax_errors = 5\n\nmax_errors = 5\n", 4,
     "duplicate key \"max_errors\" in [smtp] (first at line 2)", 0},
    {"duplicate bad key", "[smtp]\nmax_errors = x\nmax_errors = 5\n", 3, "duplicate key", 2},
    {"control character", "[hub]\nname = a\x01z\n", 2, "control character 0x01", 0},
    {"NUL octet", "[hub]\nname = a\0z\n", 2, "control character 0x00", 0},
    {"bare CR", "[hub]\nname = a\rz\n", 2, "control character 0x0d", 0},
    /* [shadow]: server URLs, credentials, the hub name as a subject token. */
    {"shadow scheme", "[shadow]\nservers = http://127.0.0.1:4222\n", 2,
     "expected nats://HOST:PORT or tls://HOST:PORT", 0},
    {"shadow no port", "[shadow]\nservers = nats://127.0.0.1\n", 2,
     "expected HOST:PORT after the scheme", 0},
    {"shadow bad host", "[shadow]\nservers = nats://300.1.1.1:4222\n", 2,
     "HOST must be an IP address or a domain name", 0},
    {"shadow bad port", "[shadow]\nservers = nats://127.0.0.1:0\n", 2, "port must be 1..65535", 0},
    {"shadow credentials in URL", "[shadow]\nservers = nats://u:p@127.0.0.1:4222\n", 2,
     "no path or credentials in the URL", 0},
    {"shadow twice", "[shadow]\nservers = nats://127.0.0.1:1,nats://127.0.0.1:01\n", 2,
     "listed twice", 0},
    {"shadow empty item", "[shadow]\nservers = nats://127.0.0.1:1,,nats://127.0.0.1:2\n", 2,
     "empty item in the list", 0},
    {"shadow user without password", "[shadow]\nservers = nats://127.0.0.1:1\nuser = dd\n", 3,
     "user and password_file go together", 0},
    {"shadow user and token", "[shadow]\nuser = dd\npassword_file = /p\ntoken_file = /t\n", 4,
     "not both", 0},
    {"shadow replicas", "[shadow]\nreplicas = 6\n", 2, "1..5", 0},
    {"shadow failure value", "[shadow]\nshadow_failure = reject\n", 2,
     "\"reject\" is not one of accept, defer", 0},
    {"shadow hub name dot", "[hub]\nname = a.b\n[shadow]\nservers = nats://127.0.0.1:1\n", 4,
     "must not contain a dot", 0},
    {"shadow sg name dot",
     "[shadow]\nservers = nats://127.0.0.1:1\n[storage_group a.b]\ndestination = "
     "smtp:[127.0.0.1]:25\n",
     3, "storage group name \"a.b\" must not contain a dot", 0},
    /* bare_newline and its network list. */
    {"bare newline value", "[smtp]\nbare_newline = allow\n", 2,
     "\"allow\" is not one of reject, normalize", 0},
    {"network host bits", "[smtp]\nbare_newline_exclusions = 10.1.2.3/8\n", 2,
     "host bits set past the prefix (did you mean 10.0.0.0/8?)", 0},
    {"network prefix", "[smtp]\nbare_newline_exclusions = 10.0.0.0/33\n", 2,
     "the prefix must be 0..32", 0},
    {"network prefix v6", "[smtp]\nbare_newline_exclusions = ::/129\n", 2,
     "the prefix must be 0..128", 0},
    {"network prefix junk", "[smtp]\nbare_newline_exclusions = 10.0.0.0/8x\n", 2,
     "the prefix must be", 0},
    {"network prefix empty", "[smtp]\nbare_newline_exclusions = 10.0.0.0/\n", 2,
     "the prefix must be", 0},
    {"network prefix leading zero", "[smtp]\nbare_newline_exclusions = 10.0.0.0/08\n", 2,
     "the prefix must be", 0},
    {"network not an address", "[smtp]\nbare_newline_exclusions = example.org\n", 2,
     "not an IPv4 or IPv6 address", 0},
    {"network IPv4 in brackets", "[smtp]\nbare_newline_exclusions = [10.0.0.1]\n", 2,
     "brackets are for IPv6 only", 0},
    {"network empty item", "[smtp]\nbare_newline_exclusions = 10.0.0.0/8,,::1\n", 2, "empty item",
     0},
    {"network twice", "[smtp]\nbare_newline_exclusions = ::1, 0:0::1/128\n", 2, "listed twice", 0},
    /* Storage groups. */
    {"storage group without name", "[storage_group]\n", 1, "needs a name", 0},
    {"storage group bad name", "[storage_group a/b]\ndestination = lmtp:[::1]:24\n", 1,
     "bad storage group name", 0},
    {"storage group name with blank", "[storage_group a b]\n", 1, "bad storage group name", 0},
    {"storage group name 65",
     "[storage_group 12345678901234567890123456789012345678901234567890123456789012345]\n", 1,
     "bad storage group name", 0},
    {"storage group twice", SG1 "\n[storage_group SG1]\ndestination = lmtp:[::1]:24\n", 4,
     "duplicate section [storage_group SG1] (first at line 1)", 0},
    {"storage group without destination", "[storage_group A]\nmax_size = 5\n[hub]\n", 1,
     "storage group \"A\" has no destination", 0},
    {"last storage group without destination", SG1 "[storage_group B]\n", 3,
     "\"B\" has no destination", 0},
    {"storage group bad destination", "[storage_group A]\ndestination = lmtp:mx\n", 2,
     "destination: \"lmtp:mx\": missing :PORT", 0},
    {"storage group empty destination", "[storage_group A]\ndestination =\n", 2,
     "empty destination", 0},
    {"storage group unknown key", SG1 "max_sise = 1\n", 3,
     "unknown key \"max_sise\" in [storage_group SG1]", 0},
    {"storage group duplicate key", SG1 "destination = lmtp:[::1]:24\n", 3,
     "duplicate key \"destination\" in [storage_group SG1]", 0},
    {"storage group max_size range", SG1 "max_size = 1099511627777\n", 3,
     "out of range 0..1099511627776", 0},
    {"storage group max_age range", SG1 "max_age = 31536001\n", 3, "out of range 0..31536000", 0},
    /* TLS. */
    {"tls level", "[smtp]\ntls = yes\n", 2, "\"yes\" is not one of none, may, encrypt", 0},
    {"tls level case", "[smtp]\ntls = May\n", 2, "is not one of", 0},
    {"tls verify is outbound only", "[smtp]\ntls = verify\n", 2, "is not one of", 0},
    {"outbound tls level", "[delivery]\ntls = required\n", 2,
     "\"required\" is not one of none, may, encrypt, verify", 0},
    {"storage group tls level", SG1 "tls = secure\n", 3, "is not one of", 0},
    {"tls_min_protocol", "[smtp]\ntls_min_protocol = TLSv1.4\n", 2,
     "not one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3", 0},
    {"tls_min_protocol SSLv3", "[smtp]\ntls_min_protocol = SSLv3\n", 2, "not one of", 0},
    {"encrypt without a certificate", "[smtp]\ntls = encrypt\n", 2,
     "tls = encrypt needs tls_cert_file in [smtp]", 0},
    {"smtp key without certificate", "[smtp]\ntls_key_file = /k.pem\n", 2,
     "tls_key_file without tls_cert_file in [smtp]", 0},
    {"admin key without certificate", "[admin]\n\ntls_key_file = /k.pem\n", 3,
     "tls_key_file without tls_cert_file in [admin]", 0},
    {"client key without certificate", "[delivery]\ntls_client_key_file = /k.pem\n", 2,
     "tls_client_key_file without tls_client_cert_file in [delivery]", 0},
    {"storage group client key without certificate", SG1 "tls_client_key_file = /k.pem\n", 3,
     "tls_client_key_file without tls_client_cert_file in [storage_group SG1]", 0},
    {"tls_verify_name", "[delivery]\ntls_verify_name = a..b\n", 2, "not a valid domain name", 0},
    {"tls_handshake_timeout 0", "[smtp]\ntls_handshake_timeout = 0\n", 2, "out of range 1..3600",
     0},
    {"tls_cert_file too long",
     "[smtp]\ntls_cert_file = /"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     2, "longer than 255 octets", 0},
    {"tls_ciphers 8-bit", "[smtp]\ntls_ciphers = HIGH:\xc3\xa9\n", 2, "only printable ASCII", 0},
    /* Numbers. */
    {"negative", "[smtp]\nmax_errors = -1\n", 2, "not a number", 0},
    {"plus sign", "[smtp]\nmax_errors = +5\n", 2, "not a number", 0},
    {"trailing junk", "[smtp]\nmax_errors = 5x\n", 2, "not a number", 0},
    {"unit suffix", "[smtp]\nmax_message_size = 35M\n", 2, "not a number", 0},
    {"inner blank", "[smtp]\nmax_errors = 1 0\n", 2, "not a number", 0},
    {"hex", "[smtp]\nmax_errors = 0x10\n", 2, "not a number", 0},
    {"empty number", "[smtp]\nmax_errors =\n", 2, "empty value", 0},
    {"comment only number", "[smtp]\nmax_errors = ; ten\n", 2, "empty value", 0},
    {"overflow", "[smtp]\nmax_message_size = 18446744073709551616\n", 2, "too large", 0},
    {"overflow big", "[smtp]\nmax_errors = 99999999999999999999999999\n", 2, "too large", 0},
    {"uint64 max out of range", "[smtp]\nmax_errors = 18446744073709551615\n", 2,
     "out of range 1..1000", 0},
    {"max_message_size low", "[smtp]\nmax_message_size = 1023\n", 2,
     "1023 is out of range 1024..2147483648", 0},
    {"max_message_size high", "[smtp]\nmax_message_size = 2147483649\n", 2, "out of range", 0},
    {"max_recipients 0", "[smtp]\nmax_recipients = 0\n", 2, "out of range 1..100000", 0},
    {"max_connections 0", "[smtp]\nmax_connections = 0\n", 2, "out of range 1..100000", 0},
    {"max_connections high", "[smtp]\nmax_connections = 100001\n", 2, "out of range", 0},
    {"command_timeout 0", "[smtp]\ncommand_timeout = 0\n", 2, "out of range 1..3600", 0},
    {"command_timeout high", "[smtp]\ncommand_timeout = 3601\n", 2, "out of range 1..3600", 0},
    {"max_errors 0", "[smtp]\nmax_errors = 0\n", 2, "out of range 1..1000", 0},
    {"max_errors high", "[smtp]\nmax_errors = 1001\n", 2, "out of range 1..1000", 0},
    {"greet_pause_ms high", "[smtp]\ngreet_pause_ms = 60001\n", 2, "out of range 0..60000", 0},
    {"max_received_headers 0", "[smtp]\nmax_received_headers = 0\n", 2, "out of range 1..1000", 0},
    {"concurrency 0", "[delivery]\nconcurrency_per_destination = 0\n", 2, "out of range 1..10000",
     0},
    {"retry_initial 0", "[delivery]\nretry_initial = 0\n", 2, "out of range 1..86400", 0},
    {"retry_initial high", "[delivery]\nretry_initial = 86401\n", 2, "out of range 1..86400", 0},
    {"retry_max high", "[delivery]\nretry_max = 604801\n", 2, "out of range 1..604800", 0},
    {"max_queue_lifetime low", "[delivery]\nmax_queue_lifetime = 0\n", 2, "out of range 1..2592000",
     0},
    {"max_queue_lifetime high", "[delivery]\nmax_queue_lifetime = 2592001\n", 2, "out of range", 0},
    {"connect_timeout 0", "[delivery]\nconnect_timeout = 0\n", 2, "out of range 1..3600", 0},
    {"resubmit_rate high", "[dumpster]\nresubmit_rate = 1000001\n", 2, "out of range 0..1000000",
     0},
    {"dumpster max_size high", "[dumpster]\nmax_size = 1099511627777\n", 2, "out of range", 0},
    {"dumpster max_age high", "[dumpster]\nmax_age = 31536001\n", 2, "out of range 0..31536000", 0},
    /* Pairs of keys: the error is on the later line. */
    {"per-ip over max (default per-ip)", "[smtp]\nmax_connections = 100\n", 2,
     "max_connections_per_ip (200) exceeds max_connections (100)", 0},
    {"per-ip over max, per-ip later",
     "[smtp]\nmax_connections = 100\n;\nmax_connections_per_ip = 101\n", 4,
     "exceeds max_connections", 0},
    {"per-ip over max, max later", "[smtp]\nmax_connections_per_ip = 101\nmax_connections = 100\n",
     3, "exceeds max_connections", 0},
    {"retry_max below retry_initial", "[delivery]\nretry_max = 10\n\nretry_initial = 20\n", 4,
     "retry_max (10) is less than retry_initial (20)", 0},
    {"retry_max below default initial", "[delivery]\nretry_max = 29\n", 2,
     "less than retry_initial (30)", 0},
    {"retry_initial over lifetime",
     "[delivery]\nmax_queue_lifetime = 60\nretry_initial = 61\nretry_max = 900\n", 3,
     "retry_initial (61) exceeds max_queue_lifetime (60)", 0},
    {"listen shared by smtp and admin", "[admin]\nlisten = 127.0.0.1:2525\n", 2,
     "127.0.0.1:2525 is both an [smtp] and an [admin] listen address", 0},
    {"listen shared, smtp later",
     "[admin]\nlisten = [::1]:25\n[smtp]\nlisten = 127.0.0.1:26, [::1]:25\n", 4, "[::1]:25 is both",
     0},
    /* Booleans. */
    {"boolean maybe", "[admin]\npublic_reads = maybe\n", 2, "not a boolean", 0},
    {"boolean upper case", "[admin]\npublic_reads = YES\n", 2, "not a boolean", 0},
    {"boolean empty", "[admin]\npublic_reads =\n", 2, "not a boolean", 0},
    {"boolean 2", "[admin]\npublic_reads = 2\n", 2, "not a boolean", 0},
    /* Listen lists. */
    {"listen no port", "[smtp]\nlisten = 127.0.0.1\n", 2, "expected IPv4:PORT or [IPv6]:PORT", 0},
    {"listen port 0", "[smtp]\nlisten = 127.0.0.1:0\n", 2, "port must be 1..65535", 0},
    {"listen port high", "[smtp]\nlisten = 127.0.0.1:65536\n", 2, "port must be 1..65535", 0},
    {"listen port sign", "[smtp]\nlisten = 127.0.0.1:+25\n", 2, "port must be", 0},
    {"listen port empty", "[smtp]\nlisten = 127.0.0.1:\n", 2, "port must be", 0},
    {"listen bare IPv6", "[smtp]\nlisten = ::1:25\n", 2, "IPv6 addresses go in brackets", 0},
    {"listen IPv6 no colon", "[smtp]\nlisten = [::1]25\n", 2, "expected [IPv6]:PORT", 0},
    {"listen IPv6 no ]", "[smtp]\nlisten = [::1:25\n", 2, "missing ]", 0},
    {"listen IPv4 in brackets", "[smtp]\nlisten = [127.0.0.1]:25\n", 2, "bad IPv6 address", 0},
    {"listen bad IPv4", "[smtp]\nlisten = 300.1.1.1:25\n", 2, "bad IPv4 address", 0},
    {"listen host name", "[smtp]\nlisten = localhost:25\n", 2, "bad IPv4 address", 0},
    {"listen empty", "[smtp]\nlisten =\n", 2, "expected at least 1 address", 0},
    {"listen empty item", "[smtp]\nlisten = 127.0.0.1:25,,127.0.0.1:26\n", 2,
     "empty address in list", 0},
    {"listen trailing comma", "[smtp]\nlisten = 127.0.0.1:25,\n", 2, "empty address in list", 0},
    {"listen twice", "[smtp]\nlisten = 127.0.0.1:25, 127.0.0.1:25\n", 2, "listed twice", 0},
    {"listen twice canonical", "[smtp]\nlisten = [::1]:25, [0::1]:25\n", 2, "listed twice", 0},
    {"listen 17",
     "[smtp]\nlisten = "
     "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,127.0.0."
     "1:8,127.0.0.1:9,127.0.0.1:10,127.0.0.1:11,127.0.0.1:12,127.0.0.1:13,127.0.0.1:14,127.0.0.1:"
     "15,127.0.0.1:16,127.0.0.1:17\n",
     2, "more than 16 addresses", 0},
    /* Strings. */
    {"hub name blank", "[hub]\nname = hub 1\n", 2, "use 1..64 of", 0},
    {"hub name empty", "[hub]\nname =\n", 2, "use 1..64 of", 0},
    {"hub name 65",
     "[hub]\nname = 12345678901234567890123456789012345678901234567890123456789012345\n", 2,
     "use 1..64", 0},
    {"hostname leading hyphen", "[smtp]\nhostname = -a.example\n", 2, "not a valid domain name", 0},
    {"hostname trailing hyphen", "[smtp]\nhostname = a-.example\n", 2, "not a valid domain name",
     0},
    {"hostname empty label", "[smtp]\nhostname = a..example\n", 2, "not a valid domain name", 0},
    {"hostname trailing dot", "[smtp]\nhostname = a.example.\n", 2, "not a valid domain name", 0},
    {"hostname underscore", "[smtp]\nhostname = a_b.example\n", 2, "not a valid domain name", 0},
    {"hostname IP", "[smtp]\nhostname = 192.0.2.1\n", 2, "not a valid domain name", 0},
    {"hostname empty", "[smtp]\nhostname =\n", 2, "not a valid domain name", 0},
    {"hostname label 64",
     "[smtp]\nhostname = "
     "a234567890123456789012345678901234567890123456789012345678901234.example\n",
     2, "not a valid domain name", 0},
    {"token_hash 63",
     "[admin]\ntoken_hash = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 2,
     "64 lowercase hex", 0},
    {"token_hash upper",
     "[admin]\ntoken_hash = 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n", 2,
     "64 lowercase hex", 0},
    {"token_hash 65", "[admin]\ntoken_hash = " HASH64 "0\n", 2, "64 lowercase hex", 0},
    {"resolver name", "[delivery]\nresolver = dns.example:53\n", 2, "(or \"system\")", 0},
    {"resolver no port", "[delivery]\nresolver = 127.0.0.1\n", 2, "expected IPv4:PORT", 0},
    {"smarthost without protocol", "[delivery]\nsmarthost = mx.example.org:25\n", 2,
     "expected lmtp: or smtp:", 0},
    {"data_dir empty", "[hub]\ndata_dir =\n", 2, "empty path", 0},
    {"directory file empty", "[directory]\nfile = ; none\n", 2, "empty path", 0},
    /* Keys of a bad section are skipped, not reported one by one. */
    {"keys after unknown section", "[nope]\na = 1\nb = 2\n", 1, "unknown section", 0},
    {"keys after duplicate section", "[hub]\n[hub]\nname = x\nname = y\n", 2, "duplicate section",
     0},
    /* Errors do not stop the parse: each bad line is reported. */
    {"three errors", "[smtp]\nmax_errors = 0\ncommand_timeout = x\n[foo]\n", 2, "out of range", 3},
};

/* test_bad - each bad file fails with the expected error(s) */
static void test_bad(void **state)
{
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        size_t len = strlen(b->text);
        if (strcmp(b->name, "NUL octet") == 0)
            len = sizeof("[hub]\nname = a\0z\n") - 1;
        int rc = parse(&c, b->text, len, errs);
        size_t want = b->nerr ? b->nerr : 1;
        if (errs->n != want || !has_error(errs, b->line, b->msg)) {
            char *t = errors_text(errs);
            print_error("bad case \"%s\": want %zu error(s), line %u \"%s\"; got:\n%s", b->name,
                        want, b->line, b->msg, t);
            free(t);
        }
        assert_int_equal(rc, -1);
        assert_int_equal(errs->n, want);
        assert_true(has_error(errs, b->line, b->msg));
        conf_free(&c);
    }
    free(errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
