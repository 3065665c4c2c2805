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
#include "src/cmd/accept.h"
#include "src/cmd/attach.h"
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

/* The journal of this run's request, and the certificate it is about. */
struct request {
	struct tp_run *run;
	struct tp_reqjournal q; /* as saved in request.json */
	struct tp_issued_cert issued;
	X509 *cert; /* checked against the TPM key */
	struct tp_attached attached;
	char *lost_since; /* a request an earlier run got no answer to */
};

static void request_free(struct request *r)
{
	tp_reqjournal_free(&r->q);
	tp_issued_cert_free(&r->issued);
	X509_free(r->cert);
	tp_attached_free(&r->attached);
	free(r->lost_since);
}

/* Record the certificate received, and what is attached so far. */
static int save_received(void *ctx, const struct tp_attached *done, struct tp_error *err)
{
	struct request *r = ctx;
	struct tp_reqjournal q = {
		.phase = TP_CERT_RECEIVED,
		.key_name = r->q.key_name,
		.sent_at = r->q.sent_at,
		.certificate_id = r->issued.id,
		.certificate_arn = r->issued.arn,
		.certificate_pem = r->issued.pem,
		.created_at = r->issued.created_at,
		.attached_thing = done->thing,
		.attached_policies = done->policies,
	};

	return tp_reqjournal_save(r->run->o.out_dir, &q, err);
}

static int refuse(struct request *r, struct tp_error *err);

/* The certificate an interrupted run received and checked: no second
 * request; what it attached is not attached again. */
static int resume_received(struct request *r, EVP_PKEY *key, struct tp_error *err)
{
	struct tp_reqjournal *q = &r->q;

	tp_log(TP_PRIO_NOTICE, "resuming: using certificate %s received by an interrupted run", q->certificate_id);
	r->issued.id = TAKE_PTR(q->certificate_id);
	r->issued.arn = TAKE_PTR(q->certificate_arn);
	r->issued.pem = TAKE_PTR(q->certificate_pem);
	r->issued.created_at = TAKE_PTR(q->created_at);
	r->attached.thing = TAKE_PTR(q->attached_thing);
	r->attached.policies = TAKE_PTR(q->attached_policies);
	/* Checked before it was journaled; a journal from an older version
	 * recorded it unchecked. */
	if (tp_accept_certificate(&r->issued, key, "ACTIVE", &r->cert, err) < 0)
		return refuse(r, err);
	return 0;
}

/* A certificate that failed the check: recorded as refused (a rerun sends
 * a fresh request) and deactivated at the service, so that it cannot be
 * used; the error keeps the reason and says what became of it. */
static int refuse(struct request *r, struct tp_error *err)
{
	const struct tp_issued_cert *c = &r->issued;
	struct tp_reqjournal q = { .phase = TP_CERT_REFUSED,
				   .key_name = r->q.key_name,
				   .sent_at = r->q.sent_at,
				   .certificate_id = c->id,
				   .refused_because = err->msg };
	struct tp_error e = { 0 };

	if (tp_reqjournal_save(r->run->o.out_dir, &q, &e) < 0)
		tp_error_append(err, "recording it as refused failed: %s", e.msg);
	if (c->status && strcmp(c->status, "ACTIVE") != 0)
		return -1;
	e = (struct tp_error){ 0 };
	if (tp_iot_update_certificate(&r->run->svc, c->id, "INACTIVE", &e) < 0)
		tp_error_append(err, "deactivating certificate %s failed, deactivate it by hand: %s", c->id, e.msg);
	else
		tp_error_append(err, "certificate %s was set INACTIVE at %s", c->id, r->run->svc.endpoint);
	return -1;
}

/* Steps 2 and 3: a CSR signed in the TPM, sent with the request journaled
 * before it goes out; the answer is checked before it is journaled as
 * usable. */
static int request_certificate(struct request *r, EVP_PKEY *key, struct tp_error *err)
{
	struct tp_run *run = r->run;
	_cleanup_free_ char *csr = NULL;
	char sent_at[TP_TIME_MAX];
	bool rejected;

	if (tp_run_build_csr(run, key, &csr, err) < 0)
		return -1;
	tp_format_time(time(NULL), sent_at);
	free(r->q.sent_at);
	if (!(r->q.sent_at = strdup(sent_at)))
		return tp_error_oom(err);
	r->q.phase = TP_REQUEST_SENT;
	if (tp_reqjournal_save(run->o.out_dir, &r->q, err) < 0)
		return -1;
	tp_test_crash_point("request-sent");
	tp_step("requesting the certificate from %s", run->svc.endpoint);
	if (tp_iot_create_from_csr(&run->svc, csr, &r->issued, &rejected, err) < 0) {
		/* A client error created nothing: no request is in flight. */
		if (rejected)
			tp_reqjournal_remove(run->o.out_dir, NULL);
		return -1;
	}
	if (tp_accept_certificate(&r->issued, key, "ACTIVE", &r->cert, err) < 0)
		return refuse(r, err);
	if (save_received(r, &r->attached, err) < 0)
		return -1;
	tp_test_crash_point("certificate-received");
	return 0;
}

/*
 * Why a journal around the request: CreateCertificateFromCsr has no
 * idempotency token, so a rerun must never send a second request once a
 * certificate was received, and must say so when a request was lost in
 * flight.
 */
static int obtain_certificate(struct request *r, const char *key_name, EVP_PKEY *key, struct tp_error *err)
{
	int q;

	q = tp_reqjournal_load(r->run->o.out_dir, key_name, &r->q, err);
	if (q < 0)
		return -1;
	if (q == 0 && r->q.phase == TP_CERT_RECEIVED)
		return resume_received(r, key, err);
	if (q == 0 && r->q.phase == TP_REQUEST_SENT)
		r->lost_since = TAKE_PTR(r->q.sent_at);
	tp_reqjournal_free(&r->q);
	if (!(r->q.key_name = strdup(key_name)))
		return tp_error_oom(err);
	return request_certificate(r, key, err);
}

static void warn_lost_request(const char *lost_since, const char *id)
{
	tp_log(TP_PRIO_WARNING,
	       "warning: an interrupted run sent a CreateCertificateFromCsr request at %s and "
	       "got no answer; it may have left an unused certificate for this key at the service: in AWS IoT, "
	       "deactivate and delete any certificate for this key other than %s",
	       lost_since, id);
}

/* Step 4: the identity at the service, then the files for the agent;
 * state.json last, so "provisioned" means "can connect". */
static int attach_and_install(struct request *r, const struct tpm_public *pub, struct tp_error *err)
{
	struct tp_run *run = r->run;

	if (tp_attach_missing(&run->attach, r->issued.id, r->issued.arn, &r->attached, save_received, r, err) < 0)
		return -1;
	tp_test_crash_point("attached");
	if (tp_run_install(run, r->cert, pub, &r->issued, &r->attached, err) < 0)
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
	if (tp_run_load_key_auth(run, err) < 0 || tp_run_load_creds(run, err) < 0)
		return -1;
	if (tp_run_key(run, &pub, err) < 0 || tp_pkey_from_tpm(&pub, &key, err) < 0 ||
	    obtain_certificate(&r, pub.name_hex, key, err) < 0 || attach_and_install(&r, &pub, err) < 0 ||
	    tp_attach_describe(&r.attached, &attached, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE,
	       "enrolled thing %s: certificate %s installed in %s%s; inspect it with: tpm-provision status --out-dir "
	       "%s",
	       run->o.thing_name, r.issued.id, run->o.out_dir, attached, run->o.out_dir);
	if (r.lost_since)
		warn_lost_request(r.lost_since, r.issued.id);
	return tp_run_print_result(run, "enrolled", r.issued.id, r.issued.arn, &r.attached, err);
}

static int cmd_enroll(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	return tp_run_command(cmd, argc, argv, enroll_usage, enroll, err);
}

const struct tp_command_impl tp_cmd_enroll = {
	.run = cmd_enroll,
};
