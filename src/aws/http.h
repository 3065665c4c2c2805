/* The one code that speaks HTTP: SigV4-signed requests to the AWS IoT API,
 * sent over verified TLS, retried within a deadline. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stdbool.h>

#include "src/aws/answer.h"
#include "src/aws/creds.h"
#include "src/base/err.h"

/* The service settings of a run. */
struct tp_service {
	const char *endpoint; /* https://host[:port], no trailing slash */
	const char *region;
	const char *signing_name; /* "iot" or "execute-api" */
	const char *ca_bundle;	  /* NULL: the system's trust store */
	const struct tp_creds *creds;
	bool allow_http;   /* plain http (a loopback endpoint, tests) */
	unsigned deadline; /* seconds for all attempts of one call */
	/* Told about each retry, with the reason; NULL for silence.  The
	 * client itself never prints. */
	void (*note_retry)(const char *line);
	/* Told each answer's status line and request id (for -v); NULL for
	 * silence. */
	void (*note_debug)(const char *line);
};

/* One request: method on endpoint + path, a JSON body or none, and one
 * more header line to send (and sign), or none. */
struct tp_http_request {
	const char *method;
	const char *path;
	const char *body;
	const char *header;
};

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
