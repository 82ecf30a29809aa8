/*
 * timefmt.c - RFC 3339 / unix seconds in, RFC 3339 and RFC 5322 out (pure)
 *
 * timefmt_parse() reads what an operator types after --start/--end or puts
 * in a JSON body; timefmt_format() writes what the API answers. The calendar
 * is Howard Hinnant's days_from_civil / civil_from_days over int64_t, so the
 * result never depends on TZ, the locale, or the width of time_t; every
 * field is checked before any arithmetic, so nothing can overflow.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

#define MS_PER_SEC INT64_C(1000)
#define MS_PER_DAY INT64_C(86400000)
#define UNIX_INT_DIGITS_MAX 12 /* 253402300799 s = 9999-12-31T23:59:59Z */
#define FRAC_DIGITS_MAX 9      /* RFC 3339 puts no bound; nanoseconds do */

/* A read position in the input. */
struct cur {
    const char *s;
    size_t len;
    size_t pos;
};

/* is_digit - ASCII digit, whatever the locale */
static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* cur_char - take one expected character (either of two spellings) */
static bool cur_char(struct cur *c, char a, char b)
{
    if (c->pos < c->len && (c->s[c->pos] == a || c->s[c->pos] == b)) {
        c->pos++;
        return true;
    }
    return false;
}

/* cur_digits - exactly n digits as a number in [lo, hi] */
static bool cur_digits(struct cur *c, size_t n, unsigned lo, unsigned hi, unsigned *val)
{
    unsigned v = 0;
    size_t i;

    if (c->len - c->pos < n)
        return false;
    for (i = 0; i < n; i++) {
        if (!is_digit(c->s[c->pos + i]))
            return false;
        v = v * 10 + (unsigned)(c->s[c->pos + i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    c->pos += n;
    *val = v;
    return true;
}

/* cur_fraction - optional '.' and 1..9 digits, as milliseconds (truncated) */
static bool cur_fraction(struct cur *c, unsigned *ms)
{
    size_t n = 0;

    *ms = 0;
    if (!cur_char(c, '.', '.'))
        return true;
    while (c->pos < c->len && is_digit(c->s[c->pos])) {
        if (++n > FRAC_DIGITS_MAX)
            return false;
        if (n <= 3)
            *ms = *ms * 10 + (unsigned)(c->s[c->pos] - '0');
        c->pos++;
    }
    for (size_t i = n; i < 3; i++)
        *ms *= 10;
    return n > 0;
}

/* is_leap - Gregorian leap year */
static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* month_days - days in month m (1..12) of year y */
static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* cur_zone - 'Z' or +hh:mm / -hh:mm, as the offset to subtract, in ms */
static bool cur_zone(struct cur *c, int64_t *off_ms)
{
    unsigned hh, mm;
    int sign;

    *off_ms = 0;
    if (cur_char(c, 'Z', 'z'))
        return true;
    if (c->pos >= c->len || (c->s[c->pos] != '+' && c->s[c->pos] != '-'))
        return false;
    sign = c->s[c->pos++] == '-' ? -1 : 1;
    if (!cur_digits(c, 2, 0, 23, &hh) || !cur_char(c, ':', ':') || !cur_digits(c, 2, 0, 59, &mm))
        return false;
    *off_ms = sign * ((int64_t)hh * 3600 + mm * 60) * MS_PER_SEC;
    return true;
}

/* parse_rfc3339 - date-time per RFC 3339 section 5.6 (see timefmt.h) */
static bool parse_rfc3339(struct cur *c, int64_t *ms)
{
    unsigned y, mo, d, h, mi, sec, frac;
    int64_t off;

    if (!cur_digits(c, 4, 1970, 9999, &y) || !cur_char(c, '-', '-') ||
        !cur_digits(c, 2, 1, 12, &mo) || !cur_char(c, '-', '-') ||
        !cur_digits(c, 2, 1, month_days(y, mo), &d))
        return false;
    if (!cur_char(c, 'T', 't') && !cur_char(c, ' ', ' '))
        return false;
    if (!cur_digits(c, 2, 0, 23, &h) || !cur_char(c, ':', ':') || !cur_digits(c, 2, 0, 59, &mi) ||
        !cur_char(c, ':', ':') || !cur_digits(c, 2, 0, 60, &sec) || !cur_fraction(c, &frac) ||
        !cur_zone(c, &off))
        return false;
    if (sec == 60) { /* a leap second: the last instant of that minute */
        sec = 59;
        frac = 999;
    }
    *ms = timefmt_days_from_civil(y, mo, d) * MS_PER_DAY +
          ((int64_t)h * 3600 + mi * 60 + sec) * MS_PER_SEC + frac - off;
    return true;
}

/* parse_unix - decimal seconds since the epoch, optionally with a fraction */
static bool parse_unix(struct cur *c, int64_t *ms)
{
    int64_t sec = 0;
    size_t n = 0;
    unsigned frac;

    while (c->pos < c->len && is_digit(c->s[c->pos])) {
        if (++n > UNIX_INT_DIGITS_MAX)
            return false;
        sec = sec * 10 + (c->s[c->pos++] - '0');
    }
    if (n == 0 || !cur_fraction(c, &frac))
        return false;
    *ms = sec * MS_PER_SEC + frac;
    return true;
}

/* timefmt_parse - RFC 3339 or unix seconds; strict, bounded */
int timefmt_parse(const char *s, size_t len, int64_t *ms_out)
{
    struct cur c = {s, len, 0};
    int64_t ms;
    bool ok;

    if (s == NULL || len == 0 || len > TIMEFMT_INPUT_MAX)
        return -1;
    if (len > 4 && s[4] == '-')
        ok = parse_rfc3339(&c, &ms);
    else
        ok = parse_unix(&c, &ms);
    if (!ok || c.pos != len || ms < TIMEFMT_MS_MIN || ms > TIMEFMT_MS_MAX)
        return -1;
    *ms_out = ms;
    return 0;
}

/* timefmt_days_from_civil - days since the epoch of y-m-d (Hinnant) */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* timefmt_civil_from_days - y-m-d of day z since the epoch (Hinnant) */
void timefmt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Broken-down UTC time of a clamped millisecond count. */
struct civil {
    int64_t year;
    unsigned mon, mday, wday, hour, min, sec, ms;
};

/* civil_of - clamp ms into the valid range and break it down */
static void civil_of(int64_t ms, struct civil *t)
{
    int64_t days, rem;

    if (ms < TIMEFMT_MS_MIN)
        ms = TIMEFMT_MS_MIN;
    if (ms > TIMEFMT_MS_MAX)
        ms = TIMEFMT_MS_MAX;
    days = ms / MS_PER_DAY;
    rem = ms % MS_PER_DAY;
    timefmt_civil_from_days(days, &t->year, &t->mon, &t->mday);
    t->wday = (unsigned)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    t->hour = (unsigned)(rem / 3600000);
    t->min = (unsigned)(rem / 60000 % 60);
    t->sec = (unsigned)(rem / 1000 % 60);
    t->ms = (unsigned)(rem % 1000);
}

/* timefmt_format - RFC 3339 UTC with milliseconds */
void timefmt_format(int64_t ms, char out[TIMEFMT_RFC3339_BUF])
{
    struct civil t;

    civil_of(ms, &t);
    snprintf(out, TIMEFMT_RFC3339_BUF, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)t.year,
             t.mon % 100, t.mday % 100, t.hour % 100, t.min % 100, t.sec % 100, t.ms % 1000);
}

/* timefmt_rfc5322 - RFC 5322 section 3.3 date-time, UTC */
void timefmt_rfc5322(int64_t ms, char out[TIMEFMT_RFC5322_BUF])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct civil t;

    civil_of(ms, &t);
    snprintf(out, TIMEFMT_RFC5322_BUF, "%s, %02u %s %04d %02u:%02u:%02u +0000", days[t.wday % 7],
             t.mday % 100, months[(t.mon + 11) % 12], (int)t.year, t.hour % 100, t.min % 100,
             t.sec % 100);
}
