/*
 * fuzz_conf.c - libFuzzer target for conf_parse() and conf_dest_parse()
 *
 * Invariants: conf_parse() fails exactly when it reports errors, every
 * error points at a line of the input (or line 0) and is NUL-terminated, a
 * good parse prints and its storage groups have a destination whose
 * canonical text parses back to the same destination. The same bytes, made
 * a C string, go to conf_dest_parse(): a good destination has 1..16
 * addresses and formats to a text that parses to itself. Everything is
 * freed, so LeakSanitizer sees any leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_conf: invariant broken: %s\n", what);
        abort();
    }
}

/* check_dest_roundtrip - the canonical text of d parses to d */
static void check_dest_roundtrip(const struct dest *d)
{
    char text[DD_DEST_ADDRS_MAX * (DD_HOSTNAME_MAX + 32)], err[256];
    struct dest again;

    check(d->n >= 1 && d->n <= DD_DEST_ADDRS_MAX, "1..16 addresses");
    conf_dest_format(d, text, sizeof(text));
    check(conf_dest_parse(text, &again, err, sizeof(err)) == 0, "canonical text parses");
    check(memcmp(&again, d, sizeof(again)) == 0, "canonical text parses to itself");
}

/* lines - how many lines the input has */
static unsigned lines(const uint8_t *data, size_t size)
{
    unsigned n = 1;

    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n;
}

/* fuzz_parse - conf_parse() over the bytes */
static void fuzz_parse(const uint8_t *data, size_t size, struct conf_errors *errs)
{
    struct conf *c = malloc(sizeof(*c));
    char *out = NULL;
    size_t outlen = 0;

    check(c != NULL, "malloc");
    conf_init(c);
    memset(errs, 0, sizeof(*errs));
    int rc = conf_parse(c, "fuzz.conf", (const char *)data, size, errs);
    check(rc == (errs->n > 0 ? -1 : 0), "rc says whether there are errors");
    for (size_t i = 0; i < errs->n; i++) {
        check(errs->e[i].line <= lines(data, size), "error line inside the input");
        check(memchr(errs->e[i].msg, 0, sizeof(errs->e[i].msg)) != NULL, "message terminated");
    }
    if (rc == 0) {
        for (size_t i = 0; i < c->nsg; i++) {
            check_dest_roundtrip(&c->sg[i].dest);
            check(c->sg[i].name[0] != 0, "storage group named");
        }
        check(c->smtp.nlisten >= 1 && c->smtp.nlisten <= DD_LISTEN_MAX, "smtp listen count");
        check(c->smtp.max_connections_per_ip <= c->smtp.max_connections, "per-ip bound");
        check(c->delivery.retry_initial <= c->delivery.retry_max, "retry bounds");
        FILE *f = open_memstream(&out, &outlen);
        check(f != NULL, "open_memstream");
        conf_print_nondefault(c, f);
        fclose(f);
        free(out);
    }
    conf_free(c);
    free(c);
}

/* fuzz_dest - conf_dest_parse() over the bytes as a C string */
static void fuzz_dest(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), err[256];
    struct dest d;

    check(s != NULL, "malloc");
    memcpy(s, data, size);
    s[size] = 0;
    err[0] = 0;
    if (conf_dest_parse(s, &d, err, sizeof(err)) == 0)
        check_dest_roundtrip(&d);
    else
        check(err[0] != 0 && memchr(err, 0, sizeof(err)) != NULL, "a reason is given");
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conf_errors errs; /* 280 KB: not allocated per run */

    fuzz_parse(data, size, &errs);
    fuzz_dest(data, size);
    return 0;
}
