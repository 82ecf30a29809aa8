/*
 * probe_answer.c - the names of a probe's answers (probe_types.h; pure)
 */
#include "probe_types.h"

/* probe_answer_name - for logs, JSON and metrics */
const char *probe_answer_name(enum probe_answer a)
{
    static const char *const names[] = {"present", "missing", "no_user", "error"};

    return (unsigned)a <= PROBE_ERROR ? names[a] : "error";
}
