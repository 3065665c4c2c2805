/* The AWS IoT certificate API client: the only code that speaks HTTP. */
#ifndef TP_SERVICE_H
#define TP_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "options.h"
#include "err.h"

/* Largest response body accepted (a certificate is at most 64 KiB, and JSON
 * escaping can grow it). */
#define TP_RESPONSE_MAX (256 * 1024)
#define TP_CERT_PEM_MAX (64 * 1024)

struct tp_service {
	const char *endpoint;      /* https://host[:port], no trailing slash */
	const char *region;
	const char *signing_name;  /* "iot" or "execute-api" */
	const char *ca_bundle;     /* NULL: the system's trust store */
	const struct tp_creds *creds;
	bool allow_http;           /* plain http (a loopback endpoint, tests) */
	unsigned deadline;         /* seconds for all attempts of one call */
	/* Told about each retry, with the reason; NULL for silence.  The
	 * client itself never prints. */
	void (*note_retry)(const char *line);
};

struct tp_issued_cert {
	char *arn;
	char *id;
	char *pem;  /* NULL from register (the caller has the PEM) */
};

/* An AWS error answer, decoded the way AWS SDKs do. */
struct tp_aws_error {
	char type[128];
	char message[512];
};

/* CreateCertificateFromCsr: POST /certificates?setAsActive=true; fetches
 * the PEM with DescribeCertificate when the answer has only the id. */
int tp_service_create_from_csr(const struct tp_service *svc, const char *csr_pem,
			       struct tp_issued_cert *ret_cert, struct tp_error *err);

/* RegisterCertificate (POST /certificate/register, with ca_pem or none) or,
 * with no_ca, RegisterCertificateWithoutCA (POST /certificate/register-no-ca).
 * cert_id is the certificate's id computed locally: a 409
 * ResourceAlreadyExistsException naming that id counts as success. */
int tp_service_register(const struct tp_service *svc, const char *cert_pem,
			const char *ca_pem, bool no_ca, const char *status,
			const char *cert_id, struct tp_issued_cert *ret_cert,
			struct tp_error *err);

/* DescribeEndpoint for the ATS data endpoint the device's agent uses:
 * GET /endpoint?endpointType=iot%3AData-ATS (query in canonical form). */
int tp_service_describe_endpoint(const struct tp_service *svc, char **ret_host,
				 struct tp_error *err);

void tp_issued_cert_free(struct tp_issued_cert *c);

/* Pure parts, unit tested and fuzzed. */
int tp_service_parse_create(const char *body, size_t len,
			    struct tp_issued_cert *ret_cert, struct tp_error *err);
void tp_service_parse_error(const char *type_header, const char *body, size_t len,
			    struct tp_aws_error *out);
int tp_service_error_exit_code(long http_status, const char *error_type);
bool tp_service_retryable(long http_status, const char *error_type);

#endif
