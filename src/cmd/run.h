/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A run: the typed options, and what is built from them once (where the
 * key is, the service settings, the install plan), with the start every
 * command shares (clock, lock, the provisioned check) and the final install.
 */
#ifndef TP_RUN_H
#define TP_RUN_H

#include <openssl/x509.h>

#include "src/aws/creds.h"
#include "src/aws/http.h"
#include "src/aws/iot.h"
#include "src/base/err.h"
#include "src/cli/options.h"
#include "src/cmd/certflow.h"
#include "src/device/devkey.h"
#include "src/device/agentfiles.h"
#include "src/store/state.h"

struct tp_run;

/* On a device already provisioned: 0 when this run may be taken for a
 * rerun of the provisioning state (read from path) records, else the
 * error that says why not. */
typedef int (*tp_run_rerun_fn)(const struct tp_run *run, const struct tp_state *state, const char *path,
			       struct tp_error *err);

struct tp_run {
	const struct tp_command *cmd; /* its row of the command table */
	struct tp_options o;
	struct tpm_auth auth; /* the key's authorization value */
	struct tp_devkey key;
	struct tp_creds creds;
	struct tp_service svc;
	struct tp_install_plan plan;
	int lock;		     /* the output directory's lock */
	struct tp_state provisioned; /* state.json, when TP_NEED_ATTACH */
	tp_run_rerun_fn check_rerun; /* NULL: a run for the same thing and key is a rerun */
};

/* A command that provisions this device, as the runner runs it. */
struct tp_provisioning {
	void (*usage)(const struct tp_command *cmd);
	tp_run_rerun_fn check_rerun; /* or NULL */
	int (*steps)(struct tp_run *run, struct tp_error *err);
};

/* What every command that provisions this device does: set up the run
 * from argv (printing usage for --help), begin it, and, unless the device
 * is already provisioned, run its steps.  0 or -1 with err set. */
int tp_run_command(const struct tp_command *cmd, int argc, char **argv, const struct tp_provisioning *how,
		   struct tp_error *err);

/* For the commands that do not provision this device (status, check,
 * batch): set up the run from argv (usage for --help), then body; no
 * begin, no lock, no provisioned check.  0 or -1 with err set. */
int tp_run_plain(const struct tp_command *cmd, int argc, char **argv, void (*usage)(const struct tp_command *cmd),
		 int (*body)(struct tp_run *run, struct tp_error *err), struct tp_error *err);

/* Parse the options of cmd into run (which must not move afterwards):
 * 0, or TP_HELP when --help was asked for. */
int tp_run_setup(struct tp_run *run, const struct tp_command *cmd, int argc, char **argv, struct tp_error *err);

/* Wait for the clock, lock the output directory, and leave a provisioned
 * device alone: TP_PROVISIONED when state.json records a provisioning that
 * the TPM key and the installed certificate agree with (said on stderr),
 * TP_NEED_ATTACH when such a record lacks an attachment the options ask for
 * (run->provisioned holds it), 0 to go on; an error when the record and the
 * device disagree. */
int tp_run_begin(struct tp_run *run, struct tp_error *err);

/* The output directory made (when it is not there) and locked in
 * lock_file, one run at a time; waiting says so (a batch does not). */
int tp_run_lock(struct tp_run *run, const char *lock_file, bool say_waiting, struct tp_error *err);

/* What can be checked before the TPM or the service is touched: the key
 * file's directory is safe, and (unless install is false: the key and
 * its CSR only) the certificate and the agent files can be installed, so
 * that a certificate is not issued for a device that cannot take it. */
int tp_run_preflight(struct tp_run *run, bool install, struct tp_error *err);

/* An error from a write into the output directory (err set): when this
 * user may not write there (EACCES, EPERM), add the way out, --out-dir or
 * root.  Always -1. */
int tp_run_hint_out_dir(struct tp_error *err);

/* Step 1 of enroll and csr: the key is made inside the TPM and never
 * leaves it; a key made by an earlier, interrupted run is reused.  Says
 * which on stderr. */
int tp_run_key(struct tp_run *run, struct tpm_public *ret_pub, struct tp_error *err);

/* A CSR for the thing, signed in the TPM by the key whose public part is
 * key. */
int tp_run_build_csr(struct tp_run *run, EVP_PKEY *key, char **ret_pem, struct tp_error *err);

/* The key at the configured location, which cert (from --cert) must be
 * for: EX_CONFIG when the TPM has no key there, EX_DATAERR when the
 * certificate is for another key. */
int tp_run_key_for_cert(struct tp_run *run, X509 *cert, struct tpm_public *ret_pub, EVP_PKEY **ret_key,
			struct tp_error *err);

/* Read the key's authorization value (--key-auth-file). */
int tp_run_load_key_auth(struct tp_run *run, struct tp_error *err);

/* A record of the certificate protocol for this run: for key, ACTIVE,
 * attached to what the options ask for, journaled by journal (or not,
 * NULL). */
struct tp_certflow tp_run_certflow(const struct tp_run *run, EVP_PKEY *key, tp_certflow_journal_fn journal, void *ctx);

/* Load the AWS credentials. */
int tp_run_load_creds(struct tp_run *run, struct tp_error *err);

/* Install cert (issued, already checked against pub), what the agents
 * need (the data endpoint from --iot-endpoint or DescribeEndpoint) and the
 * state recording it and what is attached. */
int tp_run_install(struct tp_run *run, X509 *cert, const struct tpm_public *pub, const struct tp_issued_cert *issued,
		   const struct tp_attached *attached, struct tp_error *err);

/* --json: the command's result object on stdout (nothing without it);
 * attached may be NULL. */
int tp_run_print_result(const struct tp_run *run, const char *result, const char *cert_id, const char *cert_arn,
			const struct tp_attached *attached, struct tp_error *err);

void tp_run_free(struct tp_run *run);

#endif
