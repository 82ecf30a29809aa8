/*
 * version.c - dumpsterd -V: our version, then SQLite, libevent, libsodium,
 * jansson and (when the build links it, DD_HAVE_OPENSSL) OpenSSL
 *
 * Each library is asked for its version at run time, so the lines name the
 * shared objects the process runs with; "(built with X)" follows when the
 * headers it was compiled against say otherwise.
 */
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

#include <event2/event.h>

#ifdef DD_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#endif

#include "version.h"

/* version_line - "NAME RUNTIME", and the build's version when it differs */
static void version_line(FILE *out, const char *name, const char *runtime, const char *built)
{
    if (strcmp(runtime, built) == 0)
        fprintf(out, "%s %s\n", name, runtime);
    else
        fprintf(out, "%s %s (built with %s)\n", name, runtime, built);
}

/* version_print - one line for us, one per library */
void version_print(FILE *out)
{
    fprintf(out, "dumpsterd %s\n", DD_VERSION);
    version_line(out, "SQLite", sqlite3_libversion(), SQLITE_VERSION);
    version_line(out, "libevent", event_get_version(), LIBEVENT_VERSION);
    version_line(out, "libsodium", sodium_version_string(), SODIUM_VERSION_STRING);
    version_line(out, "jansson", jansson_version_str(), JANSSON_VERSION);
#ifdef DD_HAVE_OPENSSL
    version_line(out, "OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING), OPENSSL_VERSION_STR);
#endif
}
