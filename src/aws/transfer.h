/* SPDX-License-Identifier: BSD-2-Clause */
/* Inside the service client: one signed HTTP transfer, prepared for
 * libcurl's easy or multi interface, and what its end means.  Shared by
 * the blocking call (http.c) and the concurrent one (multi.c). */
#ifndef TP_TRANSFER_H
#define TP_TRANSFER_H

#include <stdbool.h>

#include <curl/curl.h>

#include "src/aws/answer.h"
#include "src/aws/service.h"
#include "src/base/err.h"
#include "src/base/timefmt.h"

struct tp_transfer {
	const struct tp_service *svc;
	const char *method, *body, *header;
	char *url;
	long timeout_ms;
	CURL *curl;
	struct curl_slist *headers;
	struct tp_http_response resp;
	char errbuf[CURL_ERROR_SIZE];
};

/* A configured easy handle for req on svc (not yet performed), with
 * timeout_ms for the whole transfer. */
int tp_transfer_start(struct tp_transfer *t, const struct tp_service *svc, const struct tp_http_request *req,
		      long timeout_ms, struct tp_error *err);

/* The transfer ended with c: 0 with a final answer in *a (any status), or
 * -1 with *retryable saying whether to try again (a retryable answer, such
 * as throttling or a 5xx, is kept in *a). */
int tp_transfer_end(struct tp_transfer *t, CURLcode c, struct tp_answer *a, bool *retryable, struct tp_error *err);

void tp_transfer_free(struct tp_transfer *t);

/* For -v (svc->note_debug): the answer's status line and request id. */
void tp_note_answer(const struct tp_service *svc, const struct tp_transfer *t);

/* To svc->note_retry: one short line, the request, the attempt and why it
 * failed (without the URL again), the wait, the time left. */
void tp_note_retry(const struct tp_service *svc, const struct tp_http_request *req, double delay, unsigned attempt,
		   double left, const struct tp_error *e);

/* Full-jitter backoff before attempt+1. */
double tp_backoff_seconds(unsigned attempt);

#endif
