/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision status: what this device is, offline (no credentials, no
 * region): state.json, the installed certificate, whether the key in the
 * TPM is still the certificate's, what is attached and installed.  Exit 0
 * provisioned and consistent, 1 not provisioned, 65 inconsistent (the
 * error line says how), the TPM failure's code (74 unreachable) when the
 * key could not be read, after everything else is shown, as the README
 * documents.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>

#include "src/base/cleanup.h"
#include "src/base/strv.h"
#include "src/cmd/jsonout.h"
#include "src/cmd/run.h"
#include "src/device/agentfiles.h"
#include "src/store/file.h"
#include "src/store/keyjournal.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"
#include "src/x509/pkey.h"

#define NOT_PROVISIONED 1

static void status_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision status [--out-dir DIR] [--tcti CONF] [--json]\n\n"
	       "Show what this device is provisioned as, offline: thing, certificate, validity,\n"
	       "whether the TPM key still matches, what is attached and installed.\n"
	       "Exit 0 provisioned, 1 not provisioned, 65 inconsistent, 74 the TPM unreachable\n"
	       "(the key not checked; everything else is shown).\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
}

/* What status found about the device, shown as text or with --json. */
struct findings {
	struct tp_state state;
	struct tp_cert_info cert;
	char *key_where;
	char *key_alg;		 /* as recorded, or the certificate's; NULL if unknown */
	char **files;		 /* the installed files present */
	char *problem;		 /* why the device is inconsistent, or NULL */
	char *key_not_checked;	 /* why the key was not compared with the certificate */
	struct tp_error tpm_err; /* the TPM failure that kept it from being compared */
};

static void findings_free(struct findings *r)
{
	tp_state_free(&r->state);
	tp_cert_info_free(&r->cert);
	free(r->key_where);
	free(r->key_alg);
	tp_strv_free(r->files);
	free(r->problem);
	free(r->key_not_checked);
}

/* Record why the device is inconsistent; 0 (the findings go on). */
static __attribute__((format(printf, 3, 4))) int inconsistent(struct findings *r, struct tp_error *err, const char *fmt,
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

/* Record why the key was not compared with the certificate; 0. */
static int not_checked(struct findings *r, const char *why, struct tp_error *err)
{
	free(r->key_not_checked);
	r->key_not_checked = strdup(why);
	return r->key_not_checked ? 0 : tp_error_oom(err);
}

/* The algorithm of the certificate's key, in --key-alg's names where one
 * fits ("ecc-p256", "rsa-2048"); NULL when it is unknown. */
static char *cert_key_alg(X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	char group[64] = "", *s = NULL;
	int alg;

	if (!key)
		return NULL;
	alg = tp_pkey_key_alg(key);
	if (alg >= 0)
		return strdup(tpm_key_alg_name(alg));
	/* A key of none of the table's algorithms, described. */
	if (EVP_PKEY_is_a(key, "RSA"))
		return asprintf(&s, "rsa-%d", EVP_PKEY_get_bits(key)) < 0 ? NULL : s;
	if (!EVP_PKEY_is_a(key, "EC"))
		return strdup(EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown");
	EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL);
	return asprintf(&s, "ecc %s", *group ? group : "(unknown curve)") < 0 ? NULL : s;
}

/* The key's algorithm: as journal.json recorded it when the key was made,
 * if it names this very key; else the certificate's (cert may be NULL). */
static int key_algorithm(const char *dir, struct findings *r, X509 *cert, struct tp_error *err)
{
	struct tp_keyjournal j = { 0 };
	struct tp_error ignored = { 0 };
	bool recorded;

	/* The journal only adds to what is shown: a broken one is passed
	 * over, as when there is none. */
	recorded = tp_keyjournal_load(dir, &j, &ignored) == 0 && j.phase == TP_KEY_CREATED && j.key_name &&
		   strcmp(j.key_name, r->state.key_name) == 0 && tp_keyloc_equal(&j.key, &r->state.key);
	if (recorded)
		r->key_alg = strdup(tpm_key_alg_name(j.alg));
	else if (cert)
		r->key_alg = cert_key_alg(cert);
	tp_keyjournal_free(&j);
	return (recorded || cert) && !r->key_alg ? tp_error_oom(err) : 0;
}

/* The key the certificate must be for: compared, gone, or not readable
 * now (the TPM unreachable: kept in tpm_err, the findings go on). */
static int check_key(struct tp_run *run, struct findings *r, X509 *cert, const char *path, struct tp_error *err)
{
	const struct tp_devkey k = { .tcti = run->o.tcti, .out_dir = run->o.out_dir, .loc = &r->state.key };
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	struct tpm_public pub;
	struct tp_error e = { 0 };
	int c;

	c = tp_devkey_read(&k, &pub, &r->tpm_err);
	if (c == TP_MISSING && r->state.key.file)
		return not_checked(r, "the key file is missing", err) < 0
			       ? -1
			       : inconsistent(r, err, "the key file %s is missing", r->state.key.file);
	if (c == TP_MISSING)
		return not_checked(r, "not in the TPM", err) < 0
			       ? -1
			       : inconsistent(r, err, "the key at %s is no longer in the TPM", r->key_where);
	if (c < 0)
		return not_checked(r, r->tpm_err.msg, err);
	if (tp_pkey_from_tpm(&pub, &key, err) < 0)
		return -1;
	if (tp_cert_check_key(cert, key, path, &e) < 0)
		return inconsistent(r, err, "%s is not for the key in the TPM", path);
	return 0;
}

/* The certificate installed, and the TPM key it must be for. */
static int check_cert_and_key(struct tp_run *run, struct findings *r, struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	int c;

	if (tp_path_join(run->o.out_dir, TP_CERT_FILE, &path, err) < 0)
		return -1;
	c = tp_cert_read_file(path, &cert, err);
	if (c == TP_MISSING) {
		if (key_algorithm(run->o.out_dir, r, NULL, err) < 0 || not_checked(r, "no " TP_CERT_FILE, err) < 0)
			return -1;
		return inconsistent(r, err, "%s is missing", path);
	}
	if (c < 0 || tp_cert_describe(cert, &r->cert, err) < 0 || key_algorithm(run->o.out_dir, r, cert, err) < 0)
		return -1;
	return check_key(run, r, cert, path, err);
}

/* Add name to the files found when it is in dir (once). */
static int find_file(const char *dir, const char *name, struct findings *r, struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;

	if (tp_strv_contains(r->files, name))
		return 0;
	if (tp_path_join(dir, name, &path, err) < 0)
		return -1;
	if (access(path, F_OK) == 0 && tp_strv_push_copy(&r->files, name) < 0)
		return tp_error_oom(err);
	return 0;
}

/* The files install writes in the output directory: the certificate, the
 * root CA, and each agent's. */
static int find_files(const char *dir, struct findings *r, struct tp_error *err)
{
	const struct tp_agent_info *a;
	size_t i;

	if (find_file(dir, TP_CERT_FILE, r, err) < 0 || find_file(dir, TP_ROOT_CA_FILE, r, err) < 0)
		return -1;
	for (i = 0; (a = tp_agent_info(i)); i++)
		if (a->file && find_file(dir, a->file, r, err) < 0)
			return -1;
	return 0;
}

static void print_list(const char *label, char *const *items, const char *none)
{
	char *const *p;

	printf("%-13s", label);
	for (p = items; p && *p; p++)
		printf("%s%s", p == items ? "" : ", ", *p);
	printf("%s\n", items && *items ? "" : none);
}

static const char *key_verdict(const struct findings *r)
{
	if (r->key_not_checked)
		return "not checked: ";
	return r->problem ? "does NOT match the certificate" : "matches the certificate";
}

static void print_human(const struct findings *r)
{
	const struct tp_state *s = &r->state;

	printf("provisioned: %s\n", r->problem		   ? "yes, but inconsistent"
				    : r->tpm_err.exit_code ? "yes (the key could not be checked)"
							   : "yes");
	printf("thing:       %s\n", s->thing_name);
	printf("certificate: %s\n", s->certificate_id);
	printf("arn:         %s\n", s->certificate_arn ? s->certificate_arn : "unknown (installed offline)");
	if (r->cert.subject) {
		printf("subject:     %s\n", r->cert.subject);
		printf("issuer:      %s\n", r->cert.issuer);
		printf("valid:       %s to %s (%d days left)\n", r->cert.not_before, r->cert.not_after,
		       r->cert.days_left);
	}
	printf("key:         %s%s%s, %s%s\n", r->key_where, r->key_alg ? ", " : "", r->key_alg ? r->key_alg : "",
	       key_verdict(r), r->key_not_checked ? r->key_not_checked : "");
	printf("endpoint:    %s\n", s->iot_endpoint);
	/* Attachments made elsewhere (batch) are not known offline. */
	printf("thing attached: %s\n", s->attached_thing ? s->attached_thing : "none recorded");
	print_list("policies:", s->policies, "none recorded");
	print_list("installed:", r->files, "none");
	printf("since:       %s (tpm-provision %s)\n", s->provisioned_at, s->tool_version);
}

/* The key's members: where, its algorithm, and whether it matches (or
 * why that is not known); consistent is unknown when the TPM failed. */
static bool add_key(cJSON *o, const struct findings *r)
{
	return cJSON_AddStringToObject(o, "key", r->key_where) &&
	       (!r->key_alg || cJSON_AddStringToObject(o, "keyAlgorithm", r->key_alg)) &&
	       (r->key_not_checked ? cJSON_AddStringToObject(o, "keyNotChecked", r->key_not_checked) != NULL
				   : cJSON_AddBoolToObject(o, "keyMatches", r->problem == NULL) != NULL);
}

static int print_json(const struct findings *r, struct tp_error *err)
{
	const struct tp_state *s = &r->state;
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddBoolToObject(o, "provisioned", true) &&
		  (r->tpm_err.exit_code || cJSON_AddBoolToObject(o, "consistent", r->problem == NULL)) &&
		  (!r->problem || cJSON_AddStringToObject(o, "problem", r->problem)) &&
		  cJSON_AddStringToObject(o, "thing", s->thing_name) &&
		  cJSON_AddStringToObject(o, "certificateId", s->certificate_id) &&
		  (!s->certificate_arn || cJSON_AddStringToObject(o, "certificateArn", s->certificate_arn)) &&
		  (!r->cert.subject || (cJSON_AddStringToObject(o, "subject", r->cert.subject) &&
					cJSON_AddStringToObject(o, "issuer", r->cert.issuer) &&
					cJSON_AddStringToObject(o, "notBefore", r->cert.not_before) &&
					cJSON_AddStringToObject(o, "notAfter", r->cert.not_after) &&
					cJSON_AddNumberToObject(o, "daysLeft", r->cert.days_left))) &&
		  add_key(o, r) && cJSON_AddStringToObject(o, "iotEndpoint", s->iot_endpoint) &&
		  (!s->attached_thing || cJSON_AddStringToObject(o, "attachedThing", s->attached_thing)) &&
		  tp_jsonout_add_strv(o, "policies", s->policies) && tp_jsonout_add_strv(o, "installed", r->files) &&
		  cJSON_AddStringToObject(o, "provisionedAt", s->provisioned_at);

	return tp_jsonout_print(o, ok, err);
}

static int status(struct tp_run *run, struct tp_error *err)
{
	_cleanup_(findings_free) struct findings r = { 0 };
	int s;

	s = tp_state_load(run->o.out_dir, &r.state, err);
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
	if (r.tpm_err.exit_code)
		return tp_error_set(err, r.tpm_err.exit_code, "the key at %s could not be checked: %s", r.key_where,
				    r.tpm_err.msg);
	return 0;
}

static int cmd_status(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	return tp_run_plain(cmd, argc, argv, status_usage, status, err);
}

const struct tp_command_impl tp_cmd_status = {
	.run = cmd_status,
};
