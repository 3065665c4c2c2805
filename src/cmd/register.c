/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision register: the TPM key already has a certificate (from a
 * factory CA, say); make it known to AWS IoT and install it.  The
 * certificate must be for exactly the key at the handle, checked before
 * anything is sent.  A key this program did not create is adopted on that
 * condition and recorded in the state like its own.
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
#include "src/x509/cert.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

/* The options only register takes. */
enum { OPT_CA_CERT, OPT_NO_CA, OPT_STATUS };
static const struct tp_opt_def register_options[] = {
	[OPT_CA_CERT] = { "ca-cert", "FILE", TP_KIND_STRING, 0, false, "the CA certificate that issued it" },
	[OPT_NO_CA] = { "no-ca", "", TP_KIND_FLAG, 0, false, "register without a CA (RegisterCertificateWithoutCA)" },
	[OPT_STATUS] = { "status", "STATUS", TP_KIND_STRING, 0, false, "ACTIVE (default) or INACTIVE" },
	{ NULL },
};

static int check_register_options(struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *status = tp_raw_str(raw, TP_OPT_OWN(OPT_STATUS));

	o->no_ca = tp_raw_flag(raw, TP_OPT_OWN(OPT_NO_CA));
	if (!tp_raw_str(raw, TP_OPT_CERT))
		return tp_error_set(err, EX_USAGE, "register needs --cert FILE");
	if (tp_raw_str(raw, TP_OPT_OWN(OPT_CA_CERT)) && o->no_ca)
		return tp_error_set(err, EX_USAGE, "--ca-cert and --no-ca exclude each other");
	if (status && strcmp(status, "INACTIVE") == 0)
		o->status = TP_STATUS_INACTIVE;
	else if (status && strcmp(status, "ACTIVE") != 0)
		return tp_error_set(err, EX_USAGE, "--status \"%s\" is not ACTIVE or INACTIVE", status);
	o->ca_cert = tp_raw_take_str(raw, TP_OPT_OWN(OPT_CA_CERT));
	return 0;
}

static void register_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision register --cert FILE [--ca-cert FILE | --no-ca] [--status ACTIVE|INACTIVE] "
	       "[options]\n\n"
	       "Register the certificate FILE of the TPM key with AWS IoT (RegisterCertificate,\n"
	       "or RegisterCertificateWithoutCA with --no-ca) and install it.\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
}

static void issued_freep(struct tp_issued_cert *c)
{
	tp_issued_cert_free(c);
}

/* Step 3: AWS IoT learns the certificate (a rerun meets 409 for it). */
static int register_at_service(struct tp_run *run, const char *cert_pem, const char *ca_pem, const char *cert_id,
			       struct tp_issued_cert *ret, struct tp_error *err)
{
	tp_step("registering certificate %s at %s", cert_id, run->svc.endpoint);
	if (tp_run_load_creds(run, err) < 0)
		return -1;
	return tp_iot_register(&run->svc, cert_pem, ca_pem, run->o.no_ca, tp_cert_status_name(run->o.status), cert_id,
			       ret, err);
}

/* Step 4: the service says it has this very certificate, with the status
 * asked for (an operator may have revoked or deactivated it since); then
 * it is attached, exactly as enroll attaches. */
static int check_and_attach(struct tp_run *run, struct tp_certflow *f, const struct tp_issued_cert *registered,
			    struct tp_error *err)
{
	f->status = tp_cert_status_name(run->o.status);
	f->expect_file = run->o.cert;
	return tp_certsync_run(&run->svc, f, tp_certflow_describe(f, registered->id, registered->arn, err), err);
}

static int do_register(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(issued_freep) struct tp_issued_cert registered = { 0 };
	_cleanup_(tp_certflow_free) struct tp_certflow f = { 0 };
	_cleanup_free_ char *cert_pem = NULL, *ca_pem = NULL, *what = NULL;
	_cleanup_x509_ X509 *cert = NULL, *ca = NULL;
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	char cert_id[TP_CERT_ID_MAX];
	struct tpm_public pub;

	/* Step 1: the files, and the certificate's id as AWS computes it. */
	if (tp_run_preflight(run, true, err) < 0 || tp_cert_load_file(run->o.cert, &cert, &cert_pem, err) < 0 ||
	    (run->o.ca_cert && tp_cert_load_file(run->o.ca_cert, &ca, &ca_pem, err) < 0) ||
	    tp_cert_id(cert, cert_id, err) < 0 || tp_run_key_for_cert(run, cert, &pub, &key, err) < 0)
		return -1;
	f = tp_run_certflow(run, key, NULL, NULL);
	f.expect = cert;
	if (register_at_service(run, cert_pem, ca_pem, cert_id, &registered, err) < 0 ||
	    check_and_attach(run, &f, &registered, err) < 0)
		return -1;
	/* Step 5: install, exactly as enroll does. */
	if (tp_run_install(run, cert, &pub, &f.issued, &f.attached, err) < 0 ||
	    tp_attach_describe(&f.attached, &what, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE,
	       "registered thing %s: certificate %s installed in %s%s; inspect it with: tpm-provision status --out-dir "
	       "%s",
	       run->o.thing_name, f.issued.id, run->o.out_dir, what, run->o.out_dir);
	return tp_run_print_result(run, "registered", f.issued.id, f.issued.arn, &f.attached, err);
}

static int cmd_register(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	static const struct tp_provisioning how = { .usage = register_usage, .steps = do_register };

	return tp_run_command(cmd, argc, argv, &how, err);
}

const struct tp_command_impl tp_cmd_register = {
	.run = cmd_register,
	.options = register_options,
	.check_options = check_register_options,
};
