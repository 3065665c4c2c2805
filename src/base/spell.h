/* SPDX-License-Identifier: BSD-2-Clause */
/* Spelling: the closest of a set of names to a word someone typed. */
#ifndef TP_SPELL_H
#define TP_SPELL_H

#include <stddef.h>

/* The Damerau-Levenshtein (optimal string alignment) distance of a and b,
 * or SIZE_MAX when either is longer than 64 characters. */
size_t tp_edit_distance(const char *a, const char *b);

/* Whether candidate is close enough to word to be suggested for it: a
 * distance of at most a third of the word's length (at least 1), or the
 * word a prefix of it. */
int tp_close_enough(const char *word, const char *candidate);

#endif
