/*
 * tpm-provision enroll: TPM key -> CSR signed in the TPM ->
 * CreateCertificateFromCsr -> certificate checked against the key and
 * installed.  This file only sequences the steps; each lives in its own
 * module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert.h"
#include "commands.h"
#include "creds.h"
#include "csr.h"
#include "devkey.h"
#include "fsutil.h"
#include "install.h"
#include "options.h"
#include "ossl.h"
#include "service.h"
#include "state.h"
#include "tpm/tpm.h"

static void enroll_usage(void)
{
	printf("usage: tpm-provision enroll [options]\n\n"
	       "Create a non-exportable signing key in the TPM, have AWS IoT issue a\n"
	       "certificate for it (CreateCertificateFromCsr) and install it.\n\n"
	       "options:\n");
	tp_options_usage(stdout, TP_CMD_ENROLL);
	printf("\nAWS credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and\n"
	       "AWS_SESSION_TOKEN, never from the command line.\n");
}

static int read_in_dir(const char *dir, const char *name, size_t max, char **ret_buf, size_t *ret_len,
		       struct tp_error *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return tp_read_file(path, max, ret_buf, ret_len, err);
}

/*
 * Why first: a provisioned device must be left alone, so before touching the
 * TPM or the network, see whether state.json records a provisioning that the
 * TPM key and the installed certificate still agree with.  Returns 1 when
 * provisioned, 0 when not, -1 when the record and the device disagree.
 */
static int check_provisioned(const struct tp_options *o, const struct tp_devkey *k, struct tp_state *ret_state,
			     struct tp_error *err)
{
	const char *dir = o->val[TP_OPT_OUT_DIR];
	char *json = NULL, *pem = NULL, path[4096], name_hex[2 * 66 + 1], have[4200], want[4200];
	struct tp_tpm_public pub;
	struct tp_state state = { 0 };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, TP_STATE_FILE);
	r = read_in_dir(dir, TP_STATE_FILE, TP_STATE_MAX, &json, &len, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = -1;
	if (tp_state_parse(json, len, path, &state, err) < 0)
		goto out;
	if (strcmp(state.thing_name, o->val[TP_OPT_THING_NAME]) != 0) {
		tp_error_set(err, EX_DATAERR, "%s: this device is already provisioned as thing \"%s\", not \"%s\"",
			     path, state.thing_name, o->val[TP_OPT_THING_NAME]);
		goto out;
	}
	if (state.key_handle != k->handle || (state.key_file == NULL) != (k->file == NULL) ||
	    (k->file && strcmp(state.key_file, k->file) != 0)) {
		if (state.key_file)
			snprintf(have, sizeof(have), "key file %s", state.key_file);
		else
			snprintf(have, sizeof(have), "handle 0x%08x", state.key_handle);
		if (k->file)
			snprintf(want, sizeof(want), "key file %s", k->file);
		else
			snprintf(want, sizeof(want), "handle 0x%08x", k->handle);
		tp_error_set(err, EX_DATAERR, "%s: this device is provisioned with the key at %s, not %s", path, have,
			     want);
		goto out;
	}
	r = tp_devkey_read(k, &pub, err);
	if (r == 1)
		tp_error_set(err, EX_DATAERR,
			     "%s records a key the TPM no longer has (was the TPM cleared, the key file removed?); "
			     "move %s away to provision again", path, path);
	if (r != 0) {
		r = -1;
		goto out;
	}
	r = -1;
	tp_tpm_name_hex(&pub, name_hex);
	if (strcmp(name_hex, state.key_name) != 0) {
		tp_error_set(err, EX_DATAERR, "%s records another key than the one now there (TPM name %s, not %s)",
			     path, name_hex, state.key_name);
		goto out;
	}
	if (read_in_dir(dir, TP_CERT_FILE, TP_STATE_MAX, &pem, &len, err) != 0) {
		tp_error_set(err, EX_DATAERR, "%s exists but %s/%s does not", path, dir, TP_CERT_FILE);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, TP_CERT_FILE);
	if (tp_pkey_from_tpm(&pub, &key, err) < 0 || tp_cert_parse_pem(pem, len, path, &cert, err) < 0 ||
	    tp_cert_check_key(cert, key, path, err) < 0)
		goto out;
	*ret_state = state;
	memset(&state, 0, sizeof(state));
	r = 1;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	tp_state_free(&state);
	free(json);
	free(pem);
	return r;
}

static void now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_enroll(int argc, char **argv, struct tp_error *err)
{
	struct tp_options o = { 0 };
	struct tp_state state = { 0 };
	struct tp_creds creds = { 0 };
	struct tp_tpm_public pub;
	struct tp_tpm_auth auth = { 0 };
	struct tp_devkey k;
	struct tp_csr_key ck;
	struct tp_issued_cert issued = { 0 };
	struct tp_service svc;
	char name_hex[2 * 66 + 1], when[32], where[4200], *csr = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int created = 0, r = -1;

	r = tp_options_parse_argv(&o, TP_CMD_ENROLL, argc, argv, err);
	if (r == 1) {
		enroll_usage();
		r = 0;
		goto out;
	}
	if (r < 0 || tp_config_load(&o, TP_CMD_ENROLL, err) < 0 || tp_options_finish(&o, err) < 0) {
		r = -1;
		goto out;
	}

	k = (struct tp_devkey){
		.tcti = o.val[TP_OPT_TCTI],
		.out_dir = o.val[TP_OPT_OUT_DIR],
		.alg = o.key_alg,
		.handle = o.key_handle,
		.file = o.val[TP_OPT_KEY_FILE],
		.auth = &auth,
		.force = tp_opt_flag(&o, TP_OPT_FORCE_NEW_KEY),
	};
	if (k.file)
		snprintf(where, sizeof(where), "key file %s", k.file);
	else
		snprintf(where, sizeof(where), "handle 0x%08x", k.handle);

	/* --force-new-key asks for a new key even on a provisioned device. */
	r = k.force ? 0 : check_provisioned(&o, &k, &state, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		printf("already provisioned: thing %s, certificate %s, key at %s (%s)\n", state.thing_name,
		       state.certificate_id, where, o.val[TP_OPT_OUT_DIR]);
		r = 0;
		goto out;
	}
	r = -1;
	if (o.val[TP_OPT_KEY_AUTH_FILE] && tp_devkey_read_auth(o.val[TP_OPT_KEY_AUTH_FILE], &auth, err) < 0)
		goto out;

	/* Before the TPM is touched: fail early on what can be checked here. */
	if (tp_creds_load(&creds, err) < 0 || tp_mkdir_p(o.val[TP_OPT_OUT_DIR], 0755, err) < 0)
		goto out;

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
	if (tp_pkey_from_tpm(&pub, &key, err) < 0)
		goto out;

	/* Step 2: the CSR is signed by the TPM through the tpm2 provider. */
	ck = (struct tp_csr_key){
		.handle = k.handle,
		.file = k.file,
		.auth = &auth,
		.digest = tp_key_alg_digest(k.alg),
		.pss = tp_opt_flag(&o, TP_OPT_RSA_PSS),
	};
	if (tp_csr_build(o.val[TP_OPT_TCTI], &ck, o.val[TP_OPT_THING_NAME], key, &csr, err) < 0)
		goto out;

	/* Step 3: AWS IoT issues the certificate. */
	svc = (struct tp_service){
		.endpoint = o.val[TP_OPT_ENDPOINT_URL],
		.region = o.val[TP_OPT_REGION],
		.signing_name = o.val[TP_OPT_SIGNING_NAME],
		.ca_bundle = o.val[TP_OPT_CA_BUNDLE],
		.creds = &creds,
	};
	if (tp_service_create_from_csr(&svc, csr, &issued, err) < 0)
		goto out;

	/* Step 4: install only a certificate for exactly the TPM key. */
	if (tp_cert_parse_pem(issued.pem, strlen(issued.pem), "the certificate from the service", &cert, err) < 0 ||
	    tp_cert_check_key(cert, key, "the certificate from the service", err) < 0)
		goto out;
	tp_tpm_name_hex(&pub, name_hex);
	now_rfc3339(when, sizeof(when));
	state = (struct tp_state){
		.thing_name = o.val[TP_OPT_THING_NAME],
		.certificate_id = issued.id,
		.certificate_arn = issued.arn,
		.key_handle = k.handle,
		.key_file = (char *)k.file,
		.key_name = name_hex,
		.endpoint = o.val[TP_OPT_ENDPOINT_URL],
		.provisioned_at = when,
		.tool_version = PACKAGE_VERSION,
	};
	r = tp_install(o.val[TP_OPT_OUT_DIR], cert, &state, err);
	memset(&state, 0, sizeof(state)); /* borrowed strings */
	if (r < 0)
		goto out;
	printf("enrolled thing %s: certificate %s installed in %s\n", o.val[TP_OPT_THING_NAME], issued.id,
	       o.val[TP_OPT_OUT_DIR]);
	r = 0;
out:
	explicit_bzero(&auth, sizeof(auth));
	X509_free(cert);
	EVP_PKEY_free(key);
	free(csr);
	tp_issued_cert_free(&issued);
	tp_creds_free(&creds);
	tp_state_free(&state);
	tp_options_free(&o);
	return r;
}
