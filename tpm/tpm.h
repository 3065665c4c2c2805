/*
 * The TPM module: the only code that talks to the TPM through tpm2-tss.
 *
 * Each call opens its own connection and closes it before returning, so the
 * tpm2 OpenSSL provider can open its own afterwards (a direct swtpm socket
 * serves one connection at a time), and it flushes every transient object it
 * loaded, on every path.
 *
 * Errors (exit codes as in README.md): a TPM in dictionary-attack lockout is
 * EX_TEMPFAIL, a wrong key authorization value EX_NOPERM, a wrong storage
 * root key or an algorithm the TPM lacks EX_CONFIG, anything else
 * (unreachable TPM, missing device, no room for a persistent object)
 * EX_IOERR, each with its own message.
 */
#ifndef TP_TPM_H
#define TP_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/err.h"
#include "src/keyalg.h"

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
	int alg;                        /* enum tp_key_alg, -1 if none fits */
	bool device_key;                /* has the attributes this program
					 * gives its keys (sign only,
					 * fixedTPM, fixedParent, ...) */
};

/* A key that is not persisted: its marshalled TPM2B_PUBLIC and TPM2B_PRIVATE
 * (the private part encrypted by the storage root key). */
struct tp_tpm_blob {
	unsigned char pub[1024];
	size_t pub_len;
	unsigned char priv[2048];
	size_t priv_len;
};

/* Where a key is: persisted at handle, or (handle 0) in blob, loaded under
 * the storage root key at 0x81000001 when needed. */
struct tp_tpm_keyref {
	uint32_t handle;
	const struct tp_tpm_blob *blob;
};

/* A key authorization value (a secret); len 0 is the empty value. */
struct tp_tpm_auth {
	unsigned char value[64];
	size_t len;
};

/* Read the public part of the key at ref.  Returns 1 when nothing is
 * persisted at the handle. */
int tp_tpm_read_key(const char *tcti, const struct tp_tpm_keyref *ref,
		    struct tp_tpm_public *ret_pub, struct tp_error *err);

/* Check that auth opens the key at ref by signing a test digest. */
int tp_tpm_check_auth(const char *tcti, const struct tp_tpm_keyref *ref,
		      const struct tp_tpm_auth *auth, struct tp_error *err);

/* Ask the TPM whether it can make a key of alg, then create one under the
 * storage root key at 0x81000001 (creating and persisting that first if
 * needed).  With handle != 0 the key is persisted there; else only
 * *ret_blob is filled.  ret_blob may be NULL with a handle. */
int tp_tpm_create_key(const char *tcti, enum tp_key_alg alg, const struct tp_tpm_auth *auth,
		      uint32_t handle, struct tp_tpm_public *ret_pub,
		      struct tp_tpm_blob *ret_blob, struct tp_error *err);

/* Evict the persistent key at handle, only when its TPM name is name. */
int tp_tpm_evict_key(const char *tcti, uint32_t handle, const struct tp_tpm_public *name,
		     struct tp_error *err);

/* The TPM name as lowercase hex (buffer of at least 2 * 66 + 1). */
void tp_tpm_name_hex(const struct tp_tpm_public *pub, char *out);

#endif
