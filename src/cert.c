#include "cert.h"

#include <stdio.h>
#include <string.h>

#include <limits.h>
#include <stdbool.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ossl.h"

static int parse_pem(const char *pem, size_t len, const char *what, bool only_one, X509 **ret_cert,
		     struct tp_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *cert = NULL, *extra = NULL;
	int r = -1;

	if (!bio || len > INT_MAX)
		return tp_error_set(err, EX_IOERR, "out of memory");
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!cert) {
		tp_error_ossl(err, EX_DATAERR, "%s is not a PEM certificate", what);
		goto out;
	}
	extra = only_one ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	ERR_clear_error();
	if (extra) {
		tp_error_set(err, EX_DATAERR, "%s holds more than one certificate", what);
		goto out;
	}
	*ret_cert = cert;
	cert = NULL;
	r = 0;
out:
	X509_free(extra);
	X509_free(cert);
	BIO_free(bio);
	return r;
}

int tp_cert_check_key(X509 *cert, EVP_PKEY *expected, const char *what, struct tp_error *err)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	if (!pub)
		return tp_error_ossl(err, EX_DATAERR, "%s has a public key OpenSSL cannot read", what);
	if (EVP_PKEY_eq(pub, expected) != 1) {
		ERR_clear_error();
		return tp_error_set(err, EX_DATAERR, "%s is for another key, not the TPM key", what);
	}
	return 0;
}

int tp_cert_id(X509 *cert, char *out, struct tp_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!X509_digest(cert, EVP_sha256(), md, &n))
		return tp_error_ossl(err, EX_IOERR, "cannot hash the certificate");
	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = '\0';
	return 0;
}

int tp_cert_parse_pem(const char *pem, size_t len, const char *what, X509 **ret_cert, struct tp_error *err)
{
	return parse_pem(pem, len, what, true, ret_cert, err);
}

int tp_cert_parse_first_pem(const char *pem, size_t len, const char *what, X509 **ret_cert, struct tp_error *err)
{
	return parse_pem(pem, len, what, false, ret_cert, err);
}
