/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/base/keyloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tp_keyloc_describe(const struct tp_keyloc *k, char **ret, struct tp_error *err)
{
	int n = k->file ? asprintf(ret, "key file %s", k->file) : asprintf(ret, "handle 0x%08x", k->handle);

	return n < 0 ? tp_error_oom(err) : 0;
}

int tp_keyloc_uri(const struct tp_keyloc *k, bool with_pass, char **ret, struct tp_error *err)
{
	int n = k->file ? asprintf(ret, "%s", k->file)
			: asprintf(ret, "handle:0x%08x%s", k->handle, with_pass ? "?pass" : "");

	return n < 0 ? tp_error_oom(err) : 0;
}

bool tp_keyloc_equal(const struct tp_keyloc *a, const struct tp_keyloc *b)
{
	if (a->file || b->file)
		return a->file && b->file && strcmp(a->file, b->file) == 0;
	return a->handle == b->handle;
}

int tp_keyloc_copy(const struct tp_keyloc *from, struct tp_keyloc *ret, struct tp_error *err)
{
	char *file = NULL;

	if (from->file && !(file = strdup(from->file)))
		return tp_error_oom(err);
	*ret = (struct tp_keyloc){ .handle = from->handle, .file = file };
	return 0;
}

int tp_keyloc_parse_handle(const char *s, uint32_t *ret_handle)
{
	unsigned long v;
	char *end;

	/* Hex with 0x, or decimal: never octal (a leading 0 is refused). */
	if (!s || !isdigit((unsigned char)*s) || (s[0] == '0' && s[1] != 'x' && s[1] != 'X'))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v < 0x81000000ul || v > 0x817ffffful)
		return -1;
	*ret_handle = (uint32_t)v;
	return 0;
}

void tp_keyloc_free(struct tp_keyloc *k)
{
	if (!k)
		return;
	free(k->file);
	*k = (struct tp_keyloc){ 0 };
}
