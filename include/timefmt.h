/*
 * timefmt.h - times of the admin API and of mail headers, as text (pure)
 *
 * The API takes RFC 3339 (2026-11-25T10:00:00Z, 2026-11-25 10:00:00.250+01:00)
 * or unix seconds (1764064800, 1764064800.250) and answers RFC 3339 UTC with
 * milliseconds. Mail headers (DSN Date:, Arrival-Date:) want RFC 5322
 * date-time. A time is an int64_t of milliseconds since the epoch, UTC.
 *
 * Nothing here reads the TZ environment or the locale: the calendar is our
 * own (days_from_civil), month and day names are our own.
 */
#ifndef DD_TIMEFMT_H
#define DD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest input timefmt_parse() accepts, in octets. */
#define TIMEFMT_INPUT_MAX 64
/* The valid range: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. */
#define TIMEFMT_MS_MIN INT64_C(0)
#define TIMEFMT_MS_MAX INT64_C(253402300799999)
/* Output buffers, NUL included. */
#define TIMEFMT_RFC3339_BUF 32 /* "2026-11-25T10:00:00.123Z" */
#define TIMEFMT_RFC5322_BUF 40 /* "Wed, 25 Nov 2026 10:00:00 +0000" */

/*
 * timefmt_parse - s[0..len) (no NUL needed) as RFC 3339 or as unix seconds
 * with an optional fraction. RFC 3339: 'T', 't' or one space between date
 * and time; 'Z', 'z' or +hh:mm / -hh:mm; up to 9 fraction digits (kept to
 * the millisecond, truncated); second 60 (a leap second) reads as 59.999.
 * Every field is range-checked (leap years included), nothing may follow,
 * and the result must lie in [TIMEFMT_MS_MIN, TIMEFMT_MS_MAX]. Returns 0
 * and sets *ms_out, or -1 and leaves *ms_out alone.
 */
int timefmt_parse(const char *s, size_t len, int64_t *ms_out);

/*
 * timefmt_format - RFC 3339 UTC with milliseconds into out (24 characters and
 * a NUL). ms outside [TIMEFMT_MS_MIN, TIMEFMT_MS_MAX] is clamped into it, so
 * the output always parses back.
 */
void timefmt_format(int64_t ms, char out[TIMEFMT_RFC3339_BUF]);

/*
 * timefmt_rfc5322 - RFC 5322 date-time in UTC, whole seconds
 * ("Wed, 25 Nov 2026 10:00:00 +0000"). Clamped like timefmt_format().
 */
void timefmt_rfc5322(int64_t ms, char out[TIMEFMT_RFC5322_BUF]);

/* timefmt_days_from_civil - days since 1970-01-01 of a proleptic Gregorian
 * date (m 1..12, d 1..31; not range-checked). Negative before 1970. */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);

/* timefmt_civil_from_days - the inverse: the date of day z since 1970-01-01. */
void timefmt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
