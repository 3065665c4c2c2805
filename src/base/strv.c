/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/base/strv.h"

#include <stdlib.h>
#include <string.h>

size_t tp_strv_length(char *const *strv)
{
	size_t n = 0;

	while (strv && strv[n])
		n++;
	return n;
}

/* gcc 12's analyzer loses the pointer once it is stored through *ret
 * (strv[n] = s): a false "leak", silenced here only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
int tp_strv_push(char ***strv, char *s)
{
	size_t n = tp_strv_length(*strv);
	char **grown;

	grown = s ? realloc(*strv, (n + 2) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(s);
		return -1;
	}
	grown[n] = s;
	grown[n + 1] = NULL;
	*strv = grown;
	return 0;
}
#pragma GCC diagnostic pop

int tp_strv_push_copy(char ***strv, const char *s)
{
	return tp_strv_push(strv, strdup(s));
}

bool tp_strv_contains(char *const *strv, const char *s)
{
	for (; strv && *strv; strv++)
		if (strcmp(*strv, s) == 0)
			return true;
	return false;
}

char *tp_strv_join(char *const *strv, const char *sep)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; strv && strv[i]; i++)
		len += strlen(strv[i]) + strlen(sep);
	s = calloc(1, len);
	for (i = 0; s && strv && strv[i]; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, strv[i]);
	}
	return s;
}

void tp_strv_free(char **strv)
{
	char **p;

	for (p = strv; p && *p; p++)
		free(*p);
	free(strv);
}
