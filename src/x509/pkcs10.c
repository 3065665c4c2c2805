/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why the provider: the private key never exists outside the TPM, so the
 * CSR's self-signature must be made by the TPM.  The tpm2 provider opens the
 * key by its handle URI and routes the signature to the TPM, while digests
 * and everything else stay in OpenSSL's default provider.
 */
#include "src/x509/pkcs10.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#include "src/x509/ossl.h"

/* Prefer the TPM for the key and the signature, never for the digest. */
#define TPM2_PROPQ "?provider=tpm2,tpm2.digest!=yes"

TP_DEFINE_POINTER_CLEANUP(EVP_MD_CTX, EVP_MD_CTX_free)
TP_DEFINE_POINTER_CLEANUP(UI_METHOD, UI_destroy_method)
TP_DEFINE_POINTER_CLEANUP(OSSL_STORE_CTX, OSSL_STORE_close)

struct providers {
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *tpm2, *deflt;
};

static void providers_unload(struct providers *p)
{
	if (p->tpm2)
		OSSL_PROVIDER_unload(p->tpm2);
	if (p->deflt)
		OSSL_PROVIDER_unload(p->deflt);
	OSSL_LIB_CTX_free(p->libctx);
	memset(p, 0, sizeof(*p));
}

static int providers_load(const char *tcti, struct providers *p, struct tp_error *err)
{
	memset(p, 0, sizeof(*p));
	/* The provider reads its TCTI from the environment when it starts. */
	if (setenv("TPM2OPENSSL_TCTI", tcti, 1) < 0)
		return tp_error_set(err, EX_IOERR, "cannot set TPM2OPENSSL_TCTI");
	p->libctx = OSSL_LIB_CTX_new();
	if (!p->libctx)
		return tp_error_ossl(err, EX_IOERR, "cannot create an OpenSSL library context");
	p->deflt = OSSL_PROVIDER_load(p->libctx, "default");
	if (!p->deflt)
		tp_error_ossl(err, EX_IOERR, "cannot load OpenSSL's default provider");
	else if (!(p->tpm2 = OSSL_PROVIDER_load(p->libctx, "tpm2")))
		tp_error_ossl(
			err, EX_IOERR,
			"the tpm2 OpenSSL provider could not start with the TPM at TCTI \"%s\" (is the TPM there, "
			"is tpm2-openssl installed?)",
			tcti);
	else
		return 0;
	providers_unload(p);
	return -1;
}

int tp_csr_provider_check(const char *tcti, struct tp_error *err)
{
	struct providers p;

	if (providers_load(tcti, &p, err) < 0)
		return -1;
	providers_unload(&p);
	return 0;
}

/* The provider asks for the key's authorization value through OpenSSL's
 * passphrase callback; hand it the value, never prompt. */
static int give_auth(char *buf, int size, int rwflag, void *u)
{
	const struct tpm_auth *auth = u;

	(void)rwflag;
	if (!auth || auth->len > (size_t)size)
		return -1;
	memcpy(buf, auth->value, auth->len);
	return (int)auth->len;
}

static int load_tpm_key(struct providers *p, const struct tp_csr_key *k, EVP_PKEY **ret_pkey, struct tp_error *err)
{
	_cleanup_(OSSL_STORE_closep) OSSL_STORE_CTX *store = NULL;
	_cleanup_(UI_destroy_methodp) UI_METHOD *ui = NULL;
	_cleanup_free_ char *uri = NULL;
	OSSL_STORE_INFO *info;
	EVP_PKEY *pkey = NULL;

	if (tp_keyloc_uri(k->loc, k->auth->len > 0, &uri, err) < 0)
		return -1;
	ui = UI_UTIL_wrap_read_pem_callback(give_auth, 0);
	if (!ui)
		return tp_error_ossl(err, EX_IOERR, "out of memory");
	store = OSSL_STORE_open_ex(uri, p->libctx, TPM2_PROPQ, ui, (void *)k->auth, NULL, NULL, NULL);
	if (!store)
		return tp_error_ossl(err, EX_IOERR, "tpm2 provider cannot open %s", uri);
	while (!pkey && !OSSL_STORE_eof(store) && (info = OSSL_STORE_load(store))) {
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			pkey = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	if (!pkey)
		return tp_error_ossl(err, EX_IOERR, "tpm2 provider found no key at %s", uri);
	*ret_pkey = pkey;
	return 0;
}

static int new_request(struct providers *p, EVP_PKEY *key, const char *cn, X509_REQ **ret, struct tp_error *err)
{
	_cleanup_(X509_REQ_freep) X509_REQ *req = X509_REQ_new_ex(p->libctx, TPM2_PROPQ);
	X509_NAME *name = req ? X509_REQ_get_subject_name(req) : NULL;

	if (!name || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key))
		return tp_error_ossl(err, EX_IOERR, "cannot build the certificate request");
	*ret = TAKE_PTR(req);
	return 0;
}

static int sign_request(struct providers *p, EVP_PKEY *key, const struct tp_csr_key *k, const char *cn, char **ret_pem,
			struct tp_error *err)
{
	const struct tpm_key_alg_info *alg = tpm_key_alg_info(k->alg);
	const char *digest = alg ? alg->csr_digest : NULL;
	_cleanup_(X509_REQ_freep) X509_REQ *req = NULL;
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mdctx = NULL;
	_cleanup_bio_ BIO *bio = NULL;
	EVP_PKEY_CTX *pctx = NULL;

	if (!digest)
		return tp_error_set(err, EX_SOFTWARE, "unknown key algorithm %d", (int)k->alg);
	if (new_request(p, key, cn, &req, err) < 0)
		return -1;
	mdctx = EVP_MD_CTX_new();
	if (!mdctx || EVP_DigestSignInit_ex(mdctx, &pctx, digest, p->libctx, TPM2_PROPQ, key, NULL) <= 0)
		return tp_error_ossl(err, EX_IOERR, "cannot set up the %s signature of the certificate request",
				     digest);
	/* RSASSA-PSS with a salt as long as the hash, which is what a TPM
	 * uses. */
	if (k->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		return tp_error_ossl(err, EX_IOERR, "cannot select RSA-PSS for the certificate request");
	if (X509_REQ_sign_ctx(req, mdctx) <= 0)
		return tp_error_ossl(err, EX_IOERR, "the TPM did not sign the certificate request");
	bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509_REQ(bio, req))
		return tp_error_ossl(err, EX_IOERR, "cannot encode the certificate request");
	return tp_bio_to_string(bio, ret_pem, err);
}

/* Parse what will be sent, in the default library context, and check that
 * it carries the TPM's public key and a signature that verifies with it. */
static int verify_request(const char *pem, EVP_PKEY *expected, struct tp_error *err)
{
	_cleanup_bio_ BIO *bio = BIO_new_mem_buf(pem, -1);
	_cleanup_(X509_REQ_freep) X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;

	if (!req)
		return tp_error_ossl(err, EX_IOERR, "the certificate request does not parse back");
	if (EVP_PKEY_eq(X509_REQ_get0_pubkey(req), expected) != 1)
		return tp_error_set(err, EX_IOERR,
				    "the certificate request carries a public key other than the TPM key's");
	if (X509_REQ_verify(req, expected) != 1)
		return tp_error_ossl(err, EX_IOERR, "the certificate request's self-signature does not verify");
	return 0;
}

/* Sign with the providers loaded, and release them (and so the provider's
 * TPM connection) before anything else talks to the TPM. */
static int sign_in_tpm(const char *tcti, const struct tp_csr_key *k, const char *cn, char **ret_pem,
		       struct tp_error *err)
{
	struct providers p;
	EVP_PKEY *key = NULL;
	int r;

	if (providers_load(tcti, &p, err) < 0)
		return -1;
	r = load_tpm_key(&p, k, &key, err);
	if (r == 0)
		r = sign_request(&p, key, k, cn, ret_pem, err);
	EVP_PKEY_free(key);
	providers_unload(&p);
	return r;
}

int tp_csr_build(const char *tcti, const struct tp_csr_key *k, const char *common_name, EVP_PKEY *expected,
		 char **ret_pem, struct tp_error *err)
{
	_cleanup_free_ char *pem = NULL;

	if (sign_in_tpm(tcti, k, common_name, &pem, err) < 0 || verify_request(pem, expected, err) < 0)
		return -1;
	*ret_pem = TAKE_PTR(pem);
	return 0;
}

/* The subject's CN as UTF-8, or NULL when it has none. */
static int common_name(X509_REQ *req, char **ret, struct tp_error *err)
{
	const X509_NAME *subject = X509_REQ_get_subject_name(req);
	int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;

	*ret = NULL;
	if (i < 0)
		return 0;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
	if (n < 0)
		return tp_error_ossl(err, EX_DATAERR, "its subject's CN is not a string");
	if (memchr(utf8, '\0', (size_t)n)) {
		OPENSSL_free(utf8);
		return tp_error_set(err, EX_DATAERR, "its subject's CN holds a NUL character");
	}
	*ret = strdup((char *)utf8);
	OPENSSL_free(utf8);
	return *ret ? 0 : tp_error_oom(err);
}

int tp_csr_parse(const char *pem, size_t len, struct tp_csr_info *ret, struct tp_error *err)
{
	_cleanup_bio_ BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	_cleanup_(X509_REQ_freep) X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	_cleanup_bio_ BIO *out = NULL;
	struct tp_csr_info c = { 0 };
	EVP_PKEY *key;

	if (!req)
		return tp_error_ossl(err, EX_DATAERR, "not a PEM certificate request");
	key = X509_REQ_get0_pubkey(req);
	if (!key)
		return tp_error_ossl(err, EX_DATAERR, "its public key cannot be read");
	if (X509_REQ_verify(req, key) != 1)
		return tp_error_ossl(err, EX_DATAERR, "its self-signature does not verify");
	out = BIO_new(BIO_s_mem());
	if (!out || !PEM_write_bio_X509_REQ(out, req))
		return tp_error_ossl(err, EX_IOERR, "cannot encode the certificate request");
	if (common_name(req, &c.cn, err) < 0 || tp_bio_to_string(out, &c.pem, err) < 0) {
		tp_csr_info_free(&c);
		return -1;
	}
	if (!EVP_PKEY_up_ref(key)) {
		tp_csr_info_free(&c);
		return tp_error_oom(err);
	}
	c.key = key;
	*ret = c;
	return 0;
}

void tp_csr_info_free(struct tp_csr_info *c)
{
	if (!c)
		return;
	EVP_PKEY_free(c->key);
	free(c->cn);
	free(c->pem);
	*c = (struct tp_csr_info){ 0 };
}
