#include "ossl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

int tp_error_ossl(struct tp_error *err, int exit_code, const char *fmt, ...)
{
	unsigned long e, last = 0;
	char reason[256];
	va_list ap;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (!err || err->exit_code != 0)
		return -1;
	err->exit_code = exit_code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (last) {
		ERR_error_string_n(last, reason, sizeof(reason));
		tp_error_append(err, "%s", reason);
	}
	return -1;
}

int tp_pkey_from_tpm(const struct tp_tpm_public *pub, EVP_PKEY **ret_pkey, struct tp_error *err)
{
	unsigned char point[1 + sizeof(pub->x) + sizeof(pub->y)];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	const char *type;
	int r = -1, ok;

	bld = OSSL_PARAM_BLD_new();
	if (!bld) {
		tp_error_ossl(err, EX_IOERR, "out of memory");
		goto out;
	}
	if (pub->type == TP_KEY_ECC && (pub->bits == 256 || pub->bits == 384)) {
		type = "EC";
		/* Uncompressed SEC1 point: 0x04 || x || y. */
		point[0] = 0x04;
		memcpy(point + 1, pub->x, pub->x_len);
		memcpy(point + 1 + pub->x_len, pub->y, pub->y_len);
		ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     pub->bits == 384 ? "P-384" : "P-256", 0) &&
		     OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
						      1 + pub->x_len + pub->y_len);
	} else if (pub->type == TP_KEY_RSA) {
		type = "RSA";
		n = BN_bin2bn(pub->n, (int)pub->n_len, NULL);
		e = BN_new();
		ok = n && e && BN_set_word(e, pub->exponent) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	} else {
		tp_error_set(err, EX_IOERR, "unsupported TPM key type");
		goto out;
	}
	if (!ok || !(params = OSSL_PARAM_BLD_to_param(bld))) {
		tp_error_ossl(err, EX_IOERR, "cannot describe the TPM public key");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, "provider=default");
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		tp_error_ossl(err, EX_IOERR, "the TPM public key is not a valid %s key", type);
		goto out;
	}
	*ret_pkey = pkey;
	r = 0;
out:
	BN_free(n);
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int tp_x509_to_pem(X509 *cert, char **ret_pem, struct tp_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long len;

	if (!bio || !PEM_write_bio_X509(bio, cert)) {
		BIO_free(bio);
		return tp_error_ossl(err, EX_IOERR, "cannot encode the certificate as PEM");
	}
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	BIO_free(bio);
	if (!pem)
		return tp_error_set(err, EX_IOERR, "out of memory");
	*ret_pem = pem;
	return 0;
}
