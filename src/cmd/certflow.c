/* SPDX-License-Identifier: BSD-2-Clause */
/* The certificate protocol's state machine; see certflow.h. */
#include "src/cmd/certflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/cleanup.h"
#include "src/base/strv.h"
#include "src/cmd/accept.h"
#include "src/x509/ossl.h"

static int journal(struct tp_certflow *f, enum tp_certflow_event event, struct tp_error *err)
{
	return f->journal ? f->journal(f->ctx, f, event, err) : 0;
}

/* f->req emptied, for the next request to be built into. */
static struct tp_iot_request *fresh(struct tp_certflow *f)
{
	tp_iot_request_free(&f->req);
	return &f->req;
}

/* The request just built (built is 0) is the next one, for step. */
static int next_request(struct tp_certflow *f, enum tp_certflow_step step, int built)
{
	if (built < 0)
		return -1;
	f->step = step;
	return 1;
}

/* The record ends at step, for the reason why (when there is one). */
static int end(struct tp_certflow *f, enum tp_certflow_step step, const struct tp_error *why)
{
	tp_iot_request_free(&f->req);
	f->step = step;
	if (why)
		f->why = *why;
	return 0;
}

bool tp_certflow_attach_wanted(const struct tp_certflow *f)
{
	return tp_attach_wanted(f->thing, f->policies, &f->attached);
}

/* Why attach: AWS IoT authorizes a connection by the policies attached to
 * the certificate, and fleet tooling finds a device by its thing.  The
 * thing first (CreateThing answers 200 for a thing that exists alike, so
 * a resumed record may create it again), then each policy missing. */
static int attach_next(struct tp_certflow *f, struct tp_error *err)
{
	struct tp_error why = { 0 };
	size_t i;

	if (!tp_certflow_attach_wanted(f))
		return end(f, TP_CERTFLOW_ACCEPTED, NULL);
	if (!f->issued.arn) {
		tp_error_set(&why, EX_DATAERR,
			     "the service gave no ARN for certificate %s: it cannot be attached to a thing or policy "
			     "(--attach-thing, --policy)",
			     f->issued.id);
		return end(f, TP_CERTFLOW_FAILED, &why);
	}
	if (f->thing && !f->attached.thing)
		return next_request(f, TP_CERTFLOW_THING, tp_iot_request_create_thing(f->thing, fresh(f), err));
	for (i = 0; tp_strv_contains(f->attached.policies, f->policies[i]); i++)
		;
	f->policy = i;
	return next_request(f, TP_CERTFLOW_POLICY,
			    tp_iot_request_attach_policy(f->policies[i], f->issued.arn, fresh(f), err));
}

/* A certificate that failed the check: journaled as refused (a rerun
 * then asks for a fresh one) and, when this run's request made it and the
 * service has not said it is other than ACTIVE, deactivated, so that
 * nobody can use it.  A certificate the caller brought (register, install)
 * is the operator's, and left as it is. */
static int refuse(struct tp_certflow *f, const struct tp_error *why, struct tp_error *err)
{
	struct tp_error e = { 0 };

	f->step = TP_CERTFLOW_REFUSED;
	f->why = *why;
	if (journal(f, TP_CERTFLOW_REFUSING, &e) < 0)
		tp_error_append(&f->why, "recording it as refused failed: %s", e.msg);
	if (!f->requested || (f->issued.status && strcmp(f->issued.status, "ACTIVE") != 0))
		return end(f, TP_CERTFLOW_REFUSED, NULL);
	return next_request(f, TP_CERTFLOW_DEACTIVATE, tp_iot_request_update(f->issued.id, "INACTIVE", fresh(f), err));
}

/* Nothing the service says is trusted until checked: the certificate in
 * f->issued against the key, the request and what the caller expects;
 * journaled (when it is news) before anything else is done with it. */
static int check(struct tp_certflow *f, bool news, struct tp_error *err)
{
	struct tp_error why = { 0 };

	if (tp_accept_certificate(&f->issued, f->key, f->status, &f->cert, &why) < 0)
		return refuse(f, &why, err);
	if (f->expect && X509_cmp(f->expect, f->cert) != 0) {
		tp_error_set(&why, EX_DATAERR, "the service describes certificate %s with another certificate than %s",
			     f->issued.id, f->expect_file);
		return refuse(f, &why, err);
	}
	if (news && journal(f, TP_CERTFLOW_RECEIVED, err) < 0)
		return -1;
	return attach_next(f, err);
}

int tp_certflow_request(struct tp_certflow *f, const char *csr_pem, struct tp_error *err)
{
	f->requested = true;
	f->step = TP_CERTFLOW_CREATE;
	/* CreateCertificateFromCsr has no idempotency token: the journal
	 * must know of the request before it can have made a certificate. */
	if (journal(f, TP_CERTFLOW_SENDING, err) < 0)
		return -1;
	return next_request(f, TP_CERTFLOW_CREATE, tp_iot_request_create(csr_pem, fresh(f), err));
}

int tp_certflow_describe(struct tp_certflow *f, const char *id, const char *arn, struct tp_error *err)
{
	tp_issued_cert_free(&f->issued);
	f->issued.id = strdup(id);
	f->issued.arn = arn ? strdup(arn) : NULL;
	if (!f->issued.id || (arn && !f->issued.arn))
		return tp_error_oom(err);
	return next_request(f, TP_CERTFLOW_DESCRIBE, tp_iot_request_describe(id, fresh(f), err));
}

int tp_certflow_resume(struct tp_certflow *f, struct tp_issued_cert *issued, struct tp_attached *attached,
		       bool requested, struct tp_error *err)
{
	tp_issued_cert_free(&f->issued);
	tp_attached_free(&f->attached);
	f->issued = *issued;
	*issued = (struct tp_issued_cert){ 0 };
	f->attached = *attached;
	*attached = (struct tp_attached){ 0 };
	f->requested = requested;
	/* Checked before it was journaled; a journal from an older version
	 * recorded it unchecked. */
	return f->issued.pem ? check(f, false, err) : attach_next(f, err);
}

/* An answer that does not say what it should: the record failed, the
 * request named. */
static int answer_unusable(struct tp_certflow *f, struct tp_error *why)
{
	tp_error_append(why, "%s %s%s", f->req.http.method, f->endpoint, f->req.path);
	return end(f, TP_CERTFLOW_FAILED, why);
}

/* The create answer: the certificate, or only its id (a describe then
 * fetches the rest). */
static int created(struct tp_certflow *f, const struct tp_answer *a, struct tp_error *err)
{
	struct tp_error why = { 0 };

	if (tp_iot_answer_issued(a, &f->issued, &why) < 0)
		return answer_unusable(f, &why);
	if (f->issued.pem)
		return check(f, true, err);
	return next_request(f, TP_CERTFLOW_DESCRIBE, tp_iot_request_describe(f->issued.id, fresh(f), err));
}

/* What a describe adds to what the service said before. */
static int described(struct tp_certflow *f, const struct tp_answer *a, struct tp_error *err)
{
	_cleanup_(tp_issued_cert_free) struct tp_issued_cert d = { 0 };
	struct tp_issued_cert *c = &f->issued;
	struct tp_error why = { 0 };

	if (tp_iot_answer_described(a, &d, &why) < 0)
		return answer_unusable(f, &why);
	if (strcmp(d.id, c->id) != 0) {
		tp_error_set(&why, EX_DATAERR, "the service described certificate %s", d.id);
		return answer_unusable(f, &why);
	}
	free(c->pem);
	c->pem = TAKE_PTR(d.pem);
	if (!c->arn)
		c->arn = TAKE_PTR(d.arn);
	if (!c->status)
		c->status = TAKE_PTR(d.status);
	if (!c->created_at)
		c->created_at = TAKE_PTR(d.created_at);
	return check(f, true, err);
}

/* The deactivation of a refused certificate ended: the record is refused,
 * and why says what became of the certificate. */
static int deactivated(struct tp_certflow *f, const struct tp_answer *a, const struct tp_error *e)
{
	_cleanup_free_ char *what = NULL;
	struct tp_error fe = { 0 };

	if (a && !a->failed) {
		tp_error_append(&f->why, "certificate %s was set INACTIVE at %s", f->issued.id, f->endpoint);
		return end(f, TP_CERTFLOW_REFUSED, NULL);
	}
	if (a && asprintf(&what, "%s %s%s", f->req.http.method, f->endpoint, f->req.path) < 0)
		what = NULL;
	if (a)
		tp_answer_fail(a, what ? what : "the request", &fe);
	tp_error_append(&f->why, "deactivating certificate %s failed, deactivate it by hand: %s", f->issued.id,
			a ? fe.msg : e->msg);
	return end(f, TP_CERTFLOW_REFUSED, NULL);
}

/* A request that failed: an error answer a, or no answer (e). */
static int request_failed(struct tp_certflow *f, const struct tp_answer *a, const struct tp_error *e)
{
	_cleanup_free_ char *what = NULL;
	struct tp_error why = { 0 };

	if (f->step == TP_CERTFLOW_CREATE && a)
		f->create_status = a->status;
	if (!a)
		why = *e;
	else if (f->step == TP_CERTFLOW_POLICY)
		tp_iot_policy_failure(a, f->endpoint, f->req.path, f->policies[f->policy], &why);
	else if (asprintf(&what, "%s %s%s", f->req.http.method, f->endpoint, f->req.path) < 0)
		tp_error_oom(&why);
	else
		tp_answer_fail(a, what, &why);
	return end(f, TP_CERTFLOW_FAILED, &why);
}

/* One more attachment made: journaled, then the next. */
static int attached(struct tp_certflow *f, struct tp_error *err)
{
	if (journal(f, TP_CERTFLOW_ATTACHED, err) < 0)
		return -1;
	return attach_next(f, err);
}

int tp_certflow_answer(struct tp_certflow *f, const struct tp_answer *a, const struct tp_error *e, struct tp_error *err)
{
	if (f->step == TP_CERTFLOW_DEACTIVATE)
		return deactivated(f, a, e);
	if (f->step < TP_CERTFLOW_CREATE || f->step > TP_CERTFLOW_POLICY)
		return tp_error_set(err, EX_SOFTWARE, "no request of the certificate protocol is in flight");
	if (!a || a->failed)
		return request_failed(f, a, e);
	switch (f->step) {
	case TP_CERTFLOW_CREATE:
		return created(f, a, err);
	case TP_CERTFLOW_DESCRIBE:
		return described(f, a, err);
	case TP_CERTFLOW_THING:
		return next_request(f, TP_CERTFLOW_PRINCIPAL,
				    tp_iot_request_attach_thing(f->thing, f->issued.arn, fresh(f), err));
	case TP_CERTFLOW_PRINCIPAL:
		if (!(f->attached.thing = strdup(f->thing)))
			return tp_error_oom(err);
		return attached(f, err);
	default: /* TP_CERTFLOW_POLICY */
		if (tp_strv_push_copy(&f->attached.policies, f->policies[f->policy]) < 0)
			return tp_error_oom(err);
		return attached(f, err);
	}
}

void tp_certflow_free(struct tp_certflow *f)
{
	if (!f)
		return;
	tp_issued_cert_free(&f->issued);
	X509_free(f->cert);
	f->cert = NULL;
	tp_attached_free(&f->attached);
	tp_iot_request_free(&f->req);
}
