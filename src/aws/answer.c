/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Answers come in AWS's rest-json shape, or wrapped by a gateway as
 * {"success": true, "data": {...}} / {"success": false, "error": {...}};
 * both are understood.
 */
#include "src/aws/answer.h"
#include "src/store/json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void tp_aws_copy_text(char *out, size_t outsz, const char *in)
{
	size_t i;

	for (i = 0; in && in[i] && in[i] != '\n' && in[i] != '\r' && i + 1 < outsz; i++)
		out[i] = isprint((unsigned char)in[i]) ? in[i] : '?';
	out[i] = '\0';
}

/* "Type:http://internal..." and "namespace#Type" both name "Type". */
static void copy_type(char *out, size_t outsz, const char *in)
{
	const char *hash = strrchr(in, '#');

	tp_aws_copy_text(out, outsz, hash ? hash + 1 : in);
	out[strcspn(out, ":")] = '\0';
}

const char *tp_aws_string_member(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, a);

	if (!cJSON_IsString(item) && b)
		item = cJSON_GetObjectItemCaseSensitive(obj, b);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Type and message from a parsed body: AWS's members, or a gateway's
 * {"error": {"code", "message"}}. */
static void error_from_json(const cJSON *root, struct tp_aws_error *out)
{
	const cJSON *inner = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *from = cJSON_IsObject(inner) ? inner : root;
	const char *s;

	if (!out->type[0] && (s = tp_aws_string_member(from, "__type", "code")))
		copy_type(out->type, sizeof(out->type), s);
	if ((s = tp_aws_string_member(from, "message", "Message")))
		tp_aws_copy_text(out->message, sizeof(out->message), s);
}

void tp_aws_parse_error(const char *type_header, const char *body, size_t len, struct tp_aws_error *out)
{
	cJSON *root;

	memset(out, 0, sizeof(*out));
	if (type_header && *type_header)
		copy_type(out->type, sizeof(out->type), type_header);
	root = body ? cJSON_ParseWithLength(body, len) : NULL;
	if (cJSON_IsObject(root))
		error_from_json(root, out);
	cJSON_Delete(root);
}

static bool in_list(const char *type, const char *const *list)
{
	for (; type && *list; list++)
		if (strcmp(type, *list) == 0)
			return true;
	return false;
}

static const char *const throttling[] = {
	"ThrottlingException",	"Throttling",	    "ThrottledException", "TooManyRequestsException",
	"RequestLimitExceeded", "RequestThrottled", "SlowDown",		  NULL,
};

bool tp_aws_retryable(long http_status, const char *type)
{
	return in_list(type, throttling) || http_status == 429 || http_status == 500 || http_status == 502 ||
	       http_status == 503 || http_status == 504;
}

int tp_aws_error_exit_code(long http_status, const char *type)
{
	static const char *const temporary[] = {
		"ServiceUnavailableException", "InternalFailureException", "InternalException",
		"InternalServerException",     "RequestTimeoutException",  NULL,
	};
	static const char *const permission[] = {
		"UnauthorizedException",
		"InvalidSignatureException",
		"UnrecognizedClientException",
		"AccessDeniedException",
		"ForbiddenException",
		"MissingAuthenticationTokenException",
		"IncompleteSignatureException",
		"ExpiredTokenException",
		"InvalidClientTokenId",
		"SignatureDoesNotMatch",
		NULL,
	};

	/* IoT's LimitExceededException (HTTP 410) is a quota, such as the
	 * number of certificates: no retry will pass it, an operator must act. */
	if (type && strcmp(type, "LimitExceededException") == 0)
		return EX_DATAERR;
	if (in_list(type, throttling) || in_list(type, temporary))
		return EX_TEMPFAIL;
	if (in_list(type, permission))
		return EX_NOPERM;
	if (http_status >= 500 || http_status == 429)
		return EX_TEMPFAIL;
	if (http_status == 401 || http_status == 403)
		return EX_NOPERM;
	return EX_DATAERR;
}

/* A 2xx answer: unwrap a gateway's envelope. */
static int decode_success(struct tp_answer *a, const char *what, struct tp_error *err)
{
	const cJSON *success;

	if (!cJSON_IsObject(a->root))
		return tp_error_set(err, EX_DATAERR, "%s: HTTP %ld with an answer that is not a JSON object", what,
				    a->status);
	a->data = a->root;
	success = cJSON_GetObjectItemCaseSensitive(a->root, "success");
	if (!cJSON_IsBool(success))
		return 0;
	if (cJSON_IsFalse(success)) {
		a->failed = true;
		error_from_json(a->root, &a->aws);
		return 0;
	}
	a->data = cJSON_GetObjectItemCaseSensitive(a->root, "data");
	if (!cJSON_IsObject(a->data))
		return tp_error_set(err, EX_DATAERR, "%s: the answer's envelope has no \"data\" object", what);
	return 0;
}

int tp_answer_decode(const struct tp_http_response *resp, const char *what, struct tp_answer *ret, struct tp_error *err)
{
	struct tp_answer a = { .status = resp->status, .retry_after = resp->retry_after };

	tp_aws_copy_text(a.request_id, sizeof(a.request_id), resp->request_id);
	if (resp->error_type[0])
		copy_type(a.aws.type, sizeof(a.aws.type), resp->error_type);
	a.root = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
	a.failed = resp->status < 200 || resp->status > 299;
	/* What a success carries is used: a NUL in one of its strings (which
	 * cJSON takes) would cut an id short, so such an answer is refused
	 * whole.  An error's text is only quoted, cut at any NUL. */
	if (a.failed) {
		if (cJSON_IsObject(a.root))
			error_from_json(a.root, &a.aws);
	} else if (tp_json_check_text(resp->body ? resp->body : "", resp->len, what, EX_DATAERR, err) < 0 ||
		   decode_success(&a, what, err) < 0) {
		tp_answer_free(&a);
		return -1;
	}
	*ret = a;
	return 0;
}

int tp_answer_fail(const struct tp_answer *a, const char *what, struct tp_error *err)
{
	tp_error_set(err, tp_aws_error_exit_code(a->status < 400 ? 400 : a->status, a->aws.type),
		     "%s: HTTP %ld%s%s%s%s", what, a->status, a->aws.type[0] ? " " : "", a->aws.type,
		     a->aws.message[0] ? ": " : "", a->aws.message);
	if (a->request_id[0])
		tp_error_append(err, "request id %s", a->request_id);
	return -1;
}

void tp_answer_free(struct tp_answer *a)
{
	if (!a)
		return;
	cJSON_Delete(a->root);
	memset(a, 0, sizeof(*a));
}

void tp_http_response_free(struct tp_http_response *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}
