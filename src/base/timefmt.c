/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/base/timefmt.h"

void tp_format_time(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, TP_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

double tp_now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
