/*
 * Every request is signed with SigV4 by libcurl and sent over verified TLS.
 * libcurl 7.88 signs the path and query exactly as written, so callers pass
 * them already in canonical form; it hashes whatever the POST body holds, so
 * each request gets a fresh handle.
 */
#include "service.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>


struct response {
	long status;
	char *body;
	size_t len;
	bool too_large;
	char error_type[128];
	char request_id[128];
};

static void response_free(struct response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
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
static void header_value(const char *line, size_t len, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name), vlen;
	const char *v;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return;
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
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct response *r = userdata;
	size_t n = size * nmemb;

	header_value(data, n, "x-amzn-ErrorType", r->error_type, sizeof(r->error_type));
	header_value(data, n, "x-amzn-RequestId", r->request_id, sizeof(r->request_id));
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

/* One signed HTTPS request.  Fills resp (any HTTP status) or fails with a
 * transport error naming the URL. */
static int http_request(const struct tp_service *svc, const char *method, const char *path, const char *body,
			struct response *resp, struct tp_error *err)
{
	char url[2048], sigv4[160], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *h;
	char *token_header = NULL;
	CURLcode c = CURLE_OUT_OF_MEMORY;
	CURL *curl;
	int r = -1;

	snprintf(url, sizeof(url), "%s%s", svc->endpoint, path);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", svc->region, svc->signing_name);
	memset(resp, 0, sizeof(*resp));

	curl = curl_easy_init();
	if (!curl)
		return tp_error_set(err, EX_IOERR, "cannot initialise libcurl");
	headers = curl_slist_append(headers, "Accept: application/json");
	if (headers && body)
		headers = (h = curl_slist_append(headers, "Content-Type: application/json")) ? h : headers;
	if (svc->creds->session_token) {
		/* curl does not add the session token itself; as a header it is
		 * part of the signature. */
		if (asprintf(&token_header, "x-amz-security-token: %s", svc->creds->session_token) < 0)
			token_header = NULL;
		h = token_header ? curl_slist_append(headers, token_header) : NULL;
		if (!h)
			goto fail_oom;
		headers = h;
	}
	if (!headers)
		goto fail_oom;

	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (svc->ca_bundle && curl_easy_setopt(curl, CURLOPT_CAINFO, svc->ca_bundle) != CURLE_OK) ||
	    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERNAME, svc->creds->access_key_id) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PASSWORD, svc->creds->secret_access_key) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tpm-provision/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp) != CURLE_OK)
		goto fail_setopt;
	if (body) {
		if (curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK)
			goto fail_setopt;
	} else if (curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) != CURLE_OK) {
		goto fail_setopt;
	}

	c = curl_easy_perform(curl);
	if (c == CURLE_WRITE_ERROR && resp->too_large) {
		tp_error_set(err, EX_DATAERR, "%s %s: response larger than %d bytes", method, url, TP_RESPONSE_MAX);
		goto out;
	}
	if (c != CURLE_OK) {
		tp_error_set(err, curl_exit_code(c), "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(c));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	r = 0;
	goto out;

fail_setopt:
	tp_error_set(err, EX_IOERR, "libcurl does not support what %s %s needs (SigV4, https)", method, url);
	goto out;
fail_oom:
	tp_error_set(err, EX_IOERR, "out of memory");
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

void tp_service_parse_error(const char *type_header, const char *body, size_t len, struct tp_aws_error *out)
{
	const cJSON *item;
	cJSON *root;
	size_t n;

	memset(out, 0, sizeof(*out));
	/* The header wins: "Type:http://internal.amazon.com/..." -> "Type". */
	if (type_header && *type_header) {
		copy_text(out->type, sizeof(out->type), type_header);
		n = strcspn(out->type, ":");
		out->type[n] = '\0';
	}
	root = body ? cJSON_ParseWithLength(body, len) : NULL;
	if (cJSON_IsObject(root)) {
		if (!out->type[0]) {
			item = cJSON_GetObjectItemCaseSensitive(root, "__type");
			if (!cJSON_IsString(item))
				item = cJSON_GetObjectItemCaseSensitive(root, "code");
			if (cJSON_IsString(item)) {
				/* "__type" may be "namespace#Type". */
				const char *t = strrchr(item->valuestring, '#');
				copy_text(out->type, sizeof(out->type), t ? t + 1 : item->valuestring);
				out->type[strcspn(out->type, ":")] = '\0';
			}
		}
		item = cJSON_GetObjectItemCaseSensitive(root, "message");
		if (!cJSON_IsString(item))
			item = cJSON_GetObjectItemCaseSensitive(root, "Message");
		if (cJSON_IsString(item))
			copy_text(out->message, sizeof(out->message), item->valuestring);
	}
	cJSON_Delete(root);
}

int tp_service_error_exit_code(long http_status, const char *type)
{
	static const char *const temporary[] = {
		"ThrottlingException", "ServiceUnavailableException", "InternalFailureException",
		"InternalException", "InternalServerException", "LimitExceededException",
		"TooManyRequestsException", "RequestTimeoutException", NULL,
	};
	static const char *const permission[] = {
		"UnauthorizedException", "InvalidSignatureException", "UnrecognizedClientException",
		"AccessDeniedException", "ForbiddenException", "MissingAuthenticationTokenException",
		"IncompleteSignatureException", "ExpiredTokenException", "InvalidClientTokenId",
		"SignatureDoesNotMatch", NULL,
	};
	size_t i;

	for (i = 0; type && temporary[i]; i++)
		if (strcmp(type, temporary[i]) == 0)
			return EX_TEMPFAIL;
	for (i = 0; type && permission[i]; i++)
		if (strcmp(type, permission[i]) == 0)
			return EX_NOPERM;
	if (http_status >= 500 || http_status == 429)
		return EX_TEMPFAIL;
	if (http_status == 401 || http_status == 403)
		return EX_NOPERM;
	return EX_DATAERR;
}

/* A non-2xx answer as one error line: URL, status, AWS type and message. */
static int fail_http(const char *method, const struct tp_service *svc, const char *path, const struct response *resp,
		     struct tp_error *err)
{
	struct tp_aws_error e;

	tp_service_parse_error(resp->error_type, resp->body, resp->len, &e);
	tp_error_set(err, tp_service_error_exit_code(resp->status, e.type), "%s %s%s: HTTP %ld%s%s%s%s", method,
		     svc->endpoint, path, resp->status, e.type[0] ? " " : "", e.type, e.message[0] ? ": " : "",
		     e.message);
	if (resp->request_id[0])
		tp_error_append(err, "request id %s", resp->request_id);
	return -1;
}

static int json_string(const cJSON *root, const char *name, char **ret, struct tp_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!cJSON_IsString(item) || !item->valuestring[0])
		return tp_error_set(err, EX_DATAERR, "the service's answer has no \"%s\" string", name);
	*ret = strdup(item->valuestring);
	if (!*ret)
		return tp_error_set(err, EX_IOERR, "out of memory");
	return 0;
}

int tp_service_parse_create(const char *body, size_t len, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	struct tp_issued_cert c = { 0 };
	cJSON *root;
	int r = -1;

	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root)) {
		tp_error_set(err, EX_DATAERR, "the service's answer is not a JSON object");
		goto out;
	}
	if (json_string(root, "certificateArn", &c.arn, err) < 0 ||
	    json_string(root, "certificateId", &c.id, err) < 0 ||
	    json_string(root, "certificatePem", &c.pem, err) < 0)
		goto out;
	*ret_cert = c;
	memset(&c, 0, sizeof(c));
	r = 0;
out:
	tp_issued_cert_free(&c);
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

/* Why: CreateCertificateFromCsr has AWS IoT issue a certificate for the
 * TPM key without the private key ever leaving the device. */
int tp_service_create_from_csr(const struct tp_service *svc, const char *csr_pem, struct tp_issued_cert *ret_cert,
			       struct tp_error *err)
{
	static const char path[] = "/certificates?setAsActive=true";
	struct response resp;
	char *body = NULL;
	cJSON *req;
	int r = -1;

	req = cJSON_CreateObject();
	if (!req || !cJSON_AddStringToObject(req, "certificateSigningRequest", csr_pem) ||
	    !(body = cJSON_PrintUnformatted(req))) {
		cJSON_Delete(req);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	cJSON_Delete(req);

	if (http_request(svc, "POST", path, body, &resp, err) < 0)
		goto out;
	if (resp.status != 200) {
		fail_http("POST", svc, path, &resp, err);
		goto out;
	}
	if (tp_service_parse_create(resp.body, resp.len, ret_cert, err) < 0) {
		tp_error_append(err, "POST %s%s", svc->endpoint, path);
		goto out;
	}
	r = 0;
out:
	response_free(&resp);
	free(body);
	return r;
}
