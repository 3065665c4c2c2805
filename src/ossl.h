/* OpenSSL helpers shared by the CSR and certificate steps. */
#ifndef TP_OSSL_H
#define TP_OSSL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "tpm/tpm.h"

/* Like tp_error_set(), followed by the reason on OpenSSL's error queue,
 * which is emptied. */
int tp_error_ossl(struct tp_error *err, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The TPM key's public part as an ordinary (default provider) EVP_PKEY. */
int tp_pkey_from_tpm(const struct tp_tpm_public *pub, EVP_PKEY **ret_pkey,
		     struct tp_error *err);

/* Serialise an object to a NUL-terminated PEM string. */
int tp_x509_to_pem(X509 *cert, char **ret_pem, struct tp_error *err);

#endif
