/* The CSR step: a PKCS#10 request signed inside the TPM. */
#ifndef TP_CSR_H
#define TP_CSR_H

#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "tpm/tpm.h"

/* The key that signs: persisted at handle, or in a TSS2 key file. */
struct tp_csr_key {
	uint32_t handle;                  /* when file is NULL */
	const char *file;                 /* TSS2 PRIVATE KEY file, or NULL */
	const struct tp_tpm_auth *auth;   /* its authorization value */
	const char *digest;               /* "SHA256" or "SHA384" */
	int pss;                          /* RSA: RSASSA-PSS, else PKCS#1 v1.5 */
};

/* Build a CSR (subject CN=common_name) signed by the key k, through the tpm2
 * OpenSSL provider on tcti.  Before returning, the PEM is parsed back and
 * its signature verified against expected (the TPM public key read with
 * tpm2-tss), so what is sent is known to be right. */
int tp_csr_build(const char *tcti, const struct tp_csr_key *k, const char *common_name,
		 EVP_PKEY *expected, char **ret_pem, struct tp_error *err);

#endif
