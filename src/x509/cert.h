/* SPDX-License-Identifier: BSD-2-Clause */
/* Certificates: parsed, checked against the TPM key, identified, encoded. */
#ifndef TP_CERT_H
#define TP_CERT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "src/base/err.h"
#include "src/base/timefmt.h"

/* A certificate id as AWS IoT computes it: 64 lowercase hex digits. */
#define TP_CERT_ID_MAX 65

/* Parse exactly one PEM certificate; what names it in errors. */
int tp_cert_parse_pem(const char *pem, size_t len, const char *what, X509 **ret_cert, struct tp_error *err);

/* The first certificate of a PEM bundle (a CA file may hold several). */
int tp_cert_parse_first_pem(const char *pem, size_t len, const char *what, X509 **ret_cert, struct tp_error *err);

/* Read and parse a certificate file: TP_MISSING when it does not exist. */
int tp_cert_read_file(const char *path, X509 **ret_cert, struct tp_error *err);

/* A certificate file given by the user: parsed, and re-encoded as PEM;
 * a missing file is EX_CONFIG naming it. */
int tp_cert_load_file(const char *path, X509 **ret_cert, char **ret_pem, struct tp_error *err);

/* Refuse a certificate whose public key is not expected (EX_DATAERR). */
int tp_cert_check_key(X509 *cert, EVP_PKEY *expected, const char *what, struct tp_error *err);

/* Refuse a certificate that is not valid now (expired, or not yet valid),
 * saying which, with the date (EX_DATAERR). */
int tp_cert_check_validity(X509 *cert, const char *what, struct tp_error *err);

/* AWS IoT's certificate id: lowercase hex SHA-256 of the DER. */
int tp_cert_id(X509 *cert, char out[TP_CERT_ID_MAX], struct tp_error *err);

/* The certificate as a NUL-terminated PEM string. */
int tp_cert_to_pem(X509 *cert, char **ret_pem, struct tp_error *err);

/* What `status` shows of a certificate. */
struct tp_cert_info {
	char *subject, *issuer; /* RFC 2253 */
	char not_before[TP_TIME_MAX], not_after[TP_TIME_MAX];
	int days_left; /* until notAfter; negative once expired */
};

int tp_cert_describe(X509 *cert, struct tp_cert_info *ret, struct tp_error *err);
void tp_cert_info_free(struct tp_cert_info *c);

#endif
