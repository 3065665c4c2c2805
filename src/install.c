#include "install.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cert.h"
#include "fsutil.h"
#include "ossl.h"

#define CA_MAX (256 * 1024)
#define AGENT_CONFIG_MAX (256 * 1024)

static int write_owned(const struct tp_install_files *in, const char *dir, const char *name, const char *data,
		       mode_t mode, struct tp_error *err)
{
	return tp_write_file_atomic_owned(dir, name, data, strlen(data), mode, in->uid, in->gid, err);
}

/* A copy of src, after checking it parses with check (when given). */
static int install_copy(const struct tp_install_files *in, const char *src, const char *name, mode_t mode,
			bool is_cert, struct tp_error *err)
{
	X509 *cert = NULL;
	char *buf = NULL;
	size_t len;
	int r;

	r = tp_read_file(src, CA_MAX, &buf, &len, err);
	if (r == 1)
		return tp_error_set(err, EX_CONFIG, "%s does not exist", src);
	if (r < 0)
		return -1;
	r = -1;
	if (is_cert && tp_cert_parse_first_pem(buf, len, src, &cert, err) < 0)
		goto out;
	r = write_owned(in, in->dir, name, buf, mode, err);
out:
	X509_free(cert);
	free(buf);
	return r;
}

/* What the agent loads the key by: the key file's copy, or the handle URI
 * the tpm2 provider understands. */
static void key_reference(const struct tp_install_files *in, char *buf, size_t len)
{
	if (in->key_file)
		snprintf(buf, len, "%s/%s", in->dir, TP_KEY_FILE_COPY);
	else
		snprintf(buf, len, "handle:0x%08x", in->state->key_handle);
}

/* agent.env: a systemd EnvironmentFile= for any agent. */
static int install_env(const struct tp_install_files *in, struct tp_error *err)
{
	char key[4200], *text;
	int r;

	key_reference(in, key, sizeof(key));
	if (asprintf(&text,
		     "# Written by tpm-provision for the device's IoT agent.\n"
		     "IOT_ENDPOINT=%s\nIOT_THING_NAME=%s\nIOT_CERT=%s/%s\nIOT_KEY=%s\nIOT_ROOT_CA=%s/%s\n"
		     "TPM2OPENSSL_TCTI=%s\nOPENSSL_CONF=%s/%s\n",
		     in->state->iot_endpoint, in->state->thing_name, in->dir, TP_CERT_FILE, key, in->dir,
		     TP_ROOT_CA_FILE, in->tcti, in->dir, TP_OPENSSL_CNF_FILE) < 0)
		return tp_error_set(err, EX_IOERR, "out of memory");
	r = write_owned(in, in->dir, TP_AGENT_ENV_FILE, text, 0644, err);
	free(text);
	return r;
}

/* openssl.cnf: the tpm2 provider next to default, for any OpenSSL 3 agent. */
static int install_openssl_cnf(const struct tp_install_files *in, struct tp_error *err)
{
	static const char text[] =
		"# Written by tpm-provision: load the tpm2 provider next to default, so an\n"
		"# OpenSSL 3 based agent can use the TPM key by its handle URI or key file.\n"
		"# The provider reads its TPM from TPM2OPENSSL_TCTI (see agent.env).\n"
		"openssl_conf = tpm_provision_init\n\n"
		"[tpm_provision_init]\nproviders = tpm_provision_providers\nalg_section = tpm_provision_algs\n\n"
		"# Prefer the TPM for keys and signatures, never for digests.\n"
		"[tpm_provision_algs]\ndefault_properties = ?provider=tpm2,tpm2.digest!=yes\n\n"
		"[tpm_provision_providers]\ndefault = tpm_provision_default\ntpm2 = tpm_provision_tpm2\n\n"
		"[tpm_provision_default]\nactivate = 1\n\n"
		"[tpm_provision_tpm2]\nactivate = 1\n";

	return write_owned(in, in->dir, TP_OPENSSL_CNF_FILE, text, 0644, err);
}

/* aws-iot-device-client's JSON config: our keys set, every other key kept. */
static int install_device_client(const struct tp_install_files *in, struct tp_error *err)
{
	char *path = NULL, *dir_copy = NULL, *name_copy = NULL, *buf = NULL, *json = NULL, cert[4200], ca[4200],
	     key[4200];
	cJSON *root = NULL;
	size_t len;
	int r;

	r = tp_read_file(in->agent_config, AGENT_CONFIG_MAX, &buf, &len, err);
	if (r < 0)
		return -1;
	root = r == 1 ? cJSON_CreateObject() : cJSON_ParseWithLength(buf, len);
	r = -1;
	if (!cJSON_IsObject(root)) {
		tp_error_set(err, EX_CONFIG, "%s is not a JSON object; not touching it", in->agent_config);
		goto out;
	}
	key_reference(in, key, sizeof(key));
	snprintf(cert, sizeof(cert), "%s/%s", in->dir, TP_CERT_FILE);
	snprintf(ca, sizeof(ca), "%s/%s", in->dir, TP_ROOT_CA_FILE);
	cJSON_DeleteItemFromObjectCaseSensitive(root, "endpoint");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "cert");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "key");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "root-ca");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "thing-name");
	if (!cJSON_AddStringToObject(root, "endpoint", in->state->iot_endpoint) ||
	    !cJSON_AddStringToObject(root, "cert", cert) || !cJSON_AddStringToObject(root, "key", key) ||
	    !cJSON_AddStringToObject(root, "root-ca", ca) ||
	    !cJSON_AddStringToObject(root, "thing-name", in->state->thing_name) || !(json = cJSON_Print(root)) ||
	    !(dir_copy = strdup(in->agent_config)) || !(name_copy = strdup(in->agent_config))) {
		tp_error_set(err, EX_IOERR, "out of memory");
		goto out;
	}
	path = dirname(dir_copy);
	if (tp_mkdir_p(path, 0755, err) < 0 || write_owned(in, path, basename(name_copy), json, 0640, err) < 0)
		goto out;
	r = 0;
out:
	cJSON_Delete(root);
	free(json);
	free(buf);
	free(dir_copy);
	free(name_copy);
	return r;
}

static bool wants(const char *agents, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = agents; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0))
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int tp_install(const struct tp_install_files *in, struct tp_error *err)
{
	char *pem = NULL, *json = NULL;
	int r = -1;

	/* Re-encode what was checked, so the file holds exactly that. */
	if (tp_x509_to_pem(in->cert, &pem, err) < 0 || tp_state_format(in->state, &json, err) < 0)
		goto out;
	if (install_copy(in, in->root_ca, TP_ROOT_CA_FILE, 0644, true, err) < 0 ||
	    (in->key_file && install_copy(in, in->key_file, TP_KEY_FILE_COPY, 0640, false, err) < 0) ||
	    write_owned(in, in->dir, TP_CERT_FILE, pem, 0644, err) < 0 ||
	    (wants(in->agents, "env") && install_env(in, err) < 0) ||
	    (wants(in->agents, "openssl") && install_openssl_cnf(in, err) < 0) ||
	    (wants(in->agents, "aws-iot-device-client") && install_device_client(in, err) < 0) ||
	    write_owned(in, in->dir, TP_STATE_FILE, json, 0644, err) < 0)
		goto out;
	r = 0;
out:
	free(pem);
	free(json);
	return r;
}
