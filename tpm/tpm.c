#include "tpm/tpm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#define SRK_HANDLE 0x81000001u

/* The attributes of the device key: it cannot leave this TPM or be
 * re-parented, its secret was generated inside the TPM, it signs and
 * does nothing else. */
#define KEY_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
		   TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | \
		   TPMA_OBJECT_SIGN_ENCRYPT)

/* The attributes that make an object a storage key usable as a parent. */
#define SRK_REQUIRED_ATTRS (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | \
			    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

/* How often a command the TPM asks to repeat (RETRY, YIELDED, TESTING) is
 * sent again, 20 ms apart at first, growing to 500 ms. */
#define RETRY_MAX 40

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	const char *conf;
};

/* A TPM response code without its parameter/handle/session number. */
static TSS2_RC rc_base(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
		return rc;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3fu);
	return rc & 0xfffu;
}

static bool rc_is_missing_handle(TSS2_RC rc)
{
	/* A TPM format-one "handle" error: nothing at that handle. */
	return rc_base(rc) == TPM2_RC_HANDLE;
}

/* Whether to send a command again: the TPM said it could not do it now. */
static bool tpm_retry(TSS2_RC rc, unsigned *tries)
{
	TSS2_RC b = rc_base(rc);
	struct timespec ts;
	unsigned ms;

	if ((b != TPM2_RC_RETRY && b != TPM2_RC_YIELDED && b != TPM2_RC_TESTING) || *tries >= RETRY_MAX)
		return false;
	(*tries)++;
	ms = *tries * 20 < 500 ? *tries * 20 : 500;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ms * 1000000L;
	nanosleep(&ts, NULL);
	return true;
}

/* One message per kind of failure; what names the command and object. */
static int tpm_fail(struct tpm *t, struct tp_error *err, TSS2_RC rc, const char *what)
{
	TSS2_RC b = rc_base(rc);

	if (b == TPM2_RC_LOCKOUT)
		return tp_error_set(err, EX_TEMPFAIL,
				    "TPM %s refused: the TPM is in dictionary-attack lockout after failed "
				    "authorizations; try again later (or reset it with tpm2_dictionarylockout -c)",
				    what);
	if (b == TPM2_RC_AUTH_FAIL || b == TPM2_RC_BAD_AUTH)
		return tp_error_set(err, EX_NOPERM,
				    "TPM %s refused: wrong authorization value for the key (check --key-auth-file)",
				    what);
	if (b == TPM2_RC_NV_SPACE)
		return tp_error_set(err, EX_IOERR,
				    "TPM %s failed: no room for another persistent object in the TPM; "
				    "free a persistent handle first (tpm2_getcap handles-persistent)", what);
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER &&
	    ((rc & 0xffffu) == TSS2_BASE_RC_IO_ERROR || (rc & 0xffffu) == TSS2_BASE_RC_NO_CONNECTION))
		return tp_error_set(err, EX_IOERR, "TPM %s failed: lost the connection to the TPM at TCTI \"%s\" (0x%x)",
				    what, t->conf, rc);
	return tp_error_set(err, EX_IOERR, "TPM %s failed: %s (0x%x)", what, Tss2_RC_Decode(rc), rc);
}

static void tpm_close(struct tpm *t)
{
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
}

/* For "device:PATH" (or "device" alone, /dev/tpm0): the device node. */
static const char *device_path(const char *tcti)
{
	if (strncmp(tcti, "device", 6) != 0 || (tcti[6] != '\0' && tcti[6] != ':'))
		return NULL;
	return tcti[6] == ':' && tcti[7] ? tcti + 7 : "/dev/tpm0";
}

static int tpm_open(const char *tcti, struct tpm *t, struct tp_error *err)
{
	const char *dev = device_path(tcti);
	TSS2_RC rc;

	memset(t, 0, sizeof(*t));
	t->conf = tcti;
	if (dev && access(dev, F_OK) < 0 && errno == ENOENT)
		return tp_error_set(err, EX_IOERR,
				    "no TPM device %s (is there a TPM, enabled in the firmware, with its kernel "
				    "driver loaded?)", dev);
	/* tpm2-tss logs failures to stderr itself; errors here travel up and
	 * are printed once.  TSS2_LOG set by the user still wins. */
	setenv("TSS2_LOG", "all+NONE", 0);
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS)
		return tp_error_set(err, EX_IOERR, "TPM not reachable at TCTI \"%s\": %s (0x%x)", tcti,
				    Tss2_RC_Decode(rc), rc);
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_close(t);
		return tp_error_set(err, EX_IOERR, "TPM not reachable at TCTI \"%s\": %s (0x%x)", tcti,
				    Tss2_RC_Decode(rc), rc);
	}
	/* A real TPM may take minutes to generate an RSA key: never give up
	 * on a command it is still working on. */
	Esys_SetTimeout(t->esys, TSS2_TCTI_TIMEOUT_BLOCK);
	return 0;
}

/* Open the persistent object at handle.  Returns 1 when there is none. */
static int open_persistent(struct tpm *t, uint32_t handle, ESYS_TR *ret_tr, TPM2B_PUBLIC **ret_public,
			   TPM2B_NAME **ret_name, struct tp_error *err)
{
	ESYS_TR tr = ESYS_TR_NONE;
	unsigned tries = 0;
	char what[64];
	TSS2_RC rc;

	do
		rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
	while (tpm_retry(rc, &tries));
	if (rc_is_missing_handle(rc))
		return 1;
	snprintf(what, sizeof(what), "lookup of handle 0x%08x", handle);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, err, rc, what);
	do
		rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret_public, ret_name,
				     NULL);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(t->esys, &tr);
		snprintf(what, sizeof(what), "ReadPublic of handle 0x%08x", handle);
		return tpm_fail(t, err, rc, what);
	}
	*ret_tr = tr;
	return 0;
}

/* The templates of the device key, one per algorithm.  No scheme is fixed
 * in the key, so the signer (the OpenSSL provider, an agent's TLS stack)
 * chooses the hash and, for RSA, PKCS#1 v1.5 or PSS. */
static void key_template(enum tp_key_alg alg, TPM2B_PUBLIC *out)
{
	TPMT_PUBLIC *p = &out->publicArea;

	memset(out, 0, sizeof(*out));
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = KEY_ATTRS;
	if (tp_key_alg_is_rsa(alg)) {
		p->type = TPM2_ALG_RSA;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.rsaDetail.keyBits = alg == TP_ALG_RSA_3072 ? 3072 : 2048;
		p->parameters.rsaDetail.exponent = 0;
	} else {
		p->type = TPM2_ALG_ECC;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.eccDetail.curveID = alg == TP_ALG_ECC_P384 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
}

static int alg_of(const TPMT_PUBLIC *p)
{
	if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256)
		return TP_ALG_ECC_P256;
	if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384)
		return TP_ALG_ECC_P384;
	if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits == 2048)
		return TP_ALG_RSA_2048;
	if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits == 3072)
		return TP_ALG_RSA_3072;
	return -1;
}

static bool is_device_key(const TPMT_PUBLIC *p)
{
	const TPMA_OBJECT forbidden = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

	return alg_of(p) >= 0 && p->nameAlg == TPM2_ALG_SHA256 && (p->objectAttributes & KEY_ATTRS) == KEY_ATTRS &&
	       !(p->objectAttributes & forbidden);
}

static int fill_public(const TPM2B_PUBLIC *pub, const TPM2B_NAME *name, struct tp_tpm_public *out,
		       struct tp_error *err)
{
	const TPMT_PUBLIC *p = &pub->publicArea;

	memset(out, 0, sizeof(*out));
	if (name->size > sizeof(out->name))
		return tp_error_set(err, EX_IOERR, "TPM returned an oversized object name");
	memcpy(out->name, name->name, name->size);
	out->name_len = name->size;
	out->alg = alg_of(p);
	out->device_key = is_device_key(p);

	if (p->type == TPM2_ALG_ECC) {
		const TPMS_ECC_POINT *q = &p->unique.ecc;

		if (q->x.size > sizeof(out->x) || q->y.size > sizeof(out->y))
			return tp_error_set(err, EX_IOERR, "TPM returned an oversized ECC point");
		out->type = TP_KEY_ECC;
		out->bits = out->alg == TP_ALG_ECC_P384 ? 384 : out->alg == TP_ALG_ECC_P256 ? 256 : 0;
		memcpy(out->x, q->x.buffer, q->x.size);
		out->x_len = q->x.size;
		memcpy(out->y, q->y.buffer, q->y.size);
		out->y_len = q->y.size;
		return 0;
	}
	if (p->type == TPM2_ALG_RSA) {
		if (p->unique.rsa.size > sizeof(out->n))
			return tp_error_set(err, EX_IOERR, "TPM returned an oversized RSA modulus");
		out->type = TP_KEY_RSA;
		out->bits = p->parameters.rsaDetail.keyBits;
		memcpy(out->n, p->unique.rsa.buffer, p->unique.rsa.size);
		out->n_len = p->unique.rsa.size;
		out->exponent = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
		return 0;
	}
	return 0;
}

/*
 * The storage root key: the TCG standard ECC P-256 template ("TPM 2.0 Keys
 * for Device Identity and Attestation", SRK template), so other TPM software
 * on the device derives and recognises the same key.
 */
static const TPM2B_PUBLIC srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				    TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
			.scheme = { .scheme = TPM2_ALG_NULL },
			.curveID = TPM2_ECC_NIST_P256,
			.kdf = { .scheme = TPM2_ALG_NULL },
		},
	},
};

/* Open the SRK at 0x81000001, refusing an object there that is not a
 * storage key.  Returns 1 when there is none.  *ret_tr is a persistent
 * object's ESYS_TR (closed, never flushed, by the caller). */
static int open_srk(struct tpm *t, ESYS_TR *ret_tr, struct tp_error *err)
{
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	TPMA_OBJECT a;
	int r;

	r = open_persistent(t, SRK_HANDLE, &tr, &pub, &name, err);
	if (r != 0)
		return r;
	a = pub->publicArea.objectAttributes;
	Esys_Free(pub);
	Esys_Free(name);
	if ((a & SRK_REQUIRED_ATTRS) != SRK_REQUIRED_ATTRS || (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
		Esys_TR_Close(t->esys, &tr);
		return tp_error_set(err, EX_CONFIG,
				    "the object at 0x%08x is not a storage root key (restricted decrypt); "
				    "refusing to use it as the device key's parent", SRK_HANDLE);
	}
	*ret_tr = tr;
	return 0;
}

/* Reuse the SRK at 0x81000001, or create and persist it. */
static int ensure_srk(struct tpm *t, ESYS_TR *ret_tr, struct tp_error *err)
{
	const TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION pcrs = { 0 };
	ESYS_TR primary = ESYS_TR_NONE, tr = ESYS_TR_NONE;
	unsigned tries = 0;
	TSS2_RC rc;
	int r;

	r = open_srk(t, ret_tr, err);
	if (r <= 0)
		return r;
	do
		rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
					&sensitive, &srk_template, &outside, &pcrs, &primary, NULL, NULL, NULL, NULL);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, err, rc, "CreatePrimary (storage root key)");
	do
		rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				       ESYS_TR_NONE, SRK_HANDLE, &tr);
	while (tpm_retry(rc, &tries));
	Esys_FlushContext(t->esys, primary);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, err, rc, "EvictControl (persisting the storage root key at 0x81000001)");
	*ret_tr = tr;
	return 0;
}

/* Ask the TPM whether it can make a key of alg. */
static int check_support(struct tpm *t, enum tp_key_alg alg, struct tp_error *err)
{
	TPM2B_PUBLIC tmpl;
	TPMT_PUBLIC_PARMS parms = { 0 };
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	unsigned tries = 0;
	bool found = false;
	uint32_t i;
	TSS2_RC rc;

	key_template(alg, &tmpl);
	do
		rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS,
					tmpl.publicArea.type, 1, &more, &cap);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, err, rc, "GetCapability (algorithms)");
	found = cap->data.algorithms.count > 0 && cap->data.algorithms.algProperties[0].alg == tmpl.publicArea.type;
	Esys_Free(cap);
	cap = NULL;
	if (!found)
		return tp_error_set(err, EX_CONFIG, "this TPM does not support %s keys (--key-alg %s)",
				    tp_key_alg_is_rsa(alg) ? "RSA" : "ECC", tp_key_alg_name(alg));

	if (!tp_key_alg_is_rsa(alg)) {
		do
			rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						TPM2_CAP_ECC_CURVES, 0, TPM2_MAX_ECC_CURVES, &more, &cap);
		while (tpm_retry(rc, &tries));
		if (rc != TSS2_RC_SUCCESS)
			return tpm_fail(t, err, rc, "GetCapability (ECC curves)");
		found = false;
		for (i = 0; i < cap->data.eccCurves.count; i++)
			if (cap->data.eccCurves.eccCurves[i] == tmpl.publicArea.parameters.eccDetail.curveID)
				found = true;
		Esys_Free(cap);
		if (!found)
			return tp_error_set(err, EX_CONFIG, "this TPM does not support the ECC curve of --key-alg %s",
					    tp_key_alg_name(alg));
	}

	/* The key size (and everything else in the template) in one go. */
	parms.type = tmpl.publicArea.type;
	parms.parameters = tmpl.publicArea.parameters;
	do
		rc = Esys_TestParms(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms);
	while (tpm_retry(rc, &tries));
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && rc != TSS2_RC_SUCCESS &&
	    rc_base(rc) != TPM2_RC_COMMAND_CODE)
		return tp_error_set(err, EX_CONFIG, "this TPM does not support --key-alg %s: %s (0x%x)",
				    tp_key_alg_name(alg), Tss2_RC_Decode(rc), rc);
	if (rc != TSS2_RC_SUCCESS && rc_base(rc) != TPM2_RC_COMMAND_CODE)
		return tpm_fail(t, err, rc, "TestParms");
	return 0;
}

/* Load the key in blob under the SRK; *ret_loaded is to be flushed. */
static int load_blob(struct tpm *t, const struct tp_tpm_blob *blob, ESYS_TR *ret_loaded, struct tp_error *err)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	ESYS_TR srk = ESYS_TR_NONE;
	unsigned tries = 0;
	TSS2_RC rc;
	int r;

	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob->pub, blob->pub_len, NULL, &pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob->priv, blob->priv_len, NULL, &priv) != TSS2_RC_SUCCESS)
		return tp_error_set(err, EX_DATAERR, "the key file's public or private part is not a TPM object");
	r = open_srk(t, &srk, err);
	if (r == 1)
		return tp_error_set(err, EX_CONFIG,
				    "the key file's parent, the storage root key at 0x%08x, is not in the TPM "
				    "(was the TPM cleared?)", SRK_HANDLE);
	if (r < 0)
		return -1;
	do
		rc = Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, ret_loaded);
	while (tpm_retry(rc, &tries));
	Esys_TR_Close(t->esys, &srk);
	explicit_bzero(&priv, sizeof(priv));
	if (rc != TSS2_RC_SUCCESS) {
		if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && rc_base(rc) != TPM2_RC_LOCKOUT &&
		    rc_base(rc) != TPM2_RC_RETRY)
			return tp_error_set(err, EX_CONFIG,
					    "this TPM cannot load the key file's key under its storage root key at "
					    "0x%08x (a key made by another TPM, or before the TPM was cleared?): %s (0x%x)",
					    SRK_HANDLE, Tss2_RC_Decode(rc), rc);
		return tpm_fail(t, err, rc, "Load (key file)");
	}
	return 0;
}

/* Open the key at ref: *ret_tr is closed (persistent) or flushed (loaded)
 * by close_ref().  Returns 1 when nothing is at the handle. */
static int open_ref(struct tpm *t, const struct tp_tpm_keyref *ref, ESYS_TR *ret_tr, TPM2B_PUBLIC **ret_public,
		    TPM2B_NAME **ret_name, struct tp_error *err)
{
	ESYS_TR tr = ESYS_TR_NONE;
	unsigned tries = 0;
	TSS2_RC rc;

	if (ref->handle)
		return open_persistent(t, ref->handle, ret_tr, ret_public, ret_name, err);
	if (load_blob(t, ref->blob, &tr, err) < 0)
		return -1;
	do
		rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret_public, ret_name,
				     NULL);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS) {
		Esys_FlushContext(t->esys, tr);
		return tpm_fail(t, err, rc, "ReadPublic (key file)");
	}
	*ret_tr = tr;
	return 0;
}

static void close_ref(struct tpm *t, const struct tp_tpm_keyref *ref, ESYS_TR *tr)
{
	if (*tr == ESYS_TR_NONE)
		return;
	if (ref->handle)
		Esys_TR_Close(t->esys, tr);
	else
		Esys_FlushContext(t->esys, *tr);
	*tr = ESYS_TR_NONE;
}

int tp_tpm_read_key(const char *tcti, const struct tp_tpm_keyref *ref, struct tp_tpm_public *ret_pub,
		    struct tp_error *err)
{
	struct tp_tpm_public pub;
	TPM2B_PUBLIC *public = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	struct tpm t;
	int r;

	if (tpm_open(tcti, &t, err) < 0)
		return -1;
	r = open_ref(&t, ref, &tr, &public, &name, err);
	if (r == 0) {
		r = fill_public(public, name, &pub, err);
		close_ref(&t, ref, &tr);
	}
	Esys_Free(public);
	Esys_Free(name);
	tpm_close(&t);
	if (r == 0)
		*ret_pub = pub;
	return r;
}

int tp_tpm_check_auth(const char *tcti, const struct tp_tpm_keyref *ref, const struct tp_tpm_auth *auth,
		      struct tp_error *err)
{
	TPM2B_PUBLIC *public = NULL;
	TPM2B_NAME *name = NULL;
	TPM2B_DIGEST digest = { .size = 32 };
	TPM2B_AUTH value = { 0 };
	TPMT_SIG_SCHEME scheme = { 0 };
	TPMT_TK_HASHCHECK ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE *sig = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	unsigned tries = 0;
	struct tpm t;
	TSS2_RC rc;
	int r;

	if (tpm_open(tcti, &t, err) < 0)
		return -1;
	r = open_ref(&t, ref, &tr, &public, &name, err);
	if (r == 1)
		r = tp_error_set(err, EX_IOERR, "no key at handle 0x%08x", ref->handle);
	if (r < 0)
		goto out;
	r = -1;
	value.size = auth->len;
	memcpy(value.buffer, auth->value, auth->len);
	rc = Esys_TR_SetAuth(t.esys, tr, &value);
	explicit_bzero(&value, sizeof(value));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(&t, err, rc, "SetAuth (device key)");
		goto out;
	}
	if (public->publicArea.type == TPM2_ALG_RSA) {
		scheme.scheme = TPM2_ALG_RSASSA;
		scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	} else {
		scheme.scheme = TPM2_ALG_ECDSA;
		scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	}
	do
		rc = Esys_Sign(t.esys, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &ticket,
			       &sig);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(&t, err, rc, "Sign (testing the device key's authorization)");
		goto out;
	}
	r = 0;
out:
	close_ref(&t, ref, &tr);
	Esys_Free(sig);
	Esys_Free(public);
	Esys_Free(name);
	tpm_close(&t);
	return r;
}

int tp_tpm_create_key(const char *tcti, enum tp_key_alg alg, const struct tp_tpm_auth *auth, uint32_t handle,
		      struct tp_tpm_public *ret_pub, struct tp_tpm_blob *ret_blob, struct tp_error *err)
{
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION pcrs = { 0 };
	struct tp_tpm_blob blob = { 0 };
	struct tp_tpm_public pub;
	TPM2B_PUBLIC tmpl;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *public = NULL, *read = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR srk = ESYS_TR_NONE, loaded = ESYS_TR_NONE, persistent = ESYS_TR_NONE;
	unsigned tries = 0;
	struct tpm t;
	char what[96];
	TSS2_RC rc;
	int r = -1;

	if (tpm_open(tcti, &t, err) < 0)
		return -1;
	if (check_support(&t, alg, err) < 0 || ensure_srk(&t, &srk, err) < 0)
		goto out;
	key_template(alg, &tmpl);
	sensitive.sensitive.userAuth.size = auth->len;
	memcpy(sensitive.sensitive.userAuth.buffer, auth->value, auth->len);
	do
		rc = Esys_Create(t.esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &tmpl,
				 &outside, &pcrs, &priv, &public, NULL, NULL, NULL);
	while (tpm_retry(rc, &tries));
	explicit_bzero(&sensitive, sizeof(sensitive));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(&t, err, rc, "Create (device key)");
		goto out;
	}
	do
		rc = Esys_Load(t.esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, public, &loaded);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(&t, err, rc, "Load (device key)");
		goto out;
	}
	do
		rc = Esys_ReadPublic(t.esys, loaded, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &read, &name, NULL);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(&t, err, rc, "ReadPublic (device key)");
		goto out;
	}
	if (fill_public(read, name, &pub, err) < 0)
		goto out;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(public, blob.pub, sizeof(blob.pub), &blob.pub_len) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, blob.priv, sizeof(blob.priv), &blob.priv_len) != TSS2_RC_SUCCESS) {
		tp_error_set(err, EX_IOERR, "cannot marshal the new key");
		goto out;
	}
	if (handle) {
		do
			rc = Esys_EvictControl(t.esys, ESYS_TR_RH_OWNER, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					       ESYS_TR_NONE, handle, &persistent);
		while (tpm_retry(rc, &tries));
		if (rc != TSS2_RC_SUCCESS) {
			snprintf(what, sizeof(what), "EvictControl (persisting the device key at 0x%08x)", handle);
			tpm_fail(&t, err, rc, what);
			goto out;
		}
	}
	*ret_pub = pub;
	if (ret_blob)
		*ret_blob = blob;
	r = 0;
out:
	if (loaded != ESYS_TR_NONE)
		Esys_FlushContext(t.esys, loaded);
	if (persistent != ESYS_TR_NONE)
		Esys_TR_Close(t.esys, &persistent);
	if (srk != ESYS_TR_NONE)
		Esys_TR_Close(t.esys, &srk);
	explicit_bzero(&blob, sizeof(blob));
	Esys_Free(priv);
	Esys_Free(public);
	Esys_Free(read);
	Esys_Free(name);
	tpm_close(&t);
	return r;
}

int tp_tpm_evict_key(const char *tcti, uint32_t handle, const struct tp_tpm_public *expected, struct tp_error *err)
{
	TPM2B_PUBLIC *public = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR tr = ESYS_TR_NONE, none = ESYS_TR_NONE;
	unsigned tries = 0;
	struct tpm t;
	char what[64];
	TSS2_RC rc;
	int r;

	if (tpm_open(tcti, &t, err) < 0)
		return -1;
	r = open_persistent(&t, handle, &tr, &public, &name, err);
	if (r == 1) {
		r = 0; /* already gone */
		goto out;
	}
	if (r < 0)
		goto out;
	r = -1;
	if (name->size != expected->name_len || memcmp(name->name, expected->name, name->size) != 0) {
		tp_error_set(err, EX_CONFIG, "the key at 0x%08x changed; not evicting it", handle);
		goto out;
	}
	do
		rc = Esys_EvictControl(t.esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
				       handle, &none);
	while (tpm_retry(rc, &tries));
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(what, sizeof(what), "EvictControl (removing the old key at 0x%08x)", handle);
		tpm_fail(&t, err, rc, what);
		goto out;
	}
	tr = ESYS_TR_NONE; /* EvictControl of a persistent object closes it */
	r = 0;
out:
	if (tr != ESYS_TR_NONE)
		Esys_TR_Close(t.esys, &tr);
	Esys_Free(public);
	Esys_Free(name);
	tpm_close(&t);
	return r;
}

void tp_tpm_name_hex(const struct tp_tpm_public *pub, char *out)
{
	size_t i;

	for (i = 0; i < pub->name_len; i++)
		sprintf(out + 2 * i, "%02x", pub->name[i]);
	out[2 * pub->name_len] = '\0';
}
