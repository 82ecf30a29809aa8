/*
 * version.h - what dumpsterd -V prints: our version and the libraries' own
 *
 * DD_VERSION comes from CMakeLists.txt (project VERSION). Library versions
 * are asked of the libraries at run time (the ones the process really runs
 * with) and shown beside the headers' when the two differ.
 */
#ifndef DD_VERSION_H
#define DD_VERSION_H

#include <stdio.h>

#ifndef DD_VERSION
#define DD_VERSION "0.0.0"
#endif

/* version_print - "dumpsterd VERSION", then one "LIBRARY VERSION" line each. */
void version_print(FILE *out);

#endif
