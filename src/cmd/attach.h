/* SPDX-License-Identifier: BSD-2-Clause */
/* What is attached to a certificate at the service (its thing and
 * policies, which is what lets the device connect), and how a command's
 * success line says it. */
#ifndef TP_ATTACH_H
#define TP_ATTACH_H

#include <stdbool.h>

#include "src/base/err.h"

/* What is attached at the service so far. */
struct tp_attached {
	char *thing;
	char **policies;
};

/* Whether thing (or NULL) and policies (or NULL) ask for something done
 * does not have. */
bool tp_attach_wanted(const char *thing, char *const *policies, const struct tp_attached *done);

/* "; attached to thing T and policies a, b" or the hint that nothing is
 * attached yet, for the success line (allocated). */
int tp_attach_describe(const struct tp_attached *done, char **ret, struct tp_error *err);

/* The same for a run that did not ask the service (install offline): when
 * it attached nothing, it says so, and what the device needs if nothing
 * else attached the certificate, which it cannot know. */
int tp_attach_describe_offline(const struct tp_attached *done, char **ret, struct tp_error *err);

void tp_attached_free(struct tp_attached *a);

#endif
