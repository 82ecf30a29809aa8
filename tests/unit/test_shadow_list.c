/*
 * test_shadow_list.c - table tests of the recipient lists of shadow copies
 *
 * Each case is a list as the cluster may hand it over, a storage group (or
 * none: a ledger entry) and an address; whether the list holds it, and what
 * an add leaves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shadow_list.h"

struct list_case {
    const char *name;
    const char *list;
    const char *sg; /* NULL: a ledger entry */
    const char *addr;
    bool has;
    const char *after; /* the list after an add */
};

static const struct list_case cases[] = {
    {"empty", "", NULL, "a@x", false, "a@x\n"},
    {"held", "a@x\nb@x\n", NULL, "b@x", true, "a@x\nb@x\n"},
    {"case of the address", "A@X\n", NULL, "a@x", true, "A@X\n"},
    {"no newline at the end", "a@x", NULL, "a@x", true, "a@x"},
    {"added after a last line without its end", "a@x", NULL, "b@x", false, "a@x\nb@x\n"},
    {"a group line after one without its end", "SG1 \nSG1", "SG1", "x", false,
     "SG1 \nSG1\nSG1 x\n"},
    {"whole lines only", "aa@x\n", NULL, "a@x", false, "aa@x\na@x\n"},
    {"a prefix is not a line", "a@x.y\n", NULL, "a@x", false, "a@x.y\na@x\n"},
    {"empty lines", "\n\n", NULL, "a@x", false, "\n\na@x\n"},
    {"group and address", "SG1 u@x\n", "SG1", "U@X", true, "SG1 u@x\n"},
    {"another group", "SG2 u@x\n", "SG1", "u@x", false, "SG2 u@x\nSG1 u@x\n"},
    {"the group's case counts", "sg1 u@x\n", "SG1", "u@x", false, "sg1 u@x\nSG1 u@x\n"},
    {"no space", "SG1u@x\n", "SG1", "u@x", false, "SG1u@x\nSG1 u@x\n"},
    {"a ledger line is not a group line", "u@x\n", "SG1", "u@x", false, "u@x\nSG1 u@x\n"},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct list_case *c = &cases[i];
        size_t len = strlen(c->list);
        char *list = malloc(len + 1);
        assert_non_null(list);
        memcpy(list, c->list, len + 1);
        if (shadow_list_has(list, len, c->sg, c->addr) != c->has)
            fail_msg("%s: has", c->name);
        assert_int_equal(shadow_list_add(&list, &len, c->sg, c->addr), 0);
        if (strcmp(list, c->after) != 0 || len != strlen(c->after))
            fail_msg("%s: after the add \"%s\"", c->name, list);
        assert_true(shadow_list_has(list, len, c->sg, c->addr));
        free(list);
    }
}

static void test_null_list(void **state)
{
    char *list = NULL;
    size_t len = 0;

    (void)state;
    assert_false(shadow_list_has(NULL, 0, NULL, "a@x"));
    assert_int_equal(shadow_list_add(&list, &len, "SG1", "a@x"), 0);
    assert_string_equal(list, "SG1 a@x\n");
    assert_int_equal(len, 8);
    free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_null_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
