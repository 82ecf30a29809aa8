/*
 * test_conf-dest.c - table tests of destinations (conf_dest_parse,
 * conf_dest_format)
 *
 * Good forms and lists come back in canonical text that parses to itself;
 * every bad form is refused with a reason; lists of 16 addresses, 253-octet
 * host names and 107-octet socket paths fit, one more does not; formatting
 * into a short buffer truncates.
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
        cmocka_unit_test(test_dest_good),
        cmocka_unit_test(test_dest_bad),
        cmocka_unit_test(test_dest_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
