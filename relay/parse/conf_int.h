/*
 * conf_int.h - what conf.c, conf_dest.c and directory.c share (private to relay/)
 *
 * Address syntax (ports, DNS names, IP:PORT listen items) lives in
 * conf_dest.c, network lists in conf_net.c; reading a bounded file lives
 * in conf.c. Not a public interface: the rest of the hub uses conf.h and
 * directory.h.
 */
#ifndef DD_CONF_INT_H
#define DD_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* conf_dest_port_parse - decimal port 1..65535, digits only; 0 or -1. */
int conf_dest_port_parse(const char *s, size_t len, uint16_t *port);

/* conf_dest_dns_name_ok - LDH labels of 1..63, at most 253 octets, no
 * trailing dot, last label not all digits (that would be an IP address). */
int conf_dest_dns_name_ok(const char *s, size_t len);

/* conf_dest_listen_parse - "IPv4:PORT" or "[IPv6]:PORT" into out (host in
 * canonical inet_ntop form). Returns 0, or -1 with a message in err. */
int conf_dest_listen_parse(const char *s, size_t len, struct conf_listen *out, char *err,
                           size_t errlen);

/* conf_dest_listen_list_parse - comma list of at most max distinct listen
 * addresses into l[]; an empty value gives *np = 0. 0, or -1 with err. */
int conf_dest_listen_list_parse(const char *v, struct conf_listen *l, size_t max, size_t *np,
                                char *err, size_t errlen);

/* conf_dest_listen_list_format - "a:p, [b]:q" (NUL-terminated, truncated past cap). */
void conf_dest_listen_list_format(const struct conf_listen *l, size_t n, char *buf, size_t cap);

/* conf_dest_listen_format - "IPv4:PORT" or "[IPv6]:PORT". */
void conf_dest_listen_format(const struct conf_listen *l, char *buf, size_t cap);

/* conf_list_next - the item of a comma list that starts at *p, blanks
 * trimmed, as [*item, *item + *len); *p moves past its comma, or becomes
 * NULL after the last item. */
void conf_list_next(const char **p, const char **item, size_t *len);

/* conf_net_list_parse - comma list of at most max distinct networks (IP,
 * IP/PREFIX, [IPv6]/PREFIX) into l[]; "" gives *np = 0. 0, or -1 with err. */
int conf_net_list_parse(const char *v, struct conf_net *l, size_t max, size_t *np, char *err,
                        size_t errlen);

/* conf_net_format - "192.0.2.0/24, 2001:db8::/32" (NUL-terminated, cut past cap). */
void conf_net_format(const struct conf_net *l, size_t n, char *buf, size_t cap);

/* conf_url_list_parse - "" or a comma list of at most max distinct
 * nats://HOST:PORT and tls://HOST:PORT (HOST an IP literal, [IPv6], or a
 * DNS name) into canon[0..cap) as "url,url"; *np the count. 0, or -1 with err. */
int conf_url_list_parse(const char *v, size_t max, char *canon, size_t cap, size_t *np, char *err,
                        size_t errlen);

/*
 * conf_line_span - the line at p[0..rem): *len its octets without LF or CR LF,
 * *adv the octets to the next line. Returns -1 when the line is longer than
 * max octets; that is found within max + 2 octets, and *adv skips the rest.
 */
int conf_line_span(const char *p, size_t rem, size_t max, size_t *len, size_t *adv);

/*
 * conf_file_read - read at most max octets of path into a new buffer (caller
 * frees *bufp). A bigger file, or one that cannot be read, is an error at
 * line 0 of path. Returns 0 or -1.
 */
int conf_file_read(const char *path, size_t max, char **bufp, size_t *lenp,
                   struct conf_errors *errs);

#endif
