/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision csr: the offline half of enroll, for factory lines and
 * image builds.  The TPM key is created or reused exactly as enroll does,
 * and a CSR for it (CN = the thing name) is written to a file; nothing is
 * sent and no credentials are needed.  The step is recorded, so that a
 * later `install` (of the certificate obtained elsewhere) or `enroll`
 * continues with the same key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/base/cleanup.h"
#include "src/base/timefmt.h"
#include "src/cmd/log.h"
#include "src/cmd/run.h"
#include "src/store/file.h"
#include "src/store/reqjournal.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

/* The option only csr takes. */
enum { OPT_OUT };
static const struct tp_opt_def csr_options[] = {
	[OPT_OUT] = { "out", "FILE", TP_KIND_STRING, 0, true, "where to write the CSR (PEM); - for stdout" },
	{ NULL },
};

static int check_csr_options(struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *out = tp_raw_str(raw, TP_OPT_OWN(OPT_OUT));

	if (!out || !*out)
		return tp_error_set(err, EX_USAGE, "csr needs --out FILE (- for stdout)");
	if (strcmp(out, "-") == 0 && o->json)
		return tp_error_set(err, EX_USAGE, "csr --out - and --json both want stdout: choose one");
	o->csr_out = tp_raw_take_str(raw, TP_OPT_OWN(OPT_OUT));
	return 0;
}

static void csr_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision csr --thing-name NAME --out FILE [options]\n\n"
	       "Create (or reuse) the TPM key as enroll does and write a CSR for it to FILE.\n"
	       "Sends nothing; a later 'install --cert' or 'enroll' continues with the same key.\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
}

/* The CSR file: replaced atomically, readable by anyone (it holds nothing
 * secret). */
static int write_csr(const char *path, const char *pem, struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL, *base = NULL;

	if (strcmp(path, "-") == 0) /* stdout: requested output */
		return fputs(pem, stdout) < 0 || fflush(stdout) != 0
			       ? tp_error_set(err, EX_IOERR, "cannot write the CSR to stdout")
			       : 0;
	if (tp_path_split(path, &dir, &base, err) < 0)
		return -1;
	return tp_write_file_atomic(dir, base, pem, strlen(pem), 0644, (uid_t)-1, (gid_t)-1, err);
}

/* Why a record: the key journal already keeps the key; this says a CSR
 * went out of band, so `status` and the operator can tell.  A journal of a
 * request in flight (or a certificate received) is kept: it says more. */
static int record_csr(const struct tp_run *run, const char *key_name, struct tp_error *err)
{
	_cleanup_(tp_reqjournal_free) struct tp_reqjournal q = { 0 };
	char now[TP_TIME_MAX];
	int r;

	r = tp_reqjournal_load(run->o.out_dir, key_name, &q, err);
	if (r < 0)
		return -1;
	if (r == 0 && (q.phase == TP_REQUEST_SENT || q.phase == TP_CERT_RECEIVED))
		return 0;
	tp_format_time(time(NULL), now);
	return tp_reqjournal_save(run->o.out_dir,
				  &(struct tp_reqjournal){ .phase = TP_CSR_WRITTEN,
							   .key_name = (char *)key_name,
							   .sent_at = now,
							   .csr_file = run->o.csr_out },
				  err);
}

static int csr(struct tp_run *run, struct tp_error *err)
{
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	_cleanup_free_ char *pem = NULL;
	struct tpm_public pub;

	if (tp_run_preflight(run, false, err) < 0 || tp_run_load_key_auth(run, err) < 0 ||
	    tp_run_key(run, &pub, err) < 0 || tp_pkey_from_tpm(&pub, &key, err) < 0 ||
	    tp_run_build_csr(run, key, &pem, err) < 0 || write_csr(run->o.csr_out, pem, err) < 0 ||
	    record_csr(run, pub.name_hex, err) < 0)
		return -1;
	tp_log(TP_PRIO_NOTICE, "wrote the CSR of thing %s to %s", run->o.thing_name, run->o.csr_out);
	return tp_run_print_result(run, "csr-written", NULL, NULL, NULL, err);
}

static int cmd_csr(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	static const struct tp_provisioning how = { .usage = csr_usage, .steps = csr };

	return tp_run_command(cmd, argc, argv, &how, err);
}

const struct tp_command_impl tp_cmd_csr = {
	.run = cmd_csr,
	.options = csr_options,
	.check_options = check_csr_options,
};
