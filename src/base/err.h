/* SPDX-License-Identifier: BSD-2-Clause */
/* Errors travel up as a small struct and are printed once, in main(). */
#ifndef TP_ERR_H
#define TP_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <sysexits.h>

/*
 * Exit codes (sysexits.h), documented in README.md:
 *   0             done, or already provisioned
 *   EX_USAGE      64  bad command line
 *   EX_DATAERR    65  bad input data (a certificate for another key, a
 *                     malformed service answer, a rejected request)
 *   EX_UNAVAILABLE 69 service unreachable
 *   EX_IOERR      74  TPM or local I/O failure
 *   EX_TEMPFAIL   75  temporary failure worth a later retry
 *   EX_NOPERM     77  credentials missing, or credentials or signature rejected
 *   EX_CONFIG     78  configuration error
 */

/*
 * The one return convention: negative = error (err set), 0 = done, and a
 * function that has another outcome to report returns one of these named
 * values (each documents which).
 */
enum tp_result {
	TP_MISSING = 1,	 /* a file, record or key that is not there */
	TP_NEED_NEW_KEY, /* no key to reuse: create one */
	TP_PROVISIONED,	 /* the device is already provisioned */
	TP_NEED_ATTACH,	 /* provisioned, but without an attachment asked for */
	TP_HELP,	 /* --help was asked for */
};

struct tp_error {
	int exit_code;	/* one of the codes above; 0 while unset */
	char msg[1024]; /* one line, no trailing newline, never a secret */
};

/* Set the error (unless one is already set, so the first, most precise
 * failure wins).  tp_error_set() is -1, so callers can `return
 * tp_error_set(...)`; as a macro the -1 is visible where it is used (to
 * the compiler's analyzer too). */
void tp_error_record(struct tp_error *err, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define tp_error_set(err, exit_code, ...)                                                                              \
	({                                                                                                             \
		tp_error_record((err), (exit_code), __VA_ARGS__);                                                      \
		-1;                                                                                                    \
	})
int tp_error_setv(struct tp_error *err, int exit_code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Append ": text" to an error that is already set. */
void tp_error_append(struct tp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "out of memory", the one message for it; -1. */
#define tp_error_oom(err) tp_error_set((err), EX_IOERR, "out of memory")

#endif
