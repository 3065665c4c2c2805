/* SPDX-License-Identifier: BSD-2-Clause */
/* The TPM key's public part as an ordinary OpenSSL key. */
#ifndef TP_PKEY_H
#define TP_PKEY_H

#include <openssl/evp.h>

#include "src/base/err.h"
#include "tpm/tpm.h"

/* An EVP_PKEY of OpenSSL's default provider, for checks: the certificate's
 * key, the CSR's signature. */
int tp_pkey_from_tpm(const struct tpm_public *pub, EVP_PKEY **ret_pkey, struct tp_error *err);

/* The key algorithm (enum tpm_key_alg) key is of, or -1 when it is of none
 * of the table's (another curve, another RSA size, another type). */
int tp_pkey_key_alg(const EVP_PKEY *key);

#endif
