/*
 * clock.h - the hub's clocks: wall time in ms (queue and dumpster times,
 * which outlive the process) and a monotonic clock (timeouts, durations)
 */
#ifndef DD_CLOCK_H
#define DD_CLOCK_H

#include <stdint.h>

/* clock_now_ms - CLOCK_REALTIME in ms since the epoch. */
int64_t clock_now_ms(void);

/* clock_mono_ms, clock_mono_us - CLOCK_MONOTONIC in ms and in µs. */
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);

#endif
