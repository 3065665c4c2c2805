/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/cmd/certsync.h"

#include "src/cmd/log.h"

/* The steps an operator sees start; the others follow from them. */
static void say_step(const struct tp_service *svc, const struct tp_certflow *f)
{
	if (f->step == TP_CERTFLOW_CREATE)
		tp_step("requesting the certificate from %s", svc->endpoint);
	else if (f->step == TP_CERTFLOW_THING)
		tp_step("attaching the certificate to thing %s", f->thing);
	else if (f->step == TP_CERTFLOW_POLICY)
		tp_step("attaching policy %s to the certificate", f->policies[f->policy]);
}

int tp_certsync_run(const struct tp_service *svc, struct tp_certflow *f, int r, struct tp_error *err)
{
	while (r == 1) {
		struct tp_answer a = { 0 };
		struct tp_error e = { 0 };

		say_step(svc, f);
		if (tp_http_call(svc, &f->req.http, &a, &e) < 0)
			r = tp_certflow_answer(f, NULL, &e, err);
		else
			r = tp_certflow_answer(f, &a, NULL, err);
		tp_answer_free(&a);
	}
	if (r < 0)
		return -1;
	if (f->step == TP_CERTFLOW_ACCEPTED)
		return 0;
	return tp_error_set(err, f->why.exit_code ? f->why.exit_code : EX_SOFTWARE, "%s", f->why.msg);
}
