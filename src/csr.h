/* The CSR step: a PKCS#10 request signed inside the TPM. */
#ifndef TP_CSR_H
#define TP_CSR_H

#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

/* Build a CSR (subject CN=common_name, SHA-256) signed by the key persisted
 * at handle, through the tpm2 OpenSSL provider on tcti.  Before returning,
 * the PEM is parsed back and its signature verified against expected (the
 * TPM public key read with tpm2-tss), so what is sent is known to be right. */
int tp_csr_build(const char *tcti, uint32_t handle, const char *common_name,
		 EVP_PKEY *expected, char **ret_pem, struct tp_error *err);

#endif
