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
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert.h"
#include "commands.h"
#include "common.h"
#include "fsutil.h"
#include "ossl.h"

static void register_usage(void)
{
	printf("usage: tpm-provision register --cert FILE [--ca-cert FILE | --no-ca] [--status ACTIVE|INACTIVE] [options]\n\n"
	       "Register the certificate FILE of the TPM key with AWS IoT (RegisterCertificate,\n"
	       "or RegisterCertificateWithoutCA with --no-ca) and install it.\n\n"
	       "options:\n");
	tp_options_usage(stdout, TP_CMD_REGISTER);
}

static int check_register_options(const struct tp_options *o, struct tp_error *err)
{
	const char *status = o->val[TP_OPT_STATUS];

	if (!o->val[TP_OPT_CERT])
		return tp_error_set(err, EX_USAGE, "register needs --cert FILE");
	if (o->val[TP_OPT_CA_CERT] && tp_opt_flag(o, TP_OPT_NO_CA))
		return tp_error_set(err, EX_USAGE, "--ca-cert and --no-ca exclude each other");
	if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "INACTIVE") != 0)
		return tp_error_set(err, EX_USAGE, "--status \"%s\" is not ACTIVE or INACTIVE", status);
	return 0;
}

/* A certificate file: parsed, and re-encoded as the PEM to send. */
static int load_cert_file(const char *path, X509 **ret_cert, char **ret_pem, struct tp_error *err)
{
	char *buf = NULL, *pem = NULL;
	X509 *cert = NULL;
	size_t len;
	int r;

	r = tp_read_file(path, TP_CERT_PEM_MAX, &buf, &len, err);
	if (r == 1)
		return tp_error_set(err, EX_DATAERR, "certificate file %s does not exist", path);
	if (r < 0 || tp_cert_parse_pem(buf, len, path, &cert, err) < 0 || tp_x509_to_pem(cert, &pem, err) < 0) {
		free(buf);
		X509_free(cert);
		return -1;
	}
	free(buf);
	*ret_cert = cert;
	*ret_pem = pem;
	return 0;
}

int cmd_register(int argc, char **argv, struct tp_error *err)
{
	struct tp_options o = { 0 };
	struct tp_creds creds = { 0 };
	struct tp_tpm_public pub;
	struct tp_tpm_auth auth = { 0 };
	struct tp_devkey k;
	struct tp_issued_cert registered = { 0 };
	struct tp_service svc;
	char cert_id[65], where[4200], *cert_pem = NULL, *ca_pem = NULL;
	int lock = -1;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *ca = NULL;
	int r;

	r = tp_options_load(&o, TP_CMD_REGISTER, argc, argv, err);
	if (r != 0 || check_register_options(&o, err) < 0) {
		if (r == 1)
			register_usage();
		r = r == 1 ? 0 : -1;
		goto out;
	}

	tp_devkey_from_options(&o, &auth, &k);
	tp_devkey_where(&k, where, sizeof(where));
	r = tp_begin_run(&o, &k, &lock, err);
	if (r != 0) {
		r = r == 1 ? 0 : -1;
		goto out;
	}
	r = -1;

	/* Step 1: the files, and the certificate's id as AWS computes it. */
	if (load_cert_file(o.val[TP_OPT_CERT], &cert, &cert_pem, err) < 0 ||
	    (o.val[TP_OPT_CA_CERT] && load_cert_file(o.val[TP_OPT_CA_CERT], &ca, &ca_pem, err) < 0) ||
	    tp_cert_id(cert, cert_id, err) < 0)
		goto out;

	/* Step 2: the certificate must be for the key in the TPM; nothing is
	 * sent otherwise. */
	r = tp_devkey_read(&k, &pub, err);
	if (r == 1)
		tp_error_set(err, EX_CONFIG, "the TPM has no key at %s for the certificate %s", where, o.val[TP_OPT_CERT]);
	if (r != 0) {
		r = -1;
		goto out;
	}
	r = -1;
	if (tp_pkey_from_tpm(&pub, &key, err) < 0 || tp_cert_check_key(cert, key, o.val[TP_OPT_CERT], err) < 0)
		goto out;

	/* Step 3: AWS IoT learns the certificate. */
	if (tp_creds_load(&creds, err) < 0)
		goto out;
	tp_service_setup(&o, &creds, &svc);
	if (tp_service_register(&svc, cert_pem, ca_pem, tp_opt_flag(&o, TP_OPT_NO_CA),
				o.val[TP_OPT_STATUS] ? o.val[TP_OPT_STATUS] : "ACTIVE", cert_id, &registered, err) < 0)
		goto out;

	/* Step 4: install, exactly as enroll does. */
	if (tp_install_provisioned(&o, &svc, &k, cert, &pub, registered.arn, registered.id, err) < 0)
		goto out;
	printf("registered thing %s: certificate %s installed in %s\n", o.val[TP_OPT_THING_NAME], registered.id,
	       o.val[TP_OPT_OUT_DIR]);
	r = 0;
out:
	explicit_bzero(&auth, sizeof(auth));
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	free(cert_pem);
	free(ca_pem);
	tp_issued_cert_free(&registered);
	tp_creds_free(&creds);
	tp_options_free(&o);
	if (lock >= 0)
		close(lock);
	return r;
}
