#include "src/cmd/attach.h"
#include "src/cmd/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/aws/iot.h"
#include "src/base/cleanup.h"
#include "src/base/strv.h"

bool tp_attach_wanted(const struct tp_attach_plan *plan, const struct tp_attached *done)
{
	char *const *p;

	if (plan->thing && !done->thing)
		return true;
	for (p = plan->policies; p && *p; p++)
		if (!tp_strv_contains(done->policies, *p))
			return true;
	return false;
}

static int attach_thing(const struct tp_attach_plan *plan, const char *arn, struct tp_attached *done,
			tp_attach_journal_fn journal, void *ctx, struct tp_error *err)
{
	if (!plan->thing || done->thing)
		return 0;
	tp_step("attaching the certificate to thing %s", plan->thing);
	if (tp_iot_attach_thing(plan->svc, plan->thing, arn, err) < 0)
		return -1;
	if (!(done->thing = strdup(plan->thing)))
		return tp_error_oom(err);
	return journal ? journal(ctx, done, err) : 0;
}

/* Why attach: AWS IoT authorizes a connection by the policies attached to
 * the certificate, and fleet tooling finds a device by its thing. */
int tp_attach_missing(const struct tp_attach_plan *plan, const char *cert_id, const char *cert_arn,
		      struct tp_attached *done, tp_attach_journal_fn journal, void *ctx, struct tp_error *err)
{
	char *const *p;

	if (!tp_attach_wanted(plan, done))
		return 0;
	if (!cert_arn)
		return tp_error_set(err, EX_DATAERR,
				    "the service gave no ARN for certificate %s: it cannot be attached "
				    "to a thing or policy (--attach-thing, --policy)",
				    cert_id);
	if (attach_thing(plan, cert_arn, done, journal, ctx, err) < 0)
		return -1;
	for (p = plan->policies; p && *p; p++) {
		if (tp_strv_contains(done->policies, *p))
			continue;
		tp_step("attaching policy %s to the certificate", *p);
		if (tp_iot_attach_policy(plan->svc, *p, cert_arn, err) < 0)
			return -1;
		if (tp_strv_push_copy(&done->policies, *p) < 0)
			return tp_error_oom(err);
		if (journal && journal(ctx, done, err) < 0)
			return -1;
	}
	return 0;
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
