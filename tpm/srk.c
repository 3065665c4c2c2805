/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The storage root key: the TCG standard ECC P-256 template ("TPM 2.0 Keys
 * for Device Identity and Attestation", SRK template) at the standard
 * handle, so other TPM software on the device derives and recognises the
 * same key.
 */
#include "tpm/internal.h"

/* The attributes that make an object a storage key usable as a parent. */
#define SRK_REQUIRED_ATTRS                                                                                             \
	(TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

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

/* Refuse an object at the SRK handle that is not a storage key. */
int tpm_srk_open(struct tpm_conn *c, struct tpm_obj *ret, struct tpm_error *err)
{
	_cleanup_(tpm_esys_freep) TPM2B_PUBLIC *pub = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_NAME *name = NULL;
	struct tpm_obj o;
	TPMA_OBJECT a;
	int r;

	r = tpm_open_persistent(c, TPM_SRK_HANDLE, &o, &pub, &name, err);
	if (r != 0)
		return r;
	a = pub->publicArea.objectAttributes;
	if ((a & SRK_REQUIRED_ATTRS) != SRK_REQUIRED_ATTRS || (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
		tpm_obj_release(&o);
		return tpm_fail_with(err, TPM_ERR_CONFIG,
				     "the object at 0x%08x is not a storage root key (restricted decrypt); "
				     "refusing to use it as the device key's parent",
				     TPM_SRK_HANDLE);
	}
	*ret = o;
	return 0;
}

int tpm_srk_ensure(struct tpm_conn *c, struct tpm_obj *ret, struct tpm_error *err)
{
	const TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION pcrs = { 0 };
	_cleanup_(tpm_obj_release) struct tpm_obj primary = { .c = c, .tr = ESYS_TR_NONE, .loaded = true };
	struct tpm_obj srk = { .c = c, .tr = ESYS_TR_NONE };
	TSS2_RC rc;
	int r;

	r = tpm_srk_open(c, ret, err);
	if (r != TPM_ABSENT)
		return r;
	TPM_RETRY(rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
					  &sensitive, &srk_template, &outside, &pcrs, &primary.tr, NULL, NULL, NULL,
					  NULL));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "CreatePrimary (storage root key)");
	TPM_RETRY(rc = Esys_EvictControl(c->esys, ESYS_TR_RH_OWNER, primary.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					 ESYS_TR_NONE, TPM_SRK_HANDLE, &srk.tr));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "EvictControl (persisting the storage root key at 0x81000001)");
	*ret = srk;
	return 0;
}
