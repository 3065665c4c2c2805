/* SPDX-License-Identifier: BSD-2-Clause */
/* Where the device key is: persisted at a TPM handle, or in a TSS2 key file.
 * The one type for it, with one formatter for messages and one for the key
 * URI the tpm2 OpenSSL provider (and so an agent) opens. */
#ifndef TP_KEYLOC_H
#define TP_KEYLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "src/base/err.h"

/* The handle the device key is persisted at unless told otherwise. */
#define TP_DEFAULT_KEY_HANDLE 0x81000002u

struct tp_keyloc {
	uint32_t handle; /* persistent handle; 0 when the key is in file */
	char *file;	 /* TSS2 key file, or NULL */
};

/* "handle 0x81000002" or "key file PATH", for messages. */
int tp_keyloc_describe(const struct tp_keyloc *k, char **ret, struct tp_error *err);

/* What the tpm2 provider opens: "handle:0x81000002" (with "?pass" when the
 * key has an authorization value) or the key file's path. */
int tp_keyloc_uri(const struct tp_keyloc *k, bool with_pass, char **ret, struct tp_error *err);

bool tp_keyloc_equal(const struct tp_keyloc *a, const struct tp_keyloc *b);

/* A deep copy (file duplicated). */
int tp_keyloc_copy(const struct tp_keyloc *from, struct tp_keyloc *ret, struct tp_error *err);

/* Parse a persistent handle in the owner range 0x81000000-0x817FFFFF. */
int tp_keyloc_parse_handle(const char *s, uint32_t *ret_handle);

void tp_keyloc_free(struct tp_keyloc *k);

#endif
