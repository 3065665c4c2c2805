/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/cmd/accept.h"

#include <ctype.h>
#include <string.h>

#include "src/base/cleanup.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"

/* arn:PARTITION:iot:REGION:ACCOUNT:cert/ID, with ID a certificate id. */
static bool aws_cert_arn(const char *arn, const char *id)
{
	const char *p = arn, *colon;
	size_t i, n;

	if (strncmp(p, "arn:", 4) != 0)
		return false;
	p += 4;
	for (i = 0; i < 4; i++, p = colon + 1) {
		colon = strchr(p, ':');
		if (!colon || colon == p)
			return false;
		for (n = 0; p + n < colon; n++)
			if (!islower((unsigned char)p[n]) && !isdigit((unsigned char)p[n]) && p[n] != '-')
				return false;
		if ((i == 1 && (colon - p != 3 || strncmp(p, "iot", 3) != 0)) ||
		    (i == 3 && (colon - p != 12 || strspn(p, "0123456789") != 12)))
			return false;
	}
	if (strncmp(p, "cert/", 5) != 0 || !tp_iot_aws_cert_id(p + 5))
		return false;
	return !tp_iot_aws_cert_id(id) || strcmp(p + 5, id) == 0;
}

static int check_status(const struct tp_issued_cert *c, const char *want, struct tp_error *err)
{
	if (!c->status || strcmp(c->status, want) == 0)
		return 0;
	if (strcmp(c->status, "INACTIVE") == 0)
		return tp_error_set(err, EX_DATAERR,
				    "certificate %s is INACTIVE at the service, not %s; it is not reactivated "
				    "behind an operator's back: if it should be used, activate it (aws iot "
				    "update-certificate --certificate-id %s --new-status ACTIVE) and run again",
				    c->id, want, c->id);
	return tp_error_set(err, EX_DATAERR, "certificate %s is %.32s at the service, not %s", c->id, c->status, want);
}

/* The id, and the ARN, name this certificate. */
static int check_names(const struct tp_issued_cert *c, X509 *cert, struct tp_error *err)
{
	char id[TP_CERT_ID_MAX];

	if (tp_iot_aws_cert_id(c->id)) {
		if (tp_cert_id(cert, id, err) < 0)
			return -1;
		if (strcmp(id, c->id) != 0)
			return tp_error_set(err, EX_DATAERR,
					    "certificate %s: its id is not the SHA-256 of the certificate "
					    "the service sent (%s)",
					    c->id, id);
	}
	if (c->arn && !aws_cert_arn(c->arn, c->id))
		return tp_error_set(err, EX_DATAERR,
				    "certificate %s: the service's ARN is not "
				    "arn:PARTITION:iot:REGION:ACCOUNT:cert/ID for it",
				    c->id);
	return 0;
}

int tp_accept_certificate(const struct tp_issued_cert *c, EVP_PKEY *key, const char *status, X509 **ret_cert,
			  struct tp_error *err)
{
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_free_ char *what = NULL;

	if (asprintf(&what, "certificate %s from the service", c->id) < 0)
		return tp_error_oom(err);
	if (!c->pem)
		return tp_error_set(err, EX_DATAERR, "%s came without its PEM", what);
	if (tp_cert_parse_pem(c->pem, strlen(c->pem), what, &cert, err) < 0 ||
	    tp_cert_check_key(cert, key, what, err) < 0 || tp_cert_check_validity(cert, what, err) < 0 ||
	    check_names(c, cert, err) < 0 || check_status(c, status, err) < 0)
		return -1;
	*ret_cert = TAKE_PTR(cert);
	return 0;
}
