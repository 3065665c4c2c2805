/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/base/spell.h"

#include <stdint.h>
#include <string.h>

#define SPELL_MAX 64

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t tp_edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), i, j, cost;
	size_t d[SPELL_MAX + 1][SPELL_MAX + 1];

	if (n > SPELL_MAX || m > SPELL_MAX)
		return SIZE_MAX;
	for (i = 0; i <= n; i++)
		d[i][0] = i;
	for (j = 0; j <= m; j++)
		d[0][j] = j;
	for (i = 1; i <= n; i++) {
		for (j = 1; j <= m; j++) {
			cost = a[i - 1] != b[j - 1];
			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[n][m];
}

int tp_close_enough(const char *word, const char *candidate)
{
	size_t n = strlen(word), limit = n / 3 ? n / 3 : 1;

	if (n >= 2 && strncmp(candidate, word, n) == 0)
		return 1;
	return tp_edit_distance(word, candidate) <= limit;
}
