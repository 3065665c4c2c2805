/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The device key as a PKCS#11 private key object: a tpm2-pkcs11 token in
 * the store DIR/pkcs11 (0700), made by tpm2_ptool, protected by a random
 * user PIN kept in DIR/pkcs11/user-pin (0600).  The token links the key
 * file's TSS2 blob under the storage root key: the same TPM key, never a
 * copy.
 */
#ifndef TP_PKCS11_H
#define TP_PKCS11_H

#include <stdbool.h>
#include <sys/types.h>

#include "src/base/err.h"

#define TP_PKCS11_STORE_DIR "pkcs11"
#define TP_PKCS11_PIN_FILE "user-pin"
#define TP_PKCS11_TOKEN_LABEL "tpm-provision"
#define TP_PKCS11_KEY_LABEL "device-key"
#define TP_PKCS11_PTOOL "/usr/bin/tpm2_ptool"

/* Debian's multiarch directory of PKCS#11 modules. */
#if defined(__x86_64__)
#define TP_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define TP_MULTIARCH "aarch64-linux-gnu"
#elif defined(__arm__)
#define TP_MULTIARCH "arm-linux-gnueabihf"
#elif defined(__i386__)
#define TP_MULTIARCH "i386-linux-gnu"
#elif defined(__riscv) && __riscv_xlen == 64
#define TP_MULTIARCH "riscv64-linux-gnu"
#endif
#ifdef TP_MULTIARCH
#define TP_PKCS11_LIB "/usr/lib/" TP_MULTIARCH "/pkcs11/libtpm2_pkcs11.so"
#else
#define TP_PKCS11_LIB "/usr/lib/pkcs11/libtpm2_pkcs11.so"
#endif

/* The token to make. */
struct tp_pkcs11_plan {
	const char *dir;      /* the output directory; the store is DIR/pkcs11 */
	const char *tcti;     /* the TPM, for tpm2_ptool */
	const char *key_file; /* the device key's TSS2 PRIVATE KEY file */
	uid_t uid;	      /* owner of the store, or (uid_t)-1 */
	gid_t gid;
};

/* tpm2_ptool and the PKCS#11 module are installed (EX_CONFIG naming the
 * Debian package otherwise). */
int tp_pkcs11_check(struct tp_error *err);

/*
 * Make the token afresh in DIR/pkcs11.new (a new random user PIN and SO
 * PIN; the SO PIN is not kept), then swap it atomically for DIR/pkcs11:
 * whatever the point a run stops at, DIR/pkcs11 is a complete store with
 * one token holding the one key, or absent.
 */
int tp_pkcs11_make_token(const struct tp_pkcs11_plan *plan, struct tp_error *err);

/* The store's directory, DIR/pkcs11. */
int tp_pkcs11_store(const char *dir, char **ret, struct tp_error *err);

/* The user PIN of the token in DIR/pkcs11 (TP_MISSING when there is no
 * token).  The caller wipes it. */
int tp_pkcs11_read_pin(const char *dir, char **ret_pin, struct tp_error *err);

/* Start argv[0] (never through a shell; tpm2_ptool) with env, stdin and
 * stdout /dev/null, stderr errfd: *ret_pid.  The child is killed (SIGKILL)
 * when this process dies (when it died before the child could ask for
 * that, the child exits 127 at once). */
int tp_pkcs11_spawn(char *const argv[], char *const env[], int errfd, pid_t *ret_pid, struct tp_error *err);

/* "pkcs11:token=...;object=...;type=private" (RFC 7512). */
int tp_pkcs11_uri(char **ret, struct tp_error *err);

#endif
