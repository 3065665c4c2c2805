/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision check: a pre-flight for image builders and technicians.
 * Everything enroll needs, checked without changing anything (no key is
 * made, no certificate requested): the configuration, the clock, the TPM
 * and its algorithms, the tpm2 provider, the storage root key, the key's
 * handle or file, the credentials (never printed), and the endpoint: its
 * name, its TLS certificate and one signed read-only call
 * (DescribeEndpoint).  One line per check, PASS or FAIL with the reason;
 * exit 0 only when all pass, else the exit code of the first failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "src/aws/iot.h"
#include "src/base/cleanup.h"
#include "src/cmd/jsonout.h"
#include "src/cmd/run.h"
#include "src/x509/pkcs10.h"

#define CHECK_DEADLINE 20 /* seconds for the service checks, at most */

static void check_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision check [options]\n\n"
	       "Check, without changing anything, everything enroll needs: configuration,\n"
	       "clock, TPM, tpm2 provider, storage root key, key handle, credentials, and the\n"
	       "endpoint (name, TLS, one signed DescribeEndpoint).  Exit 0 only when all pass.\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
}

struct checks {
	cJSON *list; /* --json */
	bool json;
	int first_failure; /* its exit code */
	bool tpm_ok;
};

/* One check's outcome: a line (or a JSON entry); err is cleared. */
static void outcome(struct checks *c, const char *name, const char *detail, struct tp_error *e)
{
	const bool ok = e->exit_code == 0;
	cJSON *item;

	if (!ok && !c->first_failure)
		c->first_failure = e->exit_code;
	if (!c->json) {
		printf("%s %-11s %s\n", ok ? "PASS" : "FAIL", name, ok ? detail : e->msg);
	} else if ((item = cJSON_CreateObject())) {
		cJSON_AddStringToObject(item, "check", name);
		cJSON_AddBoolToObject(item, "ok", ok);
		cJSON_AddStringToObject(item, ok ? "detail" : "error", ok ? detail : e->msg);
		cJSON_AddItemToArray(c->list, item);
	}
	*e = (struct tp_error){ 0 };
}

static void check_clock(struct checks *c)
{
	struct tp_error e = { 0 };

	if (time(NULL) < (time_t)TP_BUILD_EPOCH)
		tp_error_set(&e, EX_TEMPFAIL, "the system clock is before this program was built: sync the time");
	outcome(c, "clock", "set (after this program's build date)", &e);
}

/* The TPM, its algorithms and SRK, then the provider (which opens its own
 * connection, once ours is closed). */
static void check_tpm(struct checks *c, struct tp_run *run)
{
	_cleanup_free_ char *detail = NULL;
	struct tp_error e = { 0 };
	bool srk = false;

	tp_devkey_probe(&run->key, &srk, &e);
	c->tpm_ok = e.exit_code == 0;
	if (asprintf(&detail, "reachable at %s, supports %s", run->o.tcti, tpm_key_alg_name(run->o.key_alg)) < 0)
		detail = NULL;
	outcome(c, "tpm", detail ? detail : "", &e);
	if (!c->tpm_ok)
		return;
	outcome(c, "srk", srk ? "present at 0x81000001" : "absent; enroll creates it at 0x81000001", &e);
	tp_csr_provider_check(run->o.tcti, &e);
	outcome(c, "provider", "tpm2 OpenSSL provider loads", &e);
}

/* The key's place: free, or a key of ours that will be reused. */
static void check_key(struct checks *c, struct tp_run *run)
{
	struct tpm_public pub;
	struct tp_error e = { 0 };
	int r;

	if (!c->tpm_ok)
		return;
	r = tp_run_load_key_auth(run, &e) < 0 ? -1 : tp_devkey_find(&run->key, &pub, &e);
	outcome(c, "key", r == TP_NEED_NEW_KEY ? "free: enroll creates the key" : "ours: enroll reuses it", &e);
}

/* Credentials, then the endpoint with one signed, read-only call. */
static void check_service(struct checks *c, struct tp_run *run)
{
	_cleanup_free_ char *host = NULL, *detail = NULL;
	struct tp_error e = { 0 };

	if (tp_run_load_creds(run, &e) < 0) {
		outcome(c, "credentials", "", &e);
		return;
	}
	outcome(c, "credentials", "found (not shown)", &e);
	if (run->svc.deadline > CHECK_DEADLINE)
		run->svc.deadline = CHECK_DEADLINE;
	if (tp_iot_describe_endpoint(&run->svc, &host, &e) == 0 &&
	    asprintf(&detail, "%s trusted over TLS; signed DescribeEndpoint accepted (data endpoint %s)",
		     run->svc.endpoint, host) < 0)
		detail = NULL;
	outcome(c, "endpoint", detail ? detail : "", &e);
}

/* The files enroll installs from: root CA, agent config, key directory. */
static void check_files(struct checks *c, struct tp_run *run)
{
	struct tp_error e = { 0 };

	tp_install_check(&run->plan, &e);
	outcome(c, "files", "root CA, agent configuration and output directory usable", &e);
}

static int check(struct tp_run *run, struct tp_error *err)
{
	struct checks c = { .json = run->o.json, .list = run->o.json ? cJSON_CreateArray() : NULL };
	struct tp_error e = { 0 };

	if (c.json && !c.list)
		return tp_error_oom(err);
	outcome(&c, "config", "valid", &e);
	check_clock(&c);
	check_files(&c, run);
	check_tpm(&c, run);
	check_key(&c, run);
	check_service(&c, run);
	if (c.json) {
		cJSON *o = cJSON_CreateObject();
		bool built = o && cJSON_AddBoolToObject(o, "ok", !c.first_failure) &&
			     cJSON_AddItemToObject(o, "checks", c.list);

		if (!built) /* not o's to delete */
			cJSON_Delete(c.list);
		if (tp_jsonout_print(o, built, err) < 0)
			return -1;
	}
	if (c.first_failure)
		return tp_error_set(err, c.first_failure, "a check failed (see the FAIL lines)");
	return 0;
}

static int cmd_check(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	return tp_run_plain(cmd, argc, argv, check_usage, check, err);
}

const struct tp_command_impl tp_cmd_check = {
	.run = cmd_check,
};
