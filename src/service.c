/*
 * Every request is signed with SigV4 by libcurl and sent over verified TLS.
 * libcurl 7.88 signs the path and query exactly as written, so paths here
 * are already in canonical form; it hashes whatever the POST body holds, so
 * each attempt gets a fresh handle.
 *
 * Answers come in AWS's rest-json shape, or wrapped by a gateway as
 * {"success": true, "data": {...}} / {"success": false, "error": {...}};
 * both are understood.  Connection failures, timeouts, HTTP 5xx and
 * throttling are retried with capped exponential backoff and full jitter,
 * honouring Retry-After, within the call's deadline.
 */
#include "service.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 20000
#define CONNECT_TIMEOUT_MS 10000L
#define ATTEMPT_TIMEOUT_MS 60000L

struct response {
	long status;
	char *body;
	size_t len;
	bool too_large;
	long retry_after;          /* seconds, -1 when absent */
	char error_type[128];
	char request_id[128];
};

/* A decoded answer: any HTTP status, the JSON document and, for a success,
 * the object holding the operation's output members. */
struct answer {
	long status;
	bool failed;               /* non-2xx, or an envelope saying so */
	cJSON *root;
	const cJSON *data;
	struct tp_aws_error aws;
	char request_id[128];
	long retry_after;
};

static void response_free(struct response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void answer_free(struct answer *a)
{
	cJSON_Delete(a->root);
	memset(a, 0, sizeof(*a));
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct response *r = userdata;
	size_t n = size * nmemb;
	char *grown;

	if (r->len + n > TP_RESPONSE_MAX) {
		r->too_large = true;
		return 0; /* aborts the transfer */
	}
	grown = realloc(r->body, r->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + r->len, data, n);
	r->body = grown;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* Copy a header's value, trimmed, when its name matches. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name), vlen;
	const char *v;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return false;
	v = line + nlen + 1;
	vlen = len - nlen - 1;
	while (vlen && isspace((unsigned char)*v))
		v++, vlen--;
	while (vlen && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	if (vlen >= outsz)
		vlen = outsz - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return true;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct response *r = userdata;
	size_t n = size * nmemb;
	char value[32], *end;
	long secs;

	header_value(data, n, "x-amzn-ErrorType", r->error_type, sizeof(r->error_type));
	header_value(data, n, "x-amzn-RequestId", r->request_id, sizeof(r->request_id));
	if (header_value(data, n, "Retry-After", value, sizeof(value))) {
		/* Only the delta-seconds form; an HTTP date is ignored. */
		secs = strtol(value, &end, 10);
		if (end != value && *end == '\0' && secs >= 0)
			r->retry_after = secs;
	}
	return n;
}

/* Exit code for a curl failure: the service could not be reached, or it
 * could not be trusted (a configuration matter). */
static int curl_exit_code(CURLcode c)
{
	switch (c) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return EX_CONFIG;
	case CURLE_OUT_OF_MEMORY:
		return EX_IOERR;
	default:
		return EX_UNAVAILABLE;
	}
}

static bool curl_retryable(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* One signed request.  Fills resp (any HTTP status), or fails with a
 * transport error naming the URL; *ret_retryable says whether trying again
 * may help. */
static int http_once(const struct tp_service *svc, const char *method, const char *url, const char *body,
		     long timeout_ms, struct response *resp, bool *ret_retryable, struct tp_error *err)
{
	char sigv4[160], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *h;
	char *token_header = NULL;
	CURLcode c;
	CURL *curl;
	int r = -1;

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", svc->region, svc->signing_name);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	*ret_retryable = false;

	curl = curl_easy_init();
	if (!curl)
		return tp_error_set(err, EX_IOERR, "cannot initialise libcurl");
	headers = curl_slist_append(headers, "Accept: application/json");
	if (headers && body)
		headers = (h = curl_slist_append(headers, "Content-Type: application/json")) ? h : headers;
	if (headers && svc->creds->session_token) {
		/* curl does not add the session token itself; as a header it is
		 * part of the signature. */
		if (asprintf(&token_header, "x-amz-security-token: %s", svc->creds->session_token) < 0)
			token_header = NULL;
		h = token_header ? curl_slist_append(headers, token_header) : NULL;
		headers = h;
	}
	if (!headers) {
		tp_error_set(err, EX_IOERR, "out of memory");
		goto out;
	}

	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, svc->allow_http ? "http,https" : "https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (svc->ca_bundle && curl_easy_setopt(curl, CURLOPT_CAINFO, svc->ca_bundle) != CURLE_OK) ||
	    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERNAME, svc->creds->access_key_id) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PASSWORD, svc->creds->secret_access_key) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tpm-provision/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp) != CURLE_OK ||
	    (body && (curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
		      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK)) ||
	    (!body && curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) != CURLE_OK)) {
		tp_error_set(err, EX_IOERR, "libcurl does not support what %s %s needs (SigV4, https)", method, url);
		goto out;
	}

	c = curl_easy_perform(curl);
	if (c == CURLE_WRITE_ERROR && resp->too_large) {
		tp_error_set(err, EX_DATAERR, "%s %s: answer larger than %d bytes", method, url, TP_RESPONSE_MAX);
		goto out;
	}
	if (c != CURLE_OK) {
		*ret_retryable = curl_retryable(c);
		tp_error_set(err, curl_exit_code(c), "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(c));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	r = 0;
out:
	if (token_header) {
		explicit_bzero(token_header, strlen(token_header));
		free(token_header);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (r < 0)
		response_free(resp);
	return r;
}

/* Copy untrusted text for an error line: first line only, printable. */
static void copy_text(char *out, size_t outsz, const char *in)
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

	copy_text(out, outsz, hash ? hash + 1 : in);
	out[strcspn(out, ":")] = '\0';
}

static const char *string_member(const cJSON *obj, const char *a, const char *b)
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

	if (!out->type[0] && (s = string_member(from, "__type", "code")))
		copy_type(out->type, sizeof(out->type), s);
	if ((s = string_member(from, "message", "Message")))
		copy_text(out->message, sizeof(out->message), s);
}

void tp_service_parse_error(const char *type_header, const char *body, size_t len, struct tp_aws_error *out)
{
	cJSON *root;

	memset(out, 0, sizeof(*out));
	/* The header wins over the body, as in AWS SDKs. */
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
	"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
	"RequestLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", NULL,
};

bool tp_service_retryable(long http_status, const char *type)
{
	return in_list(type, throttling) || http_status == 429 || http_status == 500 || http_status == 502 ||
	       http_status == 503 || http_status == 504;
}

int tp_service_error_exit_code(long http_status, const char *type)
{
	static const char *const temporary[] = {
		"ServiceUnavailableException", "InternalFailureException", "InternalException",
		"InternalServerException", "RequestTimeoutException", NULL,
	};
	static const char *const permission[] = {
		"UnauthorizedException", "InvalidSignatureException", "UnrecognizedClientException",
		"AccessDeniedException", "ForbiddenException", "MissingAuthenticationTokenException",
		"IncompleteSignatureException", "ExpiredTokenException", "InvalidClientTokenId",
		"SignatureDoesNotMatch", NULL,
	};

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

/* Decode an HTTP answer.  A 2xx must be a JSON object; a gateway envelope
 * is unwrapped (or turned into the failure it reports). */
static int decode_answer(struct response *resp, const char *method, const char *url, struct answer *ret,
			 struct tp_error *err)
{
	struct answer a = { .status = resp->status, .retry_after = resp->retry_after };
	const cJSON *success;

	copy_text(a.request_id, sizeof(a.request_id), resp->request_id);
	if (resp->error_type[0])
		copy_type(a.aws.type, sizeof(a.aws.type), resp->error_type);
	a.root = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
	a.failed = resp->status < 200 || resp->status > 299;
	if (a.failed) {
		if (cJSON_IsObject(a.root))
			error_from_json(a.root, &a.aws);
		*ret = a;
		return 0;
	}
	if (!cJSON_IsObject(a.root)) {
		answer_free(&a);
		return tp_error_set(err, EX_DATAERR, "%s %s: HTTP %ld with an answer that is not a JSON object", method,
				    url, resp->status);
	}
	a.data = a.root;
	success = cJSON_GetObjectItemCaseSensitive(a.root, "success");
	if (cJSON_IsBool(success)) {
		if (cJSON_IsFalse(success)) {
			a.failed = true;
			error_from_json(a.root, &a.aws);
		} else {
			a.data = cJSON_GetObjectItemCaseSensitive(a.root, "data");
			if (!cJSON_IsObject(a.data)) {
				answer_free(&a);
				return tp_error_set(err, EX_DATAERR, "%s %s: the answer's envelope has no \"data\" object",
						    method, url);
			}
		}
	}
	*ret = a;
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Full jitter: uniformly random in [0, min(cap, base * 2^attempt)]. */
static double backoff_seconds(unsigned attempt)
{
	unsigned long ceiling = BACKOFF_BASE_MS;

	while (attempt-- > 0 && ceiling < BACKOFF_CAP_MS)
		ceiling *= 2;
	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	return arc4random_uniform((uint32_t)ceiling + 1) / 1000.0;
}

/* Why retries live here: a device on first boot meets flaky networks and a
 * throttled service; a few seconds' patience saves a failed boot. */
static int call(const struct tp_service *svc, const char *method, const char *path, const char *body,
		struct answer *ret, struct tp_error *err)
{
	const unsigned deadline = svc->deadline ? svc->deadline : TP_DEFAULT_DEADLINE;
	const double start = now_seconds();
	char url[2048], line[3300];
	struct response resp;
	struct answer a;
	struct tp_error attempt_err;
	double left, delay;
	unsigned attempt;
	bool retryable;

	snprintf(url, sizeof(url), "%s%s", svc->endpoint, path);
	for (attempt = 1;; attempt++) {
		memset(&attempt_err, 0, sizeof(attempt_err));
		left = deadline - (now_seconds() - start);
		if (http_once(svc, method, url, body, left > 1 ? (long)(left * 1000) : 1000, &resp, &retryable,
			      &attempt_err) == 0) {
			int r = decode_answer(&resp, method, url, &a, &attempt_err);

			response_free(&resp);
			if (r < 0) {
				*err = attempt_err;
				return -1;
			}
			if (!a.failed || !tp_service_retryable(a.status, a.aws.type)) {
				*ret = a;
				return 0;
			}
			snprintf(attempt_err.msg, sizeof(attempt_err.msg), "HTTP %ld%s%s", a.status,
				 a.aws.type[0] ? " " : "", a.aws.type);
			attempt_err.exit_code = tp_service_error_exit_code(a.status, a.aws.type);
			retryable = true;
		} else {
			a = (struct answer){ .retry_after = -1 };
		}
		if (!retryable) {
			answer_free(&a);
			*err = attempt_err;
			return -1;
		}
		delay = backoff_seconds(attempt - 1);
		if (a.retry_after >= 0 && (double)a.retry_after > delay)
			delay = (double)a.retry_after;
		left = deadline - (now_seconds() - start);
		if (delay >= left) {
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
		answer_free(&a);
		if (svc->note_retry) {
			snprintf(line, sizeof(line), "retrying %s %s in %.1fs (attempt %u failed: %s)", method, url, delay,
				 attempt, attempt_err.msg);
			svc->note_retry(line);
		}
		sleep_seconds(delay);
	}
}

/* A failed answer as one error line: URL, status, AWS type, message, id. */
static int fail_answer(const char *method, const struct tp_service *svc, const char *path, const struct answer *a,
		       struct tp_error *err)
{
	tp_error_set(err, tp_service_error_exit_code(a->status < 400 ? 400 : a->status, a->aws.type),
		     "%s %s%s: HTTP %ld%s%s%s%s", method, svc->endpoint, path, a->status, a->aws.type[0] ? " " : "",
		     a->aws.type, a->aws.message[0] ? ": " : "", a->aws.message);
	if (a->request_id[0])
		tp_error_append(err, "request id %s", a->request_id);
	return -1;
}

static int take_string(const cJSON *obj, const char *name, size_t max, bool required, char **ret,
		       struct tp_error *err)
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
	if (!*ret)
		return tp_error_set(err, EX_IOERR, "out of memory");
	return 0;
}

/* A certificate id goes into a URL path: only what AWS issues, 64 lowercase
 * hex digits. */
static bool valid_cert_id(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!isdigit((unsigned char)id[i]) && !(id[i] >= 'a' && id[i] <= 'f'))
			return false;
	return i == 64;
}

/* Output members of a create or register answer (PEM optional). */
static int parse_issued(const cJSON *data, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	struct tp_issued_cert c = { 0 };

	if (take_string(data, "certificateArn", 2048, true, &c.arn, err) < 0 ||
	    take_string(data, "certificateId", 128, true, &c.id, err) < 0 ||
	    take_string(data, "certificatePem", TP_CERT_PEM_MAX, false, &c.pem, err) < 0) {
		tp_issued_cert_free(&c);
		return -1;
	}
	if (!valid_cert_id(c.id)) {
		tp_issued_cert_free(&c);
		return tp_error_set(err, EX_DATAERR, "the service's certificateId is not 64 hex digits");
	}
	*ret_cert = c;
	return 0;
}

int tp_service_parse_create(const char *body, size_t len, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	int r;

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
	memset(c, 0, sizeof(*c));
}

/* One operation: call, fail on an error answer, hand back the answer. */
static int operation(const struct tp_service *svc, const char *method, const char *path, const char *body,
		     struct answer *ret, struct tp_error *err)
{
	struct answer a;

	if (call(svc, method, path, body, &a, err) < 0)
		return -1;
	if (a.failed) {
		fail_answer(method, svc, path, &a, err);
		answer_free(&a);
		return -1;
	}
	*ret = a;
	return 0;
}

/* DescribeCertificate: some gateways answer a create with the id only. */
static int describe_certificate_pem(const struct tp_service *svc, const char *id, char **ret_pem,
				    struct tp_error *err)
{
	const cJSON *desc;
	struct answer a;
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/certificates/%s", id);
	if (operation(svc, "GET", path, NULL, &a, err) < 0)
		return -1;
	desc = cJSON_GetObjectItemCaseSensitive(a.data, "certificateDescription");
	if (!cJSON_IsObject(desc))
		r = tp_error_set(err, EX_DATAERR, "GET %s%s: the answer has no \"certificateDescription\"",
				 svc->endpoint, path);
	else
		r = take_string(desc, "certificatePem", TP_CERT_PEM_MAX, true, ret_pem, err);
	answer_free(&a);
	return r;
}

static char *json_body(const char *const *kv)
{
	cJSON *obj = cJSON_CreateObject();
	char *s = NULL;

	for (; obj && kv[0]; kv += 2)
		if (kv[1] && !cJSON_AddStringToObject(obj, kv[0], kv[1]))
			goto out;
	s = obj ? cJSON_PrintUnformatted(obj) : NULL;
out:
	cJSON_Delete(obj);
	return s;
}

/* Why: CreateCertificateFromCsr has AWS IoT issue a certificate for the
 * TPM key without the private key ever leaving the device. */
int tp_service_create_from_csr(const struct tp_service *svc, const char *csr_pem, struct tp_issued_cert *ret_cert,
			       struct tp_error *err)
{
	static const char path[] = "/certificates?setAsActive=true";
	const char *kv[] = { "certificateSigningRequest", csr_pem, NULL, NULL };
	struct tp_issued_cert c = { 0 };
	struct answer a = { 0 };
	char *body;
	int r = -1;

	body = json_body(kv);
	if (!body)
		return tp_error_set(err, EX_IOERR, "out of memory");
	if (operation(svc, "POST", path, body, &a, err) < 0)
		goto out;
	if (parse_issued(a.data, &c, err) < 0) {
		tp_error_append(err, "POST %s%s", svc->endpoint, path);
		goto out;
	}
	if (!c.pem && describe_certificate_pem(svc, c.id, &c.pem, err) < 0)
		goto out;
	*ret_cert = c;
	memset(&c, 0, sizeof(c));
	r = 0;
out:
	tp_issued_cert_free(&c);
	answer_free(&a);
	free(body);
	return r;
}

/* Why: a device whose TPM key already has a certificate (from a factory
 * CA) only needs AWS IoT to know it.  A rerun after a crash meets 409 for
 * the same certificate, which is the success it could not record. */
int tp_service_register(const struct tp_service *svc, const char *cert_pem, const char *ca_pem, bool no_ca,
			const char *status, const char *cert_id, struct tp_issued_cert *ret_cert,
			struct tp_error *err)
{
	const char *path = no_ca ? "/certificate/register-no-ca" : "/certificate/register";
	const char *kv[] = { "certificatePem", cert_pem, "caCertificatePem", no_ca ? NULL : ca_pem,
			     "status", status, NULL, NULL };
	struct tp_issued_cert c = { 0 };
	struct answer a = { 0 };
	const char *existing;
	char *body;
	int r = -1;

	body = json_body(kv);
	if (!body)
		return tp_error_set(err, EX_IOERR, "out of memory");
	if (call(svc, "POST", path, body, &a, err) < 0)
		goto out;
	if (a.failed && a.status == 409 && strcmp(a.aws.type, "ResourceAlreadyExistsException") == 0 &&
	    (existing = string_member(a.root, "resourceId", NULL)) && strcmp(existing, cert_id) == 0) {
		c.id = strdup(cert_id);
		c.arn = (existing = string_member(a.root, "resourceArn", NULL)) ? strdup(existing) : NULL;
		if (!c.id || !c.arn) {
			tp_error_set(err, EX_DATAERR, "POST %s%s: HTTP 409 for this certificate without its resourceArn",
				     svc->endpoint, path);
			goto out;
		}
	} else if (a.failed) {
		fail_answer("POST", svc, path, &a, err);
		goto out;
	} else if (parse_issued(a.data, &c, err) < 0) {
		tp_error_append(err, "POST %s%s", svc->endpoint, path);
		goto out;
	} else if (strcmp(c.id, cert_id) != 0) {
		tp_error_set(err, EX_DATAERR, "POST %s%s: the service registered certificate %s, not %s", svc->endpoint,
			     path, c.id, cert_id);
		goto out;
	}
	*ret_cert = c;
	memset(&c, 0, sizeof(c));
	r = 0;
out:
	tp_issued_cert_free(&c);
	answer_free(&a);
	free(body);
	return r;
}

/* Why: the agent connects to the account's own data endpoint, which only
 * the service can name. */
int tp_service_describe_endpoint(const struct tp_service *svc, char **ret_host, struct tp_error *err)
{
	static const char path[] = "/endpoint?endpointType=iot%3AData-ATS";
	struct answer a;
	char *host = NULL;
	size_t i;
	int r;

	if (operation(svc, "GET", path, NULL, &a, err) < 0)
		return -1;
	r = take_string(a.data, "endpointAddress", 253, true, &host, err);
	answer_free(&a);
	if (r < 0) {
		tp_error_append(err, "GET %s%s", svc->endpoint, path);
		return -1;
	}
	for (i = 0; host[i]; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-')
			break;
	if (host[i]) {
		free(host);
		return tp_error_set(err, EX_DATAERR, "GET %s%s: the endpointAddress is not a host name", svc->endpoint,
				    path);
	}
	*ret_host = host;
	return 0;
}
