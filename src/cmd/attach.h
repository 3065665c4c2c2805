/* The identity step: the certificate attached to its thing and policies,
 * which is what lets the device connect. */
#ifndef TP_ATTACH_H
#define TP_ATTACH_H

#include <stdbool.h>

#include "src/aws/service.h"
#include "src/base/err.h"

/* What a run asks to attach, and the service to ask: all attaching needs
 * of it. */
struct tp_attach_plan {
	const struct tp_service *svc;
	const char *thing;     /* --attach-thing: the thing to attach to; NULL: none */
	char *const *policies; /* --policy, NULL-terminated; NULL: none */
};

/* What is attached at the service so far. */
struct tp_attached {
	char *thing;
	char **policies;
};

/* Told after each attachment is made, to journal it. */
typedef int (*tp_attach_journal_fn)(void *ctx, const struct tp_attached *done, struct tp_error *err);

/* Attach what the options ask for and done does not have yet: CreateThing
 * and AttachThingPrincipal for --attach-thing, then AttachPolicy for each
 * --policy; done grows with each, and journal (when given) is told. */
int tp_attach_missing(const struct tp_attach_plan *plan, const char *cert_id, const char *cert_arn,
		      struct tp_attached *done, tp_attach_journal_fn journal, void *ctx, struct tp_error *err);

/* Whether the options ask for something done does not have. */
bool tp_attach_wanted(const struct tp_attach_plan *plan, const struct tp_attached *done);

/* "; attached to thing T and policies a, b" or the hint that nothing is
 * attached yet, for the success line (allocated). */
int tp_attach_describe(const struct tp_attached *done, char **ret, struct tp_error *err);

/* The same for a run that did not ask the service (install offline): when
 * it attached nothing, it says so, and what the device needs if nothing
 * else attached the certificate, which it cannot know. */
int tp_attach_describe_offline(const struct tp_attached *done, char **ret, struct tp_error *err);

void tp_attached_free(struct tp_attached *a);

#endif
