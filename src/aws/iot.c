#include "src/aws/iot.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/cleanup.h"

TP_DEFINE_POINTER_CLEANUP(cJSON, cJSON_Delete)

static void answer_freep(struct tp_answer *a)
{
	tp_answer_free(a);
}
#define _cleanup_answer_ _cleanup_(answer_freep)

static void issued_freep(struct tp_issued_cert *c)
{
	tp_issued_cert_free(c);
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
	return *ret ? 0 : tp_error_oom(err);
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
	_cleanup_(issued_freep) struct tp_issued_cert c = { 0 };

	if (take_string(data, "certificateArn", 2048, true, &c.arn, err) < 0 ||
	    take_string(data, "certificateId", 128, true, &c.id, err) < 0 ||
	    take_string(data, "certificatePem", TP_CERT_PEM_MAX, false, &c.pem, err) < 0)
		return -1;
	if (!valid_cert_id(c.id))
		return tp_error_set(err, EX_DATAERR, "the service's certificateId is not 64 hex digits");
	*ret_cert = c;
	c = (struct tp_issued_cert){ 0 };
	return 0;
}

int tp_iot_parse_create(const char *body, size_t len, struct tp_issued_cert *ret_cert, struct tp_error *err)
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

/* "METHOD https://endpoint/path", for errors. */
static int describe_request(const struct tp_service *svc, const char *method, const char *path, char **ret,
			    struct tp_error *err)
{
	return asprintf(ret, "%s %s%s", method, svc->endpoint, path) < 0 ? tp_error_oom(err) : 0;
}

/* One operation: call, fail on an error answer, hand back the answer. */
static int operation(const struct tp_service *svc, const char *method, const char *path, const char *body,
		     struct tp_answer *ret, struct tp_error *err)
{
	_cleanup_answer_ struct tp_answer a = { 0 };
	_cleanup_free_ char *what = NULL;

	if (tp_http_call(svc, method, path, body, &a, err) < 0)
		return -1;
	if (a.failed)
		return describe_request(svc, method, path, &what, err) < 0 ? -1 : tp_answer_fail(&a, what, err);
	*ret = a;
	a = (struct tp_answer){ 0 };
	return 0;
}

/* DescribeCertificate: some gateways answer a create with the id only. */
static int describe_certificate_pem(const struct tp_service *svc, const char *id, char **ret_pem,
				    struct tp_error *err)
{
	_cleanup_answer_ struct tp_answer a = { 0 };
	_cleanup_free_ char *path = NULL;
	const cJSON *desc;

	if (asprintf(&path, "/certificates/%s", id) < 0)
		return tp_error_oom(err);
	if (operation(svc, "GET", path, NULL, &a, err) < 0)
		return -1;
	desc = cJSON_GetObjectItemCaseSensitive(a.data, "certificateDescription");
	if (!cJSON_IsObject(desc))
		return tp_error_set(err, EX_DATAERR, "GET %s%s: the answer has no \"certificateDescription\"",
				    svc->endpoint, path);
	return take_string(desc, "certificatePem", TP_CERT_PEM_MAX, true, ret_pem, err);
}

/* {"k1": "v1", ...} from NULL-terminated pairs (a NULL value is left out);
 * NULL when out of memory. */
static char *json_body(const char *const *kv)
{
	_cleanup_(cJSON_Deletep) cJSON *obj = cJSON_CreateObject();

	for (; obj && kv[0]; kv += 2)
		if (kv[1] && !cJSON_AddStringToObject(obj, kv[0], kv[1]))
			return NULL;
	return obj ? cJSON_PrintUnformatted(obj) : NULL;
}

/* Why: CreateCertificateFromCsr has AWS IoT issue a certificate for the
 * TPM key without the private key ever leaving the device. */
int tp_iot_create_from_csr(const struct tp_service *svc, const char *csr_pem, struct tp_issued_cert *ret_cert,
			   struct tp_error *err)
{
	static const char path[] = "/certificates?setAsActive=true";
	const char *kv[] = { "certificateSigningRequest", csr_pem, NULL, NULL };
	_cleanup_(issued_freep) struct tp_issued_cert c = { 0 };
	_cleanup_answer_ struct tp_answer a = { 0 };
	_cleanup_free_ char *body = json_body(kv);

	if (!body)
		return tp_error_oom(err);
	if (operation(svc, "POST", path, body, &a, err) < 0)
		return -1;
	if (parse_issued(a.data, &c, err) < 0) {
		tp_error_append(err, "POST %s%s", svc->endpoint, path);
		return -1;
	}
	if (!c.pem && describe_certificate_pem(svc, c.id, &c.pem, err) < 0)
		return -1;
	*ret_cert = c;
	c = (struct tp_issued_cert){ 0 };
	return 0;
}

/* A 409 for exactly this certificate: the success a crashed run could not
 * record.  0 with *ret filled, TP_MISSING when the answer is another 409
 * or another failure. */
static int already_registered(const struct tp_answer *a, const char *cert_id, const char *what,
			      struct tp_issued_cert *ret, struct tp_error *err)
{
	const char *existing = tp_aws_string_member(a->root, "resourceId", NULL);
	const char *arn = tp_aws_string_member(a->root, "resourceArn", NULL);

	if (a->status != 409 || strcmp(a->aws.type, "ResourceAlreadyExistsException") != 0 || !existing ||
	    strcmp(existing, cert_id) != 0)
		return TP_MISSING;
	if (!arn)
		return tp_error_set(err, EX_DATAERR, "%s: HTTP 409 for this certificate without its resourceArn", what);
	ret->id = strdup(cert_id);
	ret->arn = strdup(arn);
	return ret->id && ret->arn ? 0 : tp_error_oom(err);
}

/* Why: a device whose TPM key already has a certificate (from a factory
 * CA) only needs AWS IoT to know it.  A rerun after a crash meets 409 for
 * the same certificate, which is the success it could not record. */
int tp_iot_register(const struct tp_service *svc, const char *cert_pem, const char *ca_pem, bool no_ca,
		    const char *status, const char *cert_id, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	const char *path = no_ca ? "/certificate/register-no-ca" : "/certificate/register";
	const char *kv[] = { "certificatePem", cert_pem, "caCertificatePem", no_ca ? NULL : ca_pem,
			     "status", status, NULL, NULL };
	_cleanup_(issued_freep) struct tp_issued_cert c = { 0 };
	_cleanup_answer_ struct tp_answer a = { 0 };
	_cleanup_free_ char *body = json_body(kv), *what = NULL;
	int r;

	if (!body || describe_request(svc, "POST", path, &what, err) < 0)
		return tp_error_oom(err);
	if (tp_http_call(svc, "POST", path, body, &a, err) < 0)
		return -1;
	if (a.failed) {
		r = already_registered(&a, cert_id, what, &c, err);
		if (r == TP_MISSING)
			return tp_answer_fail(&a, what, err);
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

	if (operation(svc, "GET", path, NULL, &a, err) < 0)
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
