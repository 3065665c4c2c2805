/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The blocking call: one operation, retried within the deadline.
 */
#include "src/aws/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/aws/transfer.h"
#include "src/base/cleanup.h"

static void sleep_seconds(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* One attempt: 0 with a final answer in *a, or -1 with *retryable saying
 * whether to try again (a retryable answer is kept in *a). */
static int attempt_once(const struct tp_service *svc, const struct tp_http_request *req, long timeout_ms,
			struct tp_answer *a, bool *retryable, struct tp_error *err)
{
	struct tp_transfer t;
	int r;

	*a = (struct tp_answer){ .retry_after = -1 };
	*retryable = false;
	r = tp_transfer_start(&t, svc, req, timeout_ms, err);
	if (r == 0)
		r = tp_transfer_end(&t, curl_easy_perform(t.curl), a, retryable, err);
	tp_note_answer(svc, &t);
	tp_transfer_free(&t);
	return r;
}

/* Why retries live here: a device on first boot meets flaky networks and a
 * throttled service; a few seconds' patience saves a failed boot. */
static int call_with_retries(const struct tp_service *svc, const struct tp_http_request *req, struct tp_answer *ret,
			     struct tp_error *err)
{
	const unsigned deadline = svc->deadline;
	const double start = tp_now_seconds();
	struct tp_error attempt_err;
	struct tp_answer a;
	double left, delay;
	unsigned attempt;
	bool retryable;

	for (attempt = 1;; attempt++) {
		attempt_err = (struct tp_error){ 0 };
		left = deadline - (tp_now_seconds() - start);
		if (attempt_once(svc, req, left > 1 ? (long)(left * 1000) : 1000, &a, &retryable, &attempt_err) == 0) {
			*ret = a;
			return 0;
		}
		if (!retryable) {
			*err = attempt_err;
			return -1;
		}
		delay = tp_backoff_seconds(attempt - 1);
		if (a.retry_after >= 0 && (double)a.retry_after > delay)
			delay = (double)a.retry_after;
		if (delay >= deadline - (tp_now_seconds() - start)) {
			if (a.root || a.status) {
				/* Out of time on a temporary failure: report the
				 * service's last answer. */
				*ret = a;
				return 0;
			}
			*err = attempt_err;
			tp_error_append(err, "gave up after %u attempts within the %us deadline", attempt, deadline);
			return -1;
		}
		tp_answer_free(&a);
		tp_note_retry(svc, req, delay, attempt, deadline - (tp_now_seconds() - start), &attempt_err);
		sleep_seconds(delay);
	}
}

int tp_http_call(const struct tp_service *svc, const struct tp_http_request *req, struct tp_answer *ret,
		 struct tp_error *err)
{
	return call_with_retries(svc, req, ret, err);
}
