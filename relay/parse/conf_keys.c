/*
 * conf_keys.c - every key of the configuration, once: section, name,
 * type, where the value lives, its hard range and its default (conf_key.h)
 *
 * conf_init() applies the defaults through the same setters that parse the
 * file, conf_print_nondefault() formats both sides the same way, and the
 * key lists of README and dumpsterd.conf(5) are made from conf_key_info(),
 * so a key cannot be parsed one way, documented another and printed a
 * third.
 */
#include <string.h>

#include "conf.h"
#include "conf_key.h"
#include "tls_policy.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)
#define DAY 86400ULL

/* clang-format off */
const char *const conf_sec_names[] = {
    "", "hub", "smtp", "admin", "delivery", "dumpster", "directory", "shadow", "storage_group", "",
};
/* clang-format on */

/* [smtp] bare_newline, by enum conf_bare_newline */
static const char *const conf_bare_newline_names[] = {"reject", "normalize", NULL};

/* [shadow] shadow_failure, by enum conf_shadow_failure */
static const char *const conf_shadow_failure_names[] = {"accept", "defer", NULL};

#define CF(m) offsetof(struct conf, m)
#define CS(m) sizeof(((struct conf *)0)->m)
#define SF(m) offsetof(struct conf_sg, m)
#define SS(m) sizeof(((struct conf_sg *)0)->m)
/* clang-format off */
#define NUM(S, s, f, lo, hi, d) {S, #f, CT_NUM, CF(s.f), NO_OFF, CS(s.f), lo, hi, d, NULL}
#define STR(S, s, f, t, d) {S, #f, t, CF(s.f), NO_OFF, CS(s.f), 0, 0, d, NULL}
#define LISTEN(S, s, d) {S, "listen", CT_LISTEN, CF(s.listen), CF(s.nlisten), 0, 1, DD_LISTEN_MAX, d, NULL}
#define ENUM(S, s, f, n, d) {S, #f, CT_ENUM, CF(s.f), NO_OFF, CS(s.f), 0, 0, d, n}
#define DTLS(f, t, d) {SEC_DELIVERY, #f, t, CF(delivery.tls.f), NO_OFF, CS(delivery.tls.f), 0, 0, d, NULL}
#define SGTLS(f, t) {SEC_SG, #f, t, SF(tls.f), SF(has_##f), SS(tls.f), 0, 0, NULL, NULL}
/* clang-format on */

const struct conf_key conf_keys[] = {
    STR(SEC_HUB, hub, name, CT_NAME, "hub1"),
    STR(SEC_HUB, hub, data_dir, CT_PATH, "./var"),
    STR(SEC_HUB, hub, user, CT_NAME, "dumpsterd"),
    NUM(SEC_HUB, hub, min_free, 0, TIB, "67108864"),
    LISTEN(SEC_SMTP, smtp, "127.0.0.1:2525"),
    STR(SEC_SMTP, smtp, hostname, CT_HOST, "hub1.example.test"),
    STR(SEC_SMTP, smtp, banner_version, CT_BOOL, "no"),
    NUM(SEC_SMTP, smtp, max_message_size, 1024, 2 * GIB, "36700160"),
    NUM(SEC_SMTP, smtp, max_recipients, 1, 100000, "1000"),
    NUM(SEC_SMTP, smtp, max_connections, 1, 100000, "2000"),
    NUM(SEC_SMTP, smtp, max_connections_per_ip, 1, 100000, "200"),
    NUM(SEC_SMTP, smtp, command_timeout, 1, 3600, "300"),
    NUM(SEC_SMTP, smtp, data_timeout, 1, DAY, "1800"),
    NUM(SEC_SMTP, smtp, max_errors, 1, 1000, "10"),
    NUM(SEC_SMTP, smtp, greet_pause_ms, 0, 60000, "0"),
    NUM(SEC_SMTP, smtp, max_received_headers, 1, 1000, "50"),
    ENUM(SEC_SMTP, smtp, bare_newline, conf_bare_newline_names, "reject"),
    {SEC_SMTP, "bare_newline_exclusions", CT_NETS, CF(smtp.bare_newline_exclusions),
     CF(smtp.nbare_newline_exclusions), 0, 0, DD_CONF_NETS_MAX, "", NULL},
    ENUM(SEC_SMTP, smtp, tls, tls_in_level_names, "may"),
    STR(SEC_SMTP, smtp, tls_cert_file, CT_OPTPATH, ""),
    STR(SEC_SMTP, smtp, tls_key_file, CT_OPTPATH, ""),
    ENUM(SEC_SMTP, smtp, tls_min_protocol, tls_version_names, "TLSv1.2"),
    STR(SEC_SMTP, smtp, tls_ciphers, CT_TEXT, ""),
    NUM(SEC_SMTP, smtp, tls_handshake_timeout, 1, 3600, "30"),
    LISTEN(SEC_ADMIN, admin, "127.0.0.1:8025"),
    STR(SEC_ADMIN, admin, token_hash, CT_HASH, ""),
    STR(SEC_ADMIN, admin, public_reads, CT_BOOL, "yes"),
    NUM(SEC_ADMIN, admin, max_connections, 1, 10000, "64"),
    NUM(SEC_ADMIN, admin, request_timeout, 1, 3600, "10"),
    STR(SEC_ADMIN, admin, tls_cert_file, CT_OPTPATH, ""),
    STR(SEC_ADMIN, admin, tls_key_file, CT_OPTPATH, ""),
    NUM(SEC_DELIVERY, delivery, concurrency_per_destination, 1, 10000, "20"),
    NUM(SEC_DELIVERY, delivery, retry_initial, 1, DAY, "30"),
    NUM(SEC_DELIVERY, delivery, retry_max, 1, 7 * DAY, "900"),
    NUM(SEC_DELIVERY, delivery, max_queue_lifetime, 1, 30 * DAY, "172800"),
    NUM(SEC_DELIVERY, delivery, connect_timeout, 1, 3600, "30"),
    {SEC_DELIVERY, "smarthost", CT_DEST, NO_OFF, CF(delivery.smarthost), CS(delivery.smarthost), 0,
     DD_DEST_ADDRS_MAX, "", NULL},
    STR(SEC_DELIVERY, delivery, resolver, CT_RESOLVER, "system"),
    {SEC_DELIVERY, "tls", CT_ENUM, CF(delivery.tls.tls), NO_OFF, CS(delivery.tls.tls), 0, 0, "may",
     tls_out_level_names},
    DTLS(tls_ca_file, CT_OPTPATH, ""),
    DTLS(tls_verify_name, CT_OPTHOST, ""),
    DTLS(tls_client_cert_file, CT_OPTPATH, ""),
    DTLS(tls_client_key_file, CT_OPTPATH, ""),
    NUM(SEC_DUMPSTER, dumpster, max_age, 0, 365 * DAY, "604800"),
    NUM(SEC_DUMPSTER, dumpster, max_size, 0, TIB, "18874368"),
    NUM(SEC_DUMPSTER, dumpster, resubmit_rate, 0, 1000000, "1000"),
    STR(SEC_DIRECTORY, directory, file, CT_PATH, "conf/directory.tsv"),
    {SEC_SHADOW, "servers", CT_URLS, CF(shadow.servers), CF(shadow.nservers), CS(shadow.servers), 0,
     DD_SHADOW_SERVERS_MAX, "", NULL},
    STR(SEC_SHADOW, shadow, user, CT_TEXT, ""),
    STR(SEC_SHADOW, shadow, password_file, CT_OPTPATH, ""),
    STR(SEC_SHADOW, shadow, token_file, CT_OPTPATH, ""),
    STR(SEC_SHADOW, shadow, ca_file, CT_OPTPATH, ""),
    NUM(SEC_SHADOW, shadow, replicas, 1, 5, "3"),
    {SEC_SHADOW, "shadow_failure", CT_ENUM, CF(shadow.failure), NO_OFF, CS(shadow.failure), 0, 0,
     "accept", conf_shadow_failure_names},
    NUM(SEC_SHADOW, shadow, takeover_after, 1, 30 * DAY, "10800"),
    NUM(SEC_SHADOW, shadow, publish_timeout, 1, 600, "10"),
};
const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_KEYS_MAX,
               "struct conf key_line[] is too small");

/* [storage_group NAME]: max_size and max_age default to the [dumpster]
 * ones, the TLS keys to the [delivery] ones. */
const struct conf_key conf_sg_keys[] = {
    {SEC_SG, "destination", CT_DEST, SF(dest), SF(dest_text), SS(dest_text), 1, DD_DEST_ADDRS_MAX,
     NULL, NULL},
    {SEC_SG, "max_size", CT_NUM, SF(max_size), SF(has_max_size), SS(max_size), 0, TIB, NULL, NULL},
    {SEC_SG, "max_age", CT_NUM, SF(max_age), SF(has_max_age), SS(max_age), 0, 365 * DAY, NULL,
     NULL},
    {SEC_SG, "probe", CT_PROBE, SF(probe), SF(probe_addr), SS(probe), 0, 0, NULL, NULL},
    {SEC_SG, "probe_key_file", CT_PATH, SF(probe_key_file), NO_OFF, SS(probe_key_file), 0, 0, NULL,
     NULL},
    {SEC_SG, "tls", CT_ENUM, SF(tls.tls), SF(has_tls), SS(tls.tls), 0, 0, NULL,
     tls_out_level_names},
    SGTLS(tls_ca_file, CT_OPTPATH),
    SGTLS(tls_verify_name, CT_OPTHOST),
    SGTLS(tls_client_cert_file, CT_OPTPATH),
    SGTLS(tls_client_key_file, CT_OPTPATH),
};
const size_t conf_sg_nkeys = sizeof(conf_sg_keys) / sizeof(conf_sg_keys[0]);
_Static_assert(sizeof(conf_sg_keys) / sizeof(conf_sg_keys[0]) <= CONF_SG_KEYS_MAX,
               "struct conf_sg key_line[] is too small");

/* conf_key_info - key i of conf_keys[], then of conf_sg_keys[] */
bool conf_key_info(size_t i, struct conf_key_info *out)
{
    const struct conf_key *k;

    if (i < conf_nkeys) {
        k = &conf_keys[i];
        out->section = conf_sec_names[k->sec];
    } else if (i - conf_nkeys < conf_sg_nkeys) {
        k = &conf_sg_keys[i - conf_nkeys];
        out->section = "storage_group NAME";
    } else
        return false;
    out->name = k->name;
    out->type = conf_type_names[k->type];
    out->min = k->min;
    out->max = k->max;
    out->def = k->def;
    out->names = k->type == CT_ENUM ? k->names : NULL;
    return true;
}
