/* SPDX-License-Identifier: BSD-2-Clause */
/* NULL-terminated string arrays (lists of names: agents, policies). */
#ifndef TP_STRV_H
#define TP_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* Append s (taken) to *strv; -1 when out of memory (s is then freed). */
int tp_strv_push(char ***strv, char *s);

/* Append a copy of s. */
int tp_strv_push_copy(char ***strv, const char *s);

bool tp_strv_contains(char *const *strv, const char *s);
size_t tp_strv_length(char *const *strv);

/* "a, b, c" (allocated), or NULL when out of memory. */
char *tp_strv_join(char *const *strv, const char *sep);

void tp_strv_free(char **strv);

#endif
