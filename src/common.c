/* Shared by the subcommands; see common.h. */
#include "common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cert.h"
#include "fsutil.h"
#include "install.h"
#include "ossl.h"

void tp_devkey_from_options(const struct tp_options *o, const struct tp_tpm_auth *auth, struct tp_devkey *ret_key)
{
	*ret_key = (struct tp_devkey){
		.tcti = o->val[TP_OPT_TCTI],
		.out_dir = o->val[TP_OPT_OUT_DIR],
		.alg = o->key_alg,
		.handle = o->key_handle,
		.file = o->val[TP_OPT_KEY_FILE],
		.auth = auth,
		.force = tp_opt_flag(o, TP_OPT_FORCE_NEW_KEY),
	};
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

static void print_already_provisioned(const struct tp_state *state, const struct tp_devkey *k, const char *dir)
{
	char where[4200];

	tp_devkey_where(k, where, sizeof(where));
	printf("already provisioned: thing %s, certificate %s, key at %s (%s)\n", state->thing_name,
	       state->certificate_id, where, dir);
}

/* Why: a device without an RTC boots in 1970 and TLS then fails with
 * "certificate not yet valid".  Wait, up to deadline seconds, for the clock
 * to pass this program's build time; EX_TEMPFAIL if it does not. */
static int wait_for_clock(unsigned deadline, struct tp_error *err)
{
	const time_t built = (time_t)TP_BUILD_EPOCH;
	char now_s[TP_TIME_MAX], built_s[TP_TIME_MAX];
	unsigned waited;
	time_t now;

	for (waited = 0;; waited++) {
		now = time(NULL);
		if (now >= built)
			return 0;
		if (waited == 0)
			fprintf(stderr, "tpm-provision: the system clock is not set yet; waiting up to %us for time sync\n",
				deadline);
		if (waited >= deadline)
			break;
		sleep(1);
	}
	tp_format_time(now, now_s);
	tp_format_time(built, built_s);
	return tp_error_set(err, EX_TEMPFAIL,
			    "the system clock (%s) is before this program was built (%s) and time sync did not set it "
			    "within %us: TLS would fail, try again once the clock is synchronised", now_s, built_s,
			    deadline);
}

#define LOCK_FILE "tpm-provision.lock"

/* Create the output directory if needed and lock it, waiting for another
 * run at most the deadline. */
static int lock_out_dir(const struct tp_options *o, int *ret_fd, struct tp_error *err)
{
	if (tp_mkdir_p(o->val[TP_OPT_OUT_DIR], 0755, err) < 0)
		return -1;
	return tp_lock_file(o->val[TP_OPT_OUT_DIR], LOCK_FILE, o->deadline, ret_fd, err);
}

void tp_test_crash_point(const char *step)
{
	const char *at = getenv("TPM_PROVISION_TEST_CRASH_AT");

	if (at && strcmp(at, step) == 0)
		kill(getpid(), SIGKILL);
}

int tp_begin_run(const struct tp_options *o, const struct tp_devkey *k, int *ret_lock, struct tp_error *err)
{
	struct tp_state state = { 0 };
	int lock = -1, r;

	if (wait_for_clock(o->deadline, err) < 0 || lock_out_dir(o, &lock, err) < 0)
		return -1;
	/* --force-new-key asks for a new key even on a provisioned device. */
	r = k->force ? 0 : check_provisioned(o, k, &state, err);
	if (r == 1) {
		/* A run killed after installing may have left its request
		 * journal: the state now says everything. */
		r = tp_remove_file(o->val[TP_OPT_OUT_DIR], TP_REQUEST_FILE, err) < 0 ? -1 : 1;
		if (r == 1)
			print_already_provisioned(&state, k, o->val[TP_OPT_OUT_DIR]);
	}
	tp_state_free(&state);
	if (r < 0) {
		close(lock);
		return -1;
	}
	*ret_lock = lock;
	return r;
}

/* The one place retries are printed: the client only reports them. */
static void note_retry(const char *line)
{
	fprintf(stderr, "tpm-provision: %s\n", line);
}

void tp_service_setup(const struct tp_options *o, const struct tp_creds *creds, struct tp_service *ret_svc)
{
	*ret_svc = (struct tp_service){
		.endpoint = o->val[TP_OPT_ENDPOINT_URL],
		.region = o->val[TP_OPT_REGION],
		.signing_name = o->val[TP_OPT_SIGNING_NAME],
		.ca_bundle = o->val[TP_OPT_CA_BUNDLE],
		.creds = creds,
		.allow_http = tp_opt_flag(o, TP_OPT_INSECURE_HTTP_LOOPBACK),
		.deadline = o->deadline,
		.note_retry = note_retry,
	};
}

int tp_install_provisioned(const struct tp_options *o, const struct tp_service *svc, const struct tp_devkey *k,
			   X509 *cert, const struct tp_tpm_public *pub, const char *arn, const char *id,
			   struct tp_error *err)
{
	char name_hex[2 * 66 + 1], when[TP_TIME_MAX], *iot_endpoint = NULL;
	struct tp_install_files in;
	struct tp_state state;
	int r;

	/* The agent's data endpoint: given, or asked of the service. */
	if (o->val[TP_OPT_IOT_ENDPOINT])
		iot_endpoint = strdup(o->val[TP_OPT_IOT_ENDPOINT]);
	else if (tp_service_describe_endpoint(svc, &iot_endpoint, err) < 0)
		return -1;
	if (!iot_endpoint)
		return tp_error_set(err, EX_IOERR, "out of memory");
	tp_tpm_name_hex(pub, name_hex);
	tp_format_time(time(NULL), when);
	state = (struct tp_state){
		.thing_name = o->val[TP_OPT_THING_NAME],
		.certificate_id = (char *)id,
		.certificate_arn = (char *)arn,
		.key_handle = k->handle,
		.key_file = (char *)k->file,
		.key_name = name_hex,
		.endpoint = o->val[TP_OPT_ENDPOINT_URL],
		.iot_endpoint = iot_endpoint,
		.provisioned_at = when,
		.tool_version = PACKAGE_VERSION,
	};
	in = (struct tp_install_files){
		.dir = o->val[TP_OPT_OUT_DIR],
		.cert = cert,
		.root_ca = o->val[TP_OPT_ROOT_CA],
		.key_file = k->file,
		.tcti = o->val[TP_OPT_TCTI],
		.agents = o->val[TP_OPT_AGENT],
		.agent_config = o->val[TP_OPT_AGENT_CONFIG],
		.uid = o->owner_uid,
		.gid = o->owner_gid,
		.state = &state,
	};
	r = tp_install(&in, err);
	free(iot_endpoint);
	return r;
}
