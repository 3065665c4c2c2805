/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/aws/iot.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/cleanup.h"
#include "src/store/json.h"

static void answer_freep(struct tp_answer *a)
{
	tp_answer_free(a);
}
#define _cleanup_answer_ _cleanup_(answer_freep)

static void issued_freep(struct tp_issued_cert *c)
{
	tp_issued_cert_free(c);
}

static int take_string(const cJSON *obj, const char *name, size_t max, bool required, char **ret, struct tp_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!item && !required) {
		*ret = NULL;
		return 0;
	}
	if (!cJSON_IsString(item) || !item->valuestring[0])
		return tp_error_set(err, EX_DATAERR, "the service's answer has no \"%s\" string", name);
	if (strlen(item->valuestring) > max)
		return tp_error_set(err, EX_DATAERR, "the service's \"%s\" is longer than %zu bytes", name, max);
	*ret = strdup(item->valuestring);
	return *ret ? 0 : tp_error_oom(err);
}

bool tp_iot_aws_cert_id(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!isdigit((unsigned char)id[i]) && !(id[i] >= 'a' && id[i] <= 'f'))
			return false;
	return i == 64;
}

bool tp_iot_safe_segment(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return i > 0 && i <= max && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* The certificate id: AWS's certificateId, or a gateway's opaque data.id.
 * It goes into a URL path: only a safe path segment is accepted. */
static int take_cert_id(const cJSON *data, char **ret, struct tp_error *err)
{
	const char *name = cJSON_GetObjectItemCaseSensitive(data, "certificateId") ? "certificateId" : "id";

	if (!cJSON_GetObjectItemCaseSensitive(data, name))
		return tp_error_set(err, EX_DATAERR, "the service's answer has no \"certificateId\" string");
	if (take_string(data, name, 128, true, ret, err) < 0)
		return -1;
	if (tp_iot_safe_segment(*ret, 128))
		return 0;
	free(*ret);
	*ret = NULL;
	return tp_error_set(err, EX_DATAERR,
			    "the service's certificate id is neither 64 hex digits nor a plain "
			    "identifier (letters, digits, -_. at most 128)");
}

/* Output members of a create, register or describe answer: only the id is
 * required; the rest is recorded as absent when the service gave none. */
static int parse_issued(const cJSON *data, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	_cleanup_(issued_freep) struct tp_issued_cert c = { 0 };

	if (take_cert_id(data, &c.id, err) < 0 || take_string(data, "certificateArn", 2048, false, &c.arn, err) < 0 ||
	    take_string(data, "certificatePem", TP_CERT_PEM_MAX, false, &c.pem, err) < 0 ||
	    take_string(data, "status", 64, false, &c.status, err) < 0 ||
	    take_string(data, "created_at", 64, false, &c.created_at, err) < 0)
		return -1;
	*ret_cert = c;
	c = (struct tp_issued_cert){ 0 };
	return 0;
}

int tp_iot_parse_create(const char *body, size_t len, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	cJSON *root;
	int r;

	if (tp_json_check_text(body, len, "the service's answer", EX_DATAERR, err) < 0)
		return -1;
	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root))
		r = tp_error_set(err, EX_DATAERR, "the service's answer is not a JSON object");
	else
		r = parse_issued(root, ret_cert, err);
	cJSON_Delete(root);
	return r;
}

void tp_issued_cert_free(struct tp_issued_cert *c)
{
	if (!c)
		return;
	free(c->arn);
	free(c->id);
	free(c->pem);
	free(c->status);
	free(c->created_at);
	memset(c, 0, sizeof(*c));
}

/* A failed answer as the error of the request that got it. */
static int fail(const struct tp_service *svc, const struct tp_http_request *req, const struct tp_answer *a,
		struct tp_error *err)
{
	_cleanup_free_ char *what = NULL;

	if (asprintf(&what, "%s %s%s", req->method, svc->endpoint, req->path) < 0)
		return tp_error_oom(err);
	return tp_answer_fail(a, what, err);
}

/* One operation: call, fail on an error answer, hand back the answer. */
static int operation(const struct tp_service *svc, const struct tp_http_request *req, struct tp_answer *ret,
		     struct tp_error *err)
{
	_cleanup_answer_ struct tp_answer a = { 0 };

	if (tp_http_call(svc, req, &a, err) < 0)
		return -1;
	if (a.failed)
		return fail(svc, req, &a, err);
	*ret = a;
	a = (struct tp_answer){ 0 };
	return 0;
}

/* {"k1": "v1", ...} from NULL-terminated pairs (a NULL value is left out);
 * NULL when out of memory. */
static char *json_body(const char *const *kv)
{
	_cleanup_json_ cJSON *obj = cJSON_CreateObject();

	for (; obj && kv[0]; kv += 2)
		if (kv[1] && !cJSON_AddStringToObject(obj, kv[0], kv[1]))
			return NULL;
	return obj ? cJSON_PrintUnformatted(obj) : NULL;
}

void tp_iot_request_free(struct tp_iot_request *r)
{
	if (!r)
		return;
	free(r->path);
	free(r->body);
	free(r->header);
	*r = (struct tp_iot_request){ 0 };
}

/* method path [body] [header]: the strings are taken (NULL: out of
 * memory, unless absent on purpose). */
static int request(const char *method, char *path_in, char *body_in, bool has_body, char *header_in, bool has_header,
		   struct tp_iot_request *ret, struct tp_error *err)
{
	_cleanup_free_ char *path = path_in, *body = body_in, *header = header_in;

	if (!path || (has_body && !body) || (has_header && !header))
		return tp_error_oom(err);
	ret->http = (struct tp_http_request){ .method = method, .path = path, .body = body, .header = header };
	ret->path = TAKE_PTR(path);
	ret->body = TAKE_PTR(body);
	ret->header = TAKE_PTR(header);
	return 0;
}

static __attribute__((format(printf, 1, 2))) char *path_of(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : p;
}

static int check_segment(const char *what, const char *s, int code, struct tp_error *err)
{
	if (tp_iot_safe_segment(s, 128))
		return 0;
	return tp_error_set(err, code, "%s \"%s\" cannot be sent in a URL path by this client", what, s);
}

int tp_iot_request_create(const char *csr_pem, struct tp_iot_request *ret, struct tp_error *err)
{
	const char *kv[] = { "certificateSigningRequest", csr_pem, NULL, NULL };

	return request("POST", strdup("/certificates?setAsActive=true"), json_body(kv), true, NULL, false, ret, err);
}

int tp_iot_request_describe(const char *id, struct tp_iot_request *ret, struct tp_error *err)
{
	if (check_segment("certificate id", id, EX_DATAERR, err) < 0)
		return -1;
	return request("GET", path_of("/certificates/%s", id), NULL, false, NULL, false, ret, err);
}

int tp_iot_request_update(const char *id, const char *new_status, struct tp_iot_request *ret, struct tp_error *err)
{
	if (check_segment("certificate id", id, EX_DATAERR, err) < 0)
		return -1;
	return request("PUT", path_of("/certificates/%s?newStatus=%s", id, new_status), strdup("{}"), true, NULL, false,
		       ret, err);
}

int tp_iot_request_create_thing(const char *thing, struct tp_iot_request *ret, struct tp_error *err)
{
	if (check_segment("thing name", thing, EX_USAGE, err) < 0)
		return -1;
	return request("POST", path_of("/things/%s", thing), strdup("{}"), true, NULL, false, ret, err);
}

int tp_iot_request_attach_thing(const char *thing, const char *cert_arn, struct tp_iot_request *ret,
				struct tp_error *err)
{
	if (check_segment("thing name", thing, EX_USAGE, err) < 0)
		return -1;
	return request("PUT", path_of("/things/%s/principals", thing), strdup("{}"), true,
		       path_of("x-amzn-principal: %s", cert_arn), true, ret, err);
}

int tp_iot_request_attach_policy(const char *policy, const char *cert_arn, struct tp_iot_request *ret,
				 struct tp_error *err)
{
	const char *kv[] = { "target", cert_arn, NULL, NULL };

	if (check_segment("policy name", policy, EX_USAGE, err) < 0)
		return -1;
	return request("PUT", path_of("/target-policies/%s", policy), json_body(kv), true, NULL, false, ret, err);
}

int tp_iot_answer_issued(const struct tp_answer *a, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	return parse_issued(a->data, ret_cert, err);
}

int tp_iot_answer_described(const struct tp_answer *a, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	_cleanup_(issued_freep) struct tp_issued_cert c = { 0 };
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(a->data, "certificateDescription");

	if (!cJSON_IsObject(desc))
		return tp_error_set(err, EX_DATAERR, "the answer has no \"certificateDescription\"");
	if (parse_issued(desc, &c, err) < 0 ||
	    (!c.pem && take_string(desc, "certificatePem", TP_CERT_PEM_MAX, true, &c.pem, err) < 0))
		return -1;
	*ret_cert = c;
	c = (struct tp_issued_cert){ 0 };
	return 0;
}

int tp_iot_describe_certificate(const struct tp_service *svc, const char *id, struct tp_issued_cert *ret_cert,
				struct tp_error *err)
{
	_cleanup_(tp_iot_request_free) struct tp_iot_request req = { 0 };
	_cleanup_answer_ struct tp_answer a = { 0 };

	if (tp_iot_request_describe(id, &req, err) < 0 || operation(svc, &req.http, &a, err) < 0)
		return -1;
	if (tp_iot_answer_described(&a, ret_cert, err) < 0) {
		tp_error_append(err, "GET %s%s", svc->endpoint, req.path);
		return -1;
	}
	return 0;
}

/* A 409 for exactly this certificate: the success a crashed run could not
 * record.  0 with *ret filled (the ARN when the answer names it), or
 * TP_MISSING when the answer is another 409 or another failure. */
static int already_registered(const struct tp_answer *a, const char *cert_id, struct tp_issued_cert *ret,
			      struct tp_error *err)
{
	const char *existing = tp_aws_string_member(a->root, "resourceId", NULL);
	const char *arn = tp_aws_string_member(a->root, "resourceArn", NULL);

	if (a->status != 409 || strcmp(a->aws.type, "ResourceAlreadyExistsException") != 0 || !existing ||
	    strcmp(existing, cert_id) != 0)
		return TP_MISSING;
	ret->id = strdup(cert_id);
	ret->arn = arn ? strdup(arn) : NULL;
	return ret->id && (ret->arn || !arn) ? 0 : tp_error_oom(err);
}

/* Why: a device whose TPM key already has a certificate (from a factory
 * CA) only needs AWS IoT to know it.  A rerun after a crash meets 409 for
 * the same certificate, which is the success it could not record. */
int tp_iot_register(const struct tp_service *svc, const char *cert_pem, const char *ca_pem, bool no_ca,
		    const char *status, const char *cert_id, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	const char *path = no_ca ? "/certificate/register-no-ca" : "/certificate/register";
	const char *kv[] = {
		"certificatePem", cert_pem, "caCertificatePem", no_ca ? NULL : ca_pem, "status", status, NULL, NULL
	};
	_cleanup_(issued_freep) struct tp_issued_cert c = { 0 };
	_cleanup_answer_ struct tp_answer a = { 0 };
	_cleanup_free_ char *body = json_body(kv), *what = NULL;
	const struct tp_http_request req = { .method = "POST", .path = path, .body = body };
	int r;

	if (!body || asprintf(&what, "POST %s%s", svc->endpoint, path) < 0)
		return tp_error_oom(err);
	if (tp_http_call(svc, &req, &a, err) < 0)
		return -1;
	if (a.failed) {
		r = already_registered(&a, cert_id, &c, err);
		if (r == TP_MISSING)
			return fail(svc, &req, &a, err);
		if (r < 0)
			return -1;
	} else if (parse_issued(a.data, &c, err) < 0) {
		tp_error_append(err, "%s", what);
		return -1;
	}
	if (strcmp(c.id, cert_id) != 0)
		return tp_error_set(err, EX_DATAERR, "%s: the service registered certificate %s, not %s", what, c.id,
				    cert_id);
	*ret_cert = c;
	c = (struct tp_issued_cert){ 0 };
	return 0;
}

/* Why: the agent connects to the account's own data endpoint, which only
 * the service can name. */
int tp_iot_describe_endpoint(const struct tp_service *svc, char **ret_host, struct tp_error *err)
{
	static const char path[] = "/endpoint?endpointType=iot%3AData-ATS";
	_cleanup_answer_ struct tp_answer a = { 0 };
	_cleanup_free_ char *host = NULL;
	size_t i;

	if (operation(svc, &(struct tp_http_request){ .method = "GET", .path = path }, &a, err) < 0)
		return -1;
	if (take_string(a.data, "endpointAddress", 253, true, &host, err) < 0) {
		tp_error_append(err, "GET %s%s", svc->endpoint, path);
		return -1;
	}
	for (i = 0; host[i]; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-')
			return tp_error_set(err, EX_DATAERR, "GET %s%s: the endpointAddress is not a host name",
					    svc->endpoint, path);
	*ret_host = TAKE_PTR(host);
	return 0;
}

int tp_iot_policy_failure(const struct tp_answer *a, const char *endpoint, const char *path, const char *policy,
			  struct tp_error *err)
{
	_cleanup_free_ char *what = NULL;

	if (a->status == 404 && strcmp(a->aws.type, "ResourceNotFoundException") == 0)
		return tp_error_set(err, EX_DATAERR,
				    "PUT %s%s: policy \"%s\" does not exist (HTTP 404 %s): create it, "
				    "then run again",
				    endpoint, path, policy, a->aws.type);
	if (asprintf(&what, "PUT %s%s", endpoint, path) < 0)
		return tp_error_oom(err);
	return tp_answer_fail(a, what, err);
}
