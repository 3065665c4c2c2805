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
#include "src/cmd/accept.h"
#include "src/cmd/attach.h"
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

static void issued_freep(struct tp_issued_cert *c)
{
	tp_issued_cert_free(c);
}

/* Only to attach: the service must know this very certificate, ACTIVE;
 * its ARN names it in the attachments. */
static int describe_at_service(struct tp_run *run, X509 *cert, const char *id, EVP_PKEY *key,
			       struct tp_issued_cert *ret, struct tp_error *err)
{
	_cleanup_x509_ X509 *described = NULL;

	if (tp_run_load_creds(run, err) < 0 || tp_iot_describe_certificate(&run->svc, id, ret, err) < 0 ||
	    tp_accept_certificate(ret, key, "ACTIVE", &described, err) < 0)
		return -1;
	if (X509_cmp(cert, described) != 0)
		return tp_error_set(err, EX_DATAERR,
				    "the service describes certificate %s with another certificate than %s", id,
				    run->o.cert);
	return 0;
}

static int install(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(issued_freep) struct tp_issued_cert issued = { 0 };
	_cleanup_(tp_attached_free) struct tp_attached attached = { 0 };
	_cleanup_free_ char *pem = NULL, *what = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	char id[TP_CERT_ID_MAX];
	struct tpm_public pub;

	/* Step 1: the certificate is for the TPM key and valid now. */
	if (tp_cert_load_file(run->o.cert, &cert, &pem, err) < 0 ||
	    tp_cert_check_validity(cert, run->o.cert, err) < 0 || tp_cert_id(cert, id, err) < 0 ||
	    tp_run_key_for_cert(run, cert, &pub, &key, err) < 0)
		return -1;
	/* Step 2: the identity at the service, when asked for. */
	if (tp_attach_wanted(&run->attach, &attached) && describe_at_service(run, cert, id, key, &issued, err) < 0)
		return -1;
	if (!issued.id && !(issued.id = strdup(id)))
		return tp_error_oom(err);
	if (tp_attach_missing(&run->attach, issued.id, issued.arn, &attached, NULL, NULL, err) < 0)
		return -1;
	/* Step 3: the files for the agent, state.json last. */
	if (tp_run_install(run, cert, &pub, &issued, &attached, err) < 0 ||
	    tp_reqjournal_remove(run->o.out_dir, err) < 0 || tp_attach_describe_offline(&attached, &what, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE,
	       "installed thing %s: certificate %s in %s%s; inspect it with: tpm-provision status --out-dir %s",
	       run->o.thing_name, id, run->o.out_dir, what, run->o.out_dir);
	return tp_run_print_result(run, "installed", id, issued.arn, &attached, err);
}

static int cmd_install(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	return tp_run_command(cmd, argc, argv, install_usage, install, err);
}

const struct tp_command_impl tp_cmd_install = {
	.run = cmd_install,
	.check_options = check_install_options,
	.flags = TP_CMD_CERT_REGISTERED,
};
