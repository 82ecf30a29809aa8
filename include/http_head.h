/*
 * http_head.h - the head of an admin API request, judged before evhttp
 * reads it (pure: bytes in, a verdict out)
 *
 * The admin API's connections pass through a filter (admin_conn.c) that
 * holds each request's head until it is complete and shows it to evhttp
 * only when this parser accepts it, so every refusal is the API's JSON
 * error and never one of libevent's HTML pages, and a Content-Length over
 * the bound is refused before a byte of the body is waited for. The rules
 * are strict where evhttp is lenient or differs from RFC 9112, so the two
 * never disagree on where a request ends: CRLF line ends only, one space
 * between the parts of the request line, no whitespace before a colon, no
 * folded lines, no control octets, at most one Content-Length and one
 * Authorization, no Transfer-Encoding (evhttp would read chunks), a body
 * only for POST, PUT and PATCH (evhttp reads no other).
 */
#ifndef DD_HTTP_HEAD_H
#define DD_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Methods, as bits (a route's set of methods is a mask). */
enum http_method {
    HTTP_M_GET = 1 << 0,
    HTTP_M_HEAD = 1 << 1,
    HTTP_M_POST = 1 << 2,
    HTTP_M_PUT = 1 << 3,
    HTTP_M_DELETE = 1 << 4,
    HTTP_M_OPTIONS = 1 << 5,
    HTTP_M_TRACE = 1 << 6,
    HTTP_M_CONNECT = 1 << 7,
    HTTP_M_PATCH = 1 << 8,
};

/* Why a head is refused; http_reject_info() gives status, code, message. */
enum http_reject {
    HTTP_R_NONE = 0,
    HTTP_R_REQUEST_LINE, /* 400: not METHOD SP TARGET SP HTTP/x.y CRLF */
    HTTP_R_TARGET,       /* 400: the target is not a path ("/..." but not "//...") */
    HTTP_R_HEADER_LINE,  /* 400: not NAME: VALUE CRLF, or a control octet */
    HTTP_R_LENGTH,       /* 400: Content-Length is not a number */
    HTTP_R_TWO_LENGTHS,  /* 400: Content-Length twice */
    HTTP_R_TWO_AUTH,     /* 400: Authorization twice */
    HTTP_R_RESERVED,     /* 400: a header the hub uses for itself */
    HTTP_R_NO_BODY,      /* 400: a body on a method that takes none */
    HTTP_R_TIMEOUT,      /* 408: the request did not come in time */
    HTTP_R_CHUNKED,      /* 411: Transfer-Encoding */
    HTTP_R_BODY_SIZE,    /* 413: Content-Length over the bound */
    HTTP_R_EXPECT,       /* 417: an Expect other than 100-continue */
    HTTP_R_HEAD_SIZE,    /* 431: request line and headers over the bound */
    HTTP_R_METHOD,       /* 501: a method we do not know */
    HTTP_R_VERSION,      /* 505: HTTP/x.y other than 1.0 and 1.1 */
    HTTP_R_COUNT
};

/* The header the filter adds to its stand-in request for a refusal; a
 * client that sends it is refused (HTTP_R_RESERVED). */
#define HTTP_REJECT_HEADER "X-Dumpsterd-Reject"

struct http_head {
    unsigned method;      /* one enum http_method */
    size_t head_len;      /* octets up to and including the empty line */
    uint64_t body_len;    /* the body evhttp will read (0 when none) */
    bool needs_length;    /* POST/PUT/PATCH without Content-Length: evhttp
                             would read to the end of the connection, so the
                             filter adds "Content-Length: 0" (RFC 9112 6.3) */
    bool http10;          /* HTTP/1.0 */
    enum http_reject why; /* HTTP_HEAD_BAD: the reason */
};

enum http_head_rc { HTTP_HEAD_MORE, HTTP_HEAD_OK, HTTP_HEAD_BAD };

/*
 * http_head_parse - judge buf[0..len), the start of a request: MORE while
 * the head is not complete and still fits max_head octets; OK with h
 * filled; BAD with h->why. A request line is judged as soon as it is
 * complete, the headers once the empty line came. max_body bounds
 * Content-Length.
 */
enum http_head_rc http_head_parse(const char *buf, size_t len, size_t max_head, uint64_t max_body,
                                  struct http_head *h);

struct http_reject_info {
    int status;
    const char *code;    /* the JSON error code */
    const char *message; /* the JSON error message */
};

/* http_reject_info - what to answer for r (HTTP_R_NONE..HTTP_R_COUNT-1);
 * NULL for HTTP_R_NONE or out of range. */
const struct http_reject_info *http_reject_info(enum http_reject r);

/* http_method_name - "GET", ...; "OTHER" for anything else */
const char *http_method_name(unsigned method);

#endif
