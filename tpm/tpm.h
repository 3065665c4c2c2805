/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM library: the only code that talks to the TPM through tpm2-tss.
 * It includes only its own headers, tss2 and libc, never logs, and reports
 * a failure in its own small type, which the caller maps to a message and
 * an exit code.
 *
 * Each call opens its own connection and closes it before returning, so the
 * tpm2 OpenSSL provider can open its own afterwards (a direct swtpm socket
 * serves one connection at a time), and it flushes every transient object it
 * loaded, on every path.
 *
 * Return convention: negative with *err set on failure, 0 when done,
 * TPM_ABSENT (> 0) where documented.
 */
#ifndef TPM_TPM_H
#define TPM_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The storage root key: the TCG standard handle and template. */
#define TPM_SRK_HANDLE 0x81000001u

/* A TPM name (nameAlg || digest) is at most 2 + 64 bytes. */
#define TPM_NAME_MAX 66
#define TPM_NAME_HEX_MAX (2 * TPM_NAME_MAX + 1)

enum tpm_result { TPM_ABSENT = 1 };

/* What kind of failure: the caller decides what it means for the user. */
enum tpm_error_kind {
	TPM_ERR_IO = 1,	 /* unreachable TPM, lost connection, TPM failure */
	TPM_ERR_CONFIG,	 /* wrong SRK, unsupported algorithm, foreign key */
	TPM_ERR_AUTH,	 /* wrong authorization value for the key */
	TPM_ERR_LOCKOUT, /* dictionary-attack lockout: try later */
	TPM_ERR_DATA,	 /* a key blob that is not a TPM object */
	TPM_ERR_USAGE,	 /* a TCTI configuration its module refuses */
};

struct tpm_error {
	enum tpm_error_kind kind; /* 0 while unset */
	char msg[512];		  /* one line, never a secret */
};

/* The device key algorithms AWS IoT accepts for CreateCertificateFromCsr:
 * the rows of the one table of them (tpm/key.c), which every layer reads
 * through the lookups below.  Adding one is a value here and a row there. */
enum tpm_key_alg {
	TPM_ALG_ECC_P256 = 0,
	TPM_ALG_ECC_P384,
	TPM_ALG_RSA_2048,
	TPM_ALG_RSA_3072,
	TPM_ALG__COUNT, /* not one: the end of the table */
};

enum tpm_key_type { TPM_KEY_ECC = 1, TPM_KEY_RSA = 2 };

/* What the program outside tpm/ knows of an algorithm, in plain terms: its
 * row's TPM side (the template, the signature scheme) stays in tpm/. */
struct tpm_key_alg_info {
	const char *name;	/* as the user spells it (--key-alg, journal.json, status) */
	enum tpm_key_type type; /* what it signs with: ECDSA, or RSASSA (PKCS#1 v1.5 or PSS) */
	unsigned bits;		/* the curve's or the modulus's size */
	const char *curve;	/* ECC: the curve as OpenSSL names it; NULL for RSA */
	const char *csr_digest; /* the hash the CSR is signed with, as OpenSSL names it */
};

/* A TPM public key in plain terms, for code that does not speak tss2. */
struct tpm_public {
	enum tpm_key_type type;
	unsigned bits;		    /* curve size or modulus size */
	unsigned char x[66], y[66]; /* ECC point */
	size_t x_len, y_len;
	unsigned char n[512]; /* RSA modulus */
	size_t n_len;
	uint32_t exponent;
	unsigned char name[TPM_NAME_MAX];
	size_t name_len;
	char name_hex[TPM_NAME_HEX_MAX]; /* the name as lowercase hex */
	int alg;			 /* enum tpm_key_alg, -1 if none fits */
	bool device_key;		 /* has the attributes this library
					 * gives its keys (sign only,
					 * fixedTPM, fixedParent, ...) */
};

/* A key that is not persisted: its marshalled TPM2B_PUBLIC and TPM2B_PRIVATE
 * (the private part encrypted by the storage root key). */
struct tpm_blob {
	unsigned char pub[1024];
	size_t pub_len;
	unsigned char priv[2048];
	size_t priv_len;
};

/* Where a key is: persisted at handle, or (handle 0) in blob, loaded under
 * the storage root key when needed. */
struct tpm_keyref {
	uint32_t handle;
	const struct tpm_blob *blob;
};

/* A key authorization value (a secret); len 0 is the empty value. */
struct tpm_auth {
	unsigned char value[64];
	size_t len;
};

/* Read the public part of the key at ref.  TPM_ABSENT when nothing is
 * persisted at the handle. */
int tpm_read_key(const char *tcti, const struct tpm_keyref *ref, struct tpm_public *ret_pub, struct tpm_error *err);

/* Check that auth opens the key at ref by signing a test digest. */
int tpm_check_auth(const char *tcti, const struct tpm_keyref *ref, const struct tpm_auth *auth, struct tpm_error *err);

/* Ask the TPM whether it can make a key of alg, then create one under the
 * storage root key (creating and persisting that first if needed).  With
 * handle != 0 the key is persisted there; else only *ret_blob is filled.
 * ret_blob may be NULL with a handle. */
int tpm_create_key(const char *tcti, enum tpm_key_alg alg, const struct tpm_auth *auth, uint32_t handle,
		   struct tpm_public *ret_pub, struct tpm_blob *ret_blob, struct tpm_error *err);

/* Read-only pre-flight: the TPM answers at tcti, supports alg, and the
 * object at the SRK handle is a storage key (*ret_srk_present) or absent
 * (it will be created). */
int tpm_probe(const char *tcti, enum tpm_key_alg alg, bool *ret_srk_present, struct tpm_error *err);

/* Whether the TPM is in dictionary-attack lockout: -1 with a
 * TPM_ERR_LOCKOUT error when it is (or with the error that kept it from
 * answering), 0 when it is not.  For a signature by another TPM client (the
 * tpm2 provider) that failed without saying why. */
int tpm_check_lockout(const char *tcti, struct tpm_error *err);

/* Evict the persistent key at handle, only when its TPM name is expected's. */
int tpm_evict_key(const char *tcti, uint32_t handle, const struct tpm_public *expected, struct tpm_error *err);

/* The row of alg, or NULL when alg is not one (i >= TPM_ALG__COUNT: the
 * end of the table for a loop, else a caller's bug): never a default. */
const struct tpm_key_alg_info *tpm_key_alg_info(enum tpm_key_alg alg);

/* The algorithm named s ("ecc-p256" ... "rsa-3072"); -1 for anything else. */
int tpm_key_alg_parse(const char *s);

/* Its row's name and type; NULL and false when alg is not one. */
const char *tpm_key_alg_name(enum tpm_key_alg alg);
bool tpm_key_alg_is_rsa(enum tpm_key_alg alg);

#endif
