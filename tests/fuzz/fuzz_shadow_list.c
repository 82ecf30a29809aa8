/*
 * fuzz_shadow_list.c - libFuzzer target for shadow_list_has() and
 * shadow_list_add()
 *
 * The input is a control octet (odd: "sg addr" lines, with the storage
 * group "SG1"; even: ledger lines, "addr"), then the list as it may come
 * from the cluster, then after its first NUL the address to look for (the
 * rest of the input; none with a NUL or a newline, as no address has).
 * Invariants: every line of the list is
 * found; an address the list does not hold is found once added, and the
 * add grows the list by exactly one line (and the end of a last line that
 * had none); an add of one it holds changes
 * nothing; the list stays NUL-terminated.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_shadow_list: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *sg = (data[0] & 1) ? "SG1" : NULL;
    const uint8_t *nul = memchr(data + 1, 0, size - 1);
    size_t len = nul ? (size_t)(nul - (data + 1)) : size - 1;
    size_t alen = nul ? size - 1 - len - 1 : 0;
    char *list = malloc(len + 1), *addr = malloc(alen + 1);

    check(list != NULL && addr != NULL, "malloc");
    memcpy(list, data + 1, len); /* no NUL in it: it ends at the first */
    list[len] = 0;
    memcpy(addr, nul ? (const char *)nul + 1 : "", alen);
    addr[alen] = 0;
    if (strlen(addr) != alen || memchr(addr, '\n', alen)) { /* not an address of ours */
        free(list);
        free(addr);
        return 0;
    }
    if (!sg) /* each line of a ledger list is found as the address it is */
        for (size_t i = 0; i < len;) {
            const char *nl = memchr(list + i, '\n', len - i);
            size_t n = nl ? (size_t)(nl - list) - i : len - i;
            char line[256];
            if (n < sizeof(line)) {
                memcpy(line, list + i, n);
                line[n] = 0;
                check(shadow_list_has(list, len, NULL, line), "a line is found");
            }
            i += n + 1;
        }
    bool had = shadow_list_has(list, len, sg, addr);
    size_t before = len, open = len > 0 && list[len - 1] != '\n';
    check(shadow_list_add(&list, &len, sg, addr) == 0, "add");
    check(shadow_list_has(list, len, sg, addr), "found once added");
    if (had)
        check(len == before, "an add of a held line changes nothing");
    else
        check(len == before + open + (sg ? strlen(sg) + 1 : 0) + alen + 1 && list[len - 1] == '\n',
              "one line more");
    check(list[len] == 0, "NUL-terminated");
    free(list);
    free(addr);
    return 0;
}
