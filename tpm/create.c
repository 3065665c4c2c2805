/* SPDX-License-Identifier: BSD-2-Clause */
/* Creating the device key under the storage root key. */
#include "tpm/internal.h"

#include <stdio.h>
#include <string.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

/* Whether the TPM implements the algorithm, and for ECC the curve. */
static int check_alg_and_curve(struct tpm_conn *c, const TPM2B_PUBLIC *tmpl, enum tpm_key_alg alg,
			       struct tpm_error *err)
{
	_cleanup_(tpm_esys_freep) TPMS_CAPABILITY_DATA *algs = NULL;
	_cleanup_(tpm_esys_freep) TPMS_CAPABILITY_DATA *curves = NULL;
	TPMI_YES_NO more;
	bool found;
	uint32_t i;
	TSS2_RC rc;

	TPM_RETRY(rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS,
					  tmpl->publicArea.type, 1, &more, &algs));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "GetCapability (algorithms)");
	if (algs->data.algorithms.count == 0 || algs->data.algorithms.algProperties[0].alg != tmpl->publicArea.type)
		return tpm_fail_with(err, TPM_ERR_CONFIG, "this TPM does not support %s keys (%s)",
				     tpm_key_alg_is_rsa(alg) ? "RSA" : "ECC", tpm_key_alg_name(alg));
	if (tpm_key_alg_is_rsa(alg))
		return 0;
	TPM_RETRY(rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ECC_CURVES, 0,
					  TPM2_MAX_ECC_CURVES, &more, &curves));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "GetCapability (ECC curves)");
	found = false;
	for (i = 0; i < curves->data.eccCurves.count; i++)
		found |= curves->data.eccCurves.eccCurves[i] == tmpl->publicArea.parameters.eccDetail.curveID;
	if (!found)
		return tpm_fail_with(err, TPM_ERR_CONFIG, "this TPM does not support the ECC curve of %s",
				     tpm_key_alg_name(alg));
	return 0;
}

/* Ask the TPM whether it can make a key of alg: algorithm, curve, then the
 * key size (and everything else in the template) in one go. */
static int check_support(struct tpm_conn *c, enum tpm_key_alg alg, struct tpm_error *err)
{
	TPMT_PUBLIC_PARMS parms = { 0 };
	TPM2B_PUBLIC tmpl;
	TSS2_RC rc;

	if (tpm_key_template(alg, &tmpl, err) < 0 || check_alg_and_curve(c, &tmpl, alg, err) < 0)
		return -1;
	parms.type = tmpl.publicArea.type;
	parms.parameters = tmpl.publicArea.parameters;
	TPM_RETRY(rc = Esys_TestParms(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms));
	if (rc == TSS2_RC_SUCCESS || tpm_rc_base(rc) == TPM2_RC_COMMAND_CODE)
		return 0;
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER)
		return tpm_fail_with(err, TPM_ERR_CONFIG, "this TPM does not support %s: %s (0x%x)",
				     tpm_key_alg_name(alg), Tss2_RC_Decode(rc), rc);
	return tpm_fail(c, err, rc, "TestParms");
}

/* The new key: made, loaded (to be flushed) and described. */
struct made_key {
	struct tpm_obj loaded;
	struct tpm_public pub;
	struct tpm_blob blob;
};

static int make_key(struct tpm_conn *c, struct tpm_obj *srk, enum tpm_key_alg alg, const struct tpm_auth *auth,
		    struct made_key *k, struct tpm_error *err)
{
	_cleanup_(tpm_esys_freep) TPM2B_PRIVATE *priv = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_PUBLIC *public = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_PUBLIC *read = NULL;
	_cleanup_(tpm_esys_freep) TPM2B_NAME *name = NULL;
	_cleanup_(tpm_obj_release) struct tpm_obj session = { 0 };
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PUBLIC tmpl;
	TSS2_RC rc;

	/* The new key's authorization value goes in the encrypted first
	 * parameter of a session salted with the SRK. */
	if (tpm_session_start(c, srk, &session, err) < 0 || tpm_key_template(alg, &tmpl, err) < 0)
		return -1;
	sensitive.sensitive.userAuth.size = auth->len;
	memcpy(sensitive.sensitive.userAuth.buffer, auth->value, auth->len);
	TPM_RETRY(rc = Esys_Create(c->esys, srk->tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &tmpl,
				   &outside, &pcrs, &priv, &public, NULL, NULL, NULL));
	explicit_bzero(&sensitive, sizeof(sensitive));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "Create (device key)");
	TPM_RETRY(rc = Esys_Load(c->esys, srk->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, public,
				 &k->loaded.tr));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "Load (device key)");
	TPM_RETRY(rc = Esys_ReadPublic(c->esys, k->loaded.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &read, &name,
				       NULL));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "ReadPublic (device key)");
	if (tpm_public_fill(read, name, &k->pub, err) < 0)
		return -1;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(public, k->blob.pub, sizeof(k->blob.pub), &k->blob.pub_len) !=
		    TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, k->blob.priv, sizeof(k->blob.priv), &k->blob.priv_len) !=
		    TSS2_RC_SUCCESS)
		return tpm_fail_with(err, TPM_ERR_IO, "cannot marshal the new key");
	return 0;
}

static int persist(struct tpm_conn *c, struct tpm_obj *loaded, uint32_t handle, struct tpm_error *err)
{
	_cleanup_(tpm_obj_release) struct tpm_obj persistent = { .c = c, .tr = ESYS_TR_NONE };
	char what[96];
	TSS2_RC rc;

	TPM_RETRY(rc = Esys_EvictControl(c->esys, ESYS_TR_RH_OWNER, loaded->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					 ESYS_TR_NONE, handle, &persistent.tr));
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	snprintf(what, sizeof(what), "EvictControl (persisting the device key at 0x%08x)", handle);
	return tpm_fail(c, err, rc, what);
}

static void made_key_release(struct made_key *k)
{
	tpm_obj_release(&k->loaded);
	explicit_bzero(&k->blob, sizeof(k->blob));
}

int tpm_probe(const char *tcti, enum tpm_key_alg alg, bool *ret_srk_present, struct tpm_error *err)
{
	_cleanup_(tpm_conn_close) struct tpm_conn c = { 0 };
	_cleanup_(tpm_obj_release) struct tpm_obj srk = { 0 };
	int r;

	if (tpm_conn_open(tcti, &c, err) < 0 || check_support(&c, alg, err) < 0)
		return -1;
	r = tpm_srk_open(&c, &srk, err);
	if (r < 0)
		return -1;
	*ret_srk_present = r == 0;
	return 0;
}

int tpm_check_lockout(const char *tcti, struct tpm_error *err)
{
	_cleanup_(tpm_conn_close) struct tpm_conn c = { 0 };
	_cleanup_(tpm_esys_freep) TPMS_CAPABILITY_DATA *props = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	if (tpm_conn_open(tcti, &c, err) < 0)
		return -1;
	TPM_RETRY(rc = Esys_GetCapability(c.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
					  TPM2_PT_PERMANENT, 1, &more, &props));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(&c, err, rc, "GetCapability (permanent attributes)");
	if (props->data.tpmProperties.count == 1 &&
	    props->data.tpmProperties.tpmProperty[0].property == TPM2_PT_PERMANENT &&
	    (props->data.tpmProperties.tpmProperty[0].value & TPMA_PERMANENT_INLOCKOUT))
		return tpm_fail(&c, err, TPM2_RC_LOCKOUT, "Sign");
	return 0;
}

int tpm_create_key(const char *tcti, enum tpm_key_alg alg, const struct tpm_auth *auth, uint32_t handle,
		   struct tpm_public *ret_pub, struct tpm_blob *ret_blob, struct tpm_error *err)
{
	_cleanup_(tpm_conn_close) struct tpm_conn c = { 0 };
	_cleanup_(tpm_obj_release) struct tpm_obj srk = { 0 };
	_cleanup_(made_key_release) struct made_key k = { .loaded = { .c = &c, .tr = ESYS_TR_NONE, .loaded = true } };

	if (tpm_conn_open(tcti, &c, err) < 0)
		return -1;
	if (check_support(&c, alg, err) < 0 || tpm_srk_ensure(&c, &srk, err) < 0 ||
	    make_key(&c, &srk, alg, auth, &k, err) < 0)
		return -1;
	if (handle && persist(&c, &k.loaded, handle, err) < 0)
		return -1;
	*ret_pub = k.pub;
	if (ret_blob)
		*ret_blob = k.blob;
	return 0;
}
