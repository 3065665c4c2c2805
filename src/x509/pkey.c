/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/x509/pkey.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "src/x509/ossl.h"

TP_DEFINE_POINTER_CLEANUP(BIGNUM, BN_free)
TP_DEFINE_POINTER_CLEANUP(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
TP_DEFINE_POINTER_CLEANUP(OSSL_PARAM, OSSL_PARAM_free)
TP_DEFINE_POINTER_CLEANUP(EVP_PKEY_CTX, EVP_PKEY_CTX_free)

/* Uncompressed SEC1 point: 0x04 || x || y, in the caller's point buffer,
 * which the builder refers to until it is turned into params; on the curve
 * of the key's algorithm. */
static int push_ecc(OSSL_PARAM_BLD *bld, const struct tpm_public *pub, const char *curve, unsigned char *point)
{
	point[0] = 0x04;
	memcpy(point + 1, pub->x, pub->x_len);
	memcpy(point + 1 + pub->x_len, pub->y, pub->y_len);
	return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) &&
	       OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + pub->x_len + pub->y_len);
}

/* n and e stay the caller's until the builder is turned into params. */
static int push_rsa(OSSL_PARAM_BLD *bld, const struct tpm_public *pub, BIGNUM **n, BIGNUM **e)
{
	*n = BN_bin2bn(pub->n, (int)pub->n_len, NULL);
	*e = BN_new();
	return *n && *e && BN_set_word(*e, pub->exponent) && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, *n) &&
	       OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, *e);
}

int tp_pkey_from_tpm(const struct tpm_public *pub, EVP_PKEY **ret_pkey, struct tp_error *err)
{
	unsigned char point[1 + sizeof(pub->x) + sizeof(pub->y)];
	_cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	const struct tpm_key_alg_info *alg = pub->alg >= 0 ? tpm_key_alg_info(pub->alg) : NULL;
	/* An ECC key only on a curve of the table; an RSA key of any size. */
	bool ecc = pub->type == TPM_KEY_ECC && alg && alg->curve;
	const char *type = ecc ? "EC" : "RSA";
	EVP_PKEY *pkey = NULL;

	if (!bld)
		return tp_error_ossl(err, EX_IOERR, "out of memory");
	if (!ecc && pub->type != TPM_KEY_RSA)
		return tp_error_set(err, EX_IOERR, "unsupported TPM key type");
	if (!(ecc ? push_ecc(bld, pub, alg->curve, point) : push_rsa(bld, pub, &n, &e)) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		return tp_error_ossl(err, EX_IOERR, "cannot describe the TPM public key");
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, "provider=default");
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		return tp_error_ossl(err, EX_IOERR, "the TPM public key is not a valid %s key", type);
	*ret_pkey = pkey;
	return 0;
}

/* Whether key is on the NIST curve named nist ("P-256"): OpenSSL reports
 * the curve by its own name ("prime256v1") or by the NIST one. */
static bool on_curve(const EVP_PKEY *key, const char *nist)
{
	char group[64] = "";

	if (!EVP_PKEY_is_a(key, "EC") ||
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
		return false;
	return strcmp(group, nist) == 0 ||
	       (OBJ_txt2nid(group) != NID_undef && OBJ_txt2nid(group) == EC_curve_nist2nid(nist));
}

int tp_pkey_key_alg(const EVP_PKEY *key)
{
	const struct tpm_key_alg_info *a;
	int i;

	for (i = 0; (a = tpm_key_alg_info(i)); i++)
		if (a->type == TPM_KEY_RSA ? EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == (int)a->bits
					   : on_curve(key, a->curve))
			return i;
	return -1;
}
