/* state.json: what was provisioned, the record a rerun trusts. */
#ifndef TP_STATE_H
#define TP_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define TP_STATE_FILE "state.json"
#define TP_CERT_FILE "certificate.pem"
#define TP_STATE_MAX (64 * 1024)

struct tp_state {
	char *thing_name;
	char *certificate_id;
	char *certificate_arn;
	uint32_t key_handle;   /* 0 when the key is in key_file */
	char *key_file;        /* TSS2 key file, or NULL */
	char *key_name;        /* TPM name of the key, lowercase hex */
	char *endpoint;        /* certificate API endpoint used */
	char *iot_endpoint;    /* the agent's data endpoint */
	char *provisioned_at;  /* RFC 3339, UTC */
	char *tool_version;
};

#define TP_TIME_MAX 32

/* t as RFC 3339 UTC ("2026-11-22T10:00:00Z") into buf[TP_TIME_MAX]. */
void tp_format_time(time_t t, char *buf);

int tp_state_format(const struct tp_state *s, char **ret_json, struct tp_error *err);

/* Parse state.json; a missing member or a wrong type is EX_DATAERR naming
 * it and the file. */
int tp_state_parse(const char *json, size_t len, const char *path,
		   struct tp_state *ret_state, struct tp_error *err);

void tp_state_free(struct tp_state *s);

/*
 * journal.json: what a run did before state.json exists, so an interrupted
 * run can be resumed.  Written atomically before the key is created (phase
 * "creating-key": the handle was free, or the key file absent) and right
 * after (phase "key-created", with the key's TPM name).  A rerun trusts a
 * key at the handle (in the file) only when the journal names it, or, after
 * "creating-key", when it has the attributes this program gives its keys.
 */
#define TP_JOURNAL_FILE "journal.json"
#define TP_PHASE_CREATING_KEY "creating-key"
#define TP_PHASE_KEY_CREATED "key-created"

struct tp_journal {
	char *phase;
	uint32_t key_handle;   /* 0 when the key is in key_file */
	char *key_file;
	char *key_alg;         /* "ecc-p256" ... */
	char *key_name;        /* NULL while creating-key */
};

int tp_journal_format(const struct tp_journal *j, char **ret_json, struct tp_error *err);
int tp_journal_parse(const char *json, size_t len, const char *path,
		     struct tp_journal *ret_journal, struct tp_error *err);
void tp_journal_free(struct tp_journal *j);

/*
 * request.json: the service step's journal.  Written durably before the
 * request is sent (phase "request-sent", with the time) and, before
 * anything else is done with the answer, with the certificate received
 * (phase "certificate-received").  A rerun for the same key never sends a
 * second request once a certificate was received, and says so when a
 * request was in flight without an answer (it may have left an unused
 * certificate at the service).  Removed once state.json is installed.
 */
#define TP_REQUEST_FILE "request.json"
#define TP_PHASE_REQUEST_SENT "request-sent"
#define TP_PHASE_CERT_RECEIVED "certificate-received"

struct tp_request {
	char *phase;
	char *key_name;          /* the key the request was for */
	char *sent_at;           /* RFC 3339, UTC */
	char *certificate_id;    /* certificate-received only */
	char *certificate_arn;
	char *certificate_pem;
};

int tp_request_format(const struct tp_request *q, char **ret_json, struct tp_error *err);
int tp_request_parse(const char *json, size_t len, const char *path,
		     struct tp_request *ret_request, struct tp_error *err);
void tp_request_free(struct tp_request *q);

#endif
