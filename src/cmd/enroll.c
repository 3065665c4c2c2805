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
#include "src/cmd/commands.h"
#include "src/cmd/run.h"
#include "src/cmd/testhook.h"
#include "src/store/reqjournal.h"
#include "src/x509/cert.h"
#include "src/x509/csr.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

static void enroll_usage(void)
{
	printf("usage: tpm-provision enroll [options]\n\n"
	       "Create a non-exportable signing key in the TPM, have AWS IoT issue a\n"
	       "certificate for it (CreateCertificateFromCsr) and install it.\n\n"
	       "options:\n");
	tp_options_usage(stdout, TP_CMD_ENROLL);
	printf("\nAWS credentials come from the environment, systemd credentials or the\n"
	       "shared credentials file, never from the command line (see README).\n");
}

static void issued_freep(struct tp_issued_cert *c)
{
	tp_issued_cert_free(c);
}

static void reqjournal_freep(struct tp_reqjournal *q)
{
	tp_reqjournal_free(q);
}

/* Step 1: the key is made inside the TPM and never leaves it; a key made
 * by an earlier, interrupted run is reused. */
static int key_step(struct tp_run *run, struct tpm_public *ret_pub, struct tp_error *err)
{
	_cleanup_free_ char *where = NULL;
	bool created = false;
	int r;

	if (tp_keyloc_describe(&run->o.key, &where, err) < 0)
		return -1;
	r = tp_devkey_find(&run->key, ret_pub, err);
	if (r == TP_NEED_NEW_KEY) {
		if (tpm_key_alg_is_rsa(run->o.key_alg) && (isatty(STDOUT_FILENO) || isatty(STDERR_FILENO))) {
			printf("creating a %s key in the TPM; this may take a while (up to minutes)...\n",
			       tpm_key_alg_name(run->o.key_alg));
			fflush(stdout);
		}
		r = tp_devkey_create(&run->key, ret_pub, err);
		created = true;
	}
	if (r < 0)
		return -1;
	printf("%s %s TPM key at %s\n", created ? "created" : "reusing", tpm_key_alg_name(run->o.key_alg), where);
	tp_test_crash_point("key-created");
	return 0;
}

/* The certificate an interrupted run received: no second request. */
static int resume_received(const struct tp_reqjournal *q, struct tp_issued_cert *ret, struct tp_error *err)
{
	struct tp_issued_cert c = {
		.id = strdup(q->certificate_id),
		.arn = strdup(q->certificate_arn),
		.pem = strdup(q->certificate_pem),
	};

	printf("resuming: using certificate %s received by an interrupted run\n", q->certificate_id);
	if (!c.id || !c.arn || !c.pem) {
		tp_issued_cert_free(&c);
		return tp_error_oom(err);
	}
	*ret = c;
	return 0;
}

/* Steps 2 and 3: a CSR signed in the TPM, sent with the request journaled
 * before it goes out and the answer journaled before it is used. */
static int request_certificate(struct tp_run *run, const char *key_name, EVP_PKEY *key,
			       struct tp_issued_cert *ret, struct tp_error *err)
{
	const struct tp_csr_key ck = { .loc = &run->o.key, .auth = &run->auth, .alg = run->o.key_alg,
				       .pss = run->o.rsa_pss };
	struct tp_reqjournal q = { .phase = TP_REQUEST_SENT, .key_name = (char *)key_name };
	_cleanup_free_ char *csr = NULL;
	char sent_at[TP_TIME_MAX];

	if (tp_csr_build(run->o.tcti, &ck, run->o.thing_name, key, &csr, err) < 0)
		return -1;
	tp_test_crash_point("csr-built");
	tp_format_time(time(NULL), sent_at);
	q.sent_at = sent_at;
	if (tp_reqjournal_save(run->o.out_dir, &q, err) < 0)
		return -1;
	tp_test_crash_point("request-sent");
	if (tp_iot_create_from_csr(&run->svc, csr, ret, err) < 0)
		return -1;
	q = (struct tp_reqjournal){ .phase = TP_CERT_RECEIVED, .key_name = (char *)key_name, .sent_at = sent_at,
				    .certificate_id = ret->id, .certificate_arn = ret->arn, .certificate_pem = ret->pem };
	if (tp_reqjournal_save(run->o.out_dir, &q, err) < 0) {
		tp_issued_cert_free(ret);
		return -1;
	}
	tp_test_crash_point("certificate-received");
	return 0;
}

/*
 * Why a journal around the request: CreateCertificateFromCsr has no
 * idempotency token, so a rerun must never send a second request once a
 * certificate was received, and must say so when a request was lost in
 * flight.  Fills *ret_issued, from the service or from an interrupted run;
 * *ret_lost_since is the time of a request that got no answer, or NULL.
 */
static int obtain_certificate(struct tp_run *run, const char *key_name, EVP_PKEY *key,
			      struct tp_issued_cert *ret_issued, char **ret_lost_since, struct tp_error *err)
{
	_cleanup_(reqjournal_freep) struct tp_reqjournal q = { 0 };
	int r;

	r = tp_reqjournal_load(run->o.out_dir, key_name, &q, err);
	if (r < 0)
		return -1;
	if (r == 0 && q.phase == TP_CERT_RECEIVED)
		return resume_received(&q, ret_issued, err);
	if (request_certificate(run, key_name, key, ret_issued, err) < 0)
		return -1;
	*ret_lost_since = TAKE_PTR(q.sent_at);
	return 0;
}

static void warn_lost_request(const char *lost_since, const char *id)
{
	fprintf(stderr,
		"tpm-provision: warning: an interrupted run sent a CreateCertificateFromCsr request at %s and "
		"got no answer; it may have left an unused certificate for this key at the service: in AWS IoT, "
		"deactivate and delete any certificate for this key other than %s\n",
		lost_since, id);
}

/* Step 4: install only a certificate for exactly the TPM key. */
static int install_step(struct tp_run *run, const struct tpm_public *pub, EVP_PKEY *key,
			const struct tp_issued_cert *issued, struct tp_error *err)
{
	static const char what[] = "the certificate from the service";
	_cleanup_x509_ X509 *cert = NULL;

	if (tp_cert_parse_pem(issued->pem, strlen(issued->pem), what, &cert, err) < 0 ||
	    tp_cert_check_key(cert, key, what, err) < 0 ||
	    tp_run_install(run, cert, pub, issued->arn, issued->id, err) < 0)
		return -1;
	tp_test_crash_point("installed");
	return tp_reqjournal_remove(run->o.out_dir, err);
}

static int enroll(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(issued_freep) struct tp_issued_cert issued = { 0 };
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	_cleanup_free_ char *lost_since = NULL;
	struct tpm_public pub;

	/* Before the TPM is touched: fail early on what can be checked here. */
	if (tp_run_load_key_auth(run, err) < 0 || tp_run_load_creds(run, err) < 0)
		return -1;
	if (key_step(run, &pub, err) < 0 || tp_pkey_from_tpm(&pub, &key, err) < 0 ||
	    obtain_certificate(run, pub.name_hex, key, &issued, &lost_since, err) < 0 ||
	    install_step(run, &pub, key, &issued, err) < 0)
		return -1;
	printf("enrolled thing %s: certificate %s installed in %s\n", run->o.thing_name, issued.id, run->o.out_dir);
	if (lost_since)
		warn_lost_request(lost_since, issued.id);
	return 0;
}

int cmd_enroll(int argc, char **argv, struct tp_error *err)
{
	return tp_run_command(TP_CMD_ENROLL, argc, argv, enroll_usage, enroll, err);
}
