/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision install: a certificate obtained out of band (from a batch
 * run, from a factory CA) for the TPM key, installed exactly as enroll
 * installs the one it gets.  It is checked first: for the TPM key, valid
 * now.  No network is needed, unless --attach-thing or --policy ask for
 * the identity at the service (which must then know the certificate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/aws/iot.h"
#include "src/base/cleanup.h"
#include "src/cmd/attach.h"
#include "src/cmd/certflow.h"
#include "src/cmd/certsync.h"
#include "src/cmd/log.h"
#include "src/cmd/run.h"
#include "src/store/reqjournal.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

/* install takes the shared --cert, which it needs, and the data endpoint,
 * which it does not ask the service for. */
static int check_install_options(struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	(void)o;
	if (!tp_raw_str(raw, TP_OPT_CERT))
		return tp_error_set(err, EX_USAGE, "install needs --cert FILE");
	if (!tp_raw_str(raw, TP_OPT_IOT_ENDPOINT))
		return tp_error_set(err, EX_USAGE,
				    "install needs --iot-endpoint HOST (the agent's data endpoint: it does not ask "
				    "the service)");
	return 0;
}

static void install_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision install --cert FILE --thing-name NAME --iot-endpoint HOST [options]\n\n"
	       "Install the certificate FILE of the TPM key (obtained elsewhere, e.g. from\n"
	       "'tpm-provision batch') for the device's agent, after checking it is for the\n"
	       "TPM key and valid now.  With --attach-thing or --policy, also attach it at\n"
	       "the service, which must already know it.\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
}

/* On a provisioned device, the same certificate is a rerun; another one
 * is not installed behind the record's back. */
static int check_same_cert(const struct tp_run *run, const struct tp_state *state, const char *path,
			   struct tp_error *err)
{
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_free_ char *pem = NULL;
	char id[TP_CERT_ID_MAX];

	if (tp_cert_load_file(run->o.cert, &cert, &pem, err) < 0 || tp_cert_id(cert, id, err) < 0)
		return -1;
	if (strcmp(id, state->certificate_id) == 0)
		return 0;
	return tp_error_set(err, EX_DATAERR,
			    "%s: this device is already provisioned with certificate %s; %s is certificate %s: "
			    "move %s away to install another",
			    path, state->certificate_id, run->o.cert, id, path);
}

/* Only to attach: the service must know this very certificate, ACTIVE;
 * its ARN names it in the attachments. */
static int attach_at_service(struct tp_run *run, struct tp_certflow *f, const char *id, struct tp_error *err)
{
	f->expect_file = run->o.cert;
	if (tp_run_load_creds(run, err) < 0)
		return -1;
	return tp_certsync_run(&run->svc, f, tp_certflow_describe(f, id, NULL, err), err);
}

static int install(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(tp_certflow_free) struct tp_certflow f = { 0 };
	_cleanup_free_ char *pem = NULL, *what = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	char id[TP_CERT_ID_MAX];
	struct tpm_public pub;

	/* Step 1: the certificate is for the TPM key and valid now. */
	if (tp_run_preflight(run, true, err) < 0 || tp_cert_load_file(run->o.cert, &cert, &pem, err) < 0 ||
	    tp_cert_check_validity(cert, run->o.cert, err) < 0 || tp_cert_id(cert, id, err) < 0 ||
	    tp_run_key_for_cert(run, cert, &pub, &key, err) < 0)
		return -1;
	/* Step 2: the identity at the service, when asked for. */
	f = tp_run_certflow(run, key, NULL, NULL);
	f.expect = cert;
	if (tp_certflow_attach_wanted(&f) && attach_at_service(run, &f, id, err) < 0)
		return -1;
	if (!f.issued.id && !(f.issued.id = strdup(id)))
		return tp_error_oom(err);
	/* Step 3: the files for the agent, state.json last. */
	if (tp_run_install(run, cert, &pub, &f.issued, &f.attached, err) < 0 ||
	    tp_reqjournal_remove(run->o.out_dir, err) < 0 || tp_attach_describe_offline(&f.attached, &what, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE,
	       "installed thing %s: certificate %s in %s%s; inspect it with: tpm-provision status --out-dir %s",
	       run->o.thing_name, id, run->o.out_dir, what, run->o.out_dir);
	return tp_run_print_result(run, "installed", id, f.issued.arn, &f.attached, err);
}

static int cmd_install(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	static const struct tp_provisioning how = { .usage = install_usage,
						    .check_rerun = check_same_cert,
						    .steps = install };

	return tp_run_command(cmd, argc, argv, &how, err);
}

const struct tp_command_impl tp_cmd_install = {
	.run = cmd_install,
	.check_options = check_install_options,
	.flags = TP_CMD_CERT_REGISTERED,
};
