/*
 * test_conf-good.c - table tests of good configuration files, the
 * defaults and where parsed values land
 *
 * Good files are checked through conf_print_nondefault() (what differs from
 * the defaults, in canonical form). conf_init() holds every default; parsed
 * values land in their fields, storage groups inherit [dumpster] and the
 * [delivery] TLS keys. The shipped conf/dumpsterd.conf must parse and equal
 * the defaults.
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
#include "tls_policy.h"

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
    {"shadow servers canonical",
     "[shadow]\nservers = nats://127.0.0.1:4222 , tls://Nats.example.test:4443,nats://[::1]:04223\n"
     "user = dd\npassword_file = /etc/dd/nats.pw\nreplicas = 5\nshadow_failure = defer\n"
     "takeover_after = 1\npublish_timeout = 600\n",
     "shadow.servers = nats://127.0.0.1:4222,tls://Nats.example.test:4443,nats://[::1]:4223\n"
     "shadow.user = dd\nshadow.password_file = /etc/dd/nats.pw\nshadow.replicas = 5\n"
     "shadow.shadow_failure = defer\nshadow.takeover_after = 1\nshadow.publish_timeout = 600\n"},
    {"shadow token", "[shadow]\nservers = nats://10.0.0.1:4222\ntoken_file = /t\nca_file = /ca\n",
     "shadow.servers = nats://10.0.0.1:4222\nshadow.token_file = /t\nshadow.ca_file = /ca\n"},
    {"shadow defaults written out",
     "[shadow]\nservers =\nreplicas = 3\nshadow_failure = accept\ntakeover_after = 10800\n", ""},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),    cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),  cmocka_unit_test(test_tls_inherit),
        cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
