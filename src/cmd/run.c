/* SPDX-License-Identifier: BSD-2-Clause */
/* The run every command shares; see run.h. */
#include "src/cmd/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/base/cleanup.h"
#include "src/cmd/attach.h"
#include "src/cmd/certsync.h"
#include "src/cmd/commands.h"
#include "src/cmd/log.h"
#include "src/cmd/jsonout.h"
#include "src/device/pkcs11.h"
#include "src/base/timefmt.h"
#include "src/aws/iot.h"
#include "src/store/file.h"
#include "src/store/reqjournal.h"
#include "src/store/state.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"
#include "src/x509/pkcs10.h"
#include "src/x509/pkey.h"
#include "src/cmd/testhook.h"

/* One provisioning of this device at a time. */
#define LOCK_FILE "tpm-provision.lock"

/* The one place retries are printed: the client only reports them. */
static void note_retry(const char *line)
{
	tp_log(TP_PRIO_WARNING, "%s", line);
}

static void note_debug(const char *line)
{
	tp_log(TP_PRIO_DEBUG, "%s", line);
}

int tp_run_hint_out_dir(struct tp_error *err)
{
	if (strstr(err->msg, strerror(EACCES)) || strstr(err->msg, strerror(EPERM)))
		tp_error_append(err, "run as root, or give --out-dir a directory this user may write");
	return -1;
}

static void waiting_for_lock(const char *path, long pid)
{
	if (pid > 0)
		tp_step("waiting for the lock %s (held by PID %ld)", path, pid);
	else
		tp_step("waiting for the lock %s", path);
}

int tp_run_setup(struct tp_run *run, const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	const struct tp_options *o = &run->o;
	int r;

	*run = (struct tp_run){ .lock = -1, .cmd = cmd };
	r = tp_options_load(&run->o, tp_commands, cmd, argc, argv, err);
	if (r != 0)
		return r;
	tp_log_set_verbosity(run->o.verbosity);
	run->key = (struct tp_devkey){
		.tcti = o->tcti,
		.out_dir = o->out_dir,
		.alg = o->key_alg,
		.loc = &o->key,
		.auth = &run->auth,
		.force = o->force_new_key,
		.keep_blob = tp_agents_token(o->agents) != 0,
	};
	run->svc = (struct tp_service){
		.endpoint = o->endpoint_url,
		.region = o->region,
		.signing_name = o->signing_name,
		.ca_bundle = o->ca_bundle,
		.creds = &run->creds,
		.allow_http = o->insecure_http_loopback,
		.deadline = o->deadline,
		.note_retry = note_retry,
		.note_debug = note_debug,
	};
	run->plan = (struct tp_install_plan){
		.dir = o->out_dir,
		.root_ca = o->root_ca,
		.tcti = o->tcti,
		.agents = o->agents,
		.agent_config = o->agent_config,
		.uid = o->owner_uid,
		.gid = o->owner_gid,
	};
	return 0;
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
			tp_step("the system clock is not set yet; waiting up to %us for time sync", deadline);
		if (waited >= deadline)
			break;
		sleep(1);
	}
	tp_format_time(now, now_s);
	tp_format_time(built, built_s);
	return tp_error_set(err, EX_TEMPFAIL,
			    "the system clock (%s) is before this program was built (%s) and time sync did not set it "
			    "within %us: TLS would fail, try again once the clock is synchronised",
			    now_s, built_s, deadline);
}

/* The record names this thing and this key location. */
static int check_record(const struct tp_run *run, const struct tp_state *state, const char *path, struct tp_error *err)
{
	_cleanup_free_ char *have = NULL, *want = NULL;

	if (run->check_rerun && run->check_rerun(run, state, path, err) < 0)
		return -1;

	if (strcmp(state->thing_name, run->o.thing_name) != 0)
		return tp_error_set(err, EX_DATAERR,
				    "%s: this device is already provisioned as thing \"%s\", not \"%s\" (another thing "
				    "needs another --out-dir; --force-new-key provisions this one anew)",
				    path, state->thing_name, run->o.thing_name);
	if (tp_keyloc_equal(&state->key, &run->o.key))
		return 0;
	if (tp_keyloc_describe(&state->key, &have, err) < 0 || tp_keyloc_describe(&run->o.key, &want, err) < 0)
		return -1;
	return tp_error_set(err, EX_DATAERR, "%s: this device is provisioned with the key at %s, not %s", path, have,
			    want);
}

/* The installed certificate is for the key the TPM has now. */
static int check_installed_cert(const struct tp_run *run, const struct tpm_public *pub, const char *state_path,
				struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	int r;

	if (tp_path_join(run->o.out_dir, TP_CERT_FILE, &path, err) < 0)
		return -1;
	r = tp_cert_read_file(path, &cert, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_DATAERR, "%s exists but %s does not", state_path, path);
	if (r < 0 || tp_pkey_from_tpm(pub, &key, err) < 0)
		return -1;
	return tp_cert_check_key(cert, key, path, err);
}

/*
 * Why first: a provisioned device must be left alone, so before touching the
 * TPM or the network, see whether state.json records a provisioning that the
 * TPM key and the installed certificate still agree with.
 */
static int check_provisioned(const struct tp_run *run, const struct tp_state *state, struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;
	struct tpm_public pub;
	int r;

	if (tp_path_join(run->o.out_dir, TP_STATE_FILE, &path, err) < 0 || check_record(run, state, path, err) < 0)
		return -1;
	r = tp_devkey_read(&run->key, &pub, err);
	if (r == TP_MISSING)
		return tp_error_set(
			err, EX_DATAERR,
			"%s records a key the TPM no longer has (was the TPM cleared, the key file removed?); "
			"move %s away to provision again",
			path, path);
	if (r < 0)
		return -1;
	if (strcmp(pub.name_hex, state->key_name) != 0)
		return tp_error_set(err, EX_DATAERR,
				    "%s records another key than the one now there (TPM name %s, not %s)", path,
				    pub.name_hex, state->key_name);
	return check_installed_cert(run, &pub, path, err);
}

static int say_provisioned(const struct tp_run *run, const struct tp_state *state, struct tp_error *err)
{
	_cleanup_free_ char *where = NULL;

	/* A run killed after installing may have left its request journal:
	 * the state now says everything. */
	if (tp_reqjournal_remove(run->o.out_dir, err) < 0)
		return tp_run_hint_out_dir(err);
	if (tp_keyloc_describe(&run->o.key, &where, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE,
	       "already provisioned: thing %s, certificate %s, key at %s (%s); inspect it with: tpm-provision status "
	       "--out-dir %s",
	       state->thing_name, state->certificate_id, where, run->o.out_dir, run->o.out_dir);
	if (tp_run_print_result(run, "already-provisioned", state->certificate_id, state->certificate_arn,
				&(struct tp_attached){ .thing = state->attached_thing, .policies = state->policies },
				err) < 0)
		return -1;
	return TP_PROVISIONED;
}

int tp_run_print_result(const struct tp_run *run, const char *result, const char *cert_id, const char *cert_arn,
			const struct tp_attached *attached, struct tp_error *err)
{
	if (!run->o.json)
		return 0;
	return tp_jsonout_result(&(struct tp_jsonout){ .command = run->cmd->name,
						       .result = result,
						       .thing = run->o.thing_name,
						       .certificate_id = cert_id,
						       .certificate_arn = cert_arn,
						       .out_dir = run->o.out_dir,
						       .csr_file = run->o.csr_out,
						       .attached_thing = attached ? attached->thing : NULL,
						       .policies = attached ? attached->policies : NULL },
				 err);
}

/* Whether the options ask for an attachment the record does not have. */
static bool attachments_missing(const struct tp_run *run, const struct tp_state *state)
{
	const struct tp_attached done = { .thing = state->attached_thing, .policies = state->policies };

	return tp_attach_wanted(run->o.attach_thing ? run->o.thing_name : NULL, run->o.policies, &done);
}

int tp_run_lock(struct tp_run *run, const char *lock_file, bool say_waiting, struct tp_error *err)
{
	/* The run's first writes into the output directory. */
	if (tp_mkdir_safe(run->o.out_dir, err) < 0 ||
	    tp_lock_file(run->o.out_dir, lock_file, run->o.deadline, say_waiting ? waiting_for_lock : NULL, &run->lock,
			 err) < 0)
		return tp_run_hint_out_dir(err);
	return 0;
}

int tp_run_begin(struct tp_run *run, struct tp_error *err)
{
	struct tp_state state = { 0 };
	int r;

	if (wait_for_clock(run->o.deadline, err) < 0 || tp_run_lock(run, LOCK_FILE, true, err) < 0)
		return -1;
	/* --force-new-key asks for a new key even on a provisioned device. */
	if (run->o.force_new_key)
		return 0;
	r = tp_state_load(run->o.out_dir, &state, err);
	if (r == 0 && check_provisioned(run, &state, err) < 0)
		r = -1;
	else if (r == 0 && attachments_missing(run, &state)) {
		run->provisioned = state;
		return TP_NEED_ATTACH;
	} else if (r == 0)
		r = say_provisioned(run, &state, err);
	tp_state_free(&state);
	return r == TP_MISSING ? 0 : r;
}

/* Why: a certificate issued and then not installable (a missing root CA, a
 * broken agent config, an unsafe key directory) costs a request and leaves
 * the device half done. */
int tp_run_preflight(struct tp_run *run, bool install, struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL, *base = NULL;

	if (run->o.key.file && (tp_path_split(run->o.key.file, &dir, &base, err) < 0 || tp_mkdir_safe(dir, err) < 0))
		return -1;
	return install ? tp_install_check(&run->plan, err) : 0;
}

/* What the PKCS#11 token links the key from: its key file, or the blob of
 * a persistent key kept when the key was made (keep_blob). */
static int token_key_file(const struct tp_run *run, char **ret, struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;

	if (run->o.key.file)
		path = strdup(run->o.key.file);
	else if (tp_path_join(run->o.out_dir, TP_KEY_BLOB_FILE, &path, err) < 0)
		return -1;
	if (!path)
		return tp_error_oom(err);
	if (access(path, F_OK) < 0)
		return tp_error_set(err, EX_CONFIG,
				    "%s does not exist: the key at 0x%08x was made without keeping its blob, which the "
				    "PKCS#11 token links; replace the key with --force-new-key, or use --key-file",
				    path, (unsigned)run->o.key.handle);
	*ret = TAKE_PTR(path);
	return 0;
}

/* Step 1: the key is made inside the TPM and never leaves it; a key made
 * by an earlier, interrupted run is reused. */
int tp_run_key(struct tp_run *run, struct tpm_public *ret_pub, struct tp_error *err)
{
	_cleanup_free_ char *where = NULL;
	bool created = false;
	int r;

	if (tp_keyloc_describe(&run->o.key, &where, err) < 0)
		return -1;
	r = tp_devkey_find(&run->key, ret_pub, err);
	if (r == TP_NEED_NEW_KEY) {
		tp_step("creating a %s key in the TPM%s", tpm_key_alg_name(run->o.key_alg),
			tpm_key_alg_is_rsa(run->o.key_alg) ? " (an RSA key may take minutes)" : "");
		r = tp_devkey_create(&run->key, ret_pub, err);
		created = true;
	}
	if (r < 0)
		return -1;
	tp_log(TP_PRIO_INFO, "%s %s TPM key at %s", created ? "created" : "reusing", tpm_key_alg_name(run->o.key_alg),
	       where);
	tp_test_crash_point("key-created");
	/* A reused persistent key may lack what the token links: say so
	 * before a certificate is asked for. */
	if (tp_agents_token(run->plan.agents)) {
		_cleanup_free_ char *key_file = NULL;

		return token_key_file(run, &key_file, err);
	}
	return 0;
}

int tp_run_build_csr(struct tp_run *run, EVP_PKEY *key, char **ret_pem, struct tp_error *err)
{
	const struct tp_csr_key ck = {
		.loc = &run->o.key, .auth = &run->auth, .alg = run->o.key_alg, .pss = run->o.rsa_pss
	};

	tp_step("signing the CSR for thing %s in the TPM", run->o.thing_name);
	if (tp_csr_build(run->o.tcti, &ck, run->o.thing_name, key, ret_pem, err) < 0) {
		struct tp_error lockout = { 0 };

		/* The provider's error does not say why the TPM refused: a
		 * lockout is temporary (75), and says so. */
		if (tp_devkey_check_lockout(&run->key, &lockout) < 0 && lockout.exit_code == EX_TEMPFAIL)
			*err = lockout;
		return -1;
	}
	tp_test_crash_point("csr-built");
	return 0;
}

int tp_run_key_for_cert(struct tp_run *run, X509 *cert, struct tpm_public *ret_pub, EVP_PKEY **ret_key,
			struct tp_error *err)
{
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	_cleanup_free_ char *where = NULL;
	int r;

	r = tp_devkey_read(&run->key, ret_pub, err);
	if (r == TP_MISSING && tp_keyloc_describe(&run->o.key, &where, err) == 0)
		return tp_error_set(err, EX_CONFIG, "the TPM has no key at %s for the certificate %s", where,
				    run->o.cert);
	if (r != 0 || tp_pkey_from_tpm(ret_pub, &key, err) < 0 || tp_cert_check_key(cert, key, run->o.cert, err) < 0)
		return -1;
	*ret_key = TAKE_PTR(key);
	return 0;
}

int tp_run_load_key_auth(struct tp_run *run, struct tp_error *err)
{
	if (!run->o.key_auth_file)
		return 0;
	return tp_devkey_read_auth(run->o.key_auth_file, &run->auth, err);
}

struct tp_certflow tp_run_certflow(const struct tp_run *run, EVP_PKEY *key, tp_certflow_journal_fn journal, void *ctx)
{
	return (struct tp_certflow){
		.key = key,
		.status = "ACTIVE",
		.thing = run->o.attach_thing ? run->o.thing_name : NULL,
		.policies = run->o.policies,
		.endpoint = run->svc.endpoint,
		.journal = journal,
		.ctx = ctx,
	};
}

int tp_run_load_creds(struct tp_run *run, struct tp_error *err)
{
	return tp_creds_load(&run->creds, err);
}

/* The PKCS#11 token for the agents that need it, made afresh and swapped
 * in: a rerun after a crash converges to one token with the one key. */
static int make_token(const struct tp_run *run, struct tp_error *err)
{
	_cleanup_free_ char *key_file = NULL;
	struct tp_pkcs11_plan plan = {
		.dir = run->o.out_dir,
		.tcti = run->o.tcti,
		.uid = run->o.owner_uid,
		.gid = run->o.owner_gid,
	};

	if (!tp_agents_token(run->plan.agents))
		return 0;
	if (token_key_file(run, &key_file, err) < 0)
		return -1;
	plan.key_file = key_file;
	if (tp_pkcs11_make_token(&plan, err) < 0)
		return -1;
	tp_log(TP_PRIO_INFO, "PKCS#11 token %s with key %s made in %s/%s", TP_PKCS11_TOKEN_LABEL, TP_PKCS11_KEY_LABEL,
	       run->o.out_dir, TP_PKCS11_STORE_DIR);
	tp_test_crash_point("token-created");
	return 0;
}

int tp_run_install(struct tp_run *run, X509 *cert, const struct tpm_public *pub, const struct tp_issued_cert *issued,
		   const struct tp_attached *attached, struct tp_error *err)
{
	_cleanup_free_ char *iot_endpoint = NULL;
	char when[TP_TIME_MAX];
	struct tp_state state = {
		.thing_name = run->o.thing_name,
		.certificate_id = issued->id,
		.certificate_arn = issued->arn,
		.certificate_created_at = issued->created_at,
		.key = run->o.key,
		.key_name = (char *)pub->name_hex,
		.endpoint = run->o.endpoint_url,
		.attached_thing = attached->thing,
		.policies = attached->policies,
	};

	/* The agent's data endpoint: given, or asked of the service. */
	if (run->o.iot_endpoint)
		iot_endpoint = strdup(run->o.iot_endpoint);
	else if (tp_iot_describe_endpoint(&run->svc, &iot_endpoint, err) < 0)
		return -1;
	if (!iot_endpoint)
		return tp_error_oom(err);
	if (make_token(run, err) < 0)
		return -1;
	state.iot_endpoint = iot_endpoint;
	tp_state_stamp(&state, when);
	tp_step("installing the certificate and the agent files in %s", run->o.out_dir);
	return tp_install(&run->plan, cert, &state, err);
}

/* A certificate installed with no ARN (by install, offline): the service
 * names it, and must describe the very certificate installed, ACTIVE. */
static int learn_arn(struct tp_run *run, struct tp_state *s, struct tp_error *err)
{
	_cleanup_(tp_issued_cert_free) struct tp_issued_cert c = { 0 };

	if (tp_iot_describe_certificate(&run->svc, s->certificate_id, &c, err) < 0)
		return -1;
	if (strcmp(c.id, s->certificate_id) != 0 || (c.status && strcmp(c.status, "ACTIVE") != 0))
		return tp_error_set(err, EX_DATAERR, "certificate %s is %.32s at the service, not ACTIVE",
				    s->certificate_id, c.status ? c.status : "unknown");
	if (!c.arn)
		return tp_error_set(err, EX_DATAERR, "the service gave no ARN for certificate %s", s->certificate_id);
	s->certificate_arn = TAKE_PTR(c.arn);
	return 0;
}

/* The record's certificate, attached to what is missing; what was
 * attached is back in the record, also when a later attachment failed. */
static int attach_missing(struct tp_run *run, struct tp_state *s, struct tp_error *err)
{
	_cleanup_(tp_certflow_free) struct tp_certflow f = tp_run_certflow(run, NULL, NULL, NULL);
	struct tp_issued_cert c = { 0 };
	struct tp_attached done = { 0 };
	int r;

	c.id = TAKE_PTR(s->certificate_id);
	c.arn = TAKE_PTR(s->certificate_arn);
	done.thing = TAKE_PTR(s->attached_thing);
	done.policies = TAKE_PTR(s->policies);
	r = tp_certsync_run(&run->svc, &f, tp_certflow_resume(&f, &c, &done, false, err), err);
	s->certificate_id = TAKE_PTR(f.issued.id);
	s->certificate_arn = TAKE_PTR(f.issued.arn);
	s->attached_thing = TAKE_PTR(f.attached.thing);
	s->policies = TAKE_PTR(f.attached.policies);
	return r;
}

/* A provisioned device asked for attachments it does not have: make just
 * those, and record them in state.json. */
static int attach_provisioned(struct tp_run *run, struct tp_error *err)
{
	struct tp_state *s = &run->provisioned;
	_cleanup_free_ char *what = NULL;
	int r;

	r = tp_run_load_creds(run, err);
	if (r == 0 && !s->certificate_arn)
		r = learn_arn(run, s, err);
	if (r == 0)
		r = attach_missing(run, s, err);
	if (tp_state_save(run->o.out_dir, s, run->o.owner_uid, run->o.owner_gid, r < 0 ? NULL : err) < 0 || r < 0)
		return -1;
	if (tp_reqjournal_remove(run->o.out_dir, err) < 0 ||
	    tp_attach_describe(&(struct tp_attached){ .thing = s->attached_thing, .policies = s->policies }, &what,
			       err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE, "already provisioned as thing %s, certificate %s%s", run->o.thing_name,
	       s->certificate_id, what);
	return tp_run_print_result(run, "attached", s->certificate_id, s->certificate_arn,
				   &(struct tp_attached){ .thing = s->attached_thing, .policies = s->policies }, err);
}

void tp_run_free(struct tp_run *run)
{
	if (!run)
		return;
	explicit_bzero(&run->auth, sizeof(run->auth));
	tp_state_free(&run->provisioned);
	tp_creds_free(&run->creds);
	tp_options_free(&run->o);
	if (run->lock >= 0)
		close(run->lock);
	run->lock = -1;
}

int tp_run_plain(const struct tp_command *cmd, int argc, char **argv, void (*usage)(const struct tp_command *cmd),
		 int (*body)(struct tp_run *run, struct tp_error *err), struct tp_error *err)
{
	struct tp_run run;
	int r;

	r = tp_run_setup(&run, cmd, argc, argv, err);
	if (r == TP_HELP)
		usage(cmd);
	else if (r == 0)
		r = body(&run, err);
	tp_run_free(&run);
	return r < 0 ? -1 : 0;
}

int tp_run_command(const struct tp_command *cmd, int argc, char **argv, const struct tp_provisioning *how,
		   struct tp_error *err)
{
	struct tp_run run;
	int r;

	r = tp_run_setup(&run, cmd, argc, argv, err);
	run.check_rerun = how->check_rerun;
	if (r == TP_HELP)
		how->usage(cmd);
	/* The clock, one run at a time, and a provisioned device left alone. */
	if (r == 0)
		r = tp_run_begin(&run, err);
	if (r == TP_NEED_ATTACH)
		r = attach_provisioned(&run, err);
	else if (r == 0)
		r = how->steps(&run, err);
	tp_run_free(&run);
	return r < 0 ? -1 : 0;
}
