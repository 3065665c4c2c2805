#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tp_error_set(struct tp_error *err, int exit_code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->exit_code != 0)
		return -1;
	err->exit_code = exit_code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void tp_error_append(struct tp_error *err, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err)
		return;
	used = strlen(err->msg);
	if (used + 3 >= sizeof(err->msg))
		return;
	memcpy(err->msg + used, ": ", 3);
	used += 2;
	va_start(ap, fmt);
	vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
	va_end(ap);
}
