/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A batch's files in its output directory, per CSR NAME.csr: NAME.pending,
 * the journal of its request (durable before the request is sent, then
 * rewritten with the certificate once it is received and checked), and
 * NAME.json, the result (written after NAME.cert.pem; its presence means
 * done).  This module alone parses, formats, loads and saves them.
 *
 * The saves write each file (fsync, rename) but do not sync the directory:
 * the caller does, with tp_sync_dir(), once for all the files it wrote
 * (group commit), before it relies on them.
 */
#ifndef TP_BATCHFILE_H
#define TP_BATCHFILE_H

#include <stdbool.h>

#include "src/base/err.h"

/* TP_BATCH_REFUSED: the certificate failed the check (a rerun sends a
 * fresh request). */
enum tp_batch_phase { TP_BATCH_SENT = 1, TP_BATCH_RECEIVED, TP_BATCH_DONE, TP_BATCH_REFUSED };

struct tp_batch_record {
	enum tp_batch_phase phase;
	char *csr;	       /* NAME.csr */
	char *sent_at;	       /* RFC 3339 */
	char *certificate_id;  /* TP_BATCH_RECEIVED, TP_BATCH_DONE, TP_BATCH_REFUSED */
	char *certificate_arn; /* optional */
	char *status;	       /* optional */
	char *done_at;	       /* TP_BATCH_DONE */
	char *attached_thing;  /* optional */
	char **policies;       /* optional */
	char *refused_because; /* TP_BATCH_REFUSED */
};

/* NAME.pending in dir: TP_MISSING when there is none. */
int tp_batch_pending_load(const char *dir, const char *name, struct tp_batch_record *ret, struct tp_error *err);
int tp_batch_pending_save(const char *dir, const char *name, const struct tp_batch_record *rec, struct tp_error *err);
/* Remove NAME.pending; durable syncs the directory, which is not needed
 * once NAME.json is durable (a rerun looks at NAME.json first). */
int tp_batch_pending_remove(const char *dir, const char *name, bool durable, struct tp_error *err);

/* Whether NAME.json exists in dir (the CSR is done). */
bool tp_batch_done(const char *dir, const char *name);
/* Whether NAME.pending exists in dir. */
bool tp_batch_pending_exists(const char *dir, const char *name);
/* NAME.json, mode 0644. */
int tp_batch_result_save(const char *dir, const char *name, const struct tp_batch_record *rec, struct tp_error *err);

/* The record as one line of JSON (no newline), for --json. */
int tp_batch_record_line(const struct tp_batch_record *rec, const char *error, char **ret, struct tp_error *err);

int tp_batch_record_parse(const char *json, size_t len, const char *path, struct tp_batch_record *ret,
			  struct tp_error *err);

void tp_batch_record_free(struct tp_batch_record *rec);

#endif
