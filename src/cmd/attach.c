#include "src/cmd/attach.h"
#include "src/cmd/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/aws/iot.h"
#include "src/base/cleanup.h"
#include "src/base/strv.h"
#include "src/store/reqjournal.h"
#include "src/store/state.h"

bool tp_attach_wanted(const struct tp_run *run, const struct tp_attached *done)
{
	char **p;

	if (run->o.attach_thing && !done->thing)
		return true;
	for (p = run->o.policies; p && *p; p++)
		if (!tp_strv_contains(done->policies, *p))
			return true;
	return false;
}

static int attach_thing(struct tp_run *run, const char *arn, struct tp_attached *done, tp_attach_journal_fn journal,
			void *ctx, struct tp_error *err)
{
	if (!run->o.attach_thing || done->thing)
		return 0;
	tp_step("attaching the certificate to thing %s", run->o.thing_name);
	if (tp_iot_attach_thing(&run->svc, run->o.thing_name, arn, err) < 0)
		return -1;
	if (!(done->thing = strdup(run->o.thing_name)))
		return tp_error_oom(err);
	return journal ? journal(ctx, done, err) : 0;
}

/* Why attach: AWS IoT authorizes a connection by the policies attached to
 * the certificate, and fleet tooling finds a device by its thing. */
int tp_attach_missing(struct tp_run *run, const char *cert_id, const char *cert_arn, struct tp_attached *done,
		      tp_attach_journal_fn journal, void *ctx, struct tp_error *err)
{
	char **p;

	if (!tp_attach_wanted(run, done))
		return 0;
	if (!cert_arn)
		return tp_error_set(err, EX_DATAERR,
				    "the service gave no ARN for certificate %s: it cannot be attached "
				    "to a thing or policy (--attach-thing, --policy)",
				    cert_id);
	if (attach_thing(run, cert_arn, done, journal, ctx, err) < 0)
		return -1;
	for (p = run->o.policies; p && *p; p++) {
		if (tp_strv_contains(done->policies, *p))
			continue;
		tp_step("attaching policy %s to the certificate", *p);
		if (tp_iot_attach_policy(&run->svc, *p, cert_arn, err) < 0)
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

/* A certificate installed with no ARN (by install, offline): the service
 * names it, and must describe the very certificate installed, ACTIVE. */
static int learn_arn(struct tp_run *run, struct tp_state *s, struct tp_error *err)
{
	_cleanup_(tp_issued_cert_free) struct tp_issued_cert c = { 0 };

	if (tp_iot_describe_certificate(&run->svc, s->certificate_id, &c, err) < 0)
		return -1;
	if (strcmp(c.id, s->certificate_id) != 0 || (c.status && strcmp(c.status, "ACTIVE") != 0))
		return tp_error_set(err, EX_DATAERR, "certificate %s is %.32s at the service, not ACTIVE",
				    s->certificate_id, c.status ? c.status : "unknown");
	if (!c.arn)
		return tp_error_set(err, EX_DATAERR, "the service gave no ARN for certificate %s", s->certificate_id);
	s->certificate_arn = TAKE_PTR(c.arn);
	return 0;
}

int tp_attach_provisioned(struct tp_run *run, struct tp_error *err)
{
	struct tp_state *s = &run->provisioned;
	struct tp_attached done = { .thing = s->attached_thing, .policies = s->policies };
	_cleanup_free_ char *what = NULL;
	int r;

	r = tp_run_load_creds(run, err);
	if (r == 0 && !s->certificate_arn)
		r = learn_arn(run, s, err);
	if (r == 0)
		r = tp_attach_missing(run, s->certificate_id, s->certificate_arn, &done, NULL, NULL, err);
	/* What was attached is recorded, also when a later attachment failed. */
	s->attached_thing = done.thing;
	s->policies = done.policies;
	if (tp_state_save(run->o.out_dir, s, run->o.owner_uid, run->o.owner_gid, r < 0 ? NULL : err) < 0 || r < 0)
		return -1;
	if (tp_reqjournal_remove(run->o.out_dir, err) < 0 || tp_attach_describe(&done, &what, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE, "already provisioned as thing %s, certificate %s%s", run->o.thing_name,
	       s->certificate_id, what);
	return tp_run_report(run, "attached", s->certificate_id, s->certificate_arn, &done, err);
}

void tp_attached_free(struct tp_attached *a)
{
	if (!a)
		return;
	free(a->thing);
	tp_strv_free(a->policies);
	*a = (struct tp_attached){ 0 };
}
