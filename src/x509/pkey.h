/* The TPM key's public part as an ordinary OpenSSL key. */
#ifndef TP_PKEY_H
#define TP_PKEY_H

#include <openssl/evp.h>

#include "src/base/err.h"
#include "tpm/tpm.h"

/* An EVP_PKEY of OpenSSL's default provider, for checks: the certificate's
 * key, the CSR's signature. */
int tp_pkey_from_tpm(const struct tpm_public *pub, EVP_PKEY **ret_pkey, struct tp_error *err);

#endif
