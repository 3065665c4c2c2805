/* SPDX-License-Identifier: BSD-2-Clause */
/* The device key: templates, creation, reading, the auth check, eviction. */
#include "tpm/internal.h"

#include <stdio.h>
#include <string.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

/* The attributes of the device key: it cannot leave this TPM or be
 * re-parented, its secret was generated inside the TPM, it signs and
 * does nothing else. */
#define KEY_ATTRS                                                                                                      \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | \
	 TPMA_OBJECT_SIGN_ENCRYPT)

/* The one table of the device key algorithms: what the rest of the
 * program reads (info), and what the TPM is told: the template's type and
 * curve (ECC) or key size (RSA: info.bits), and the scheme of the signature
 * that tests a key's authorization.  No scheme is fixed in the template (see
 * tpm_key_template). */
struct key_alg {
	struct tpm_key_alg_info info;
	TPMI_ALG_PUBLIC tpm_type;
	TPMI_ECC_CURVE tpm_curve; /* ECC only */
	TPMI_ALG_SIG_SCHEME sign_scheme;
};

static const struct key_alg key_algs[TPM_ALG__COUNT] = {
	[TPM_ALG_ECC_P256] = { { "ecc-p256", TPM_KEY_ECC, 256, "P-256", "SHA256" },
			       TPM2_ALG_ECC,
			       TPM2_ECC_NIST_P256,
			       TPM2_ALG_ECDSA },
	[TPM_ALG_ECC_P384] = { { "ecc-p384", TPM_KEY_ECC, 384, "P-384", "SHA384" },
			       TPM2_ALG_ECC,
			       TPM2_ECC_NIST_P384,
			       TPM2_ALG_ECDSA },
	[TPM_ALG_RSA_2048] = { { "rsa-2048", TPM_KEY_RSA, 2048, NULL, "SHA256" },
			       TPM2_ALG_RSA,
			       TPM2_ECC_NONE,
			       TPM2_ALG_RSASSA },
	[TPM_ALG_RSA_3072] = { { "rsa-3072", TPM_KEY_RSA, 3072, NULL, "SHA256" },
			       TPM2_ALG_RSA,
			       TPM2_ECC_NONE,
			       TPM2_ALG_RSASSA },
};

/* The row of alg, or NULL. */
static const struct key_alg *key_alg_row(enum tpm_key_alg alg)
{
	return (unsigned)alg < TPM_ALG__COUNT ? &key_algs[alg] : NULL;
}

const struct tpm_key_alg_info *tpm_key_alg_info(enum tpm_key_alg alg)
{
	const struct key_alg *a = key_alg_row(alg);

	return a ? &a->info : NULL;
}

int tpm_key_alg_parse(const char *s)
{
	int i;

	for (i = 0; s && i < TPM_ALG__COUNT; i++)
		if (strcmp(s, key_algs[i].info.name) == 0)
			return i;
	return -1;
}

const char *tpm_key_alg_name(enum tpm_key_alg alg)
{
	const struct key_alg *a = key_alg_row(alg);

	return a ? a->info.name : NULL;
}

bool tpm_key_alg_is_rsa(enum tpm_key_alg alg)
{
	const struct key_alg *a = key_alg_row(alg);

	return a && a->info.type == TPM_KEY_RSA;
}

/* No scheme is fixed in the key, so the signer (the OpenSSL provider, an
 * agent's TLS stack) chooses the hash and, for RSA, PKCS#1 v1.5 or PSS. */
int tpm_key_template(enum tpm_key_alg alg, TPM2B_PUBLIC *out, struct tpm_error *err)
{
	const struct key_alg *a = key_alg_row(alg);
	TPMT_PUBLIC *p = &out->publicArea;

	if (!a)
		return tpm_fail_with(err, TPM_ERR_CONFIG, "unknown key algorithm %d", (int)alg);
	memset(out, 0, sizeof(*out));
	p->type = a->tpm_type;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = KEY_ATTRS;
	if (a->tpm_type == TPM2_ALG_RSA) {
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.rsaDetail.keyBits = a->info.bits;
		p->parameters.rsaDetail.exponent = 0;
	} else {
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.eccDetail.curveID = a->tpm_curve;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
	return 0;
}

/* The row a public area is of: its type, and its curve (ECC) or key size
 * (RSA); -1 when none is. */
static int alg_of(const TPMT_PUBLIC *p)
{
	const struct key_alg *a;
	int i;

	for (i = 0; i < TPM_ALG__COUNT; i++) {
		a = &key_algs[i];
		if (p->type == a->tpm_type &&
		    (a->tpm_type == TPM2_ALG_RSA ? p->parameters.rsaDetail.keyBits == a->info.bits
						 : p->parameters.eccDetail.curveID == a->tpm_curve))
			return i;
	}
	return -1;
}

static bool is_device_key(const TPMT_PUBLIC *p)
{
	const TPMA_OBJECT forbidden = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

	return alg_of(p) >= 0 && p->nameAlg == TPM2_ALG_SHA256 && (p->objectAttributes & KEY_ATTRS) == KEY_ATTRS &&
	       !(p->objectAttributes & forbidden);
}

static int fill_point(const TPMT_PUBLIC *p, struct tpm_public *out, struct tpm_error *err)
{
	const TPMS_ECC_POINT *q = &p->unique.ecc;

	if (q->x.size > sizeof(out->x) || q->y.size > sizeof(out->y))
		return tpm_fail_with(err, TPM_ERR_IO, "TPM returned an oversized ECC point");
	out->type = TPM_KEY_ECC;
	out->bits = out->alg >= 0 ? key_algs[out->alg].info.bits : 0;
	memcpy(out->x, q->x.buffer, q->x.size);
	out->x_len = q->x.size;
	memcpy(out->y, q->y.buffer, q->y.size);
	out->y_len = q->y.size;
	return 0;
}

static int fill_modulus(const TPMT_PUBLIC *p, struct tpm_public *out, struct tpm_error *err)
{
	if (p->unique.rsa.size > sizeof(out->n))
		return tpm_fail_with(err, TPM_ERR_IO, "TPM returned an oversized RSA modulus");
	out->type = TPM_KEY_RSA;
	out->bits = p->parameters.rsaDetail.keyBits;
	memcpy(out->n, p->unique.rsa.buffer, p->unique.rsa.size);
	out->n_len = p->unique.rsa.size;
	out->exponent = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
	return 0;
}

int tpm_public_fill(const TPM2B_PUBLIC *pub, const TPM2B_NAME *name, struct tpm_public *out, struct tpm_error *err)
{
	const TPMT_PUBLIC *p = &pub->publicArea;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (name->size > sizeof(out->name))
		return tpm_fail_with(err, TPM_ERR_IO, "TPM returned an oversized object name");
	memcpy(out->name, name->name, name->size);
	out->name_len = name->size;
	for (i = 0; i < out->name_len; i++)
		snprintf(out->name_hex + 2 * i, 3, "%02x", out->name[i]);
	out->alg = alg_of(p);
	out->device_key = is_device_key(p);
	if (p->type == TPM2_ALG_ECC)
		return fill_point(p, out, err);
	if (p->type == TPM2_ALG_RSA)
		return fill_modulus(p, out, err);
	return 0;
}

/* Load the key in blob under the SRK, as a loaded object to flush. */
static int load_blob(struct tpm_conn *c, const struct tpm_blob *blob, struct tpm_obj *ret, struct tpm_error *err)
{
	_cleanup_(tpm_obj_release) struct tpm_obj srk = { .c = c, .tr = ESYS_TR_NONE };
	struct tpm_obj o = { .c = c, .tr = ESYS_TR_NONE, .loaded = true };
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	TSS2_RC rc;
	int r;

	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob->pub, blob->pub_len, NULL, &pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob->priv, blob->priv_len, NULL, &priv) != TSS2_RC_SUCCESS)
		return tpm_fail_with(err, TPM_ERR_DATA, "the key file's public or private part is not a TPM object");
	r = tpm_srk_open(c, &srk, err);
	if (r == TPM_ABSENT)
		return tpm_fail_with(err, TPM_ERR_CONFIG,
				     "the key file's parent, the storage root key at 0x%08x, is not in the TPM "
				     "(was the TPM cleared?)",
				     TPM_SRK_HANDLE);
	if (r < 0)
		return -1;
	TPM_RETRY(rc = Esys_Load(c->esys, srk.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &o.tr));
	explicit_bzero(&priv, sizeof(priv));
	if (rc == TSS2_RC_SUCCESS) {
		*ret = o;
		return 0;
	}
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && tpm_rc_base(rc) != TPM2_RC_LOCKOUT &&
	    tpm_rc_base(rc) != TPM2_RC_RETRY)
		return tpm_fail_with(err, TPM_ERR_CONFIG,
				     "this TPM cannot load the key file's key under its storage root key at "
				     "0x%08x (a key made by another TPM, or before the TPM was cleared?): %s (0x%x)",
				     TPM_SRK_HANDLE, Tss2_RC_Decode(rc), rc);
	return tpm_fail(c, err, rc, "Load (key file)");
}

/* Open the key at ref with its public part.  TPM_ABSENT when nothing is at
 * the handle. */
static int open_ref(struct tpm_conn *c, const struct tpm_keyref *ref, struct tpm_obj *ret, TPM2B_PUBLIC **ret_public,
		    TPM2B_NAME **ret_name, struct tpm_error *err)
{
	struct tpm_obj o;
	TSS2_RC rc;

	if (ref->handle)
		return tpm_open_persistent(c, ref->handle, ret, ret_public, ret_name, err);
	if (load_blob(c, ref->blob, &o, err) < 0)
		return -1;
	TPM_RETRY(rc = Esys_ReadPublic(c->esys, o.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret_public, ret_name,
				       NULL));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_obj_release(&o);
		return tpm_fail(c, err, rc, "ReadPublic (key file)");
	}
	*ret = o;
	return 0;
}

int tpm_read_key(const char *tcti, const struct tpm_keyref *ref, struct tpm_public *ret_pub, struct tpm_error *err)
{
	_cleanup_(tpm_conn_close) struct tpm_conn c = { 0 };
	_cleanup_(tpm_obj_release) struct tpm_obj o = { 0 };
	_cleanup_(tpm_esys_freep) TPM2B_PUBLIC *public = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_NAME *name = NULL;
	struct tpm_public pub;
	int r;

	if (tpm_conn_open(tcti, &c, err) < 0)
		return -1;
	r = open_ref(&c, ref, &o, &public, &name, err);
	if (r != 0)
		return r;
	if (tpm_public_fill(public, name, &pub, err) < 0)
		return -1;
	*ret_pub = pub;
	return 0;
}

/* The scheme of the test signature: its algorithm's, with SHA-256 (the
 * test digest's size).  A key of none of the table's algorithms is not one
 * this program made, and is not signed with. */
static int test_scheme(const TPM2B_PUBLIC *public, TPMT_SIG_SCHEME *ret, struct tpm_error *err)
{
	int alg = alg_of(&public->publicArea);

	if (alg < 0)
		return tpm_fail_with(err, TPM_ERR_CONFIG, "the key is of no algorithm tpm-provision makes");
	*ret = (TPMT_SIG_SCHEME){ .scheme = key_algs[alg].sign_scheme };
	/* Every signing scheme's details begin with its hash. */
	ret->details.any.hashAlg = TPM2_ALG_SHA256;
	return 0;
}

/* An HMAC session for the key's authorization: salted with the SRK when
 * there is one, so the value never travels in clear. */
static int auth_session(struct tpm_conn *c, struct tpm_obj *ret, struct tpm_error *err)
{
	_cleanup_(tpm_obj_release) struct tpm_obj srk = { 0 };
	int r;

	r = tpm_srk_open(c, &srk, err);
	if (r < 0)
		return -1;
	return tpm_session_start(c, r == TPM_ABSENT ? NULL : &srk, ret, err);
}

int tpm_check_auth(const char *tcti, const struct tpm_keyref *ref, const struct tpm_auth *auth, struct tpm_error *err)
{
	_cleanup_(tpm_conn_close) struct tpm_conn c = { 0 };
	_cleanup_(tpm_obj_release) struct tpm_obj o = { 0 };
	_cleanup_(tpm_esys_freep) TPM2B_PUBLIC *public = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_NAME *name = NULL;
	_cleanup_(tpm_esys_freep) TPMT_SIGNATURE *sig = NULL;
	_cleanup_(tpm_obj_release) struct tpm_obj session = { 0 };
	TPM2B_DIGEST digest = { .size = 32 };
	TPM2B_AUTH value = { 0 };
	TPMT_SIG_SCHEME scheme;
	TPMT_TK_HASHCHECK ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TSS2_RC rc;
	int r;

	if (tpm_conn_open(tcti, &c, err) < 0)
		return -1;
	r = open_ref(&c, ref, &o, &public, &name, err);
	if (r == TPM_ABSENT)
		return tpm_fail_with(err, TPM_ERR_IO, "no key at handle 0x%08x", ref->handle);
	if (r < 0 || auth_session(&c, &session, err) < 0)
		return -1;
	value.size = auth->len;
	memcpy(value.buffer, auth->value, auth->len);
	rc = Esys_TR_SetAuth(c.esys, o.tr, &value);
	explicit_bzero(&value, sizeof(value));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(&c, err, rc, "SetAuth (device key)");
	if (test_scheme(public, &scheme, err) < 0)
		return -1;
	TPM_RETRY(
		rc = Esys_Sign(c.esys, o.tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &ticket, &sig));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(&c, err, rc, "Sign (testing the device key's authorization)");
	return 0;
}

int tpm_evict_key(const char *tcti, uint32_t handle, const struct tpm_public *expected, struct tpm_error *err)
{
	_cleanup_(tpm_conn_close) struct tpm_conn c = { 0 };
	_cleanup_(tpm_obj_release) struct tpm_obj o = { 0 };
	_cleanup_(tpm_esys_freep) TPM2B_PUBLIC *public = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_NAME *name = NULL;
	ESYS_TR none = ESYS_TR_NONE;
	char what[64];
	TSS2_RC rc;
	int r;

	if (tpm_conn_open(tcti, &c, err) < 0)
		return -1;
	r = tpm_open_persistent(&c, handle, &o, &public, &name, err);
	if (r == TPM_ABSENT)
		return 0; /* already gone */
	if (r < 0)
		return -1;
	if (name->size != expected->name_len || memcmp(name->name, expected->name, name->size) != 0)
		return tpm_fail_with(err, TPM_ERR_CONFIG, "the key at 0x%08x changed; not evicting it", handle);
	TPM_RETRY(rc = Esys_EvictControl(c.esys, ESYS_TR_RH_OWNER, o.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
					 handle, &none));
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(what, sizeof(what), "EvictControl (removing the old key at 0x%08x)", handle);
		return tpm_fail(&c, err, rc, what);
	}
	o.tr = ESYS_TR_NONE; /* EvictControl of a persistent object closes it */
	return 0;
}
