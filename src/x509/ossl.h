/* SPDX-License-Identifier: BSD-2-Clause */
/* OpenSSL glue shared by the X.509 modules: errors and cleanup. */
#ifndef TP_OSSL_H
#define TP_OSSL_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "src/base/cleanup.h"
#include "src/base/err.h"

/* Like tp_error_set(), followed by the reason on OpenSSL's error queue,
 * which is emptied. */
void tp_error_ossl_record(struct tp_error *err, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define tp_error_ossl(err, exit_code, ...)                                                                             \
	({                                                                                                             \
		tp_error_ossl_record((err), (exit_code), __VA_ARGS__);                                                 \
		-1;                                                                                                    \
	})

/* The contents of a memory BIO as a NUL-terminated string. */
int tp_bio_to_string(BIO *bio, char **ret, struct tp_error *err);

TP_DEFINE_POINTER_CLEANUP(EVP_PKEY, EVP_PKEY_free)
TP_DEFINE_POINTER_CLEANUP(X509, X509_free)
TP_DEFINE_POINTER_CLEANUP(X509_REQ, X509_REQ_free)
TP_DEFINE_POINTER_CLEANUP(BIO, BIO_free)
#define _cleanup_pkey_ _cleanup_(EVP_PKEY_freep)
#define _cleanup_x509_ _cleanup_(X509_freep)
#define _cleanup_bio_ _cleanup_(BIO_freep)

#endif
