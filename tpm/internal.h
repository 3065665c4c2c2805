/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared inside the TPM library only; never included from src/. */
#ifndef TPM_INTERNAL_H
#define TPM_INTERNAL_H

#include <tss2/tss2_esys.h>

#include "tpm/tpm.h"

/* One connection, for the length of one library call. */
struct tpm_conn {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	const char *conf;
};

/* An object opened in one connection: closed (persistent) or flushed
 * (loaded) by tpm_obj_release(). */
struct tpm_obj {
	struct tpm_conn *c;
	ESYS_TR tr;
	bool loaded;
};

#define _cleanup_(f) __attribute__((cleanup(f)))

int tpm_conn_open(const char *tcti, struct tpm_conn *ret, struct tpm_error *err);
void tpm_conn_close(struct tpm_conn *c);
void tpm_obj_release(struct tpm_obj *o);
void tpm_esys_freep(void *p);

/* Set *err (unless already set) and return -1. */
int tpm_fail_with(struct tpm_error *err, enum tpm_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A failed command: one message per kind of failure; what names the
 * command and object. */
int tpm_fail(const struct tpm_conn *c, struct tpm_error *err, TSS2_RC rc, const char *what);

/* A TPM response code without its parameter/handle/session number. */
TSS2_RC tpm_rc_base(TSS2_RC rc);

/* Whether to send a command again: the TPM said it could not do it now. */
bool tpm_retry(TSS2_RC rc, unsigned *tries);

/* Send a command again while the TPM asks for it: `TPM_RETRY(rc = Esys_...)`. */
#define TPM_RETRY(call)                                                                                                \
	do {                                                                                                           \
		unsigned tries_ = 0;                                                                                   \
		do                                                                                                     \
			call;                                                                                          \
		while (tpm_retry(rc, &tries_));                                                                        \
	} while (0)

/* Fill out from a TPM2B_PUBLIC and its name. */
int tpm_public_fill(const TPM2B_PUBLIC *pub, const TPM2B_NAME *name, struct tpm_public *out, struct tpm_error *err);

/* The template of the device key for alg, from its row of the table. */
int tpm_key_template(enum tpm_key_alg alg, TPM2B_PUBLIC *out, struct tpm_error *err);

/* The storage root key: open it (TPM_ABSENT when there is none), or make
 * sure it exists, creating and persisting it. */
int tpm_srk_open(struct tpm_conn *c, struct tpm_obj *ret, struct tpm_error *err);
int tpm_srk_ensure(struct tpm_conn *c, struct tpm_obj *ret, struct tpm_error *err);

/* A salted HMAC session (salt_key may be NULL: unsalted) with AES-128-CFB
 * parameter encryption both ways: the key's authorization value never
 * travels in clear, and a sensitive first parameter is encrypted.  Flushed
 * by tpm_obj_release(). */
int tpm_session_start(struct tpm_conn *c, const struct tpm_obj *salt_key, struct tpm_obj *ret, struct tpm_error *err);

/* Open the persistent object at handle.  TPM_ABSENT when there is none. */
int tpm_open_persistent(struct tpm_conn *c, uint32_t handle, struct tpm_obj *ret, TPM2B_PUBLIC **ret_public,
			TPM2B_NAME **ret_name, struct tpm_error *err);

#endif
