/* The AWS IoT operations this program uses, on top of the HTTP client. */
#ifndef TP_IOT_H
#define TP_IOT_H

#include <stdbool.h>
#include <stddef.h>

#include "src/aws/http.h"
#include "src/base/err.h"

/* Largest certificate PEM accepted from the service. */
#define TP_CERT_PEM_MAX (64 * 1024)

struct tp_issued_cert {
	char *arn;
	char *id;
	char *pem;  /* NULL from register (the caller has the PEM) */
};

/* CreateCertificateFromCsr: POST /certificates?setAsActive=true; fetches
 * the PEM with DescribeCertificate when the answer has only the id. */
int tp_iot_create_from_csr(const struct tp_service *svc, const char *csr_pem, struct tp_issued_cert *ret_cert,
			   struct tp_error *err);

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

#endif
