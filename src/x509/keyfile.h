/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Key files: a key that is not persisted in the TPM, kept as a standard
 * "TSS2 PRIVATE KEY" PEM file (the format of tpm2-openssl, tpm2-tss-engine
 * and the Linux kernel): public part and private part encrypted by the
 * parent, the storage root key.
 */
#ifndef TP_KEYFILE_H
#define TP_KEYFILE_H

#include <stdbool.h>

#include "src/base/err.h"
#include "tpm/tpm.h"

/* Write blob to path atomically with mode 0600.  empty_auth says whether
 * the key has the empty authorization value. */
int tp_keyfile_write(const char *path, const struct tpm_blob *blob, bool empty_auth, struct tp_error *err);

/* Read path into *ret_blob.  TP_MISSING when the file does not exist. */
int tp_keyfile_read(const char *path, struct tpm_blob *ret_blob, struct tp_error *err);

#endif
