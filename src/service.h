/* The AWS IoT certificate API client: the only code that speaks HTTP. */
#ifndef TP_SERVICE_H
#define TP_SERVICE_H

#include <stddef.h>

#include "creds.h"
#include "err.h"

/* Largest response body accepted (a certificate is at most 64 KiB, and JSON
 * escaping can grow it). */
#define TP_RESPONSE_MAX (256 * 1024)

struct tp_service {
	const char *endpoint;      /* https://host[:port], no trailing slash */
	const char *region;
	const char *signing_name;  /* "iot" or "execute-api" */
	const char *ca_bundle;     /* NULL: the system's trust store */
	const struct tp_creds *creds;
};

struct tp_issued_cert {
	char *arn;
	char *id;
	char *pem;
};

/* An AWS error answer, decoded the way AWS SDKs do. */
struct tp_aws_error {
	char type[128];
	char message[512];
};

/* CreateCertificateFromCsr: POST /certificates?setAsActive=true. */
int tp_service_create_from_csr(const struct tp_service *svc, const char *csr_pem,
			       struct tp_issued_cert *ret_cert, struct tp_error *err);

void tp_issued_cert_free(struct tp_issued_cert *c);

/* Pure parts, unit tested and fuzzed. */
int tp_service_parse_create(const char *body, size_t len,
			    struct tp_issued_cert *ret_cert, struct tp_error *err);
void tp_service_parse_error(const char *type_header, const char *body, size_t len,
			    struct tp_aws_error *out);
int tp_service_error_exit_code(long http_status, const char *error_type);

#endif
