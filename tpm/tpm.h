/*
 * The TPM module: the only code that talks to the TPM through tpm2-tss.
 *
 * Each call opens its own connection and closes it before returning, so the
 * tpm2 OpenSSL provider can open its own afterwards (a direct swtpm socket
 * serves one connection at a time), and it flushes every transient object it
 * loaded, on every path.
 */
#ifndef TP_TPM_H
#define TP_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "src/err.h"

enum tp_key_type { TP_KEY_ECC = 1, TP_KEY_RSA = 2 };

/* A TPM public key in plain terms, for code that does not speak tss2. */
struct tp_tpm_public {
	enum tp_key_type type;
	unsigned bits;                  /* curve size or modulus size */
	unsigned char x[66], y[66];     /* ECC point */
	size_t x_len, y_len;
	unsigned char n[512];           /* RSA modulus */
	size_t n_len;
	uint32_t exponent;
	unsigned char name[66];         /* TPM name: nameAlg || digest */
	size_t name_len;
};

/* Make sure a signing key made by this program is persisted at handle:
 * reuse it when it is there, else create it under the storage root key at
 * 0x81000001 (creating and persisting that too if needed).  *ret_created
 * says whether a key was created. */
int tp_tpm_ensure_key(const char *tcti, uint32_t handle,
		      struct tp_tpm_public *ret_pub, int *ret_created,
		      struct tp_error *err);

/* Read the public part of the key persisted at handle.  Returns 1 when
 * nothing is persisted there. */
int tp_tpm_read_key(const char *tcti, uint32_t handle,
		    struct tp_tpm_public *ret_pub, struct tp_error *err);

/* The TPM name as lowercase hex (buffer of at least 2 * 66 + 1). */
void tp_tpm_name_hex(const struct tp_tpm_public *pub, char *out);

#endif
