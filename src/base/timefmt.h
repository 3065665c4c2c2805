/* SPDX-License-Identifier: BSD-2-Clause */
/* Times in files and messages: RFC 3339, UTC. */
#ifndef TP_TIMEFMT_H
#define TP_TIMEFMT_H

#include <time.h>

#define TP_TIME_MAX 32

/* t as "2026-11-22T10:00:00Z" into buf[TP_TIME_MAX]. */
void tp_format_time(time_t t, char *buf);

/* A monotonic clock, in seconds. */
double tp_now_seconds(void);

#endif
