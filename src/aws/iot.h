/* SPDX-License-Identifier: BSD-2-Clause */
/* The AWS IoT operations this program uses, on top of the HTTP client. */
#ifndef TP_IOT_H
#define TP_IOT_H

#include <stdbool.h>
#include <stddef.h>

#include "src/aws/http.h"
#include "src/base/err.h"

/* Largest certificate PEM accepted from the service. */
#define TP_CERT_PEM_MAX (64 * 1024)

/* A certificate as the service describes it.  Nothing in it is trusted
 * until the caller has checked it against the TPM key. */
struct tp_issued_cert {
	char *id;	  /* AWS's 64 hex digits, or a gateway's opaque id */
	char *arn;	  /* NULL when the service gave none (a gateway) */
	char *pem;	  /* NULL from register (the caller has the PEM) */
	char *status;	  /* ACTIVE, INACTIVE, ...: NULL when not told */
	char *created_at; /* a gateway's created_at, or NULL */
};

/* DescribeCertificate: GET /certificates/{id}. */
int tp_iot_describe_certificate(const struct tp_service *svc, const char *id, struct tp_issued_cert *ret_cert,
				struct tp_error *err);

/* Whether s can be a path segment as this client sends it: libcurl signs
 * the path exactly as written, so only characters that need no escaping
 * (letters, digits, "-", "_", ".") are sent, at most max of them. */
bool tp_iot_safe_segment(const char *s, size_t max);

/* Whether id is AWS's form of a certificate id: 64 lowercase hex digits. */
bool tp_iot_aws_cert_id(const char *id);

/* RegisterCertificate (POST /certificate/register, with ca_pem or none) or,
 * with no_ca, RegisterCertificateWithoutCA (POST /certificate/register-no-ca).
 * cert_id is the certificate's id computed locally: a 409
 * ResourceAlreadyExistsException naming that id counts as success. */
int tp_iot_register(const struct tp_service *svc, const char *cert_pem, const char *ca_pem, bool no_ca,
		    const char *status, const char *cert_id, struct tp_issued_cert *ret_cert, struct tp_error *err);

/* DescribeEndpoint for the ATS data endpoint the device's agent uses:
 * GET /endpoint?endpointType=iot%3AData-ATS (query in canonical form). */
int tp_iot_describe_endpoint(const struct tp_service *svc, char **ret_host, struct tp_error *err);

/* The output members of a create answer.  Pure; unit tested and fuzzed. */
int tp_iot_parse_create(const char *body, size_t len, struct tp_issued_cert *ret_cert, struct tp_error *err);

void tp_issued_cert_free(struct tp_issued_cert *c);

/* One operation's request, built for whoever sends it (the calls above,
 * tp_http_call(), or the concurrent client tp_multi_run()): http points
 * into the owned strings. */
struct tp_iot_request {
	struct tp_http_request http;
	char *path, *body, *header;
};

int tp_iot_request_create(const char *csr_pem, struct tp_iot_request *ret, struct tp_error *err);
int tp_iot_request_describe(const char *id, struct tp_iot_request *ret, struct tp_error *err);
int tp_iot_request_update(const char *id, const char *new_status, struct tp_iot_request *ret, struct tp_error *err);
int tp_iot_request_create_thing(const char *thing, struct tp_iot_request *ret, struct tp_error *err);
int tp_iot_request_attach_thing(const char *thing, const char *cert_arn, struct tp_iot_request *ret,
				struct tp_error *err);
int tp_iot_request_attach_policy(const char *policy, const char *cert_arn, struct tp_iot_request *ret,
				 struct tp_error *err);
void tp_iot_request_free(struct tp_iot_request *r);

/* The certificate in a successful create answer, or in a describe
 * answer's certificateDescription (which must hold the PEM). */
int tp_iot_answer_issued(const struct tp_answer *a, struct tp_issued_cert *ret_cert, struct tp_error *err);
int tp_iot_answer_described(const struct tp_answer *a, struct tp_issued_cert *ret_cert, struct tp_error *err);

/* A failed AttachPolicy answer as an error: a policy that does not exist
 * is EX_DATAERR naming it. */
int tp_iot_policy_failure(const struct tp_answer *a, const char *endpoint, const char *path, const char *policy,
			  struct tp_error *err);

#endif
