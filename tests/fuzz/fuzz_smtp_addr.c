/*
 * fuzz_smtp_addr.c - libFuzzer target for smtp_path_parse()
 *
 * Invariants: consumed stays inside the input and ends on '>', every limit
 * of RFC 5321 4.5.3.1 holds, the strings are NUL-terminated, the domain is
 * lower case, utf8 says whether an 8-bit octet was taken, and the address
 * we give back parses again to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_smtp_addr: invariant broken: %s\n", what);
        abort();
    }
}

/* has_8bit - some octet of s[0..n) is >= 0x80 */
static int has_8bit(const uint8_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] >= 0x80)
            return 1;
    return 0;
}

/* check_ok - the invariants of a parsed path */
static void check_ok(const uint8_t *data, size_t size, const struct smtp_addr *a, size_t used)
{
    char again[DD_PATH_MAX + 8];
    struct smtp_addr b;
    size_t ll, dl, al, used2;

    check(used >= 2 && used <= size && used <= DD_PATH_MAX, "consumed in range");
    check(data[0] == '<' && data[used - 1] == '>', "consumed spans <...>");
    check(memchr(a->local, 0, sizeof(a->local)) != NULL, "local NUL-terminated");
    check(memchr(a->domain, 0, sizeof(a->domain)) != NULL, "domain NUL-terminated");
    check(memchr(a->addr, 0, sizeof(a->addr)) != NULL, "addr NUL-terminated");
    ll = strlen(a->local);
    dl = strlen(a->domain);
    al = strlen(a->addr);
    check(ll <= DD_LOCAL_PART_MAX && dl <= DD_DOMAIN_MAX, "local and domain limits");
    check(a->utf8 == has_8bit(data, used), "utf8 flag");
    if (a->null) {
        check(used == 2 && al == 0 && ll == 0 && dl == 0, "null path");
        return;
    }
    check(ll > 0 && dl > 0 && al == ll + 1 + dl, "addr = local@domain");
    check(memcmp(a->addr, a->local, ll) == 0 && a->addr[ll] == '@', "addr local part");
    check(strcmp(a->addr + ll + 1, a->domain) == 0, "addr domain");
    if (a->domain[0] != '[')
        for (size_t i = 0; i < dl; i++)
            check(a->domain[i] < 'A' || a->domain[i] > 'Z', "domain lower case");
    /* <addr> parses back to the same address (the route is gone). */
    al = (size_t)snprintf(again, sizeof(again), "<%s>", a->addr);
    check(smtp_path_parse(again, al, 0, &b, &used2) == SMTP_ADDR_OK, "reparse ok");
    check(used2 == al && strcmp(b.addr, a->addr) == 0, "reparse same");
    /* The dropped route may have held the only 8-bit octets. */
    check(b.utf8 == has_8bit((const uint8_t *)a->addr, strlen(a->addr)), "reparse utf8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_addr a;
    size_t used = 12345;
    int allow_null;

    for (allow_null = 0; allow_null <= 1; allow_null++) {
        enum smtp_addr_err e = smtp_path_parse((const char *)data, size, allow_null, &a, &used);

        check(e >= SMTP_ADDR_OK && e <= SMTP_ADDR_NULL_NOT_ALLOWED, "known error");
        if (e != SMTP_ADDR_OK) {
            check(used == 0, "consumed 0 on error");
            check(e != SMTP_ADDR_NULL_NOT_ALLOWED || (!allow_null && size >= 2), "null error");
            continue;
        }
        check(allow_null || !a.null, "null only where allowed");
        check_ok(data, size, &a, used);
    }
    return 0;
}
