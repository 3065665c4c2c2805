/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/base/err.h"

#include <stdio.h>
#include <string.h>

/* A message longer than the buffer ends in "..." : cut, never silently. */
static void mark_cut(struct tp_error *err)
{
	memcpy(err->msg + sizeof(err->msg) - 4, "...", 4);
}

int tp_error_setv(struct tp_error *err, int exit_code, const char *fmt, va_list ap)
{
	if (!err || err->exit_code != 0)
		return -1;
	err->exit_code = exit_code;
	if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) >= (int)sizeof(err->msg))
		mark_cut(err);
	return -1;
}

void tp_error_record(struct tp_error *err, int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tp_error_setv(err, exit_code, fmt, ap);
	va_end(ap);
}

void tp_error_append(struct tp_error *err, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err)
		return;
	used = strlen(err->msg);
	if (used + 3 >= sizeof(err->msg)) {
		mark_cut(err);
		return;
	}
	memcpy(err->msg + used, ": ", 3);
	used += 2;
	va_start(ap, fmt);
	if (vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap) >= (int)(sizeof(err->msg) - used))
		mark_cut(err);
	va_end(ap);
}
