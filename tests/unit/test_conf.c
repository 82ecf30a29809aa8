/*
 * test_conf.c - table tests of the configuration parser and destinations
 *
 * Good files are checked through conf_print_nondefault() (what differs from
 * the defaults, in canonical form); bad files by the line and a piece of
 * the message of each error, and by how many errors there are, so a bad
 * line may not hide behind cascades. Generated inputs sit exactly on the
 * line-length, list-length and storage-group bounds. The shipped
 * conf/dumpsterd.conf must parse and equal the defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "tls_policy.h"

/* A minimal storage group, so that good files also exercise the SG path. */
#define SG1 "[storage_group SG1]\ndestination = lmtp:[127.0.0.1]:2424\n"
#define SG1_OUT "storage_group.SG1.destination = lmtp:[127.0.0.1]:2424\n"
#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct good_case {
    const char *name;
    const char *text;
    const char *nondefault; /* conf_print_nondefault() output */
};

static const struct good_case good_cases[] = {
    {"empty file", "", ""},
    {"comments and blanks", "; a\n# b\n\n   \n\t; c\n", ""},
    {"CRLF and no final newline", "[hub]\r\nname = hub2\r\n[smtp]\r\nmax_errors = 5",
     "hub.name = hub2\nsmtp.max_errors = 5\n"},
    {"UTF-8 BOM", "\xef\xbb\xbf[hub]\nname = hub3\n", "hub.name = hub3\n"},
    {"defaults written out",
     "[hub]\nname = hub1\ndata_dir = ./var\n[smtp]\nlisten = 127.0.0.1:2525\nhostname = "
     "hub1.example.test\n"
     "max_message_size = 36700160\nmax_recipients = 1000\nmax_connections = 2000\n"
     "max_connections_per_ip = 200\ncommand_timeout = 300\nmax_errors = 10\ngreet_pause_ms = 0\n"
     "max_received_headers = 50\n[admin]\nlisten = 127.0.0.1:8025\ntoken_hash =\npublic_reads = "
     "yes\n"
     "[delivery]\nconcurrency_per_destination = 20\nretry_initial = 30\nretry_max = 900\n"
     "max_queue_lifetime = 172800\nconnect_timeout = 30\nsmarthost =\nresolver = system\n"
     "[dumpster]\nmax_age = 604800\nmax_size = 18874368\nresubmit_rate = 1000\n"
     "[directory]\nfile = conf/directory.tsv\n" SG1,
     SG1_OUT},
    {"SPEC comments after values",
     "[admin]\ntoken_hash =                    ; from `dumpsterctl token new`\n"
     "public_reads = yes   ; GET /metrics\n[storage_group SG1]              ; names\n"
     "destination = lmtp:[127.0.0.1]:2424   ; comma list\n",
     SG1_OUT},
    {"no blanks around =", "[hub]\nname=hub4\n[smtp]\nmax_errors=7\n",
     "hub.name = hub4\nsmtp.max_errors = 7\n"},
    {"bare newline normalize, networks canonical",
     "[smtp]\nbare_newline = normalize\nbare_newline_exclusions = 10.0.0.0/8 ,192.0.2.7,"
     " [2001:db8::]/32, ::1\n",
     "smtp.bare_newline = normalize\nsmtp.bare_newline_exclusions = 10.0.0.0/8, 192.0.2.7/32,"
     " 2001:db8::/32, ::1/128\n"},
    {"bare newline defaults written out",
     "[smtp]\nbare_newline = reject\nbare_newline_exclusions =\n", ""},
    {"blanks everywhere", "  [ smtp ]  \n\t max_errors \t=\t 8 \t\n", "smtp.max_errors = 8\n"},
    {"# and ; inside a value", "[hub]\ndata_dir = /srv/a#b;c\n", "hub.data_dir = /srv/a#b;c\n"},
    {"trailing # comment", "[smtp]\nhostname = mx.example.org # the name\n",
     "smtp.hostname = mx.example.org\n"},
    {"= inside a value", "[hub]\ndata_dir = /srv/a=b\n", "hub.data_dir = /srv/a=b\n"},
    {"numbers at their bounds",
     "[smtp]\nmax_message_size = 2147483648\nmax_connections = 100000\nmax_connections_per_ip = "
     "100000\n"
     "command_timeout = 3600\nmax_errors = 1000\ngreet_pause_ms = 60000\nmax_received_headers = "
     "1000\n"
     "max_recipients = 100000\n[dumpster]\nmax_size = 1099511627776\nmax_age = "
     "31536000\nresubmit_rate = 1000000\n",
     "smtp.max_message_size = 2147483648\nsmtp.max_recipients = 100000\nsmtp.max_connections = "
     "100000\n"
     "smtp.max_connections_per_ip = 100000\nsmtp.command_timeout = 3600\nsmtp.max_errors = 1000\n"
     "smtp.greet_pause_ms = 60000\nsmtp.max_received_headers = 1000\ndumpster.max_age = 31536000\n"
     "dumpster.max_size = 1099511627776\ndumpster.resubmit_rate = 1000000\n"},
    {"numbers at their low bounds",
     "[smtp]\nmax_message_size = 1024\nmax_connections = 1\nmax_connections_per_ip = 1\n"
     "max_recipients = 1\n[dumpster]\nmax_size = 0\nmax_age = 0\nresubmit_rate = 0\n"
     "[delivery]\nretry_initial = 1\nretry_max = 1\nmax_queue_lifetime = 60\n",
     "smtp.max_message_size = 1024\nsmtp.max_recipients = 1\nsmtp.max_connections = 1\n"
     "smtp.max_connections_per_ip = 1\ndelivery.retry_initial = 1\ndelivery.retry_max = 1\n"
     "delivery.max_queue_lifetime = 60\ndumpster.max_age = 0\ndumpster.max_size = 0\n"
     "dumpster.resubmit_rate = 0\n"},
    {"leading zeros", "[smtp]\nmax_errors = 0007\n", "smtp.max_errors = 7\n"},
    {"retry_max equal to retry_initial", "[delivery]\nretry_initial = 60\nretry_max = 60\n",
     "delivery.retry_initial = 60\ndelivery.retry_max = 60\n"},
    {"booleans off", "[admin]\npublic_reads = off\n", "admin.public_reads = no\n"},
    {"booleans 0", "[admin]\npublic_reads = 0\n", "admin.public_reads = no\n"},
    {"booleans false", "[admin]\npublic_reads = false\n", "admin.public_reads = no\n"},
    {"booleans no", "[admin]\npublic_reads = no\n", "admin.public_reads = no\n"},
    {"booleans true (default)", "[admin]\npublic_reads = true\n", ""},
    {"booleans on (default)", "[admin]\npublic_reads = on\n", ""},
    {"booleans 1 (default)", "[admin]\npublic_reads = 1\n", ""},
    {"token hash", "[admin]\ntoken_hash = " HASH64 "\n", "admin.token_hash = " HASH64 "\n"},
    {"listen list with IPv6", "[smtp]\nlisten = [::1]:25 ,127.0.0.1:25,\t[2001:DB8::0:1]:2525\n",
     "smtp.listen = [::1]:25, 127.0.0.1:25, [2001:db8::1]:2525\n"},
    {"listen any", "[smtp]\nlisten = 0.0.0.0:25\n[admin]\nlisten = [::]:8025\n",
     "smtp.listen = 0.0.0.0:25\nadmin.listen = [::]:8025\n"},
    {"same port, other address", "[smtp]\nlisten = 127.0.0.1:25\n[admin]\nlisten = 127.0.0.2:25\n",
     "smtp.listen = 127.0.0.1:25\nadmin.listen = 127.0.0.2:25\n"},
    {"resolver IPv4", "[delivery]\nresolver = 127.0.0.1:5353\n",
     "delivery.resolver = 127.0.0.1:5353\n"},
    {"resolver IPv6", "[delivery]\nresolver = [::1]:53\n", "delivery.resolver = [::1]:53\n"},
    {"smarthost", "[delivery]\nsmarthost = smtp:mx.example.org:25 , smtp:[192.0.2.1]:587\n",
     "delivery.smarthost = smtp:mx.example.org:25, smtp:[192.0.2.1]:587\n"},
    {"hostname one label", "[smtp]\nhostname = localhost\n", "smtp.hostname = localhost\n"},
    {"hub name charset", "[hub]\nname = Hub-1_a.b\n", "hub.name = Hub-1_a.b\n"},
    {"directory file", "[directory]\nfile = /etc/dumpsterd/directory.tsv\n",
     "directory.file = /etc/dumpsterd/directory.tsv\n"},
    {"storage group overrides and list",
     "[storage_group sg.A-1_x]\ndestination = lmtp:[10.0.0.1]:24 , "
     "lmtp:[10.0.1.1]:24,lmtp:mbx.example:24\n"
     "max_size = 1024\nmax_age = 3600\n[storage_group SG2]\ndestination = "
     "lmtp:unix:/run/lmtp\nmax_age = 0\n",
     "storage_group.sg.A-1_x.destination = lmtp:[10.0.0.1]:24, lmtp:[10.0.1.1]:24, "
     "lmtp:mbx.example:24\n"
     "storage_group.sg.A-1_x.max_size = 1024\nstorage_group.sg.A-1_x.max_age = 3600\n"
     "storage_group.SG2.destination = lmtp:unix:/run/lmtp\nstorage_group.SG2.max_age = 0\n"},
    {"storage group header comment and blanks",
     "[ storage_group \t SG1 ] # x\ndestination=lmtp:[127.0.0.1]:2424\n", SG1_OUT},
    {"storage group names are case-sensitive",
     SG1 "[storage_group sg1]\ndestination = smtp:[::1]:25\n",
     SG1_OUT "storage_group.sg1.destination = smtp:[::1]:25\n"},
    {"sections in any order", SG1 "[dumpster]\nmax_size = 5\n[hub]\nname = z\n",
     "hub.name = z\ndumpster.max_size = 5\n" SG1_OUT},
    {"TLS defaults written out",
     "[smtp]\ntls = may\ntls_cert_file =\ntls_key_file =\ntls_min_protocol = TLSv1.2\n"
     "tls_ciphers =\ntls_handshake_timeout = 30\n[admin]\ntls_cert_file =\ntls_key_file =\n"
     "[delivery]\ntls = may\ntls_ca_file =\ntls_verify_name =\ntls_client_cert_file =\n"
     "tls_client_key_file =\n",
     ""},
    {"TLS in",
     "[smtp]\ntls = encrypt\ntls_cert_file = /etc/d/c.pem\ntls_key_file = /etc/d/k.pem\n"
     "tls_min_protocol = TLSv1.3\ntls_ciphers = HIGH:!aNULL:@SECLEVEL=2\n"
     "tls_handshake_timeout = 3600\n",
     "smtp.tls = encrypt\nsmtp.tls_cert_file = /etc/d/c.pem\nsmtp.tls_key_file = /etc/d/k.pem\n"
     "smtp.tls_min_protocol = TLSv1.3\nsmtp.tls_ciphers = HIGH:!aNULL:@SECLEVEL=2\n"
     "smtp.tls_handshake_timeout = 3600\n"},
    {"TLS none and the oldest protocol", "[smtp]\ntls = none\ntls_min_protocol = TLSv1\n",
     "smtp.tls = none\nsmtp.tls_min_protocol = TLSv1\n"},
    {"admin HTTPS, the key in the certificate file", "[admin]\ntls_cert_file = a.pem\n",
     "admin.tls_cert_file = a.pem\n"},
    {"TLS out: defaults and overrides",
     "[delivery]\ntls = verify\ntls_ca_file = /ca.pem\ntls_client_cert_file = /c.pem\n"
     "tls_client_key_file = /k.pem\ntls_verify_name = mx.example\n" SG1
     "tls = none\n[storage_group SG2]\ndestination = smtp:[::1]:25\ntls = encrypt\n"
     "tls_ca_file =\ntls_verify_name = mbx.example\n",
     "delivery.tls = verify\ndelivery.tls_ca_file = /ca.pem\ndelivery.tls_verify_name = "
     "mx.example\ndelivery.tls_client_cert_file = /c.pem\ndelivery.tls_client_key_file = "
     "/k.pem\n" SG1_OUT "storage_group.SG1.tls = none\n"
     "storage_group.SG2.destination = smtp:[::1]:25\nstorage_group.SG2.tls = encrypt\n"
     "storage_group.SG2.tls_ca_file = \nstorage_group.SG2.tls_verify_name = mbx.example\n"},
};

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

/* parse - conf_init + conf_parse of text */
static int parse(struct conf *c, const char *text, size_t len, struct conf_errors *errs)
{
    conf_init(c);
    memset(errs, 0, sizeof(*errs));
    return conf_parse(c, "t.conf", text, len, errs);
}

/* nondefault - conf_print_nondefault() as a string (caller frees) */
static char *nondefault(const struct conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    conf_print_nondefault(c, f);
    fclose(f);
    return buf;
}

/* errors_text - conf_errors_print() as a string (caller frees) */
static char *errors_text(const struct conf_errors *errs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    conf_errors_print(errs, f);
    fclose(f);
    return buf;
}

/* has_error - an error at line whose message contains msg */
static int has_error(const struct conf_errors *errs, unsigned line, const char *msg)
{
    for (size_t i = 0; i < errs->n; i++)
        if (errs->e[i].line == line && strstr(errs->e[i].msg, msg) != NULL &&
            strcmp(errs->e[i].file, "t.conf") == 0)
            return 1;
    return 0;
}

/* test_good - each good file parses without error to its non-default lines */
static void test_good(void **state)
{
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct good_case *g = &good_cases[i];
        int rc = parse(&c, g->text, strlen(g->text), errs);
        if (rc != 0 || errs->n != 0) {
            char *t = errors_text(errs);
            print_error("good case \"%s\": %s\n", g->name, t);
            free(t);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(errs->n, 0);
        char *out = nondefault(&c);
        if (strcmp(out, g->nondefault) != 0)
            print_error("good case \"%s\"\n", g->name);
        assert_string_equal(out, g->nondefault);
        free(out);
        conf_free(&c);
    }
    free(errs);
}

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

/* test_defaults - conf_init() holds every default of SPEC section 3 */
static void test_defaults(void **state)
{
    struct conf c;

    (void)state;
    conf_init(&c);
    assert_string_equal(c.hub.name, "hub1");
    assert_string_equal(c.hub.data_dir, "./var");
    assert_int_equal(c.smtp.nlisten, 1);
    assert_string_equal(c.smtp.listen[0].host, "127.0.0.1");
    assert_int_equal(c.smtp.listen[0].port, 2525);
    assert_string_equal(c.smtp.hostname, "hub1.example.test");
    assert_int_equal(c.smtp.max_message_size, 36700160);
    assert_int_equal(c.smtp.max_recipients, 1000);
    assert_int_equal(c.smtp.max_connections, 2000);
    assert_int_equal(c.smtp.max_connections_per_ip, 200);
    assert_int_equal(c.smtp.command_timeout, 300);
    assert_int_equal(c.smtp.max_errors, 10);
    assert_int_equal(c.smtp.greet_pause_ms, 0);
    assert_int_equal(c.smtp.max_received_headers, 50);
    assert_int_equal(c.admin.nlisten, 1);
    assert_string_equal(c.admin.listen[0].host, "127.0.0.1");
    assert_int_equal(c.admin.listen[0].port, 8025);
    assert_string_equal(c.admin.token_hash, "");
    assert_true(c.admin.public_reads);
    assert_int_equal(c.delivery.concurrency_per_destination, 20);
    assert_int_equal(c.delivery.retry_initial, 30);
    assert_int_equal(c.delivery.retry_max, 900);
    assert_int_equal(c.delivery.max_queue_lifetime, 172800);
    assert_int_equal(c.delivery.connect_timeout, 30);
    assert_string_equal(c.delivery.smarthost, "");
    assert_string_equal(c.delivery.resolver, "system");
    assert_int_equal(c.dumpster.max_age, 604800);
    assert_int_equal(c.dumpster.max_size, 18874368);
    assert_int_equal(c.dumpster.resubmit_rate, 1000);
    assert_string_equal(c.directory.file, "conf/directory.tsv");
    assert_int_equal(c.smtp.tls, TLS_IN_MAY);
    assert_string_equal(c.smtp.tls_cert_file, "");
    assert_string_equal(c.smtp.tls_key_file, "");
    assert_int_equal(c.smtp.tls_min_protocol, TLS_V1_2);
    assert_string_equal(c.smtp.tls_ciphers, "");
    assert_int_equal(c.smtp.tls_handshake_timeout, 30);
    assert_string_equal(c.admin.tls_cert_file, "");
    assert_int_equal(c.delivery.tls.tls, TLS_OUT_MAY);
    assert_string_equal(c.delivery.tls.tls_ca_file, "");
    assert_string_equal(c.delivery.tls.tls_verify_name, "");
    assert_null(c.sg);
    assert_int_equal(c.nsg, 0);
    conf_free(&c);
}

/* test_tls_inherit - a storage group takes the [delivery] TLS keys it does
 * not set, wherever [delivery] is; conf_key_line() and conf_sg_key_line()
 * say where each came from */
static void test_tls_inherit(void **state)
{
    static const char text[] = "[storage_group A]\ndestination = smtp:[::1]:25\n"
                               "tls_verify_name = a.example\n"
                               "[storage_group B]\ndestination = smtp:[::1]:26\ntls = none\n"
                               "[delivery]\ntls = verify\ntls_ca_file = /ca.pem\n";
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    assert_int_equal(parse(&c, text, strlen(text), errs), 0);
    const struct conf_sg *a = conf_sg_find(&c, "A"), *b = conf_sg_find(&c, "B");
    assert_int_equal(a->tls.tls, TLS_OUT_VERIFY);
    assert_false(a->has_tls);
    assert_string_equal(a->tls.tls_ca_file, "/ca.pem");
    assert_string_equal(a->tls.tls_verify_name, "a.example");
    assert_true(a->has_tls_verify_name);
    assert_int_equal(b->tls.tls, TLS_OUT_NONE);
    assert_string_equal(b->tls.tls_ca_file, "/ca.pem");
    assert_string_equal(b->tls.tls_verify_name, "");
    assert_int_equal(conf_key_line(&c, "delivery", "tls"), 8);
    assert_int_equal(conf_key_line(&c, "delivery", "tls_ca_file"), 9);
    assert_int_equal(conf_key_line(&c, "smtp", "tls"), 0);
    assert_int_equal(conf_key_line(&c, "nosuch", "tls"), 0);
    assert_int_equal(conf_sg_key_line(&c, a, "tls_verify_name"), 3);
    assert_int_equal(conf_sg_key_line(&c, a, "tls_ca_file"), 9);
    assert_int_equal(conf_sg_key_line(&c, b, "tls"), 6);
    assert_int_equal(conf_sg_key_line(&c, b, "tls_client_cert_file"), 0);
    assert_int_equal(conf_sg_key_line(&c, b, "destination"), 5);
    conf_free(&c);
    free(errs);
}

/* test_values - parsed values land in the right fields, SGs inherit [dumpster] */
static void test_values(void **state)
{
    static const char text[] =
        "[storage_group A]\ndestination = lmtp:[::1]:24, smtp:mx.example:25, lmtp:unix:/run/l\n"
        "[storage_group B]\ndestination = smtp:[192.0.2.7]:2525\nmax_size = 77\nmax_age = 88\n"
        "[dumpster]\nmax_size = 5\nmax_age = 6\n[smtp]\nlisten = [::1]:25, 10.0.0.1:26\n"
        "max_message_size = 2147483648\n[admin]\npublic_reads = no\n[delivery]\n"
        "smarthost = smtp:[192.0.2.1]:25\n";
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    assert_int_equal(parse(&c, text, strlen(text), errs), 0);
    assert_int_equal(c.nsg, 2);
    const struct conf_sg *a = conf_sg_find(&c, "A"), *b = conf_sg_find(&c, "B");
    assert_non_null(a);
    assert_non_null(b);
    assert_null(conf_sg_find(&c, "a"));
    assert_null(conf_sg_find(&c, "C"));
    assert_int_equal(a->line, 1);
    assert_int_equal(b->line, 3);
    assert_false(a->has_max_size);
    assert_false(a->has_max_age);
    assert_int_equal(a->max_size, 5);
    assert_int_equal(a->max_age, 6);
    assert_true(b->has_max_size);
    assert_int_equal(b->max_size, 77);
    assert_int_equal(b->max_age, 88);
    assert_int_equal(a->dest.n, 3);
    assert_int_equal(a->dest.addr[0].proto, DEST_LMTP);
    assert_int_equal(a->dest.addr[0].kind, DEST_IP);
    assert_string_equal(a->dest.addr[0].host, "::1");
    assert_int_equal(a->dest.addr[0].port, 24);
    assert_int_equal(a->dest.addr[1].proto, DEST_SMTP);
    assert_int_equal(a->dest.addr[1].kind, DEST_HOST);
    assert_string_equal(a->dest.addr[1].host, "mx.example");
    assert_int_equal(a->dest.addr[2].kind, DEST_UNIX);
    assert_string_equal(a->dest.addr[2].path, "/run/l");
    assert_string_equal(a->dest_text, "lmtp:[::1]:24, smtp:mx.example:25, lmtp:unix:/run/l");
    assert_int_equal(c.smtp.nlisten, 2);
    assert_string_equal(c.smtp.listen[0].host, "::1");
    assert_int_equal(c.smtp.listen[1].port, 26);
    assert_int_equal(c.smtp.max_message_size, 2147483648ULL);
    assert_false(c.admin.public_reads);
    assert_string_equal(c.delivery.smarthost, "smtp:[192.0.2.1]:25");
    assert_string_equal(c.file, "t.conf");
    conf_free(&c);
    assert_null(c.sg);
    assert_int_equal(c.nsg, 0);
    free(errs);
}

/* line_of - "[hub]\ndata_dir = /xxx...\n": a line of exactly n octets */
static char *line_of(size_t n, const char *eol)
{
    char *t = malloc(n + 64);
    size_t pre = strlen("[hub]\n");

    strcpy(t, "[hub]\ndata_dir = /");
    size_t have = strlen(t) - pre;
    memset(t + strlen(t), 'x', n - have);
    t[pre + n] = 0;
    strcat(t, eol);
    strcat(t, "[smtp]\nmax_errors = 0\n"); /* after the long line, parsing goes on */
    return t;
}

/* test_line_length - 1024 octets are fine, with LF or CRLF; 1025 are not */
static void test_line_length(void **state)
{
    static const struct {
        size_t n;
        const char *eol;
        int too_long;
    } cases[] = {
        {1023, "\n", 0},   {1024, "\n", 0}, {1024, "\r\n", 0}, {1025, "\n", 1},
        {1025, "\r\n", 1}, {1026, "\n", 1}, {5000, "\n", 1},   {100000, "\r\n", 1},
    };
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = line_of(cases[i].n, cases[i].eol);
        assert_int_equal(parse(&c, t, strlen(t), errs), -1);
        /* the error after the long line is found at its own line number */
        assert_true(has_error(errs, 4, "out of range"));
        assert_int_equal(errs->n, cases[i].too_long ? 2 : 1);
        assert_int_equal(has_error(errs, 2, "line longer than 1024 octets"), cases[i].too_long);
        if (!cases[i].too_long)
            assert_int_equal(strlen(c.hub.data_dir), cases[i].n - strlen("data_dir = "));
        conf_free(&c);
        free(t);
    }
    /* The last line, without a newline, over the limit by one. */
    char *t = line_of(1025, "");
    t[strlen(t) - strlen("[smtp]\nmax_errors = 0\n")] = 0;
    assert_int_equal(parse(&c, t, strlen(t), errs), -1);
    assert_true(has_error(errs, 2, "line longer than"));
    conf_free(&c);
    t[strlen(t) - 1] = 0; /* 1024: fine */
    assert_int_equal(parse(&c, t, strlen(t), errs), 0);
    conf_free(&c);
    free(t);
    free(errs);
}

/* test_many_errors - 64 kept, the rest counted, all printed as file:line */
static void test_many_errors(void **state)
{
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));
    char *text = malloc(100 * 16 + 16);

    (void)state;
    strcpy(text, "[smtp]\n");
    for (int i = 0; i < 100; i++)
        strcat(text, "bogus = 1\n");
    assert_int_equal(parse(&c, text, strlen(text), errs), -1);
    assert_int_equal(errs->n, DD_CONF_ERRORS_MAX);
    assert_int_equal(errs->dropped, 100 - DD_CONF_ERRORS_MAX);
    assert_int_equal(errs->e[0].line, 2);
    assert_int_equal(errs->e[63].line, 65);
    char *out = errors_text(errs);
    assert_non_null(strstr(out, "t.conf:2: unknown key \"bogus\" in [smtp]\n"));
    assert_non_null(strstr(out, "t.conf:65: unknown key"));
    assert_null(strstr(out, "t.conf:66:"));
    assert_non_null(strstr(out, "t.conf: 36 more errors not shown\n"));
    free(out);
    conf_free(&c);

    /* Errors already in errs do not make a good parse fail. */
    conf_init(&c);
    assert_int_equal(conf_parse(&c, "u.conf", "[hub]\n", 6, errs), 0);
    conf_free(&c);

    /* conf_error_add() and line 0. */
    memset(errs, 0, sizeof(*errs));
    conf_error_add(errs, "x.conf", 0, "cannot open: %s", "No such file");
    conf_error_add(errs, "x.conf", 7, "n=%d", 42);
    out = errors_text(errs);
    assert_string_equal(out, "x.conf: cannot open: No such file\nx.conf:7: n=42\n");
    free(out);
    free(text);
    free(errs);
}

/* test_many_sgs - DD_SG_MAX storage groups are fine, one more is not */
static void test_many_sgs(void **state)
{
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));
    size_t cap = (DD_SG_MAX + 1) * 64;
    char *text = malloc(cap), *p = text;

    (void)state;
    for (int i = 0; i < DD_SG_MAX; i++)
        p += sprintf(p, "[storage_group g%d]\ndestination = lmtp:[::1]:%d\n", i, i % 65535 + 1);
    assert_int_equal(parse(&c, text, (size_t)(p - text), errs), 0);
    assert_int_equal(c.nsg, DD_SG_MAX);
    assert_non_null(conf_sg_find(&c, "g4095"));
    assert_string_equal(conf_sg_find(&c, "g77")->dest_text, "lmtp:[::1]:78");
    conf_free(&c);
    p += sprintf(p, "[storage_group extra]\ndestination = lmtp:[::1]:1\n");
    assert_int_equal(parse(&c, text, (size_t)(p - text), errs), -1);
    assert_int_equal(errs->n, 1);
    assert_true(has_error(errs, 2 * DD_SG_MAX + 1, "more than 4096 storage groups"));
    conf_free(&c);
    free(text);
    free(errs);
}

/* write_file - a temporary file holding n octets of text */
static void write_file(char *path, const char *text, size_t n)
{
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* test_load - files: good, missing, too big */
static void test_load(void **state)
{
    char path[] = "/tmp/test_conf.XXXXXX";
    struct conf c;
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    const char *text = "[hub]\nname = loaded\n" SG1;

    (void)state;
    write_file(path, text, strlen(text));
    assert_int_equal(conf_load(&c, path, errs), 0);
    assert_string_equal(c.hub.name, "loaded");
    assert_string_equal(c.file, path);
    assert_int_equal(c.nsg, 1);
    conf_free(&c);
    unlink(path);

    memset(errs, 0, sizeof(*errs));
    assert_int_equal(conf_load(&c, "/nonexistent/dumpsterd.conf", errs), -1);
    assert_int_equal(errs->n, 1);
    assert_int_equal(errs->e[0].line, 0);
    assert_non_null(strstr(errs->e[0].msg, "cannot open"));
    conf_free(&c);

    /* Exactly DD_CONF_FILE_MAX octets is read; one more is refused. */
    char *big = malloc(DD_CONF_FILE_MAX + 1);
    memset(big, '\n', DD_CONF_FILE_MAX + 1);
    memcpy(big, "[hub]\nname = big\n", 17);
    strcpy(path, "/tmp/test_conf.XXXXXX");
    write_file(path, big, DD_CONF_FILE_MAX);
    memset(errs, 0, sizeof(*errs));
    assert_int_equal(conf_load(&c, path, errs), 0);
    assert_string_equal(c.hub.name, "big");
    conf_free(&c);
    unlink(path);
    strcpy(path, "/tmp/test_conf.XXXXXX");
    write_file(path, big, DD_CONF_FILE_MAX + 1);
    assert_int_equal(conf_load(&c, path, errs), -1);
    assert_int_equal(errs->n, 1);
    assert_non_null(strstr(errs->e[0].msg, "larger than 1048576 octets"));
    conf_free(&c);
    unlink(path);
    free(big);
    free(errs);
}

/* test_shipped - conf/dumpsterd.conf parses and holds only the defaults */
static void test_shipped(void **state)
{
    const char *dir = getenv("DD_SOURCE_DIR");
    char path[4096];
    struct conf c;
    struct conf_errors *errs = calloc(1, sizeof(*errs));

    (void)state;
    snprintf(path, sizeof(path), "%s/conf/dumpsterd.conf", dir ? dir : ".");
    int rc = conf_load(&c, path, errs);
    if (rc != 0) {
        char *t = errors_text(errs);
        print_error("%s", t);
        free(t);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c.nsg, 2);
    char *out = nondefault(&c);
    assert_string_equal(out, "storage_group.SG1.destination = lmtp:[127.0.0.1]:2424\n"
                             "storage_group.SG2.destination = smtp:[127.0.0.1]:2426\n");
    free(out);
    assert_int_equal(conf_sg_find(&c, "SG2")->max_size, 18874368);
    conf_free(&c);
    free(errs);
}

struct dest_good {
    const char *in;
    size_t n;
    const char *canon;
    enum dest_proto proto; /* of the first address */
    enum dest_kind kind;
};

static const struct dest_good dest_good[] = {
    {"lmtp:[127.0.0.1]:2424", 1, "lmtp:[127.0.0.1]:2424", DEST_LMTP, DEST_IP},
    {"smtp:[127.0.0.1]:2426", 1, "smtp:[127.0.0.1]:2426", DEST_SMTP, DEST_IP},
    {"lmtp:[::1]:2424", 1, "lmtp:[::1]:2424", DEST_LMTP, DEST_IP},
    {"smtp:[2001:DB8:0:0::7]:25", 1, "smtp:[2001:db8::7]:25", DEST_SMTP, DEST_IP},
    {"smtp:[::ffff:192.0.2.1]:25", 1, "smtp:[::ffff:192.0.2.1]:25", DEST_SMTP, DEST_IP},
    {"lmtp:mbx1.example.org:24", 1, "lmtp:mbx1.example.org:24", DEST_LMTP, DEST_HOST},
    {"smtp:localhost:25", 1, "smtp:localhost:25", DEST_SMTP, DEST_HOST},
    {"smtp:a-b.c0.example:65535", 1, "smtp:a-b.c0.example:65535", DEST_SMTP, DEST_HOST},
    {"smtp:x.example:00025", 1, "smtp:x.example:25", DEST_SMTP, DEST_HOST},
    {"smtp:1a.example:1", 1, "smtp:1a.example:1", DEST_SMTP, DEST_HOST},
    {"LMTP:Mbx.Example:24", 1, "lmtp:Mbx.Example:24", DEST_LMTP, DEST_HOST},
    {"lmtp:unix:/run/dovecot/lmtp", 1, "lmtp:unix:/run/dovecot/lmtp", DEST_LMTP, DEST_UNIX},
    {"  lmtp:[10.0.0.1]:24 ,\tlmtp:[10.0.1.1]:24,smtp:b.example:25  ", 3,
     "lmtp:[10.0.0.1]:24, lmtp:[10.0.1.1]:24, smtp:b.example:25", DEST_LMTP, DEST_IP},
    {"lmtp:unix:/a,smtp:[::1]:25", 2, "lmtp:unix:/a, smtp:[::1]:25", DEST_LMTP, DEST_UNIX},
    {"smtp:a234567890123456789012345678901234567890123456789012345678901.example:25", 1,
     "smtp:a234567890123456789012345678901234567890123456789012345678901.example:25", DEST_SMTP,
     DEST_HOST},
};

struct dest_bad {
    const char *in;
    const char *msg;
};

static const struct dest_bad dest_bad[] = {
    {"", "empty destination"},
    {"  \t ", "empty destination"},
    {"http:[192.0.2.1]:80", "expected lmtp: or smtp:"},
    {"lmtp", "expected lmtp: or smtp:"},
    {"[192.0.2.1]:24", "expected lmtp: or smtp:"},
    {"lmtp:[192.0.2.1]", "expected [IP]:PORT"},
    {"lmtp:[192.0.2.1]24", "expected [IP]:PORT"},
    {"lmtp:[192.0.2.1:24", "missing ]"},
    {"lmtp:[192.0.2.256]:24", "bad IP address in brackets"},
    {"lmtp:[]:24", "bad IP address"},
    {"lmtp:[IPv6:::1]:24", "bad IP address"},
    {"lmtp:[fe80::1%eth0]:24", "bad IP address"},
    {"lmtp:[mx.example]:24", "bad IP address"},
    {"lmtp:[::1]:0", "port must be 1..65535"},
    {"lmtp:[::1]:65536", "port must be 1..65535"},
    {"lmtp:[::1]:-1", "port must be"},
    {"lmtp:[::1]:+25", "port must be"},
    {"lmtp:[::1]:25x", "port must be"},
    {"lmtp:[::1]:", "port must be"},
    {"lmtp:[::1]:123456", "port must be"},
    {"lmtp:192.0.2.1:24", "write an IP address in brackets"},
    {"lmtp:::1:24", "IPv6 addresses go in brackets"},
    {"lmtp:mx.example", "missing :PORT"},
    {"smtp:bad_host.example:25", "bad host name"},
    {"smtp:-a.example:25", "bad host name"},
    {"smtp:a-.example:25", "bad host name"},
    {"smtp:a..example:25", "bad host name"},
    {"smtp:.a.example:25", "bad host name"},
    {"smtp:a.example.:25", "bad host name"},
    {"smtp::25", "bad host name"},
    {"smtp:a b:25", "bad host name"},
    {"smtp:1.2.3:25", "bad host name"},
    {"smtp:a2345678901234567890123456789012345678901234567890123456789012345.example:25",
     "bad host name"},
    {"smtp:unix:/run/x", "unix sockets are for lmtp only"},
    {"lmtp:unix:run/x", "socket path must be absolute"},
    {"lmtp:unix:", "socket path must be absolute"},
    {"lmtp:unix:/a b", "blank or control character in socket path"},
    {"lmtp:unix:/"
     "123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123"
     "45678901234567",
     "socket path longer than 107 octets"},
    {"lmtp:[::1]:24,", "empty address in list"},
    {",lmtp:[::1]:24", "empty address in list"},
    {"lmtp:[::1]:24, ,lmtp:[::1]:25", "empty address in list"},
    {"lmtp:[::1]:24, smtp:mx", "missing :PORT"},
};

/* test_dest_good - forms, lists and their canonical text */
static void test_dest_good(void **state)
{
    struct dest d;
    char err[256], buf[2048];

    (void)state;
    for (size_t i = 0; i < sizeof(dest_good) / sizeof(dest_good[0]); i++) {
        const struct dest_good *g = &dest_good[i];
        err[0] = 0;
        if (conf_dest_parse(g->in, &d, err, sizeof(err)) != 0)
            print_error("dest \"%s\": %s\n", g->in, err);
        assert_int_equal(conf_dest_parse(g->in, &d, err, sizeof(err)), 0);
        assert_int_equal(d.n, g->n);
        assert_int_equal(d.addr[0].proto, g->proto);
        assert_int_equal(d.addr[0].kind, g->kind);
        conf_dest_format(&d, buf, sizeof(buf));
        assert_string_equal(buf, g->canon);
        /* the canonical text parses to itself */
        struct dest again;
        assert_int_equal(conf_dest_parse(buf, &again, err, sizeof(err)), 0);
        assert_memory_equal(&again, &d, sizeof(d));
    }
}

/* test_dest_bad - every bad form is refused with a reason */
static void test_dest_bad(void **state)
{
    struct dest d;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(dest_bad) / sizeof(dest_bad[0]); i++) {
        err[0] = 0;
        int rc = conf_dest_parse(dest_bad[i].in, &d, err, sizeof(err));
        if (rc != -1 || strstr(err, dest_bad[i].msg) == NULL)
            print_error("dest \"%s\": rc %d, err \"%s\", want \"%s\"\n", dest_bad[i].in, rc, err,
                        dest_bad[i].msg);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, dest_bad[i].msg));
    }
    /* A NULL or empty error buffer is fine. */
    assert_int_equal(conf_dest_parse("nope", &d, NULL, 0), -1);
}

/* test_dest_bounds - 16 addresses, not 17; 253-octet names; format truncation */
static void test_dest_bounds(void **state)
{
    char in[4096], err[256], buf[4096];
    struct dest d;

    (void)state;
    in[0] = 0;
    for (int i = 1; i <= DD_DEST_ADDRS_MAX; i++)
        sprintf(in + strlen(in), "%slmtp:[192.0.2.%d]:24", i > 1 ? "," : "", i);
    assert_int_equal(conf_dest_parse(in, &d, err, sizeof(err)), 0);
    assert_int_equal(d.n, DD_DEST_ADDRS_MAX);
    assert_string_equal(d.addr[15].host, "192.0.2.16");
    strcat(in, ",lmtp:[192.0.2.17]:24");
    assert_int_equal(conf_dest_parse(in, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 16 addresses"));

    /* A host name of 253 octets (three labels of 63 and one of 61), then 254. */
    char host[300];
    memset(host, 'a', sizeof(host));
    for (int i = 63; i < 253; i += 64)
        host[i] = '.';
    host[253] = 0;
    snprintf(in, sizeof(in), "smtp:%s:25", host);
    assert_int_equal(conf_dest_parse(in, &d, err, sizeof(err)), 0);
    assert_int_equal(strlen(d.addr[0].host), 253);
    host[253] = 'a';
    host[254] = 0;
    snprintf(in, sizeof(in), "smtp:%s:25", host);
    assert_int_equal(conf_dest_parse(in, &d, err, sizeof(err)), -1);

    /* Socket path of 107 octets fits sun_path with its NUL. */
    strcpy(in, "lmtp:unix:/");
    memset(in + strlen(in), 'p', 106);
    in[strlen("lmtp:unix:") + 107] = 0;
    assert_int_equal(conf_dest_parse(in, &d, err, sizeof(err)), 0);
    assert_int_equal(strlen(d.addr[0].path), 107);

    /* Formatting into a short buffer truncates and terminates. */
    assert_int_equal(conf_dest_parse("lmtp:[::1]:24, smtp:mx.example:25", &d, err, sizeof(err)), 0);
    memset(buf, 'Z', sizeof(buf));
    conf_dest_format(&d, buf, 10);
    assert_true(strlen(buf) < 10);
    assert_int_equal(buf[10], 'Z');
    conf_dest_format(&d, buf, 16);
    assert_true(strlen(buf) < 16);
    buf[0] = 'Z';
    conf_dest_format(&d, buf, 0);
    assert_int_equal(buf[0], 'Z');
    conf_dest_format(&d, buf, sizeof(buf));
    assert_string_equal(buf, "lmtp:[::1]:24, smtp:mx.example:25");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_values),
        cmocka_unit_test(test_tls_inherit), cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_many_errors), cmocka_unit_test(test_many_sgs),
        cmocka_unit_test(test_load),        cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_dest_good),   cmocka_unit_test(test_dest_bad),
        cmocka_unit_test(test_dest_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
