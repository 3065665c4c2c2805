/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision enroll: TPM key -> CSR signed in the TPM ->
 * CreateCertificateFromCsr -> certificate checked against the key and
 * installed.  This file only sequences the steps; each lives in its own
 * module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/aws/iot.h"
#include "src/base/cleanup.h"
#include "src/base/timefmt.h"
#include "src/cmd/attach.h"
#include "src/cmd/certflow.h"
#include "src/cmd/certsync.h"
#include "src/cmd/log.h"
#include "src/cmd/run.h"
#include "src/cmd/testhook.h"
#include "src/store/reqjournal.h"
#include "src/x509/cert.h"
#include "src/x509/pkcs10.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

static void enroll_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision enroll [options]\n\n"
	       "Create a non-exportable signing key in the TPM, have AWS IoT issue a\n"
	       "certificate for it (CreateCertificateFromCsr) and install it.\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
	printf("\nAWS credentials come from the environment, systemd credentials or the\n"
	       "shared credentials file, never from the command line (see README).\n");
}

/* The journal of this run's request (request.json), and the record of
 * the certificate protocol it follows. */
struct request {
	struct tp_run *run;
	struct tp_reqjournal q; /* the key and when the request was sent */
	struct tp_certflow flow;
	char *lost_since; /* a request an earlier run got no answer to */
};

static void request_free(struct request *r)
{
	tp_reqjournal_free(&r->q);
	tp_certflow_free(&r->flow);
	free(r->lost_since);
}

/* A fresh request, recorded as sent (the time now) before it goes out. */
static int save_sent(struct request *r, struct tp_error *err)
{
	char sent_at[TP_TIME_MAX];

	tp_format_time(time(NULL), sent_at);
	free(r->q.sent_at);
	if (!(r->q.sent_at = strdup(sent_at)))
		return tp_error_oom(err);
	r->q.phase = TP_REQUEST_SENT;
	if (tp_reqjournal_save(r->run->o.out_dir, &r->q, err) < 0)
		return -1;
	tp_test_crash_point("request-sent");
	return 0;
}

/* request.json follows the record: sent, received with what is attached
 * so far, or refused (a rerun then sends a fresh request). */
static int journal(void *ctx, const struct tp_certflow *f, enum tp_certflow_event event, struct tp_error *err)
{
	struct request *r = ctx;
	struct tp_reqjournal q = {
		.phase = event == TP_CERTFLOW_REFUSING ? TP_CERT_REFUSED : TP_CERT_RECEIVED,
		.key_name = r->q.key_name,
		.sent_at = r->q.sent_at,
		.certificate_id = f->issued.id,
	};

	if (event == TP_CERTFLOW_SENDING)
		return save_sent(r, err);
	if (event == TP_CERTFLOW_REFUSING)
		q.refused_because = (char *)f->why.msg;
	else {
		q.certificate_arn = f->issued.arn;
		q.certificate_pem = f->issued.pem;
		q.created_at = f->issued.created_at;
		q.attached_thing = f->attached.thing;
		q.attached_policies = f->attached.policies;
	}
	if (tp_reqjournal_save(r->run->o.out_dir, &q, err) < 0)
		return -1;
	if (event == TP_CERTFLOW_RECEIVED)
		tp_test_crash_point("certificate-received");
	return 0;
}

/* The certificate an interrupted run received and checked: no second
 * request; what it attached is not attached again. */
static int resume_received(struct request *r, struct tp_error *err)
{
	struct tp_reqjournal *q = &r->q;
	struct tp_issued_cert issued = { 0 };
	struct tp_attached attached = { 0 };

	issued.id = TAKE_PTR(q->certificate_id);
	issued.arn = TAKE_PTR(q->certificate_arn);
	issued.pem = TAKE_PTR(q->certificate_pem);
	issued.created_at = TAKE_PTR(q->created_at);
	attached.thing = TAKE_PTR(q->attached_thing);
	attached.policies = TAKE_PTR(q->attached_policies);

	tp_log(TP_PRIO_NOTICE, "resuming: using certificate %s received by an interrupted run", issued.id);
	return tp_certflow_resume(&r->flow, &issued, &attached, true, err);
}

/* Steps 2 and 3: a CSR signed in the TPM, sent with the request journaled
 * before it goes out. */
static int request_certificate(struct request *r, EVP_PKEY *key, struct tp_error *err)
{
	_cleanup_free_ char *csr = NULL;

	if (tp_run_build_csr(r->run, key, &csr, err) < 0)
		return -1;
	return tp_certflow_request(&r->flow, csr, err);
}

/*
 * Why a journal around the request: CreateCertificateFromCsr has no
 * idempotency token, so a rerun must never send a second request once a
 * certificate was received, and must say so when a request was lost in
 * flight.  The certificate is checked before it is journaled as usable,
 * then attached to what the options ask for.
 */
static int obtain_certificate(struct request *r, const char *key_name, EVP_PKEY *key, struct tp_error *err)
{
	struct tp_run *run = r->run;
	int q;

	r->flow = tp_run_certflow(run, key, journal, r);
	q = tp_reqjournal_load(run->o.out_dir, key_name, &r->q, err);
	if (q < 0)
		return -1;
	if (q == 0 && r->q.phase == TP_CERT_RECEIVED)
		q = resume_received(r, err);
	else {
		if (q == 0 && r->q.phase == TP_REQUEST_SENT)
			r->lost_since = TAKE_PTR(r->q.sent_at);
		tp_reqjournal_free(&r->q);
		if (!(r->q.key_name = strdup(key_name)))
			return tp_error_oom(err);
		q = request_certificate(r, key, err);
	}
	if (tp_certsync_run(&run->svc, &r->flow, q, err) == 0)
		return 0;
	/* A client error created nothing: no request is in flight. */
	if (r->flow.step == TP_CERTFLOW_FAILED && r->flow.create_status >= 400 && r->flow.create_status < 500)
		tp_reqjournal_remove(run->o.out_dir, NULL);
	return -1;
}

static void warn_lost_request(const char *lost_since, const char *id)
{
	tp_log(TP_PRIO_WARNING,
	       "warning: an interrupted run sent a CreateCertificateFromCsr request at %s and "
	       "got no answer; it may have left an unused certificate for this key at the service: in AWS IoT, "
	       "deactivate and delete any certificate for this key other than %s",
	       lost_since, id);
}

/* Step 4: the files for the agent; state.json last, so "provisioned"
 * means "can connect". */
static int install(struct request *r, const struct tpm_public *pub, struct tp_error *err)
{
	struct tp_run *run = r->run;

	tp_test_crash_point("attached");
	if (tp_run_install(run, r->flow.cert, pub, &r->flow.issued, &r->flow.attached, err) < 0)
		return -1;
	tp_test_crash_point("installed");
	return tp_reqjournal_remove(run->o.out_dir, err);
}

static int enroll(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(request_free) struct request r = { .run = run };
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	_cleanup_free_ char *attached = NULL;
	struct tpm_public pub;

	/* Before the TPM is touched: fail early on what can be checked here. */
	if (tp_run_preflight(run, true, err) < 0 || tp_run_load_key_auth(run, err) < 0 ||
	    tp_run_load_creds(run, err) < 0)
		return -1;
	if (tp_run_key(run, &pub, err) < 0 || tp_pkey_from_tpm(&pub, &key, err) < 0 ||
	    obtain_certificate(&r, pub.name_hex, key, err) < 0 || install(&r, &pub, err) < 0 ||
	    tp_attach_describe(&r.flow.attached, &attached, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE,
	       "enrolled thing %s: certificate %s installed in %s%s; inspect it with: tpm-provision status --out-dir "
	       "%s",
	       run->o.thing_name, r.flow.issued.id, run->o.out_dir, attached, run->o.out_dir);
	if (r.lost_since)
		warn_lost_request(r.lost_since, r.flow.issued.id);
	return tp_run_print_result(run, "enrolled", r.flow.issued.id, r.flow.issued.arn, &r.flow.attached, err);
}

static int cmd_enroll(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	static const struct tp_provisioning how = { .usage = enroll_usage, .steps = enroll };

	return tp_run_command(cmd, argc, argv, &how, err);
}

const struct tp_command_impl tp_cmd_enroll = {
	.run = cmd_enroll,
};
