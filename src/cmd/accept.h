/* SPDX-License-Identifier: BSD-2-Clause */
/* Accepting a certificate the service issued or knows: nothing it says is
 * trusted until checked against the TPM key and the request. */
#ifndef TP_ACCEPT_H
#define TP_ACCEPT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "src/aws/iot.h"
#include "src/base/err.h"

/* Check c: one PEM certificate, for exactly key, valid now, its id the
 * SHA-256 of its DER where the id has AWS's form, an AWS-shaped ARN (when
 * there is one) naming it, and the status asked for (when the service told
 * it).  0 with the parsed certificate, or EX_DATAERR naming the id and the
 * reason. */
int tp_accept_certificate(const struct tp_issued_cert *c, EVP_PKEY *key, const char *status, X509 **ret_cert,
			  struct tp_error *err);

#endif
