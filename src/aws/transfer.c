/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Every request is signed with SigV4 by libcurl and sent over verified TLS.
 * libcurl hashes whatever the POST body holds, so each attempt gets a fresh
 * handle.
 */
#include "src/aws/transfer.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "src/base/cleanup.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 20000
#define CONNECT_TIMEOUT_MS 10000L

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct tp_http_response *r = userdata;
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
	struct tp_http_response *r = userdata;
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

#define SETOPT(curl, opt, value)                                                                                       \
	do {                                                                                                           \
		CURLcode c_ = curl_easy_setopt(curl, opt, value);                                                      \
		if (c_ != CURLE_OK)                                                                                    \
			return c_;                                                                                     \
	} while (0)

/* Where to, over what, for how long. */
static CURLcode set_transport(CURL *curl, struct tp_transfer *t)
{
	SETOPT(curl, CURLOPT_URL, t->url);
	SETOPT(curl, CURLOPT_PROTOCOLS_STR, t->svc->allow_http ? "http,https" : "https");
	SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->svc->ca_bundle)
		SETOPT(curl, CURLOPT_CAINFO, t->svc->ca_bundle);
	SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS,
	       t->timeout_ms < CONNECT_TIMEOUT_MS ? t->timeout_ms : CONNECT_TIMEOUT_MS);
	SETOPT(curl, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
	SETOPT(curl, CURLOPT_ERRORBUFFER, t->errbuf);
	return CURLE_OK;
}

/* SigV4 by libcurl; the headers it signs; the body it hashes. */
static CURLcode set_request(CURL *curl, struct tp_transfer *t, struct curl_slist *headers, const char *sigv4)
{
	SETOPT(curl, CURLOPT_AWS_SIGV4, sigv4);
	SETOPT(curl, CURLOPT_USERNAME, t->svc->creds->access_key_id);
	SETOPT(curl, CURLOPT_PASSWORD, t->svc->creds->secret_access_key);
	SETOPT(curl, CURLOPT_HTTPHEADER, headers);
	SETOPT(curl, CURLOPT_USERAGENT, "tpm-provision/" PACKAGE_VERSION);
	SETOPT(curl, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(curl, CURLOPT_WRITEDATA, &t->resp);
	SETOPT(curl, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(curl, CURLOPT_HEADERDATA, &t->resp);
	if (!t->body) {
		SETOPT(curl, CURLOPT_HTTPGET, 1L);
		return CURLE_OK;
	}
	SETOPT(curl, CURLOPT_POSTFIELDS, t->body);
	SETOPT(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
	/* PUT with a body: POST's body handling, PUT's method (which is
	 * what SigV4 signs). */
	if (strcmp(t->method, "POST") != 0)
		SETOPT(curl, CURLOPT_CUSTOMREQUEST, t->method);
	return CURLE_OK;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* Append line to *headers; on failure free them all and leave NULL. */
static void append_header(struct curl_slist **headers, const char *line)
{
	struct curl_slist *h = *headers && line ? curl_slist_append(*headers, line) : NULL;

	if (!h)
		curl_slist_free_all(*headers);
	*headers = h;
}

/* The request headers.  curl does not add the session token itself; as a
 * header it is part of the signature.  NULL when out of memory. */
static struct curl_slist *request_headers(const struct tp_transfer *t)
{
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	char *token = NULL;

	if (t->body)
		append_header(&headers, "Content-Type: application/json");
	if (t->header)
		append_header(&headers, t->header);
	if (t->svc->creds->session_token) {
		if (asprintf(&token, "x-amz-security-token: %s", t->svc->creds->session_token) < 0)
			token = NULL;
		append_header(&headers, token);
		free_secret(token);
	}
	return headers;
}

/* Wipe the headers (the session token) before freeing them. */
static void headers_freep(struct curl_slist **headers)
{
	struct curl_slist *h;

	for (h = *headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(*headers);
}

int tp_transfer_start(struct tp_transfer *t, const struct tp_service *svc, const struct tp_http_request *req,
		      long timeout_ms, struct tp_error *err)
{
	char sigv4[160];

	*t = (struct tp_transfer){ .svc = svc,
				   .method = req->method,
				   .body = req->body,
				   .header = req->header,
				   .timeout_ms = timeout_ms,
				   .resp = { .retry_after = -1 } };
	if (asprintf(&t->url, "%s%s", svc->endpoint, req->path) < 0) {
		t->url = NULL;
		return tp_error_oom(err);
	}
	t->headers = request_headers(t);
	t->curl = curl_easy_init();
	if (!t->curl || !t->headers)
		return tp_error_set(err, EX_IOERR, "cannot initialise libcurl");
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", svc->region, svc->signing_name);
	if (set_transport(t->curl, t) != CURLE_OK || set_request(t->curl, t, t->headers, sigv4) != CURLE_OK)
		return tp_error_set(err, EX_IOERR, "libcurl does not support what %s %s needs (SigV4, https)",
				    t->method, t->url);
	return 0;
}

/* Whether the handshake failed because the server's certificate could not
 * be verified, however OpenSSL words it: a CA in the bundle with the
 * server's issuer's name and key id but another key (a rotated private
 * CA, a re-generated inspection proxy) fails the signature check inside
 * the EVP layer, which libcurl reports as a connect error, not as a
 * verification failure.  No retry makes such a server trusted. */
static bool not_trusted(struct tp_transfer *t, CURLcode c)
{
	long result = 0;

	if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE)
		return true;
	return c == CURLE_SSL_CONNECT_ERROR &&
	       curl_easy_getinfo(t->curl, CURLINFO_SSL_VERIFYRESULT, &result) == CURLE_OK && result != 0;
}

/* What a transfer that ended with c got: t->resp (any HTTP status), or a
 * transport error naming the URL. */
static int transport_result(struct tp_transfer *t, CURLcode c, bool *ret_retryable, struct tp_error *err)
{
	*ret_retryable = false;
	if (c == CURLE_WRITE_ERROR && t->resp.too_large)
		return tp_error_set(err, EX_DATAERR, "%s %s: answer larger than %d bytes", t->method, t->url,
				    TP_RESPONSE_MAX);
	/* libcurl refuses a header line over 100 KB as "out of memory" (a real
	 * lack of memory during a transfer being far less likely): it is a
	 * malformed answer, and retrying it will not help. */
	if (c == CURLE_OUT_OF_MEMORY)
		return tp_error_set(err, EX_DATAERR,
				    "%s %s: a malformed answer: libcurl could not take it in "
				    "(a header over 100 KB?)",
				    t->method, t->url);
	/* The URL's scheme was checked before anything was done, so libcurl's
	 * "unsupported protocol" here is an answer that is not HTTP (it takes
	 * one for HTTP/0.9): a bad answer, not a configuration error. */
	if (c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_WEIRD_SERVER_REPLY)
		return tp_error_set(err, EX_DATAERR, "%s %s: not an HTTP answer (%s)", t->method, t->url,
				    t->errbuf[0] ? t->errbuf : curl_easy_strerror(c));
	if (c != CURLE_OK) {
		bool untrusted = not_trusted(t, c);

		*ret_retryable = !untrusted && curl_retryable(c);
		tp_error_set(err, untrusted ? EX_CONFIG : curl_exit_code(c), "%s %s: %s", t->method, t->url,
			     t->errbuf[0] ? t->errbuf : curl_easy_strerror(c));
		if (untrusted)
			tp_error_append(err, "the endpoint's certificate is not trusted: give its CA with --ca-bundle "
					     "FILE or AWS_CA_BUNDLE");
		return -1;
	}
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->resp.status);
	return 0;
}

int tp_transfer_end(struct tp_transfer *t, CURLcode c, struct tp_answer *a, bool *retryable, struct tp_error *err)
{
	_cleanup_free_ char *what = NULL;
	int r;

	*a = (struct tp_answer){ .retry_after = -1 };
	r = transport_result(t, c, retryable, err);
	if (r == 0 && asprintf(&what, "%s %s", t->method, t->url) < 0)
		r = tp_error_oom(err);
	if (r == 0)
		r = tp_answer_decode(&t->resp, what, a, err);
	if (r < 0 || !a->failed || !tp_aws_retryable(a->status, a->aws.type))
		return r;
	tp_error_set(err, tp_aws_error_exit_code(a->status, a->aws.type), "HTTP %ld%s%s", a->status,
		     a->aws.type[0] ? " " : "", a->aws.type);
	*retryable = true;
	return -1;
}

void tp_transfer_free(struct tp_transfer *t)
{
	if (!t)
		return;
	headers_freep(&t->headers);
	curl_easy_cleanup(t->curl);
	tp_http_response_free(&t->resp);
	free(t->url);
	*t = (struct tp_transfer){ 0 };
}

void tp_note_answer(const struct tp_service *svc, const struct tp_transfer *t)
{
	_cleanup_free_ char *line = NULL;

	if (!svc->note_debug || !t->resp.status)
		return;
	if (asprintf(&line, "%s %s: HTTP %ld%s%s (request id %s)", t->method, t->url, t->resp.status,
		     t->resp.error_type[0] ? " " : "", t->resp.error_type,
		     t->resp.request_id[0] ? t->resp.request_id : "none") >= 0)
		svc->note_debug(line);
}

void tp_note_retry(const struct tp_service *svc, const struct tp_http_request *req, double delay, unsigned attempt,
		   double left, const struct tp_error *e)
{
	_cleanup_free_ char *line = NULL, *prefix = NULL;
	const char *why = e->msg;

	if (!svc->note_retry)
		return;
	if (asprintf(&prefix, "%s %s%s: ", req->method, svc->endpoint, req->path) >= 0 &&
	    strncmp(why, prefix, strlen(prefix)) == 0)
		why += strlen(prefix);
	if (asprintf(&line, "%s %s: attempt %u failed (%s); retrying in %.1fs, %.0fs left", req->method, req->path,
		     attempt, why, delay, left) >= 0)
		svc->note_retry(line);
}

/* Full jitter: uniformly random in [0, min(cap, base * 2^attempt)]. */
double tp_backoff_seconds(unsigned attempt)
{
	unsigned long ceiling = BACKOFF_BASE_MS;

	while (attempt-- > 0 && ceiling < BACKOFF_CAP_MS)
		ceiling *= 2;
	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	return arc4random_uniform((uint32_t)ceiling + 1) / 1000.0;
}
