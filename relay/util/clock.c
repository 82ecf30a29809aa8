/*
 * clock.c - wall and monotonic clocks in ms and µs (clock.h)
 */
#include <time.h>

#include "clock.h"

/* clock_read - one clock in µs */
static int64_t clock_read(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* clock_now_ms - wall clock, ms */
int64_t clock_now_ms(void)
{
    return clock_read(CLOCK_REALTIME) / 1000;
}

/* clock_mono_ms - monotonic clock, ms */
int64_t clock_mono_ms(void)
{
    return clock_read(CLOCK_MONOTONIC) / 1000;
}

/* clock_mono_us - monotonic clock, µs */
int64_t clock_mono_us(void)
{
    return clock_read(CLOCK_MONOTONIC);
}
