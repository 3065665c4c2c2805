/* A minimal TAP producer for the C unit tests. */
#ifndef TP_TAP_H
#define TP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return cond;
}

/* Passes when both strings are equal (NULL equals only NULL). */
static inline int tap_str(const char *got, const char *want, const char *what)
{
	int same = (!got && !want) || (got && want && strcmp(got, want) == 0);

	if (!same)
		printf("# %s: got \"%s\", want \"%s\"\n", what, got ? got : "(null)", want ? want : "(null)");
	return tap_ok(same, "%s", what);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
