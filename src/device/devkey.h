/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key step: find the device key this program made (at the handle or in
 * the key file), or decide a new one is needed, and create it, journaling
 * the creation in the output directory (journal.json) so that an
 * interrupted run is resumed and a key this program did not make is never
 * used or removed.  The only caller of the TPM library, whose errors it
 * maps to messages and exit codes.
 */
#ifndef TP_DEVKEY_H
#define TP_DEVKEY_H

#include <stdbool.h>

#include "src/base/err.h"
#include "src/base/keyloc.h"
#include "tpm/tpm.h"

/* In the output directory, when keep_blob: a persistent key's TSS2 blob
 * (0600), what tpm2-pkcs11 links the key from. */
#define TP_KEY_BLOB_FILE "key-blob.tss2.pem"

struct tp_devkey {
	const char *tcti;
	const char *out_dir; /* where journal.json lives */
	enum tpm_key_alg alg;
	const struct tp_keyloc *loc;
	const struct tpm_auth *auth;
	bool force;	/* --force-new-key */
	bool keep_blob; /* a new persistent key: keep its blob (TP_KEY_BLOB_FILE) */
};

/* Read the key authorization value from path: its first line, at most 32
 * bytes.  The value is a secret: the caller wipes it with explicit_bzero. */
int tp_devkey_read_auth(const char *path, struct tpm_auth *ret_auth, struct tp_error *err);

/* 0 with the key to reuse (its authorization checked), or TP_NEED_NEW_KEY
 * (an old key of ours being replaced is evicted first).  A key there that
 * this program did not make is EX_CONFIG. */
int tp_devkey_find(const struct tp_devkey *k, struct tpm_public *ret_pub, struct tp_error *err);

/* Create the key, journaled; with keep_blob, a persistent key's blob is
 * written before the key is journaled as created. */
int tp_devkey_create(const struct tp_devkey *k, struct tpm_public *ret_pub, struct tp_error *err);

/* Pre-flight, read-only: the TPM answers, supports the key algorithm, and
 * has a storage root key (*ret_srk_present) or room to make one. */
int tp_devkey_probe(const struct tp_devkey *k, bool *ret_srk_present, struct tp_error *err);

/* -1 with the lockout error (exit 75) when the TPM is in dictionary-attack
 * lockout, or with the error that kept it from answering; 0 otherwise. */
int tp_devkey_check_lockout(const struct tp_devkey *k, struct tp_error *err);

/* Read the key's public part; TP_MISSING when there is none. */
int tp_devkey_read(const struct tp_devkey *k, struct tpm_public *ret_pub, struct tp_error *err);

#endif
