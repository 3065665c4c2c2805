/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Many operations at once, for a batch: libcurl's multi interface (reused
 * connections, HTTP/2 multiplexing where the server offers it), at most N
 * requests in flight, a request rate that backs off when the service
 * throttles and climbs back (as the AWS SDKs' adaptive retry mode does),
 * and per request the same signing, decoding, retry and deadline rules as
 * tp_http_call().
 */
#ifndef TP_MULTI_H
#define TP_MULTI_H

#include <stdbool.h>

#include "src/aws/http.h"

struct tp_multi_limits {
	unsigned parallel; /* requests in flight at most */
	double rate;	   /* requests per second at most; 0: only what throttling says */
};

struct tp_multi_stats {
	unsigned long sent;	 /* attempts sent */
	unsigned long throttled; /* attempts the service throttled */
	unsigned long retried;	 /* attempts retried (any reason) */
	double rate_limit;	 /* the current cap, requests per second; 0: none */
};

struct tp_multi_ops {
	/* The next job: 1 with its first request in *req (copied) and the
	 * caller's job pointer in *ret_job; 0 when there are no more; -1 to
	 * stop everything (err set). */
	int (*next)(void *user, struct tp_http_request *req, void **ret_job, struct tp_error *err);
	/* A job's request ended: with its final answer a (success or not), or
	 * with e when no answer came (e->msg says why).  1 with a follow-up
	 * request for the same job in *req; 0 when the job is finished; -1 to
	 * stop everything (err set). */
	int (*done)(void *user, void *job, const struct tp_answer *a, const struct tp_error *e,
		    struct tp_http_request *req, struct tp_error *err);
	/* Called before the requests that next and done prepared are sent,
	 * and before the run ends: what they wrote is to be made durable
	 * here, once for all of them (group commit).  0, or -1 to stop
	 * everything (err set); may be NULL. */
	int (*commit)(void *user, struct tp_error *err);
	/* About once a second, and at the end; may be NULL. */
	void (*progress)(void *user, const struct tp_multi_stats *stats);
};

/* Run jobs until next has no more and every job is finished.  -1 only for
 * what stops the whole run (libcurl cannot start, a callback says so). */
int tp_multi_run(const struct tp_service *svc, const struct tp_multi_limits *limits, const struct tp_multi_ops *ops,
		 void *user, struct tp_error *err);

#endif
