/*
 * confdoc.c - print the configuration key list for README or dumpsterd.conf(5)
 *
 * "confdoc md" prints README's table, "confdoc man" the KEYS section of the
 * man page, both from the parser's own key table (conf_doc.h).
 * tests/tools/conf_docs.py puts them between the markers of both files
 * (make docs) and checks that they are there (tests/integration/test_docs.py).
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "conf_doc.h"

/* main - md or man on stdout; 70 when the parser and the docs disagree */
int main(int argc, char **argv)
{
    enum conf_doc_format fmt;

    if (argc == 2 && strcmp(argv[1], "md") == 0)
        fmt = CONF_DOC_MARKDOWN;
    else if (argc == 2 && strcmp(argv[1], "man") == 0)
        fmt = CONF_DOC_MAN;
    else {
        fprintf(stderr, "usage: confdoc md|man\n");
        return EX_USAGE;
    }
    if (conf_doc_print(stdout, fmt, stderr) < 0)
        return EX_SOFTWARE;
    return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}
