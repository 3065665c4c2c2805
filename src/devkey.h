/*
 * The key step: find the device key this program made (at the handle or in
 * the key file), or decide a new one is needed, and create it, journaling
 * the creation in the output directory (journal.json, see state.h) so that
 * an interrupted run is resumed and a key this program did not make is
 * never used or removed.
 */
#ifndef TP_DEVKEY_H
#define TP_DEVKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keyalg.h"
#include "tpm/tpm.h"

struct tp_devkey {
	const char *tcti;
	const char *out_dir;              /* where journal.json lives */
	enum tp_key_alg alg;
	uint32_t handle;                  /* persistent handle, or 0 with file */
	const char *file;                 /* TSS2 key file, or NULL */
	const struct tp_tpm_auth *auth;
	bool force;                       /* --force-new-key */
};

/* Read the key authorization value from path: its first line, at most 32
 * bytes.  The value is a secret: the caller wipes it with explicit_bzero. */
int tp_devkey_read_auth(const char *path, struct tp_tpm_auth *ret_auth, struct tp_error *err);

/* Returns 0 with the key to reuse (its authorization checked), or 1 when a
 * new key must be created (an old key of ours being replaced is evicted
 * first).  A key there that this program did not make is EX_CONFIG. */
int tp_devkey_find(const struct tp_devkey *k, struct tp_tpm_public *ret_pub, struct tp_error *err);

/* Create the key, journaled. */
int tp_devkey_create(const struct tp_devkey *k, struct tp_tpm_public *ret_pub, struct tp_error *err);

/* "handle 0x81000002" or "key file PATH", for messages. */
void tp_devkey_where(const struct tp_devkey *k, char *buf, size_t len);

/* Read the key's public part; 1 when there is none. */
int tp_devkey_read(const struct tp_devkey *k, struct tp_tpm_public *ret_pub, struct tp_error *err);

#endif
