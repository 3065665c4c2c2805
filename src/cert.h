/* The certificate step: what the service returned, checked against the key. */
#ifndef TP_CERT_H
#define TP_CERT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* Parse exactly one PEM certificate; what names it in errors. */
int tp_cert_parse_pem(const char *pem, size_t len, const char *what,
		      X509 **ret_cert, struct tp_error *err);

/* The first certificate of a PEM bundle (a CA file may hold several). */
int tp_cert_parse_first_pem(const char *pem, size_t len, const char *what,
			    X509 **ret_cert, struct tp_error *err);

/* Refuse a certificate whose public key is not expected (EX_DATAERR). */
int tp_cert_check_key(X509 *cert, EVP_PKEY *expected, const char *what,
		      struct tp_error *err);

/* AWS IoT's certificate id: lowercase hex SHA-256 of the DER (65 bytes). */
int tp_cert_id(X509 *cert, char *out, struct tp_error *err);

#endif
