/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * request.json: the service step's journal.  Written durably before the
 * request is sent (phase "request-sent", with the time) and, before
 * anything else is done with the answer, with the certificate received
 * (phase "certificate-received"), once it has been checked against the key;
 * a certificate that failed the check is recorded as "certificate-refused"
 * (a rerun then sends a fresh request).  The attachments made at the
 * service (thing, policies) are added as they are made.  A rerun for the same key never sends a
 * second request once a certificate was received, and says so when a
 * request was in flight without an answer (it may have left an unused
 * certificate at the service).  Removed once state.json is installed.
 * This module alone parses, formats, loads and saves it.
 */
#ifndef TP_REQJOURNAL_H
#define TP_REQJOURNAL_H

#include <stddef.h>

#include "src/base/err.h"

#define TP_REQJOURNAL_FILE "request.json"

/* TP_CSR_WRITTEN: `csr` wrote a CSR for the key, nothing was sent. */
enum tp_request_phase { TP_REQUEST_SENT = 1, TP_CERT_RECEIVED, TP_CERT_REFUSED, TP_CSR_WRITTEN };

struct tp_reqjournal {
	enum tp_request_phase phase;
	char *key_name;	       /* the key the request was for */
	char *sent_at;	       /* RFC 3339, UTC; for TP_CSR_WRITTEN, when written */
	char *csr_file;	       /* TP_CSR_WRITTEN: where */
	char *certificate_id;  /* TP_CERT_RECEIVED and TP_CERT_REFUSED */
	char *certificate_arn; /* TP_CERT_RECEIVED: optional */
	char *certificate_pem; /* TP_CERT_RECEIVED */
	char *created_at;      /* TP_CERT_RECEIVED: optional */
	char *refused_because; /* TP_CERT_REFUSED */
	char *attached_thing;  /* TP_CERT_RECEIVED: attached so far */
	char **attached_policies;
};

int tp_reqjournal_format(const struct tp_reqjournal *q, char **ret_json, struct tp_error *err);
int tp_reqjournal_parse(const char *json, size_t len, const char *path, struct tp_reqjournal *ret_request,
			struct tp_error *err);

/* The record in dir for the key named key_name: TP_MISSING when there is
 * none for this key (a record for another key is ignored). */
int tp_reqjournal_load(const char *dir, const char *key_name, struct tp_reqjournal *ret_request, struct tp_error *err);

/* Record q durably in dir. */
int tp_reqjournal_save(const char *dir, const struct tp_reqjournal *q, struct tp_error *err);

/* Remove the record: state.json now says everything. */
int tp_reqjournal_remove(const char *dir, struct tp_error *err);

void tp_reqjournal_free(struct tp_reqjournal *q);

#endif
