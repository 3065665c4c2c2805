/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the certificate protocol's state machine (src/cmd/certflow.c),
 * fed answers by hand: accepted, refused while ACTIVE (deactivated),
 * refused while INACTIVE, the attachments, a record resumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/cmd/certflow.h"
#include "src/x509/cert.h"
#include "tests/unit/tap.h"

#define ARN_PREFIX "arn:aws:iot:eu-west-1:123456789012:cert/"

static char *const policies[] = { "p1", "p2", NULL };

/* A certificate for key, valid for a day either side of now. */
static char *make_cert(EVP_PKEY *key, char id[TP_CERT_ID_MAX])
{
	X509 *x = X509_new();
	struct tp_error err = { 0 };
	char *pem = NULL;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	if (tp_cert_id(x, id, &err) < 0 || tp_cert_to_pem(x, &pem, &err) < 0)
		pem = NULL;
	X509_free(x);
	return pem;
}

/* What the journal was told, in order: one letter an event. */
static char events[32];

static int record_event(void *ctx, const struct tp_certflow *f, enum tp_certflow_event event, struct tp_error *err)
{
	static const char letters[] = { [TP_CERTFLOW_SENDING] = 'S',
					[TP_CERTFLOW_RECEIVED] = 'R',
					[TP_CERTFLOW_ATTACHED] = 'A',
					[TP_CERTFLOW_REFUSING] = 'X' };
	size_t n = strlen(events);

	(void)ctx;
	(void)f;
	(void)err;
	if (n + 1 < sizeof(events))
		events[n] = letters[event];
	return 0;
}

/* Feed f a successful answer with body (a JSON object). */
static int answer(struct tp_certflow *f, const char *body, long status, struct tp_error *err)
{
	struct tp_answer a = { .status = status, .failed = status >= 300 };
	int r;

	a.root = cJSON_Parse(body);
	a.data = a.root;
	r = tp_certflow_answer(f, &a, NULL, err);
	cJSON_Delete(a.root);
	return r;
}

static char *create_answer(const char *id, const char *pem, const char *status)
{
	cJSON *o = cJSON_CreateObject();
	char arn[256], *s;

	snprintf(arn, sizeof(arn), ARN_PREFIX "%s", id);
	cJSON_AddStringToObject(o, "certificateId", id);
	cJSON_AddStringToObject(o, "certificateArn", arn);
	if (pem)
		cJSON_AddStringToObject(o, "certificatePem", pem);
	if (status)
		cJSON_AddStringToObject(o, "status", status);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static struct tp_certflow flow_for(EVP_PKEY *key, const char *thing)
{
	memset(events, 0, sizeof(events));
	return (struct tp_certflow){ .key = key,
				     .status = "ACTIVE",
				     .thing = thing,
				     .policies = policies,
				     .endpoint = "https://iot.test",
				     .journal = record_event };
}

static void test_accept(EVP_PKEY *key, const char *id, const char *pem)
{
	struct tp_certflow f = flow_for(key, "thing-1");
	struct tp_error err = { 0 };
	char *body = create_answer(id, pem, NULL);

	tap_ok(tp_certflow_request(&f, "CSR", &err) == 1 && f.step == TP_CERTFLOW_CREATE,
	       "a request starts with the create");
	tap_str(f.req.http.path, "/certificates?setAsActive=true", "the create's path");
	tap_ok(answer(&f, body, 200, &err) == 1 && f.step == TP_CERTFLOW_THING && f.cert, "accepted, then CreateThing");
	tap_str(f.req.http.path, "/things/thing-1", "CreateThing's path");
	tap_ok(answer(&f, "{}", 200, &err) == 1 && f.step == TP_CERTFLOW_PRINCIPAL, "then AttachThingPrincipal");
	tap_ok(f.req.http.header && strstr(f.req.http.header, ARN_PREFIX), "the principal is the certificate's ARN");
	tap_ok(answer(&f, "{}", 200, &err) == 1 && f.step == TP_CERTFLOW_POLICY && f.policy == 0,
	       "then AttachPolicy p1");
	tap_str(f.attached.thing, "thing-1", "the thing is attached");
	tap_ok(answer(&f, "{}", 200, &err) == 1 && f.step == TP_CERTFLOW_POLICY && f.policy == 1,
	       "then AttachPolicy p2");
	tap_str(f.req.http.path, "/target-policies/p2", "AttachPolicy's path");
	tap_ok(answer(&f, "{}", 200, &err) == 0 && f.step == TP_CERTFLOW_ACCEPTED, "then accepted");
	tap_str(events, "SRAAA", "journaled: sending, received, each attachment");
	tp_certflow_free(&f);
	free(body);
}

static void test_describe_after_create(EVP_PKEY *key, const char *id, const char *pem)
{
	struct tp_certflow f = flow_for(key, NULL);
	struct tp_error err = { 0 };
	char *only_id = create_answer(id, NULL, NULL), *full = create_answer(id, pem, "ACTIVE"), *desc = NULL;

	f.policies = NULL;
	tap_ok(asprintf(&desc, "{\"certificateDescription\":%s}", full) > 0, "a describe answer");
	tp_certflow_request(&f, "CSR", &err);
	tap_ok(answer(&f, only_id, 200, &err) == 1 && f.step == TP_CERTFLOW_DESCRIBE,
	       "an answer with only the id: describe");
	tap_ok(answer(&f, desc, 200, &err) == 0 && f.step == TP_CERTFLOW_ACCEPTED && f.issued.pem,
	       "the described certificate accepted; nothing to attach");
	tap_str(events, "SR", "journaled: sending, received");
	tp_certflow_free(&f);
	free(only_id);
	free(full);
	free(desc);
}

static void test_refuse_active(EVP_PKEY *key, const char *id, const char *other_pem)
{
	struct tp_certflow f = flow_for(key, "thing-1");
	struct tp_error err = { 0 };
	char *body = create_answer(id, other_pem, NULL);

	tp_certflow_request(&f, "CSR", &err);
	tap_ok(answer(&f, body, 200, &err) == 1 && f.step == TP_CERTFLOW_DEACTIVATE,
	       "a certificate for another key: deactivated");
	tap_ok(strcmp(f.req.http.method, "PUT") == 0 && strstr(f.req.http.path, "?newStatus=INACTIVE"),
	       "UpdateCertificate INACTIVE: %s %s", f.req.http.method, f.req.http.path);
	tap_str(events, "SX", "journaled as refused before the deactivation");
	tap_ok(answer(&f, "{}", 200, &err) == 0 && f.step == TP_CERTFLOW_REFUSED, "then refused");
	tap_ok(f.why.exit_code == EX_DATAERR && strstr(f.why.msg, "another key") && strstr(f.why.msg, "set INACTIVE"),
	       "the reason says why and what became of it: %s", f.why.msg);
	tp_certflow_free(&f);
	free(body);
}

static void test_refuse_inactive(EVP_PKEY *key, const char *id, const char *pem)
{
	struct tp_certflow f = flow_for(key, NULL);
	struct tp_error err = { 0 };
	char *body = create_answer(id, pem, "INACTIVE");

	tp_certflow_request(&f, "CSR", &err);
	tap_ok(answer(&f, body, 200, &err) == 0 && f.step == TP_CERTFLOW_REFUSED,
	       "an INACTIVE certificate: refused, no deactivation");
	tap_ok(strstr(f.why.msg, "INACTIVE at the service") != NULL, "it says so: %s", f.why.msg);
	tap_str(events, "SX", "journaled as refused");
	tp_certflow_free(&f);
	free(body);
}

static void test_received_not_deactivated(EVP_PKEY *key, const char *id, const char *other_pem)
{
	struct tp_certflow f = flow_for(key, NULL);
	struct tp_error err = { 0 };
	char *full = create_answer(id, other_pem, "ACTIVE"), *desc = NULL;

	f.journal = NULL;
	tap_ok(asprintf(&desc, "{\"certificateDescription\":%s}", full) > 0, "a describe answer");
	tap_ok(tp_certflow_describe(&f, id, NULL, &err) == 1 && f.step == TP_CERTFLOW_DESCRIBE,
	       "describe a known certificate");
	tap_ok(answer(&f, desc, 200, &err) == 0 && f.step == TP_CERTFLOW_REFUSED,
	       "a certificate this run did not request is refused, not deactivated");
	tp_certflow_free(&f);
	free(full);
	free(desc);
}

static void test_resume(EVP_PKEY *key, const char *id, const char *pem)
{
	struct tp_certflow f = flow_for(key, "thing-1");
	struct tp_error err = { 0 };
	struct tp_issued_cert c = { .id = strdup(id), .pem = strdup(pem) };
	struct tp_attached done = { .thing = strdup("thing-1") };
	char arn[256];

	snprintf(arn, sizeof(arn), ARN_PREFIX "%s", id);
	c.arn = strdup(arn);
	tap_ok(tp_certflow_resume(&f, &c, &done, true, &err) == 1 && f.step == TP_CERTFLOW_POLICY && f.policy == 0,
	       "a journaled record, thing attached: checked again, then the first policy");
	tap_str(events, "", "nothing journaled again");
	tap_ok(f.cert != NULL && c.id == NULL && done.thing == NULL,
	       "the record took the certificate and the attachments");
	tp_certflow_free(&f);

	f = flow_for(key, NULL);
	f.policies = NULL;
	c = (struct tp_issued_cert){ .id = strdup(id) };
	tap_ok(tp_certflow_resume(&f, &c, &done, true, &err) == 0 && f.step == TP_CERTFLOW_ACCEPTED && !f.cert,
	       "a record trusted as checked, nothing to attach: accepted");
	tp_certflow_free(&f);

	f = flow_for(key, "thing-1");
	c = (struct tp_issued_cert){ .id = strdup(id) };
	tap_ok(tp_certflow_resume(&f, &c, &done, true, &err) == 0 && f.step == TP_CERTFLOW_FAILED &&
		       strstr(f.why.msg, "gave no ARN"),
	       "no ARN to attach: failed, saying so: %s", f.why.msg);
	tp_certflow_free(&f);
}

static void test_failures(EVP_PKEY *key)
{
	struct tp_certflow f = flow_for(key, NULL);
	struct tp_error err = { 0 }, none = { .exit_code = EX_UNAVAILABLE, .msg = "no route" };

	tp_certflow_request(&f, "CSR", &err);
	tap_ok(answer(&f, "{\"message\":\"bad key\"}", 400, &err) == 0 && f.step == TP_CERTFLOW_FAILED &&
		       f.create_status == 400,
	       "a create the service refused: failed, with its status");
	tap_ok(strstr(f.why.msg, "POST https://iot.test/certificates") != NULL, "naming the request: %s", f.why.msg);
	tp_certflow_free(&f);

	f = flow_for(key, NULL);
	tp_certflow_request(&f, "CSR", &err);
	tap_ok(tp_certflow_answer(&f, NULL, &none, &err) == 0 && f.step == TP_CERTFLOW_FAILED && f.create_status == 0 &&
		       f.why.exit_code == EX_UNAVAILABLE,
	       "a create without an answer: failed, unanswered");
	tap_ok(tp_certflow_answer(&f, NULL, &none, &err) < 0, "an answer with no request in flight stops the driver");
	tp_certflow_free(&f);
	tp_certflow_free(NULL);
}

int main(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	char id[TP_CERT_ID_MAX], other_id[TP_CERT_ID_MAX];
	char *pem = make_cert(key, id), *other_pem = make_cert(other, other_id);

	if (!tap_ok(key && other && pem && other_pem, "test certificates made"))
		return tap_done();
	test_accept(key, id, pem);
	test_describe_after_create(key, id, pem);
	test_refuse_active(key, other_id, other_pem);
	test_refuse_inactive(key, id, pem);
	test_received_not_deactivated(key, other_id, other_pem);
	test_resume(key, id, pem);
	test_failures(key);
	free(pem);
	free(other_pem);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return tap_done();
}
