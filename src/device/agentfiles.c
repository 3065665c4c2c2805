/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/device/agentfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "src/base/cleanup.h"
#include "src/base/strv.h"
#include "src/device/pkcs11.h"
#include "src/store/file.h"
#include "src/store/json.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"

#define CA_MAX (256 * 1024)
#define AGENT_CONFIG_MAX (256 * 1024)
/* The kernel's resource manager: tpm2-pkcs11 finds it without being told. */
#define KERNEL_RM_TCTI "device:/dev/tpmrm0"

static int write_owned(const struct tp_install_plan *p, const char *dir, const char *name, const char *data,
		       mode_t mode, struct tp_error *err)
{
	return tp_write_file_atomic(dir, name, data, strlen(data), mode, p->uid, p->gid, err);
}

/* A copy of src in dir, after checking it parses as a certificate
 * (is_cert). */
static int install_copy(const struct tp_install_plan *p, const char *src, const char *dir, const char *name,
			mode_t mode, bool is_cert, struct tp_error *err)
{
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = tp_read_file(src, CA_MAX, &buf, &len, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_CONFIG, "%s does not exist", src);
	if (r < 0 || (is_cert && tp_cert_parse_first_pem(buf, len, src, &cert, err) < 0))
		return -1;
	return write_owned(p, dir, name, buf, mode, err);
}

/* What the agent loads the key by: the key file's copy, or the handle URI
 * the tpm2 provider understands. */
static int key_reference(const struct tp_install_plan *p, const struct tp_state *s, char **ret, struct tp_error *err)
{
	_cleanup_free_ char *copy = NULL;
	struct tp_keyloc installed = { .handle = s->key.handle };

	if (s->key.file && tp_path_join(p->dir, TP_KEY_FILE_COPY, &copy, err) < 0)
		return -1;
	installed.file = copy;
	return tp_keyloc_uri(&installed, false, ret, err);
}

/* The length of the valid UTF-8 character at s (1 to 4), or 0: a stray
 * or missing continuation byte, an overlong form, a surrogate, or beyond
 * U+10FFFF, which systemd's UTF-8 check refuses too. */
static size_t utf8_char(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	if (n == 0)
		return 0;
	/* The lead byte's payload: 5, 4 or 3 bits. */
	cp = s[0] & (0x7fu >> n);
	/* A NUL ends the string before a continuation byte would. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

const char *tp_env_value_problem(const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n;

	for (; *s; s += n) {
		if (*s < 0x20 || *s == 0x7f)
			return "contains a control character";
		n = utf8_char(s);
		if (n == 0)
			return "is not valid UTF-8 (systemd's EnvironmentFile= refuses it)";
	}
	return NULL;
}

/* Append NAME="value" and a newline to *text.  Inside double quotes a POSIX
 * shell and systemd's EnvironmentFile= both take \" \\ \` \$ as the
 * character itself and everything else literally, so with those four
 * escaped both read the value back exactly; control characters (a newline
 * would start a new variable) cannot be represented and are refused, and so
 * is what is not UTF-8, which systemd refuses. */
static int env_line(char **text, const char *name, const char *value, struct tp_error *err)
{
	size_t len = strlen(*text), n = len + strlen(name) + 2 * strlen(value) + 5;
	char *out = realloc(*text, n), *p;

	if (!out)
		return tp_error_oom(err);
	*text = out;
	if (tp_env_value_problem(value))
		return tp_error_set(err, EX_CONFIG, "%s for agent.env %s: it cannot be written to an environment file",
				    name, tp_env_value_problem(value));
	p = out + len + sprintf(out + len, "%s=\"", name);
	for (; *value; value++) {
		if (strchr("\"\\`$", *value))
			*p++ = '\\';
		*p++ = *value;
	}
	strcpy(p, "\"\n");
	return 0;
}

/* agent.env, --agent env: the key for an OpenSSL 3 agent. */
static int env_openssl_lines(const struct tp_install_plan *p, const struct tp_state *s, char **text,
			     struct tp_error *err)
{
	_cleanup_free_ char *key = NULL, *cnf = NULL;

	if (key_reference(p, s, &key, err) < 0 || tp_path_join(p->dir, TP_OPENSSL_CNF_FILE, &cnf, err) < 0)
		return -1;
	if (env_line(text, "IOT_KEY", key, err) < 0 || env_line(text, "TPM2OPENSSL_TCTI", p->tcti, err) < 0)
		return -1;
	/* Name openssl.cnf only when this install writes it (--agent openssl). */
	if ((p->agents & TP_AGENT_OPENSSL) && env_line(text, "OPENSSL_CONF", cnf, err) < 0)
		return -1;
	return 0;
}

/* agent.env, --agent pkcs11: the key as a PKCS#11 URI, the module, the PIN
 * file, and where tpm2-pkcs11 finds its store and the TPM. */
static int env_pkcs11_lines(const struct tp_install_plan *p, const struct tp_state *s, char **text,
			    struct tp_error *err)
{
	_cleanup_free_ char *uri = NULL, *store = NULL, *pin_file = NULL;

	(void)s;
	if (tp_pkcs11_uri(&uri, err) < 0 || tp_pkcs11_store(p->dir, &store, err) < 0 ||
	    tp_path_join(store, TP_PKCS11_PIN_FILE, &pin_file, err) < 0)
		return -1;
	if (env_line(text, "IOT_PKCS11_URI", uri, err) < 0 ||
	    env_line(text, "IOT_PKCS11_LIB", TP_PKCS11_LIB, err) < 0 ||
	    env_line(text, "IOT_PKCS11_PIN_FILE", pin_file, err) < 0 ||
	    env_line(text, "TPM2_PKCS11_STORE", store, err) < 0)
		return -1;
	if (strcmp(p->tcti, KERNEL_RM_TCTI) != 0 && env_line(text, "TPM2_PKCS11_TCTI", p->tcti, err) < 0)
		return -1;
	return 0;
}

/* openssl.cnf: the tpm2 provider next to default, for any OpenSSL 3 agent. */
static int install_openssl_cnf(const struct tp_install_plan *p, const char *pem, const struct tp_state *s,
			       struct tp_error *err)
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

	(void)pem;
	(void)s;
	return write_owned(p, p->dir, TP_OPENSSL_CNF_FILE, text, 0644, err);
}

/* Set name to value in root, replacing what was there. */
static bool replace_string(cJSON *root, const char *name, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(root, name);
	return cJSON_AddStringToObject(root, name, value) != NULL;
}

/* The device client's secure-element section: the key through the
 * PKCS#11 token (its other keys kept, a slot id dropped: the token label
 * names the slot). */
static int set_secure_element(cJSON *root, const char *pin, struct tp_error *err)
{
	cJSON *se = cJSON_GetObjectItemCaseSensitive(root, "secure-element");

	if (!cJSON_IsObject(se)) {
		cJSON_DeleteItemFromObjectCaseSensitive(root, "secure-element");
		se = cJSON_AddObjectToObject(root, "secure-element");
		if (!se)
			return tp_error_oom(err);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(se, "enabled");
	cJSON_DeleteItemFromObjectCaseSensitive(se, "secure-element-slot-id");
	if (!cJSON_AddBoolToObject(se, "enabled", 1) || !replace_string(se, "pkcs11-lib", TP_PKCS11_LIB) ||
	    !replace_string(se, "secure-element-pin", pin) ||
	    !replace_string(se, "secure-element-key-label", TP_PKCS11_KEY_LABEL) ||
	    !replace_string(se, "secure-element-token-label", TP_PKCS11_TOKEN_LABEL))
		return tp_error_oom(err);
	return 0;
}

/* Our keys in the device client's config, every other key kept; no key
 * file: the key is the token's. */
static int set_device_client_keys(const struct tp_install_plan *p, const struct tp_state *s, const char *pin,
				  cJSON *root, struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL, *cert = NULL, *ca = NULL;

	if (tp_path_join(p->dir, TP_DEVICE_CLIENT_DIR, &dir, err) < 0 ||
	    tp_path_join(dir, TP_CERT_FILE, &cert, err) < 0 || tp_path_join(dir, TP_ROOT_CA_FILE, &ca, err) < 0)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(root, "key");
	if (!replace_string(root, "endpoint", s->iot_endpoint) || !replace_string(root, "cert", cert) ||
	    !replace_string(root, "root-ca", ca) || !replace_string(root, "thing-name", s->thing_name))
		return tp_error_oom(err);
	return set_secure_element(root, pin, err);
}

/* The device client's config as it is (an empty object when there is
 * none yet); anything but a JSON object is left alone. */
static int read_device_client(const struct tp_install_plan *p, cJSON **ret, struct tp_error *err)
{
	_cleanup_free_ char *buf = NULL;
	cJSON *root;
	size_t len;
	int r;

	r = tp_read_file(p->agent_config, AGENT_CONFIG_MAX, &buf, &len, err);
	if (r < 0 || (r == 0 && tp_json_check_text(buf, len, p->agent_config, EX_CONFIG, err) < 0))
		return -1;
	root = r == TP_MISSING ? cJSON_CreateObject() : cJSON_ParseWithLength(buf, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return tp_error_set(err, EX_CONFIG, "%s is not a JSON object; not touching it", p->agent_config);
	}
	*ret = root;
	return 0;
}

static void wipe_freep(char **p)
{
	if (*p)
		explicit_bzero(*p, strlen(*p));
	free(*p);
}

/* aws-iot-device-client's JSON config; it holds the token's PIN. */
static int install_device_client(const struct tp_install_plan *p, const struct tp_state *s, struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL, *name = NULL;
	_cleanup_(wipe_freep) char *pin = NULL, *json = NULL;
	_cleanup_json_ cJSON *root = NULL;
	int r;

	r = tp_pkcs11_read_pin(p->dir, &pin, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_IOERR, "%s/%s has no PKCS#11 token for the device client", p->dir,
				    TP_PKCS11_STORE_DIR);
	if (r < 0 || read_device_client(p, &root, err) < 0)
		return -1;
	if (set_device_client_keys(p, s, pin, root, err) < 0 || tp_path_split(p->agent_config, &dir, &name, err) < 0)
		return -1;
	if (!(json = cJSON_Print(root)))
		return tp_error_oom(err);
	if (tp_mkdir_safe(dir, err) < 0)
		return -1;
	return write_owned(p, dir, name, json, 0640, err);
}

/* A directory only the agent may enter (0700, its owner), as the device
 * client requires of the one holding its certificates. */
static int private_dir(const struct tp_install_plan *p, const char *dir, struct tp_error *err)
{
	_cleanup_close_ int fd = -1;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return tp_error_set(err, EX_IOERR, "cannot create %s: %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tp_error_set(err, EX_IOERR, "cannot open %s: %s", dir, strerror(errno));
	if (fchmod(fd, 0700) < 0 || (p->uid != (uid_t)-1 && fchown(fd, p->uid, p->gid) < 0))
		return tp_error_set(err, EX_IOERR, "cannot set the mode and owner of %s: %s", dir, strerror(errno));
	return 0;
}

/* What can be checked of the device client's config before anything is
 * done: it is a JSON object, in a directory only its owner can write. */
static int check_device_client(const struct tp_install_plan *p, struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL, *name = NULL;
	_cleanup_json_ cJSON *root = NULL;

	if (read_device_client(p, &root, err) < 0 || tp_path_split(p->agent_config, &dir, &name, err) < 0)
		return -1;
	return access(dir, F_OK) == 0 ? tp_check_dir_safe(dir, err) : 0;
}

/* The device client's certificate and root CA (0644) in its 0700
 * directory, then its config. */
static int install_for_device_client(const struct tp_install_plan *p, const char *pem, const struct tp_state *s,
				     struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL;

	if (tp_path_join(p->dir, TP_DEVICE_CLIENT_DIR, &dir, err) < 0 || private_dir(p, dir, err) < 0 ||
	    install_copy(p, p->root_ca, dir, TP_ROOT_CA_FILE, 0644, true, err) < 0 ||
	    write_owned(p, dir, TP_CERT_FILE, pem, 0644, err) < 0)
		return -1;
	return install_device_client(p, s, err);
}

/* The one table of the agents: each row's checks before anything is done,
 * its lines in agent.env and its own files (each NULL when none). */
struct agent {
	struct tp_agent_info info;
	int (*check)(const struct tp_install_plan *p, struct tp_error *err);
	int (*env_lines)(const struct tp_install_plan *p, const struct tp_state *s, char **text, struct tp_error *err);
	int (*install)(const struct tp_install_plan *p, const char *pem, const struct tp_state *s,
		       struct tp_error *err);
};

static const struct agent agents[] = {
	{ { "aws-iot-device-client", TP_AGENT_DEVICE_CLIENT, NULL, true },
	  check_device_client,
	  NULL,
	  install_for_device_client },
	{ { "env", TP_AGENT_ENV, TP_AGENT_ENV_FILE, false }, NULL, env_openssl_lines, NULL },
	{ { "openssl", TP_AGENT_OPENSSL, TP_OPENSSL_CNF_FILE, false }, NULL, NULL, install_openssl_cnf },
	{ { "pkcs11", TP_AGENT_PKCS11, TP_AGENT_ENV_FILE, true }, NULL, env_pkcs11_lines, NULL },
};
#define N_AGENTS (sizeof(agents) / sizeof(agents[0]))

const struct tp_agent_info *tp_agent_info(size_t i)
{
	return i < N_AGENTS ? &agents[i].info : NULL;
}

const struct tp_agent_info *tp_agent_lookup(const char *name)
{
	size_t i;

	for (i = 0; name && i < N_AGENTS; i++)
		if (strcmp(agents[i].info.name, name) == 0)
			return &agents[i].info;
	return NULL;
}

static bool uses_token(const struct agent *a)
{
	return a->info.token;
}

static bool writes_env(const struct agent *a)
{
	return a->env_lines != NULL;
}

/* The agents of mask whose rows are such. */
static unsigned agents_that(unsigned mask, bool (*such)(const struct agent *a))
{
	unsigned found = 0;
	size_t i;

	for (i = 0; i < N_AGENTS; i++)
		if ((mask & agents[i].info.bit) && such(&agents[i]))
			found |= agents[i].info.bit;
	return found;
}

unsigned tp_agents_token(unsigned mask)
{
	return agents_that(mask, uses_token);
}

unsigned tp_agents_env(unsigned mask)
{
	return agents_that(mask, writes_env);
}

char *tp_agent_names(unsigned mask, const char *sep)
{
	char **names = NULL, *joined;
	size_t i;

	for (i = 0; i < N_AGENTS; i++)
		if ((mask & agents[i].info.bit) && tp_strv_push_copy(&names, agents[i].info.name) < 0) {
			tp_strv_free(names);
			return NULL;
		}
	joined = tp_strv_join(names, sep);
	tp_strv_free(names);
	return joined;
}

/* The lines of agent.env of each agent of the plan that gets some. */
static int agents_env_lines(const struct tp_install_plan *p, const struct tp_state *s, char **text,
			    struct tp_error *err)
{
	const struct agent *a;

	for (a = agents; a < agents + N_AGENTS; a++)
		if ((p->agents & a->info.bit) && a->env_lines && a->env_lines(p, s, text, err) < 0)
			return -1;
	return 0;
}

/* agent.env: a systemd EnvironmentFile= for any agent, also sourced by
 * shells (set -a; . agent.env). */
static int install_env(const struct tp_install_plan *p, const struct tp_state *s, struct tp_error *err)
{
	_cleanup_free_ char *cert = NULL, *ca = NULL;
	_cleanup_free_ char *text = NULL;

	if (tp_path_join(p->dir, TP_CERT_FILE, &cert, err) < 0 || tp_path_join(p->dir, TP_ROOT_CA_FILE, &ca, err) < 0)
		return -1;
	text = strdup("# Written by tpm-provision for the device's IoT agent.\n");
	if (!text)
		return tp_error_oom(err);
	if (env_line(&text, "IOT_ENDPOINT", s->iot_endpoint, err) < 0 ||
	    env_line(&text, "IOT_THING_NAME", s->thing_name, err) < 0 || env_line(&text, "IOT_CERT", cert, err) < 0 ||
	    env_line(&text, "IOT_ROOT_CA", ca, err) < 0 || agents_env_lines(p, s, &text, err) < 0)
		/* cppcheck does not follow the cleanup attribute: text is freed. */
		// cppcheck-suppress memleak
		return -1;
	return write_owned(p, p->dir, TP_AGENT_ENV_FILE, text, 0644, err);
}

int tp_install_check(const struct tp_install_plan *p, struct tp_error *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_x509_ X509 *ca = NULL;
	const struct agent *a;
	size_t len;
	int r;

	r = tp_read_file(p->root_ca, CA_MAX, &buf, &len, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_CONFIG, "%s does not exist", p->root_ca);
	if (r < 0 || tp_cert_parse_first_pem(buf, len, p->root_ca, &ca, err) < 0)
		return -1;
	if (tp_agents_token(p->agents) && tp_pkcs11_check(err) < 0)
		return -1;
	for (a = agents; a < agents + N_AGENTS; a++)
		if ((p->agents & a->info.bit) && a->check && a->check(p, err) < 0)
			return -1;
	return 0;
}

int tp_install(const struct tp_install_plan *p, X509 *cert, const struct tp_state *s, struct tp_error *err)
{
	_cleanup_free_ char *pem = NULL;
	const struct agent *a;

	/* Re-encode what was checked, so the file holds exactly that. */
	if (tp_cert_to_pem(cert, &pem, err) < 0)
		return -1;
	if (install_copy(p, p->root_ca, p->dir, TP_ROOT_CA_FILE, 0644, true, err) < 0 ||
	    (s->key.file && install_copy(p, s->key.file, p->dir, TP_KEY_FILE_COPY, 0640, false, err) < 0) ||
	    write_owned(p, p->dir, TP_CERT_FILE, pem, 0644, err) < 0 ||
	    (tp_agents_env(p->agents) && install_env(p, s, err) < 0))
		return -1;
	for (a = agents; a < agents + N_AGENTS; a++)
		if ((p->agents & a->info.bit) && a->install && a->install(p, pem, s, err) < 0)
			return -1;
	return tp_state_save(p->dir, s, p->uid, p->gid, err);
}
