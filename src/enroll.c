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

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert.h"
#include "commands.h"
#include "common.h"
#include "csr.h"
#include "fsutil.h"
#include "ossl.h"
#include "request.h"

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

/*
 * Why a journal around the request: CreateCertificateFromCsr has no
 * idempotency token, so a rerun must never send a second request once a
 * certificate was received, and must say so when a request was lost in
 * flight.  Fills *ret_issued, from the service or from an interrupted run;
 * *ret_lost_since is the time of a request that got no answer, or NULL.
 */
static int obtain_certificate(const struct tp_options *o, const struct tp_service *svc, const struct tp_csr_key *ck,
			      EVP_PKEY *key, const char *key_name, struct tp_issued_cert *ret_issued,
			      char **ret_lost_since, struct tp_error *err)
{
	const char *dir = o->val[TP_OPT_OUT_DIR];
	struct tp_request q = { 0 };
	char sent_at[TP_TIME_MAX], *csr = NULL;
	int r;

	r = tp_request_load(dir, key_name, &q, err);
	if (r < 0)
		return -1;
	if (r == 1 && strcmp(q.phase, TP_PHASE_CERT_RECEIVED) == 0) {
		printf("resuming: using certificate %s received by an interrupted run\n", q.certificate_id);
		r = tp_request_issued(&q, ret_issued, err);
		tp_request_free(&q);
		return r;
	}
	r = -1;

	/* The CSR is signed by the TPM through the tpm2 provider. */
	if (tp_csr_build(o->val[TP_OPT_TCTI], ck, o->val[TP_OPT_THING_NAME], key, &csr, err) < 0)
		goto out;
	tp_test_crash_point("csr-built");

	if (tp_request_save_sent(dir, key_name, sent_at, err) < 0)
		goto out;
	tp_test_crash_point("request-sent");
	if (tp_service_create_from_csr(svc, csr, ret_issued, err) < 0)
		goto out;
	if (tp_request_save_received(dir, key_name, sent_at, ret_issued, err) < 0) {
		tp_issued_cert_free(ret_issued);
		goto out;
	}
	tp_test_crash_point("certificate-received");
	*ret_lost_since = q.sent_at;
	q.sent_at = NULL;
	r = 0;
out:
	tp_request_free(&q);
	free(csr);
	return r;
}

int cmd_enroll(int argc, char **argv, struct tp_error *err)
{
	struct tp_options o = { 0 };
	struct tp_creds creds = { 0 };
	struct tp_tpm_public pub;
	struct tp_tpm_auth auth = { 0 };
	struct tp_devkey k;
	struct tp_csr_key ck;
	struct tp_issued_cert issued = { 0 };
	struct tp_service svc;
	char where[4200], name_hex[2 * 66 + 1], *lost_since = NULL;
	int lock = -1;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int created = 0, r = -1;

	r = tp_options_load(&o, TP_CMD_ENROLL, argc, argv, err);
	if (r != 0) {
		if (r == 1)
			enroll_usage();
		r = r == 1 ? 0 : -1;
		goto out;
	}

	tp_devkey_from_options(&o, &auth, &k);
	tp_devkey_where(&k, where, sizeof(where));

	/* The clock, one run at a time, and a provisioned device left alone. */
	r = tp_begin_run(&o, &k, &lock, err);
	if (r != 0) {
		r = r == 1 ? 0 : -1;
		goto out;
	}
	r = -1;
	if (o.val[TP_OPT_KEY_AUTH_FILE] && tp_devkey_read_auth(o.val[TP_OPT_KEY_AUTH_FILE], &auth, err) < 0)
		goto out;

	/* Before the TPM is touched: fail early on what can be checked here. */
	if (tp_creds_load(&creds, err) < 0)
		goto out;
	tp_service_setup(&o, &creds, &svc);

	/* Step 1: the key is made inside the TPM and never leaves it; a key
	 * made by an earlier, interrupted run is reused. */
	r = tp_devkey_find(&k, &pub, err);
	if (r == 1) {
		if (tp_key_alg_is_rsa(k.alg) && (isatty(STDOUT_FILENO) || isatty(STDERR_FILENO))) {
			printf("creating a %s key in the TPM; this may take a while (up to minutes)...\n",
			       tp_key_alg_name(k.alg));
			fflush(stdout);
		}
		r = tp_devkey_create(&k, &pub, err);
		created = 1;
	}
	if (r < 0)
		goto out;
	r = -1;
	printf("%s %s TPM key at %s\n", created ? "created" : "reusing", tp_key_alg_name(k.alg), where);
	tp_test_crash_point("key-created");
	if (tp_pkey_from_tpm(&pub, &key, err) < 0)
		goto out;
	tp_tpm_name_hex(&pub, name_hex);

	/* Steps 2 and 3: a CSR signed in the TPM, and AWS IoT's certificate. */
	ck = (struct tp_csr_key){
		.handle = k.handle,
		.file = k.file,
		.auth = &auth,
		.digest = tp_key_alg_digest(k.alg),
		.pss = tp_opt_flag(&o, TP_OPT_RSA_PSS),
	};
	if (obtain_certificate(&o, &svc, &ck, key, name_hex, &issued, &lost_since, err) < 0)
		goto out;

	/* Step 4: install only a certificate for exactly the TPM key. */
	if (tp_cert_parse_pem(issued.pem, strlen(issued.pem), "the certificate from the service", &cert, err) < 0 ||
	    tp_cert_check_key(cert, key, "the certificate from the service", err) < 0)
		goto out;
	if (tp_install_provisioned(&o, &svc, &k, cert, &pub, issued.arn, issued.id, err) < 0)
		goto out;
	tp_test_crash_point("installed");
	if (tp_remove_file(o.val[TP_OPT_OUT_DIR], TP_REQUEST_FILE, err) < 0)
		goto out;
	printf("enrolled thing %s: certificate %s installed in %s\n", o.val[TP_OPT_THING_NAME], issued.id,
	       o.val[TP_OPT_OUT_DIR]);
	if (lost_since)
		fprintf(stderr,
			"tpm-provision: warning: an interrupted run sent a CreateCertificateFromCsr request at %s and "
			"got no answer; it may have left an unused certificate for this key at the service: in AWS IoT, "
			"deactivate and delete any certificate for this key other than %s\n",
			lost_since, issued.id);
	r = 0;
out:
	explicit_bzero(&auth, sizeof(auth));
	X509_free(cert);
	EVP_PKEY_free(key);
	free(lost_since);
	tp_issued_cert_free(&issued);
	tp_creds_free(&creds);
	tp_options_free(&o);
	if (lock >= 0)
		close(lock);
	return r;
}
