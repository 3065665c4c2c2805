#include "tpm/tpm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
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

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

static int tpm_fail(struct tp_error *err, TSS2_RC rc, const char *what)
{
	return tp_error_set(err, EX_IOERR, "TPM %s failed: %s (0x%x)", what, Tss2_RC_Decode(rc), rc);
}

static bool rc_is_missing_handle(TSS2_RC rc)
{
	/* A TPM format-one "handle" error: nothing at that handle. */
	return (rc & 0xffff0000u) == 0 && (rc & TPM2_RC_FMT1) &&
	       (rc & 0x3fu) == (TPM2_RC_HANDLE & 0x3fu);
}

static void tpm_close(struct tpm *t)
{
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
}

static int tpm_open(const char *tcti, struct tpm *t, struct tp_error *err)
{
	TSS2_RC rc;

	memset(t, 0, sizeof(*t));
	/* tpm2-tss logs failures to stderr itself; errors here travel up and
	 * are printed once.  TSS2_LOG set by the user still wins. */
	setenv("TSS2_LOG", "all+NONE", 0);
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS)
		return tp_error_set(err, EX_IOERR, "cannot reach the TPM at TCTI \"%s\": %s (0x%x)", tcti,
				    Tss2_RC_Decode(rc), rc);
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_close(t);
		return tp_error_set(err, EX_IOERR, "cannot talk to the TPM at TCTI \"%s\": %s (0x%x)", tcti,
				    Tss2_RC_Decode(rc), rc);
	}
	return 0;
}

/* Open the persistent object at handle.  Returns 1 when there is none. */
static int open_persistent(struct tpm *t, uint32_t handle, ESYS_TR *ret_tr, TPM2B_PUBLIC **ret_public,
			   TPM2B_NAME **ret_name, struct tp_error *err)
{
	ESYS_TR tr = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
	if (rc_is_missing_handle(rc))
		return 1;
	if (rc != TSS2_RC_SUCCESS) {
		tp_error_set(err, EX_IOERR, "TPM lookup of handle 0x%08x failed: %s (0x%x)", handle,
			     Tss2_RC_Decode(rc), rc);
		return -1;
	}
	rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret_public, ret_name, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(t->esys, &tr);
		tp_error_set(err, EX_IOERR, "TPM ReadPublic of handle 0x%08x failed: %s (0x%x)", handle,
			     Tss2_RC_Decode(rc), rc);
		return -1;
	}
	*ret_tr = tr;
	return 0;
}

static bool is_our_key(const TPMT_PUBLIC *p)
{
	const TPMA_OBJECT forbidden = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

	return p->type == TPM2_ALG_ECC && p->nameAlg == TPM2_ALG_SHA256 &&
	       (p->objectAttributes & KEY_ATTRS) == KEY_ATTRS && !(p->objectAttributes & forbidden) &&
	       p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256;
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

	if (p->type == TPM2_ALG_ECC) {
		const TPMS_ECC_POINT *q = &p->unique.ecc;

		if (p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 || q->x.size != 32 || q->y.size != 32)
			return tp_error_set(err, EX_IOERR, "TPM key has an unsupported ECC curve 0x%x",
					    p->parameters.eccDetail.curveID);
		out->type = TP_KEY_ECC;
		out->bits = 256;
		memcpy(out->x, q->x.buffer, q->x.size);
		out->x_len = q->x.size;
		memcpy(out->y, q->y.buffer, q->y.size);
		out->y_len = q->y.size;
		return 0;
	}
	return tp_error_set(err, EX_IOERR, "TPM key has an unsupported type 0x%x", p->type);
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

/* The device key: ECC P-256, no scheme fixed in the key so the signer
 * (the OpenSSL provider, an agent's TLS stack) chooses ECDSA's hash. */
static const TPM2B_PUBLIC key_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = KEY_ATTRS,
		.parameters.eccDetail = {
			.symmetric = { .algorithm = TPM2_ALG_NULL },
			.scheme = { .scheme = TPM2_ALG_NULL },
			.curveID = TPM2_ECC_NIST_P256,
			.kdf = { .scheme = TPM2_ALG_NULL },
		},
	},
};

/* Reuse the SRK at 0x81000001, or create and persist it.  *ret_tr is a
 * persistent object's ESYS_TR (closed, never flushed, by the caller). */
static int ensure_srk(struct tpm *t, ESYS_TR *ret_tr, struct tp_error *err)
{
	const TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR primary = ESYS_TR_NONE, tr = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	r = open_persistent(t, SRK_HANDLE, &tr, &pub, &name, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		TPMA_OBJECT a = pub->publicArea.objectAttributes;

		Esys_Free(pub);
		Esys_Free(name);
		if ((a & SRK_REQUIRED_ATTRS) != SRK_REQUIRED_ATTRS || (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
			Esys_TR_Close(t->esys, &tr);
			return tp_error_set(err, EX_IOERR,
					    "the object at 0x%08x is not a storage root key (restricted decrypt); "
					    "refusing to create the device key under it", SRK_HANDLE);
		}
		*ret_tr = tr;
		return 0;
	}

	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
				&sensitive, &srk_template, &outside, &pcrs, &primary, NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(err, rc, "CreatePrimary (storage root key)");
	rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			       SRK_HANDLE, &tr);
	Esys_FlushContext(t->esys, primary);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(err, rc, "EvictControl (persisting the storage root key at 0x81000001)");
	*ret_tr = tr;
	return 0;
}

/* Create the device key under the SRK and persist it at handle. */
static int create_key(struct tpm *t, uint32_t handle, struct tp_error *err)
{
	const TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR srk = ESYS_TR_NONE, loaded = ESYS_TR_NONE, persistent = ESYS_TR_NONE;
	TSS2_RC rc;
	int r = -1;

	if (ensure_srk(t, &srk, err) < 0)
		return -1;
	rc = Esys_Create(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &key_template,
			 &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(err, rc, "Create (device key)");
		goto out;
	}
	rc = Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &loaded);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(err, rc, "Load (device key)");
		goto out;
	}
	rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			       handle, &persistent);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_fail(err, rc, "EvictControl (persisting the device key)");
		tp_error_append(err, "handle 0x%08x", handle);
		goto out;
	}
	r = 0;
out:
	if (loaded != ESYS_TR_NONE)
		Esys_FlushContext(t->esys, loaded);
	if (persistent != ESYS_TR_NONE)
		Esys_TR_Close(t->esys, &persistent);
	Esys_TR_Close(t->esys, &srk);
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

/* Read the key at handle into out; 1 when there is none.  With check, a key
 * there that this program would not have made is an error. */
static int read_key(struct tpm *t, uint32_t handle, bool check, struct tp_tpm_public *out, struct tp_error *err)
{
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	int r;

	r = open_persistent(t, handle, &tr, &pub, &name, err);
	if (r != 0)
		return r;
	if (check && !is_our_key(&pub->publicArea))
		r = tp_error_set(err, EX_CONFIG,
				 "handle 0x%08x already holds a key that tpm-provision did not create "
				 "(not an ECC P-256 fixedTPM signing key); choose a free handle with --key-handle",
				 handle);
	else
		r = fill_public(pub, name, out, err);
	Esys_TR_Close(t->esys, &tr);
	Esys_Free(pub);
	Esys_Free(name);
	return r;
}

int tp_tpm_ensure_key(const char *tcti, uint32_t handle, struct tp_tpm_public *ret_pub, int *ret_created,
		      struct tp_error *err)
{
	struct tp_tpm_public pub;
	struct tpm t;
	int created = 0, r;

	if (tpm_open(tcti, &t, err) < 0)
		return -1;
	r = read_key(&t, handle, true, &pub, err);
	if (r == 1) {
		r = create_key(&t, handle, err);
		if (r == 0) {
			created = 1;
			r = read_key(&t, handle, true, &pub, err);
			if (r == 1)
				r = tp_error_set(err, EX_IOERR, "TPM: the new key is not at handle 0x%08x", handle);
		}
	}
	tpm_close(&t);
	if (r < 0)
		return -1;
	*ret_pub = pub;
	*ret_created = created;
	return 0;
}

int tp_tpm_read_key(const char *tcti, uint32_t handle, struct tp_tpm_public *ret_pub, struct tp_error *err)
{
	struct tp_tpm_public pub;
	struct tpm t;
	int r;

	if (tpm_open(tcti, &t, err) < 0)
		return -1;
	r = read_key(&t, handle, false, &pub, err);
	tpm_close(&t);
	if (r == 0)
		*ret_pub = pub;
	return r;
}

void tp_tpm_name_hex(const struct tp_tpm_public *pub, char *out)
{
	size_t i;

	for (i = 0; i < pub->name_len; i++)
		sprintf(out + 2 * i, "%02x", pub->name[i]);
	out[2 * pub->name_len] = '\0';
}
