/* SPDX-License-Identifier: BSD-2-Clause */
/* AWS answers: rest-json or a gateway's envelope, decoded and classified
 * the way AWS SDKs do.  Pure: unit tested and fuzzed. */
#ifndef TP_ANSWER_H
#define TP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "src/base/err.h"

/* Largest response body accepted (a certificate is at most 64 KiB, and JSON
 * escaping can grow it). */
#define TP_RESPONSE_MAX (256 * 1024)

/* An AWS error answer. */
struct tp_aws_error {
	char type[128];
	char message[512];
};

/* What came back over HTTP, before decoding. */
struct tp_http_response {
	long status;
	char *body;
	size_t len;
	bool too_large;
	long retry_after;     /* seconds, -1 when absent */
	char error_type[128]; /* x-amzn-ErrorType */
	char request_id[128]; /* x-amzn-RequestId */
};

/* A decoded answer: any HTTP status, the JSON document and, for a success,
 * the object holding the operation's output members. */
struct tp_answer {
	long status;
	bool failed; /* non-2xx, or an envelope saying so */
	cJSON *root;
	const cJSON *data;
	struct tp_aws_error aws;
	char request_id[128];
	long retry_after;
};

/* A 2xx must be a JSON object; a gateway envelope is unwrapped (or turned
 * into the failure it reports).  what ("POST https://...") names the
 * request in errors. */
int tp_answer_decode(const struct tp_http_response *resp, const char *what, struct tp_answer *ret,
		     struct tp_error *err);

/* A failed answer as one error line: what, status, AWS type, message, id. */
int tp_answer_fail(const struct tp_answer *a, const char *what, struct tp_error *err);

void tp_answer_free(struct tp_answer *a);
void tp_http_response_free(struct tp_http_response *r);

/* The error from the x-amzn-ErrorType header (which wins) and the body. */
void tp_aws_parse_error(const char *type_header, const char *body, size_t len, struct tp_aws_error *out);

/* The exit code for an error answer, and whether to retry it: by the
 * error type first (IoT's throttling is HTTP 400), then the status. */
int tp_aws_error_exit_code(long http_status, const char *error_type);
bool tp_aws_retryable(long http_status, const char *error_type);

/* A string member of obj named a (or b), or NULL. */
const char *tp_aws_string_member(const cJSON *obj, const char *a, const char *b);

/* Copy untrusted text for an error line: first line only, printable. */
void tp_aws_copy_text(char *out, size_t outsz, const char *in);

#endif
