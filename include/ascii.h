/*
 * ascii.h - ASCII case folding for protocol words, whatever the locale
 *
 * SMTP verbs, keywords and extension names are ASCII and compared without
 * regard to case (RFC 5321 2.4); tolower() would follow the locale.
 */
#ifndef DD_ASCII_H
#define DD_ASCII_H

#include <stdbool.h>
#include <stddef.h>

/* ascii_upper - ch in upper case if it is an ASCII letter */
static inline unsigned char ascii_upper(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') ? (unsigned char)(ch - 'a' + 'A') : ch;
}

/* ascii_lower - ch in lower case if it is an ASCII letter */
static inline char ascii_lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* ascii_word_is - s[0..n) equals the upper-case word w, ignoring case */
static inline bool ascii_word_is(const char *s, size_t n, const char *w)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (w[i] == 0 || ascii_upper((unsigned char)s[i]) != (unsigned char)w[i])
            return false;
    return w[n] == 0;
}

#endif
