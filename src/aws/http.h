/* SPDX-License-Identifier: BSD-2-Clause */
/* The one code that speaks HTTP: SigV4-signed requests to the AWS IoT API,
 * sent over verified TLS, retried within a deadline. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stdbool.h>

#include "src/aws/answer.h"
#include "src/aws/service.h"
#include "src/base/err.h"

/*
 * One call: method on endpoint + path (already in canonical form: libcurl
 * 7.88 signs the path and query exactly as written), with a JSON body or
 * none.  Connection failures, timeouts, HTTP 5xx and throttling are retried
 * with capped exponential backoff and full jitter, honouring Retry-After,
 * until the deadline; then the last answer is handed back.  *ret may be a
 * failed answer: the caller decides what a failure means.
 */
int tp_http_call(const struct tp_service *svc, const struct tp_http_request *req, struct tp_answer *ret,
		 struct tp_error *err);

#endif
