/*
 * conf_doc.h - the key lists of dumpsterd.conf(5) and README, generated
 *
 * Section, name, type, range and default of every key come from the table
 * the parser uses (conf_key_info()); conf_doc.c adds the unit, the limits
 * that tie two keys together and what each key does. A key of the parser
 * without documentation, or documentation without a key, is an error: the
 * lists cannot drift from the parser (tests/integration/test_docs.py).
 */
#ifndef DD_CONF_DOC_H
#define DD_CONF_DOC_H

#include <stdio.h>

enum conf_doc_format {
    CONF_DOC_MARKDOWN, /* README's table: | section | key | default | unit, range | meaning | */
    CONF_DOC_MAN,      /* dumpsterd.conf(5): one .SS per section, one .TP per key */
};

/*
 * conf_doc_print - write the key list to out. Returns 0, or -1 after one
 * line on err per key that the parser and the documentation disagree on.
 */
int conf_doc_print(FILE *out, enum conf_doc_format fmt, FILE *err);

#endif
