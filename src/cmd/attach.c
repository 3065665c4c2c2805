/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/cmd/attach.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/cleanup.h"
#include "src/base/strv.h"

bool tp_attach_wanted(const char *thing, char *const *policies, const struct tp_attached *done)
{
	char *const *p;

	if (thing && !done->thing)
		return true;
	for (p = policies; p && *p; p++)
		if (!tp_strv_contains(done->policies, *p))
			return true;
	return false;
}

/* "; attached to ..." when done has something, else unattached. */
static int describe(const struct tp_attached *done, const char *unattached, char **ret, struct tp_error *err)
{
	_cleanup_free_ char *policies = tp_strv_join(done->policies, ", ");
	int n;

	if (!policies)
		return tp_error_oom(err);
	if (!done->thing && !*policies)
		n = asprintf(ret, "; %s", unattached);
	else
		n = asprintf(ret, "; attached to %s%s%s%s%s", done->thing ? "thing " : "",
			     done->thing ? done->thing : "", done->thing && *policies ? " and " : "",
			     *policies ? "policies " : "", policies);
	return n < 0 ? tp_error_oom(err) : 0;
}

int tp_attach_describe(const struct tp_attached *done, char **ret, struct tp_error *err)
{
	return describe(done,
			"the certificate is not attached to a thing or policy yet, so the device cannot connect: "
			"run again with --attach-thing and --policy NAME",
			ret, err);
}

/* Offline, whether anything else attached the certificate is unknown: a
 * factory's batch --attach-thing --policy may well have. */
int tp_attach_describe_offline(const struct tp_attached *done, char **ret, struct tp_error *err)
{
	return describe(done,
			"this run attached nothing: unless the certificate is attached to a thing and a policy "
			"elsewhere (as batch --attach-thing --policy NAME does), the device cannot connect until it "
			"is; to attach it from here, run again with --attach-thing and --policy NAME (with AWS "
			"credentials)",
			ret, err);
}

void tp_attached_free(struct tp_attached *a)
{
	if (!a)
		return;
	free(a->thing);
	tp_strv_free(a->policies);
	*a = (struct tp_attached){ 0 };
}
