/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The concurrent client: a fixed set of slots, each holding one job's
 * current request (waiting for its time or a token, or in flight), driven
 * by curl_multi_poll().
 */
#include "src/aws/multi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/aws/transfer.h"
#include "src/base/cleanup.h"

/* The AWS SDKs' adaptive rate (CUBIC on the request rate). */
#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define MIN_RATE 0.5
#define MEASURE_SECONDS 0.5
#define MEASURE_SMOOTH 0.8

struct limiter {
	double max_rate; /* --rate, 0: none */
	bool enabled;	 /* a cap applies (--rate, or the service throttled) */
	double fill_rate, tokens, last_refill;
	double last_max_rate, last_throttle, k;
	double measured, bucket_start;
	unsigned long bucket_count;
};

struct slot {
	bool used, active;
	bool token; /* its rate token is taken (a fresh job gets one first) */
	void *job;
	char *method, *path, *body, *header;
	unsigned attempt;
	double op_start, not_before;
	struct tp_transfer t;
};

struct engine {
	const struct tp_service *svc;
	const struct tp_multi_ops *ops;
	void *user;
	CURLM *multi;
	struct slot *slots;
	unsigned n;
	bool more;
	struct limiter lim;
	struct tp_multi_stats st;
	double last_progress;
};

static void set_fill(struct limiter *l, double rate, double now)
{
	if (l->max_rate > 0 && rate > l->max_rate)
		rate = l->max_rate;
	if (rate < MIN_RATE)
		rate = MIN_RATE;
	if (l->enabled && l->fill_rate > 0)
		l->tokens = fmin(fmax(l->fill_rate, 1), l->tokens + (now - l->last_refill) * l->fill_rate);
	l->last_refill = now;
	l->fill_rate = rate;
}

/* The rate requests actually go out at, smoothed. */
static void measure(struct limiter *l, double now)
{
	double span = now - l->bucket_start;

	l->bucket_count++;
	if (span < MEASURE_SECONDS)
		return;
	l->measured = MEASURE_SMOOTH * (double)l->bucket_count / span + (1 - MEASURE_SMOOTH) * l->measured;
	l->bucket_start = now;
	l->bucket_count = 0;
}

/* The rate requests go out at: the smoothed measure, or before the first
 * one is complete, what the current bucket has seen so far. */
static double sending_rate(const struct limiter *l, double now)
{
	if (l->measured > 0)
		return l->measured;
	return (double)l->bucket_count / fmax(now - l->bucket_start, MEASURE_SECONDS / 5);
}

/* Throttled: note the rate it happened at, go down to beta of it. */
static void on_throttle(struct limiter *l, double now)
{
	double sending = sending_rate(l, now);
	double rate = l->enabled ? fmin(sending > 0 ? sending : l->fill_rate, l->fill_rate) : sending;

	if (rate <= 0)
		rate = MIN_RATE;
	l->last_max_rate = rate;
	l->k = cbrt(rate * (1 - CUBIC_BETA) / CUBIC_C);
	l->last_throttle = now;
	set_fill(l, rate * CUBIC_BETA, now);
	l->enabled = true;
}

/* A success: climb back along the cubic curve, never above twice what
 * goes out now. */
static void on_success(struct limiter *l, double now)
{
	double t = now - l->last_throttle - l->k, rate;

	if (!l->enabled || l->last_throttle == 0)
		return;
	rate = CUBIC_C * t * t * t + l->last_max_rate;
	if (l->measured > 0 && rate > 2 * l->measured)
		rate = 2 * l->measured;
	set_fill(l, rate, now);
}

/* A token for one request: 0 when one is there, else the seconds to wait
 * for it. */
static double take_token(struct limiter *l, double now)
{
	if (!l->enabled)
		return 0;
	l->tokens = fmin(fmax(l->fill_rate, 1), l->tokens + (now - l->last_refill) * l->fill_rate);
	l->last_refill = now;
	if (l->tokens >= 1) {
		l->tokens -= 1;
		return 0;
	}
	return (1 - l->tokens) / l->fill_rate;
}

static void give_back_token(struct limiter *l)
{
	if (l->enabled)
		l->tokens += 1;
}

static void slot_clear(struct slot *s)
{
	tp_transfer_free(&s->t);
	free(s->method);
	free(s->path);
	free(s->body);
	free(s->header);
	*s = (struct slot){ 0 };
}

/* A job's request into s: copied, due now, a fresh deadline. */
static int slot_set(struct slot *s, void *job, const struct tp_http_request *req, double now, struct tp_error *err)
{
	_cleanup_free_ char *method = strdup(req->method), *path = strdup(req->path);
	_cleanup_free_ char *body = req->body ? strdup(req->body) : NULL;
	_cleanup_free_ char *header = req->header ? strdup(req->header) : NULL;

	if (!method || !path || (req->body && !body) || (req->header && !header))
		return tp_error_oom(err);
	slot_clear(s);
	*s = (struct slot){ .used = true,
			    .job = job,
			    .op_start = now,
			    .not_before = now,
			    .method = TAKE_PTR(method),
			    .path = TAKE_PTR(path),
			    .body = TAKE_PTR(body),
			    .header = TAKE_PTR(header) };
	return 0;
}

/* Fill free slots from next(), only as far as rate tokens allow: a job
 * is taken (and journaled by next()) when its request can go now, so an
 * interrupted batch never has journaled requests that were never sent.
 * *wait: lowered to the seconds until the next token. */
static int fill(struct engine *e, double now, double *wait, struct tp_error *err)
{
	struct tp_http_request req;
	double token;
	void *job;
	unsigned i;
	int r;

	for (i = 0; e->more && i < e->n; i++) {
		if (e->slots[i].used)
			continue;
		token = take_token(&e->lim, now);
		if (token > 0) {
			*wait = fmin(*wait, token);
			break;
		}
		r = e->ops->next(e->user, &req, &job, err);
		if (r <= 0) {
			give_back_token(&e->lim);
			e->more = false; /* no more jobs, or stopping */
			return r;
		}
		if (slot_set(&e->slots[i], job, &req, now, err) < 0)
			return -1;
		e->slots[i].token = true;
	}
	return 0;
}

/* Send what is due and has a token; *ret_wait: seconds until the next
 * waiting request could go. */
static int start_due(struct engine *e, double now, double *wait, struct tp_error *err)
{
	const struct tp_service *svc = e->svc;
	double left, token;
	unsigned i;

	for (i = 0; i < e->n; i++) {
		struct slot *s = &e->slots[i];

		if (!s->used || s->active)
			continue;
		if (s->not_before > now) {
			*wait = fmin(*wait, s->not_before - now);
			continue;
		}
		token = s->token ? 0 : take_token(&e->lim, now);
		if (token > 0) { /* slots holding their token still go */
			*wait = fmin(*wait, token);
			continue;
		}
		s->token = false;
		left = svc->deadline - (now - s->op_start);
		tp_transfer_free(&s->t);
		if (tp_transfer_start(
			    &s->t, svc,
			    &(struct tp_http_request){
				    .method = s->method, .path = s->path, .body = s->body, .header = s->header },
			    left > 1 ? (long)(left * 1000) : 1000, err) < 0)
			return -1;
		curl_easy_setopt(s->t.curl, CURLOPT_PIPEWAIT, 1L);
		curl_easy_setopt(s->t.curl, CURLOPT_PRIVATE, s);
		if (curl_multi_add_handle(e->multi, s->t.curl) != CURLM_OK)
			return tp_error_set(err, EX_SOFTWARE, "libcurl cannot add a transfer");
		s->active = true;
		s->attempt++;
		e->st.sent++;
		measure(&e->lim, now);
	}
	return 0;
}

/* Whether a failed attempt is tried again: retryable, and time left in
 * the operation's deadline after the backoff (Retry-After honoured). */
static bool retry_later(struct engine *e, struct slot *s, const struct tp_answer *a, const struct tp_error *why,
			double now)
{
	double delay = tp_backoff_seconds(s->attempt - 1), left = e->svc->deadline - (now - s->op_start);

	if (a->retry_after >= 0 && (double)a->retry_after > delay)
		delay = (double)a->retry_after;
	if (delay >= left)
		return false;
	s->not_before = now + delay;
	e->st.retried++;
	tp_note_retry(e->svc, &(struct tp_http_request){ .method = s->method, .path = s->path }, delay, s->attempt,
		      left - delay, why);
	return true;
}

static bool throttling(const struct tp_answer *a)
{
	return strcmp(a->aws.type, "ThrottlingException") == 0 ||
	       strcmp(a->aws.type, "TooManyRequestsException") == 0 || a->status == 429;
}

/* Tell the job; 1 again with its follow-up request in the slot. */
static int hand_over(struct engine *e, struct slot *s, const struct tp_answer *a, const struct tp_error *attempt_err,
		     double now, struct tp_error *err)
{
	struct tp_http_request next;
	int r;

	r = e->ops->done(e->user, s->job, a, attempt_err, &next, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		slot_clear(s);
		return 0;
	}
	return slot_set(s, s->job, &next, now, err);
}

/* One transfer ended with c. */
static int finished(struct engine *e, struct slot *s, CURLcode c, double now, struct tp_error *err)
{
	struct tp_error attempt_err = { 0 };
	struct tp_answer a = { .retry_after = -1 };
	bool retryable = false;
	int r;

	curl_multi_remove_handle(e->multi, s->t.curl);
	s->active = false;
	r = tp_transfer_end(&s->t, c, &a, &retryable, &attempt_err);
	tp_note_answer(e->svc, &s->t);
	tp_transfer_free(&s->t);
	if (r < 0 && a.failed && throttling(&a)) {
		e->st.throttled++;
		on_throttle(&e->lim, now);
	} else if (r == 0 && !a.failed)
		on_success(&e->lim, now);
	if (r < 0 && retryable && retry_later(e, s, &a, &attempt_err, now)) {
		tp_answer_free(&a);
		return 0;
	}
	/* Final: the answer (a failure that ran out of time is handed over
	 * as the service's last answer), or the error. */
	r = hand_over(e, s, a.root || a.status ? &a : NULL, &attempt_err, now, err);
	tp_answer_free(&a);
	return r;
}

static int collect(struct engine *e, double now, struct tp_error *err)
{
	struct slot *s;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(e->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		s = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		if (s && finished(e, s, msg->data.result, now, err) < 0)
			return -1;
	}
	return 0;
}

static bool busy(const struct engine *e)
{
	unsigned i;

	for (i = 0; i < e->n; i++)
		if (e->slots[i].used)
			return true;
	return false;
}

static void progress(struct engine *e, double now, bool last)
{
	if (!e->ops->progress || (!last && now - e->last_progress < 1))
		return;
	e->last_progress = now;
	e->st.rate_limit = e->lim.enabled ? e->lim.fill_rate : 0;
	e->ops->progress(e->user, &e->st);
}

static int commit(struct engine *e, struct tp_error *err)
{
	return e->ops->commit ? e->ops->commit(e->user, err) : 0;
}

static int loop(struct engine *e, struct tp_error *err)
{
	double now, wait;
	int running;

	while (true) {
		now = tp_now_seconds();
		wait = 1;
		/* One commit for the answers just handled and the requests
		 * just prepared, before any of those goes out. */
		if (fill(e, now, &wait, err) < 0 || commit(e, err) < 0 || start_due(e, now, &wait, err) < 0)
			return -1;
		if (!busy(e) && !e->more) /* jobs may still wait for a token */
			return 0;
		if (curl_multi_poll(e->multi, NULL, 0, (int)(wait * 1000) + 1, NULL) != CURLM_OK ||
		    curl_multi_perform(e->multi, &running) != CURLM_OK)
			return tp_error_set(err, EX_SOFTWARE, "libcurl's multi interface failed");
		now = tp_now_seconds();
		if (collect(e, now, err) < 0)
			return -1;
		progress(e, now, false);
	}
}

int tp_multi_run(const struct tp_service *svc, const struct tp_multi_limits *limits, const struct tp_multi_ops *ops,
		 void *user, struct tp_error *err)
{
	double now = tp_now_seconds();
	struct engine e = { .svc = svc,
			    .ops = ops,
			    .user = user,
			    .n = limits->parallel,
			    .more = true,
			    .lim = { .max_rate = limits->rate, .bucket_start = now, .last_refill = now } };
	unsigned i;
	int r;

	if (limits->rate > 0) {
		e.lim.enabled = true;
		e.lim.fill_rate = limits->rate;
		e.lim.tokens = 1;
	}
	e.slots = calloc(e.n, sizeof(*e.slots));
	e.multi = curl_multi_init();
	if (!e.slots || !e.multi)
		r = tp_error_set(err, EX_IOERR, "cannot initialise libcurl's multi interface");
	else {
		curl_multi_setopt(e.multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
		r = loop(&e, err);
	}
	progress(&e, tp_now_seconds(), true);
	for (i = 0; e.slots && i < e.n; i++) {
		if (e.slots[i].active)
			curl_multi_remove_handle(e.multi, e.slots[i].t.curl);
		slot_clear(&e.slots[i]);
	}
	free(e.slots);
	curl_multi_cleanup(e.multi);
	return r;
}
