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

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert.h"
#include "commands.h"
#include "creds.h"
#include "csr.h"
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
static int check_provisioned(const struct tp_options *o, struct tp_state *ret_state, struct tp_error *err)
{
	const char *dir = o->val[TP_OPT_OUT_DIR];
	char *json = NULL, *pem = NULL, path[4096], name_hex[2 * 66 + 1];
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
	if (state.key_handle != o->key_handle) {
		tp_error_set(err, EX_DATAERR, "%s: this device is provisioned with the key at 0x%08x, not 0x%08x", path,
			     state.key_handle, o->key_handle);
		goto out;
	}
	r = tp_tpm_read_key(o->val[TP_OPT_TCTI], state.key_handle, &pub, err);
	if (r == 1)
		tp_error_set(err, EX_DATAERR,
			     "%s records the key at 0x%08x but the TPM has none there (was the TPM cleared?); "
			     "move %s away to provision again", path, state.key_handle, path);
	if (r != 0) {
		r = -1;
		goto out;
	}
	r = -1;
	tp_tpm_name_hex(&pub, name_hex);
	if (strcmp(name_hex, state.key_name) != 0) {
		tp_error_set(err, EX_DATAERR, "%s records another key than the one now at 0x%08x (TPM name %s, not %s)",
			     path, state.key_handle, name_hex, state.key_name);
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
	struct tp_issued_cert issued = { 0 };
	struct tp_service svc;
	char name_hex[2 * 66 + 1], when[32], *csr = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int created, r = -1;

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

	r = check_provisioned(&o, &state, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		printf("already provisioned: thing %s, certificate %s, key 0x%08x (%s)\n", state.thing_name,
		       state.certificate_id, state.key_handle, o.val[TP_OPT_OUT_DIR]);
		r = 0;
		goto out;
	}
	r = -1;

	/* Before the TPM is touched: fail early on what can be checked here. */
	if (tp_creds_load(&creds, err) < 0 || tp_mkdir_p(o.val[TP_OPT_OUT_DIR], 0755, err) < 0)
		goto out;

	/* Step 1: the key is made inside the TPM and never leaves it; a key
	 * made by an earlier, interrupted run is reused. */
	if (tp_tpm_ensure_key(o.val[TP_OPT_TCTI], o.key_handle, &pub, &created, err) < 0)
		goto out;
	printf("%s TPM key at 0x%08x\n", created ? "created" : "reusing", o.key_handle);
	if (tp_pkey_from_tpm(&pub, &key, err) < 0)
		goto out;

	/* Step 2: the CSR is signed by the TPM through the tpm2 provider. */
	if (tp_csr_build(o.val[TP_OPT_TCTI], o.key_handle, o.val[TP_OPT_THING_NAME], key, &csr, err) < 0)
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
		.key_handle = o.key_handle,
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
	X509_free(cert);
	EVP_PKEY_free(key);
	free(csr);
	tp_issued_cert_free(&issued);
	tp_creds_free(&creds);
	tp_state_free(&state);
	tp_options_free(&o);
	return r;
}
