/* SPDX-License-Identifier: BSD-2-Clause */
/* The CSR step: a PKCS#10 request signed inside the TPM. */
#ifndef TP_PKCS10_H
#define TP_PKCS10_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "src/base/err.h"
#include "src/base/keyloc.h"
#include "tpm/tpm.h"

/* The key that signs. */
struct tp_csr_key {
	const struct tp_keyloc *loc;
	const struct tpm_auth *auth; /* its authorization value */
	enum tpm_key_alg alg;	     /* its row's CSR digest is the hash */
	bool pss;		     /* RSA: RSASSA-PSS, else PKCS#1 v1.5 */
};

/* Build a CSR (subject CN=common_name) signed by the key k, through the tpm2
 * OpenSSL provider on tcti.  Before returning, the PEM is parsed back and
 * its signature verified against expected (the TPM public key read with
 * tpm2-tss), so what is sent is known to be right. */
int tp_csr_build(const char *tcti, const struct tp_csr_key *k, const char *common_name, EVP_PKEY *expected,
		 char **ret_pem, struct tp_error *err);

/* Pre-flight: the tpm2 provider loads beside the default one and starts
 * with the TPM at tcti. */
int tp_csr_provider_check(const char *tcti, struct tp_error *err);

/* A CSR from elsewhere (a batch): its key, its subject's CN (NULL when
 * none), and its PEM as re-encoded for sending. */
struct tp_csr_info {
	EVP_PKEY *key;
	char *cn;
	char *pem;
};

/* Parse one PEM CSR and verify its self-signature (EX_DATAERR saying what
 * is wrong, for the caller to prefix with the file's name). */
int tp_csr_parse(const char *pem, size_t len, struct tp_csr_info *ret, struct tp_error *err);
void tp_csr_info_free(struct tp_csr_info *c);

#endif
