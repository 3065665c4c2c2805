/*
 * tpm-provision status: what this device is, offline (no credentials, no
 * region): state.json, the installed certificate, whether the key in the
 * TPM is still the certificate's, what is attached and installed.  Exit 0
 * provisioned and consistent, 1 not provisioned, 65 inconsistent (the
 * error line says how), as the README documents.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "src/base/cleanup.h"
#include "src/base/strv.h"
#include "src/cmd/commands.h"
#include "src/cmd/report.h"
#include "src/cmd/run.h"
#include "src/store/file.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

#define NOT_PROVISIONED 1

static const char *const installed_files[] = { "certificate.pem", "root-ca.pem", "agent.env", "openssl.cnf", NULL };

static void status_usage(void)
{
	printf("usage: tpm-provision status [--out-dir DIR] [--tcti CONF] [--json]\n\n"
	       "Show what this device is provisioned as, offline: thing, certificate, validity,\n"
	       "whether the TPM key still matches, what is attached and installed.\n"
	       "Exit 0 provisioned, 1 not provisioned, 65 inconsistent.\n\n"
	       "options:\n");
	tp_options_usage(stdout, TP_CMD_STATUS);
}

struct report {
	struct tp_state state;
	struct tp_cert_info cert;
	char *key_where;
	char **files;	  /* the installed files present */
	char *problem;	  /* why the device is inconsistent, or NULL */
	bool key_checked; /* the TPM key was compared with the certificate */
};

static void report_free(struct report *r)
{
	tp_state_free(&r->state);
	tp_cert_info_free(&r->cert);
	free(r->key_where);
	tp_strv_free(r->files);
	free(r->problem);
}

/* Record why the device is inconsistent; 0 (the report goes on). */
static __attribute__((format(printf, 3, 4))) int inconsistent(struct report *r, struct tp_error *err, const char *fmt,
							      ...)
{
	va_list ap;
	int n;

	free(r->problem);
	va_start(ap, fmt);
	n = vasprintf(&r->problem, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->problem = NULL;
		return tp_error_oom(err);
	}
	return 0;
}

/* The certificate installed, and the TPM key it must be for. */
static int check_cert_and_key(struct tp_run *run, struct report *r, struct tp_error *err)
{
	const struct tp_devkey k = { .tcti = run->o.tcti, .out_dir = run->o.out_dir, .loc = &r->state.key };
	_cleanup_free_ char *path = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	struct tpm_public pub;
	struct tp_error e = { 0 };
	int c;

	if (tp_path_join(run->o.out_dir, TP_CERT_FILE, &path, err) < 0)
		return -1;
	c = tp_cert_read_file(path, &cert, err);
	if (c == TP_MISSING)
		return inconsistent(r, err, "%s is missing", path);
	if (c < 0 || tp_cert_describe(cert, &r->cert, err) < 0)
		return -1;
	c = tp_devkey_read(&k, &pub, err);
	if (c == TP_MISSING)
		return inconsistent(r, err, "the key at %s is no longer in the TPM", r->key_where);
	if (c < 0 || tp_pkey_from_tpm(&pub, &key, err) < 0)
		return -1;
	r->key_checked = true;
	if (tp_cert_check_key(cert, key, path, &e) < 0)
		return inconsistent(r, err, "%s is not for the key in the TPM", path);
	return 0;
}

static int find_files(const char *dir, struct report *r, struct tp_error *err)
{
	const char *const *f;

	for (f = installed_files; *f; f++) {
		_cleanup_free_ char *path = NULL;

		if (tp_path_join(dir, *f, &path, err) < 0)
			return -1;
		if (access(path, F_OK) == 0 && tp_strv_push_copy(&r->files, *f) < 0)
			return tp_error_oom(err);
	}
	return 0;
}

static void print_list(const char *label, char *const *items)
{
	char *const *p;

	printf("%-13s", label);
	for (p = items; p && *p; p++)
		printf("%s%s", p == items ? "" : ", ", *p);
	printf("%s\n", items && *items ? "" : "none");
}

static void print_human(const struct report *r)
{
	const struct tp_state *s = &r->state;

	printf("provisioned: %s\n", r->problem ? "yes, but inconsistent" : "yes");
	printf("thing:       %s\n", s->thing_name);
	printf("certificate: %s\n", s->certificate_id);
	printf("arn:         %s\n", s->certificate_arn ? s->certificate_arn : "unknown (installed offline)");
	if (r->cert.subject) {
		printf("subject:     %s\n", r->cert.subject);
		printf("issuer:      %s\n", r->cert.issuer);
		printf("valid:       %s to %s (%d days left)\n", r->cert.not_before, r->cert.not_after,
		       r->cert.days_left);
	}
	printf("key:         %s, %s\n", r->key_where,
	       !r->key_checked ? "not checked"
	       : r->problem    ? "does NOT match the certificate"
			       : "matches the certificate");
	printf("endpoint:    %s\n", s->iot_endpoint);
	printf("thing attached: %s\n", s->attached_thing ? s->attached_thing : "none");
	print_list("policies:", s->policies);
	print_list("installed:", r->files);
	printf("since:       %s (tpm-provision %s)\n", s->provisioned_at, s->tool_version);
}

static int print_json(const struct report *r, struct tp_error *err)
{
	const struct tp_state *s = &r->state;
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddBoolToObject(o, "provisioned", true) &&
		  cJSON_AddBoolToObject(o, "consistent", r->problem == NULL) &&
		  (!r->problem || cJSON_AddStringToObject(o, "problem", r->problem)) &&
		  cJSON_AddStringToObject(o, "thing", s->thing_name) &&
		  cJSON_AddStringToObject(o, "certificateId", s->certificate_id) &&
		  (!s->certificate_arn || cJSON_AddStringToObject(o, "certificateArn", s->certificate_arn)) &&
		  (!r->cert.subject || (cJSON_AddStringToObject(o, "subject", r->cert.subject) &&
					cJSON_AddStringToObject(o, "issuer", r->cert.issuer) &&
					cJSON_AddStringToObject(o, "notBefore", r->cert.not_before) &&
					cJSON_AddStringToObject(o, "notAfter", r->cert.not_after) &&
					cJSON_AddNumberToObject(o, "daysLeft", r->cert.days_left))) &&
		  cJSON_AddStringToObject(o, "key", r->key_where) &&
		  (!r->key_checked || cJSON_AddBoolToObject(o, "keyMatches", r->problem == NULL)) &&
		  cJSON_AddStringToObject(o, "iotEndpoint", s->iot_endpoint) &&
		  (!s->attached_thing || cJSON_AddStringToObject(o, "attachedThing", s->attached_thing)) &&
		  tp_report_add_strv(o, "policies", s->policies) && tp_report_add_strv(o, "installed", r->files) &&
		  cJSON_AddStringToObject(o, "provisionedAt", s->provisioned_at);

	return tp_report_print(o, ok, err);
}

static int status(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(report_free) struct report r = { 0 };
	int s;

	s = tp_state_read(run->o.out_dir, &r.state, err);
	if (s == TP_MISSING) {
		if (run->o.json)
			printf("{\"provisioned\":false}\n");
		return tp_error_set(err, NOT_PROVISIONED, "not provisioned: %s has no %s", run->o.out_dir,
				    TP_STATE_FILE);
	}
	if (s < 0 || tp_keyloc_describe(&r.state.key, &r.key_where, err) < 0 || check_cert_and_key(run, &r, err) < 0 ||
	    find_files(run->o.out_dir, &r, err) < 0)
		return -1;
	if (run->o.json ? print_json(&r, err) < 0 : (print_human(&r), 0))
		return -1;
	if (r.problem)
		return tp_error_set(err, EX_DATAERR, "inconsistent: %s", r.problem);
	return 0;
}

int cmd_status(int argc, char **argv, struct tp_error *err)
{
	struct tp_run run;
	int r;

	r = tp_run_setup(&run, TP_CMD_STATUS, argc, argv, err);
	if (r == TP_HELP)
		status_usage();
	else if (r == 0)
		r = status(&run, err);
	tp_run_free(&run);
	return r < 0 ? -1 : 0;
}
