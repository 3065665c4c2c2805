/* SPDX-License-Identifier: BSD-2-Clause */
/* The TPM connection, its errors and the retries a TPM asks for. */
#include "tpm/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

/* How often a command the TPM asks to repeat (RETRY, YIELDED, TESTING) is
 * sent again, 20 ms apart at first, growing to 500 ms. */
#define RETRY_MAX 40

int tpm_fail_with(struct tpm_error *err, enum tpm_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->kind != 0)
		return -1;
	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

TSS2_RC tpm_rc_base(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
		return rc;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3fu);
	return rc & 0xfffu;
}

bool tpm_retry(TSS2_RC rc, unsigned *tries)
{
	TSS2_RC b = tpm_rc_base(rc);
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

int tpm_fail(const struct tpm_conn *c, struct tpm_error *err, TSS2_RC rc, const char *what)
{
	TSS2_RC b = tpm_rc_base(rc);

	if (b == TPM2_RC_LOCKOUT)
		return tpm_fail_with(err, TPM_ERR_LOCKOUT,
				     "TPM %s refused: the TPM is in dictionary-attack lockout after failed "
				     "authorizations; try again later (or reset it with tpm2_dictionarylockout -c)",
				     what);
	if (b == TPM2_RC_AUTH_FAIL || b == TPM2_RC_BAD_AUTH)
		return tpm_fail_with(err, TPM_ERR_AUTH, "TPM %s refused: wrong authorization value for the key", what);
	if (b == TPM2_RC_NV_SPACE)
		return tpm_fail_with(err, TPM_ERR_IO,
				     "TPM %s failed: no room for another persistent object in the TPM; "
				     "free a persistent handle first (tpm2_getcap handles-persistent)",
				     what);
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER &&
	    ((rc & 0xffffu) == TSS2_BASE_RC_IO_ERROR || (rc & 0xffffu) == TSS2_BASE_RC_NO_CONNECTION))
		return tpm_fail_with(err, TPM_ERR_IO,
				     "TPM %s failed: lost the connection to the TPM at TCTI \"%s\" (0x%x)", what,
				     c->conf, rc);
	return tpm_fail_with(err, TPM_ERR_IO, "TPM %s failed: %s (0x%x)", what, Tss2_RC_Decode(rc), rc);
}

void tpm_conn_close(struct tpm_conn *c)
{
	if (!c)
		return;
	if (c->esys)
		Esys_Finalize(&c->esys);
	if (c->tcti)
		Tss2_TctiLdr_Finalize(&c->tcti);
}

void tpm_esys_freep(void *p)
{
	Esys_Free(*(void **)p);
}

void tpm_obj_release(struct tpm_obj *o)
{
	if (!o || !o->c || o->tr == ESYS_TR_NONE)
		return;
	if (o->loaded)
		Esys_FlushContext(o->c->esys, o->tr);
	else
		Esys_TR_Close(o->c->esys, &o->tr);
	o->tr = ESYS_TR_NONE;
}

/* For "device:PATH" (or "device" alone, /dev/tpm0): the device node; the
 * same through pcap, which records what the TCTI it wraps carries. */
static const char *device_path(const char *tcti)
{
	while (strncmp(tcti, "pcap:", 5) == 0)
		tcti += 5;
	if (strncmp(tcti, "device", 6) != 0 || (tcti[6] != '\0' && tcti[6] != ':'))
		return NULL;
	return tcti[6] == ':' && tcti[7] ? tcti + 7 : "/dev/tpm0";
}

int tpm_conn_open(const char *tcti, struct tpm_conn *ret, struct tpm_error *err)
{
	struct tpm_conn c = { .conf = tcti };
	const char *dev = device_path(tcti);
	TSS2_RC rc;

	if (dev && access(dev, F_OK) < 0 && errno == ENOENT)
		return tpm_fail_with(err, TPM_ERR_IO,
				     "no TPM device %s (is there a TPM, enabled in the firmware, with its kernel "
				     "driver loaded?)",
				     dev);
	/* tpm2-tss logs failures to stderr itself; errors here travel up and
	 * are printed once.  TSS2_LOG set by the user still wins. */
	setenv("TSS2_LOG", "all+NONE", 0);
	rc = Tss2_TctiLdr_Initialize(tcti, &c.tcti);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_Initialize(&c.esys, c.tcti, NULL);
	if (rc == TSS2_TCTI_RC_BAD_VALUE || rc == TSS2_TCTI_RC_BAD_REFERENCE) {
		tpm_conn_close(&c);
		return tpm_fail_with(err, TPM_ERR_USAGE, "TCTI \"%s\" is malformed: its module says %s (0x%x)", tcti,
				     Tss2_RC_Decode(rc), rc);
	}
	if (rc != TSS2_RC_SUCCESS) {
		tpm_conn_close(&c);
		return tpm_fail_with(err, TPM_ERR_IO, "TPM not reachable at TCTI \"%s\": %s (0x%x)", tcti,
				     Tss2_RC_Decode(rc), rc);
	}
	/* A real TPM may take minutes to generate an RSA key: never give up
	 * on a command it is still working on. */
	Esys_SetTimeout(c.esys, TSS2_TCTI_TIMEOUT_BLOCK);
	*ret = c;
	return 0;
}

int tpm_open_persistent(struct tpm_conn *c, uint32_t handle, struct tpm_obj *ret, TPM2B_PUBLIC **ret_public,
			TPM2B_NAME **ret_name, struct tpm_error *err)
{
	struct tpm_obj o = { .c = c, .tr = ESYS_TR_NONE };
	char what[64];
	TSS2_RC rc;

	TPM_RETRY(rc = Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &o.tr));
	/* A TPM format-one "handle" error: nothing at that handle. */
	if (tpm_rc_base(rc) == TPM2_RC_HANDLE)
		return TPM_ABSENT;
	snprintf(what, sizeof(what), "lookup of handle 0x%08x", handle);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, what);
	TPM_RETRY(rc = Esys_ReadPublic(c->esys, o.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret_public, ret_name,
				       NULL));
	if (rc != TSS2_RC_SUCCESS) {
		tpm_obj_release(&o);
		snprintf(what, sizeof(what), "ReadPublic of handle 0x%08x", handle);
		return tpm_fail(c, err, rc, what);
	}
	*ret = o;
	return 0;
}

int tpm_session_start(struct tpm_conn *c, const struct tpm_obj *salt_key, struct tpm_obj *ret, struct tpm_error *err)
{
	const TPMT_SYM_DEF symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB };
	struct tpm_obj session = { .c = c, .tr = ESYS_TR_NONE, .loaded = true };
	TSS2_RC rc;

	TPM_RETRY(rc = Esys_StartAuthSession(c->esys, salt_key ? salt_key->tr : ESYS_TR_NONE, ESYS_TR_NONE,
					     ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &symmetric,
					     TPM2_ALG_SHA256, &session.tr));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(c, err, rc, "StartAuthSession (salted HMAC session)");
	rc = Esys_TRSess_SetAttributes(
		c->esys, session.tr, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_obj_release(&session);
		return tpm_fail(c, err, rc, "TRSess_SetAttributes");
	}
	*ret = session;
	return 0;
}
