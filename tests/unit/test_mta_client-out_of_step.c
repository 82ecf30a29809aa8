/* test_mta_client-out_of_step.c - out-of-step replies: recipients undecided, connection closed */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "mtafix.h"

/* Replies out of step: the server answers another command than the
 * client thinks. Every recipient not decided by an end-of-data reply is
 * undecided (code 0: deferred, never bounced) and the connection ends. */
static const struct oos_case {
    const char *name;
    bool pipelined, lmtp, big;
    size_t nrcpts;
    const char *replies[6]; /* after the greeting and EHLO; NULL ends */
    int codes[3];           /* per recipient; 0: undecided, out of step */
    bool data_sent;         /* false: DATA must not go out */
} oos_cases[] = {
    {"smtp-sink -W rcpt: DATA's 503 before the RCPT replies",
     true,
     false,
     false,
     2,
     {OK_MAIL, "503 5.5.1 Error: need RCPT command\r\n", OK_RCPT, OK_RCPT},
     {0, 0},
     true},
    {"DATA 503 after an accepted RCPT",
     true,
     false,
     false,
     1,
     {OK_MAIL, OK_RCPT, "503 5.5.1 Error: need RCPT command\r\n"},
     {0},
     true},
    {"DATA 554 5.5.1 after an accepted RCPT",
     true,
     false,
     false,
     1,
     {OK_MAIL, OK_RCPT, "554 5.5.1 Error: no valid recipients\r\n"},
     {0},
     true},
    {"a 354 to RCPT", true, false, false, 1, {OK_MAIL, GO, OK_RCPT}, {0}, true},
    {"an earlier RCPT verdict is not trusted either",
     true,
     false,
     false,
     3,
     {OK_MAIL, "550 5.1.1 no\r\n", "503 5.5.1 need MAIL\r\n", "503 5.5.1 x\r\n", "503 5.5.1 y\r\n"},
     {0, 0, 0},
     true},
    {"MAIL 503 on a fresh transaction",
     true,
     false,
     false,
     1,
     {"503 5.5.1 Error: nested MAIL command\r\n", "503 5.5.1 a\r\n", "503 5.5.1 b\r\n"},
     {0},
     true},
    {"one command at a time: no DATA after the RCPT's 503",
     false,
     false,
     false,
     1,
     {OK_MAIL, "503 5.5.1 Error: need MAIL command\r\n"},
     {0},
     false},
    {"DATA answered 250", true, false, false, 1, {OK_MAIL, OK_RCPT, QUEUED}, {0}, true},
    {"a 250 amid the content is no delivery",
     true,
     false,
     true,
     2,
     {OK_MAIL, OK_RCPT, OK_RCPT, GO "250 2.1.5 Ok\r\n"},
     {0, 0},
     true},
    {"a 354 to the end of data", true, false, false, 1, {OK_MAIL, OK_RCPT, GO, GO}, {0}, true},
    {"LMTP: the end-of-data replies before the 503 stand",
     true,
     true,
     false,
     2,
     {OK_MAIL, OK_RCPT, OK_RCPT, GO, "250 2.0.0 b\r\n503 5.5.1 c\r\n"},
     {250, 0},
     true},
};

/* oos_run - one case on its own server and client */
static void oos_run(const struct oos_case *c)
{
    const char *script[10] = {GREET, c->pipelined ? EHLO_PIPE : EHLO_PLAIN};
    struct harness h = {0};
    struct tsrv *s;
    size_t n = 2, len;

    for (size_t i = 0; c->replies[i] && n < 9; i++)
        script[n++] = c->replies[i];
    h.base = event_base_new();
    s = mf_srv_new(h.base, script, NULL);
    mf_job_set(&h, 0, "a@x", mf_rcpt3, c->nrcpts, c->big ? "" : "m\r\n");
    if (c->big) {
        char *content = mf_big_content(4u << 20, &len);
        evbuffer_add(h.jobs[0].content, content, len);
        h.jobs[0].size = len;
        free(content);
    }
    h.quit_after = true;
    mf_h_run(&h, s, c->lmtp ? MTA_CLIENT_LMTP : MTA_CLIENT_SMTP);
    assert_int_equal(h.done, 1);
    for (size_t i = 0; i < c->nrcpts; i++) {
        if (h.res[0][i].code != c->codes[i])
            fail_msg("%s: recipient %zu got [%d %s]", c->name, i, h.res[0][i].code,
                     h.res[0][i].text);
        if (c->codes[i] == 0 && strstr(h.res[0][i].text, "out of step") == NULL)
            fail_msg("%s: recipient %zu: [%s]", c->name, i, h.res[0][i].text);
    }
    assert_int_equal(h.closed, 1);
    assert_int_equal(h.why.code, 0); /* closed by the client: no QUIT */
    assert_false(mf_buf_has(s->cmds, "QUIT"));
    if (!c->data_sent) /* (when it went, a 354 may have made it content) */
        assert_false(mf_buf_has(s->cmds, "DATA\r\n"));
    evbuffer_free(h.jobs[0].content);
    mf_srv_free(s);
    event_base_free(h.base);
}

/* test_out_of_step - every case of oos_cases */
static void test_out_of_step(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(oos_cases) / sizeof(oos_cases[0]); i++) {
        print_message("out of step: %s\n", oos_cases[i].name);
        oos_run(&oos_cases[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_step),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
