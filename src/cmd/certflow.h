/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The certificate protocol, the one every command follows: a certificate
 * requested (CreateCertificateFromCsr) or received (register, install, a
 * journal) is checked (for the key, valid now, its id and ARN, its status),
 * journaled, then refused (and deactivated, when this run's request made
 * it) or accepted, then attached to its thing and policies; the caller
 * installs it.
 *
 * A small state machine over one record, struct tp_certflow: given the
 * record and the answer to its last request, the next request, or the end
 * (accepted, refused, failed).  It sends nothing and prints nothing: a
 * driver sends the requests it builds (one at a time, tp_certsync_run(); many
 * at once, batch's event loop) and feeds the answers back, and the
 * driver's journal callback makes the record durable where the driver
 * keeps its records.
 */
#ifndef TP_CERTFLOW_H
#define TP_CERTFLOW_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "src/aws/iot.h"
#include "src/base/err.h"
#include "src/cmd/attach.h"

/* The request in flight, or how the record ended. */
enum tp_certflow_step {
	TP_CERTFLOW_CREATE = 1, /* CreateCertificateFromCsr */
	TP_CERTFLOW_DESCRIBE,	/* DescribeCertificate, for what the create (or the caller) lacks */
	TP_CERTFLOW_DEACTIVATE, /* UpdateCertificate INACTIVE, for a refused certificate */
	TP_CERTFLOW_THING,	/* CreateThing */
	TP_CERTFLOW_PRINCIPAL,	/* AttachThingPrincipal */
	TP_CERTFLOW_POLICY,	/* AttachPolicy of policies[policy] */
	TP_CERTFLOW_ACCEPTED,	/* the end: checked and attached, to install */
	TP_CERTFLOW_REFUSED,	/* the end: the certificate failed the check (why) */
	TP_CERTFLOW_FAILED,	/* the end: a request failed (why) */
};

/* What the journal callback is to make durable. */
enum tp_certflow_event {
	TP_CERTFLOW_SENDING,  /* the create is about to go out */
	TP_CERTFLOW_RECEIVED, /* the certificate passed the check (cert, issued) */
	TP_CERTFLOW_ATTACHED, /* one more attachment was made (attached) */
	TP_CERTFLOW_REFUSING, /* the certificate failed the check (why) */
};

struct tp_certflow;

/* 0, or -1 with err set; a failure to journal a refusal is added to the
 * refusal's reason, any other stops the driver. */
typedef int (*tp_certflow_journal_fn)(void *ctx, const struct tp_certflow *f, enum tp_certflow_event event,
				      struct tp_error *err);

struct tp_certflow {
	/* What the caller sets before it starts the record (borrowed). */
	EVP_PKEY *key;			/* the certificate must be for it */
	const char *status;		/* the status the service must tell, when it tells one */
	X509 *expect;			/* when set, the service must describe this very certificate, */
	const char *expect_file;	/* read from this file */
	const char *thing;		/* attach to this thing, or NULL */
	char *const *policies;		/* attach these policies, or NULL */
	const char *endpoint;		/* the service, for the error lines */
	tp_certflow_journal_fn journal; /* or NULL: nothing is journaled */
	void *ctx;

	/* The record. */
	enum tp_certflow_step step;
	bool requested;	    /* this run's request made the certificate: refused, it is deactivated */
	long create_status; /* FAILED at the create: the HTTP status of the error answer, 0 for none */
	size_t policy;	    /* POLICY: the index of the policy being attached */
	struct tp_issued_cert issued;
	X509 *cert; /* once checked */
	struct tp_attached attached;
	struct tp_iot_request req; /* the request to send next */
	struct tp_error why;	   /* REFUSED, FAILED */
};

/*
 * Each start and tp_certflow_answer() returns 1 with the next request in
 * f->req, 0 when the record ended (f->step: ACCEPTED, REFUSED or FAILED),
 * or -1 with err set for what stops the driver (out of memory, a journal
 * that cannot be written, a request that cannot be built).
 */

/* Ask the service to issue a certificate for csr_pem (journaled first). */
int tp_certflow_request(struct tp_certflow *f, const char *csr_pem, struct tp_error *err);

/* Ask the service for certificate id (one it must know; arn, when not
 * NULL, is what it said of it before), then check it. */
int tp_certflow_describe(struct tp_certflow *f, const char *id, const char *arn, struct tp_error *err);

/* A certificate received by an earlier run (requested: this program's
 * request made it), with what was attached to it: checked again when it has
 * its PEM, else trusted as checked; then the attachments still missing. */
int tp_certflow_resume(struct tp_certflow *f, struct tp_issued_cert *issued, struct tp_attached *attached,
		       bool requested, struct tp_error *err);

/* The request in f->req ended: with the service's answer a, or with e when
 * no answer came. */
int tp_certflow_answer(struct tp_certflow *f, const struct tp_answer *a, const struct tp_error *e,
		       struct tp_error *err);

/* Whether the record asks for an attachment it does not have yet. */
bool tp_certflow_attach_wanted(const struct tp_certflow *f);

void tp_certflow_free(struct tp_certflow *f);

#endif
