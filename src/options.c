/*
 * Options: the command line wins over the config file, which wins over the
 * environment and the built-in defaults.  Every value, wherever it came
 * from, goes through the same validation, and an error names the option the
 * way the user wrote it (--key-handle or "key-handle" in the config file).
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fsutil.h"
#include "keyalg.h"

enum opt_kind {
	KIND_STRING,
	KIND_HANDLE,   /* a string, or a JSON number */
	KIND_FLAG,     /* no value on the command line, true/false in JSON */
	KIND_LIST,     /* repeatable; a string or an array of strings in JSON */
};

#define BOTH (TP_CMD_ENROLL | TP_CMD_REGISTER)

struct opt_def {
	const char *name;
	const char *arg;      /* placeholder in the usage text */
	enum opt_kind kind;
	unsigned cmds;        /* enum tp_cmd bits */
	bool cli_only;        /* a one-off action, not a setting for a file */
	const char *help;
};

static const struct opt_def opt_defs[TP_OPT__COUNT] = {
	[TP_OPT_THING_NAME] = { "thing-name", "NAME", KIND_STRING, BOTH, false, "AWS IoT thing name (certificate CN)" },
	[TP_OPT_TCTI] = { "tcti", "CONF", KIND_STRING, BOTH, false, "TPM TCTI (default " TP_DEFAULT_TCTI ")" },
	[TP_OPT_KEY_HANDLE] = { "key-handle", "HANDLE", KIND_HANDLE, BOTH, false, "persistent key handle (default 0x81000002)" },
	[TP_OPT_REGION] = { "region", "REGION", KIND_STRING, BOTH, false, "AWS region (default $AWS_REGION, $AWS_DEFAULT_REGION)" },
	[TP_OPT_ENDPOINT_URL] = { "endpoint-url", "URL", KIND_STRING, BOTH, false, "certificate API endpoint (default from the region)" },
	[TP_OPT_SIGNING_NAME] = { "signing-name", "NAME", KIND_STRING, BOTH, false, "SigV4 signing name: iot (default) or execute-api" },
	[TP_OPT_CA_BUNDLE] = { "ca-bundle", "FILE", KIND_STRING, BOTH, false, "CA bundle for the endpoint (default $AWS_CA_BUNDLE, system)" },
	[TP_OPT_OUT_DIR] = { "out-dir", "DIR", KIND_STRING, BOTH, false, "output directory (default " TP_DEFAULT_OUT_DIR ")" },
	[TP_OPT_KEY_ALG] = { "key-alg", "ALG", KIND_STRING, TP_CMD_ENROLL, false, "ecc-p256 (default), ecc-p384, rsa-2048, rsa-3072" },
	[TP_OPT_KEY_FILE] = { "key-file", "PATH", KIND_STRING, BOTH, false, "keep the key in a TSS2 key file, not at a handle" },
	[TP_OPT_KEY_AUTH_FILE] = { "key-auth-file", "FILE", KIND_STRING, BOTH, false, "file holding the key's authorization value" },
	[TP_OPT_RSA_PSS] = { "rsa-pss", "", KIND_FLAG, TP_CMD_ENROLL, false, "sign the CSR with RSA-PSS (RSA keys)" },
	[TP_OPT_FORCE_NEW_KEY] = { "force-new-key", "", KIND_FLAG, TP_CMD_ENROLL, true, "replace the key this program created" },
	[TP_OPT_DEADLINE] = { "deadline", "SECONDS", KIND_STRING, BOTH, false, "give up retrying after this long (default 300)" },
	[TP_OPT_INSECURE_HTTP_LOOPBACK] = { "insecure-http-loopback", "", KIND_FLAG, BOTH, true, "allow http:// to a loopback endpoint (tests)" },
	[TP_OPT_IOT_ENDPOINT] = { "iot-endpoint", "HOST", KIND_STRING, BOTH, false, "IoT data endpoint for the agent (default: DescribeEndpoint)" },
	[TP_OPT_ROOT_CA] = { "root-ca", "FILE", KIND_STRING, BOTH, false, "CA for the agent (default " TP_DEFAULT_ROOT_CA ")" },
	[TP_OPT_AGENT] = { "agent", "NAME", KIND_LIST, BOTH, false, "configure aws-iot-device-client, env, openssl (repeatable)" },
	[TP_OPT_AGENT_CONFIG] = { "agent-config", "PATH", KIND_STRING, BOTH, false, "aws-iot-device-client config file" },
	[TP_OPT_OWNER] = { "owner", "USER[:GROUP]", KIND_STRING, BOTH, false, "owner of the installed files (the agent's account)" },
	[TP_OPT_CERT] = { "cert", "FILE", KIND_STRING, TP_CMD_REGISTER, false, "the device certificate to register" },
	[TP_OPT_CA_CERT] = { "ca-cert", "FILE", KIND_STRING, TP_CMD_REGISTER, false, "the CA certificate that issued it" },
	[TP_OPT_NO_CA] = { "no-ca", "", KIND_FLAG, TP_CMD_REGISTER, false, "register without a CA (RegisterCertificateWithoutCA)" },
	[TP_OPT_STATUS] = { "status", "STATUS", KIND_STRING, TP_CMD_REGISTER, false, "ACTIVE (default) or INACTIVE" },
};

enum { OPT_CONFIG = TP_OPT__COUNT, OPT_HELP };

const char *tp_opt_name(enum tp_opt opt)
{
	return opt_defs[opt].name;
}

int tp_opt_flag(const struct tp_options *o, enum tp_opt opt)
{
	return o->val[opt] != NULL;
}

void tp_options_usage(FILE *f, enum tp_cmd cmd)
{
	char left[64];
	int i;

	fprintf(f, "  %-28s %s\n", "--config FILE", "config file (default " TP_DEFAULT_CONFIG " if present)");
	for (i = 0; i < TP_OPT__COUNT; i++) {
		if (!(opt_defs[i].cmds & cmd))
			continue;
		snprintf(left, sizeof(left), "--%s %s", opt_defs[i].name, opt_defs[i].arg);
		fprintf(f, "  %-28s %s\n", left, opt_defs[i].help);
	}
}

static void set_value(struct tp_options *o, int opt, char *value, enum tp_origin origin)
{
	free(o->val[opt]);
	o->val[opt] = value;
	o->origin[opt] = origin;
}

int tp_options_parse_argv(struct tp_options *o, enum tp_cmd cmd, int argc, char **argv, struct tp_error *err)
{
	struct option longopts[TP_OPT__COUNT + 3];
	char *copy;
	int i, n = 0, c;

	for (i = 0; i < TP_OPT__COUNT; i++)
		if (opt_defs[i].cmds & cmd)
			longopts[n++] = (struct option){ opt_defs[i].name,
							 opt_defs[i].kind == KIND_FLAG ? no_argument : required_argument,
							 NULL, i };
	longopts[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP)
			return 1;
		if (c == ':')
			return tp_error_set(err, EX_USAGE, "option %s needs a value", argv[optind - 1]);
		if (c == '?')
			return tp_error_set(err, EX_USAGE, "unknown option \"%s\"", argv[optind - 1]);
		copy = strdup(optarg ? optarg : "true");
		if (!copy)
			return tp_error_set(err, EX_IOERR, "out of memory");
		if (c == OPT_CONFIG) {
			free(o->config_path);
			o->config_path = copy;
		} else if (opt_defs[c].kind == KIND_LIST && o->val[c]) {
			char *joined;

			if (asprintf(&joined, "%s,%s", o->val[c], copy) < 0) {
				free(copy);
				return tp_error_set(err, EX_IOERR, "out of memory");
			}
			free(copy);
			set_value(o, c, joined, TP_FROM_ARGV);
		} else {
			set_value(o, c, copy, TP_FROM_ARGV);
		}
	}
	if (optind < argc)
		return tp_error_set(err, EX_USAGE, "unexpected argument \"%s\"", argv[optind]);
	return 0;
}

static int find_opt(const char *name, enum tp_cmd cmd)
{
	int i;

	for (i = 0; i < TP_OPT__COUNT; i++)
		if (strcmp(opt_defs[i].name, name) == 0 && (opt_defs[i].cmds & cmd) && !opt_defs[i].cli_only)
			return i;
	return -1;
}

/* A JSON array of strings, comma-joined. */
static int config_list(const cJSON *array, const char *path, char **ret, struct tp_error *err)
{
	const cJSON *item;
	size_t len = 1;
	char *s;

	cJSON_ArrayForEach(item, array) {
		if (!cJSON_IsString(item) || strchr(item->valuestring, ','))
			return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" must be an array of names", path,
					    array->string);
		len += strlen(item->valuestring) + 1;
	}
	s = calloc(1, len);
	if (!s)
		return tp_error_set(err, EX_IOERR, "out of memory");
	cJSON_ArrayForEach(item, array) {
		if (*s)
			strcat(s, ",");
		strcat(s, item->valuestring);
	}
	*ret = s;
	return 0;
}

/* The JSON value of a key as a string we own (NULL for a false flag);
 * numbers only where allowed. */
static int config_value(const cJSON *item, int opt, const char *path, char **ret, struct tp_error *err)
{
	char buf[32];
	double d;
	char *s;

	if (opt_defs[opt].kind == KIND_FLAG) {
		if (!cJSON_IsBool(item))
			return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" must be true or false", path, item->string);
		if (cJSON_IsFalse(item)) {
			*ret = NULL;
			return 0;
		}
		s = strdup("true");
	} else if (opt_defs[opt].kind == KIND_LIST && cJSON_IsArray(item)) {
		return config_list(item, path, ret, err);
	} else if (cJSON_IsString(item)) {
		s = strdup(item->valuestring);
	} else if (cJSON_IsNumber(item) && opt_defs[opt].kind == KIND_HANDLE) {
		d = cJSON_GetNumberValue(item);
		if (d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d)
			return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" is not a valid number", path, item->string);
		snprintf(buf, sizeof(buf), "0x%08x", (uint32_t)d);
		s = strdup(buf);
	} else {
		return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" must be a %s", path, item->string,
				    opt_defs[opt].kind == KIND_HANDLE ? "string or a number"
				    : opt_defs[opt].kind == KIND_LIST ? "string or an array of strings" : "string");
	}
	if (!s)
		return tp_error_set(err, EX_IOERR, "out of memory");
	*ret = s;
	return 0;
}

int tp_config_parse(struct tp_options *o, enum tp_cmd cmd, const char *json, size_t len, const char *path,
		    struct tp_error *err)
{
	bool seen[TP_OPT__COUNT] = { 0 };
	char *values[TP_OPT__COUNT] = { 0 };
	const cJSON *item;
	cJSON *root;
	int r = -1, opt, i;

	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		tp_error_set(err, EX_CONFIG, "config %s: not valid JSON", path);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		tp_error_set(err, EX_CONFIG, "config %s: the top level must be a JSON object", path);
		goto out;
	}
	/* Check everything before taking anything: a bad file changes nothing. */
	cJSON_ArrayForEach(item, root) {
		opt = find_opt(item->string, cmd);
		if (opt < 0) {
			tp_error_set(err, EX_CONFIG, "config %s: unknown key \"%s\"", path, item->string);
			goto out;
		}
		if (seen[opt]) {
			tp_error_set(err, EX_CONFIG, "config %s: key \"%s\" appears twice", path, item->string);
			goto out;
		}
		seen[opt] = true;
		if (config_value(item, opt, path, &values[opt], err) < 0)
			goto out;
	}
	for (i = 0; i < TP_OPT__COUNT; i++) {
		if (values[i] && !o->val[i]) {
			set_value(o, i, values[i], TP_FROM_CONFIG);
			values[i] = NULL;
		}
	}
	r = 0;
out:
	for (i = 0; i < TP_OPT__COUNT; i++)
		free(values[i]);
	cJSON_Delete(root);
	return r;
}

int tp_config_load(struct tp_options *o, enum tp_cmd cmd, struct tp_error *err)
{
	const char *path = o->config_path ? o->config_path : TP_DEFAULT_CONFIG;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = tp_read_file(path, TP_CONFIG_MAX, &buf, &len, err);
	if (r < 0) {
		err->exit_code = EX_CONFIG;
		return -1;
	}
	if (r > 0) {
		/* Missing: fine for the default file, an error for --config. */
		if (o->config_path)
			return tp_error_set(err, EX_CONFIG, "config %s: no such file", path);
		return 0;
	}
	r = tp_config_parse(o, cmd, buf, len, path, err);
	free(buf);
	return r;
}

/* Where a value came from, for error messages. */
static int bad_value(const struct tp_options *o, int opt, const char *why, struct tp_error *err)
{
	const char *v = o->val[opt];

	switch (o->origin[opt]) {
	case TP_FROM_CONFIG:
		return tp_error_set(err, EX_CONFIG, "config %s: \"%s\": \"%s\" %s",
				    o->config_path ? o->config_path : TP_DEFAULT_CONFIG, opt_defs[opt].name, v, why);
	case TP_FROM_ENV:
		return tp_error_set(err, EX_CONFIG, "%s (from the environment) \"%s\" %s", opt_defs[opt].name, v, why);
	default:
		return tp_error_set(err, EX_USAGE, "--%s \"%s\" %s", opt_defs[opt].name, v, why);
	}
}

static bool all_chars(const char *s, const char *extra, bool upper_ok)
{
	for (; *s; s++) {
		if (islower((unsigned char)*s) || isdigit((unsigned char)*s))
			continue;
		if (upper_ok && isupper((unsigned char)*s))
			continue;
		if (strchr(extra, *s))
			continue;
		return false;
	}
	return true;
}

int tp_parse_handle(const char *s, uint32_t *ret_handle)
{
	unsigned long v;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v < 0x81000000ul || v > 0x817ffffful)
		return -1;
	*ret_handle = (uint32_t)v;
	return 0;
}

int tp_endpoint_for_region(const char *region, char **ret_url, struct tp_error *err)
{
	const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
	char *url;

	if (asprintf(&url, "https://iot.%s.%s", region, suffix) < 0)
		return tp_error_set(err, EX_IOERR, "out of memory");
	*ret_url = url;
	return 0;
}

static int set_default(struct tp_options *o, int opt, const char *value, enum tp_origin origin,
		       struct tp_error *err)
{
	char *copy;

	if (o->val[opt] || !value || !*value)
		return 0;
	copy = strdup(value);
	if (!copy)
		return tp_error_set(err, EX_IOERR, "out of memory");
	set_value(o, opt, copy, origin);
	return 0;
}

/* Whether an http:// URL's host is this machine: 127.0.0.0/8, [::1] or
 * localhost. */
static bool loopback_host(const char *host)
{
	size_t n = strcspn(host, "/");
	const char *colon;

	if (strncmp(host, "[::1]", 5) == 0)
		return n == 5 || host[5] == ':';
	colon = memchr(host, ':', n);
	if (colon)
		n = (size_t)(colon - host);
	if (n == 9 && strncmp(host, "localhost", 9) == 0)
		return true;
	return strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == n;
}

/* https://host[:port][/path], no query, no fragment, no credentials;
 * http:// only to loopback and only when explicitly allowed. */
static int check_endpoint(struct tp_options *o, struct tp_error *err)
{
	char *url = o->val[TP_OPT_ENDPOINT_URL];
	const char *host;
	size_t n, scheme;

	if (strncmp(url, "https://", 8) == 0) {
		scheme = 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		scheme = 7;
		if (!tp_opt_flag(o, TP_OPT_INSECURE_HTTP_LOOPBACK))
			return bad_value(o, TP_OPT_ENDPOINT_URL, "must start with https://", err);
		if (!loopback_host(url + scheme))
			return bad_value(o, TP_OPT_ENDPOINT_URL,
					 "is plain http to a host that is not loopback (127.0.0.0/8, [::1], localhost)",
					 err);
	} else {
		return bad_value(o, TP_OPT_ENDPOINT_URL, "must start with https://", err);
	}
	host = url + scheme;
	if (!*host || *host == '/' || strpbrk(url, "?#@ \t\r\n\\"))
		return bad_value(o, TP_OPT_ENDPOINT_URL, "is not a plain https://host[:port] URL", err);
	n = strlen(url);
	while (n > scheme && url[n - 1] == '/')
		url[--n] = '\0';
	return 0;
}

/* --owner USER[:GROUP]: the agent's account; the user's group by default. */
static int resolve_owner(const struct tp_options *o, uid_t *ret_uid, gid_t *ret_gid, struct tp_error *err)
{
	char user[256], *colon;
	struct passwd *pw;
	struct group *gr;

	const char *spec = o->val[TP_OPT_OWNER];

	*ret_uid = (uid_t)-1;
	*ret_gid = (gid_t)-1;
	if (!spec)
		return 0;
	snprintf(user, sizeof(user), "%s", spec);
	colon = strchr(user, ':');
	if (colon)
		*colon = '\0';
	pw = getpwnam(user);
	if (!pw)
		return bad_value(o, TP_OPT_OWNER, "names no user on this system", err);
	gr = colon ? getgrnam(colon + 1) : NULL;
	if (colon && !gr)
		return bad_value(o, TP_OPT_OWNER, "names no group on this system", err);
	*ret_uid = pw->pw_uid;
	*ret_gid = gr ? gr->gr_gid : pw->pw_gid;
	return 0;
}

/* Each --agent names an agent this program can configure. */
static int check_agents(const struct tp_options *o, struct tp_error *err)
{
	static const char *const known[] = { "aws-iot-device-client", "env", "openssl", NULL };
	const char *v = o->val[TP_OPT_AGENT], *end;
	size_t n, i;

	for (; v && *v; v = *end ? end + 1 : end) {
		end = v + strcspn(v, ",");
		n = (size_t)(end - v);
		for (i = 0; known[i]; i++)
			if (strlen(known[i]) == n && strncmp(known[i], v, n) == 0)
				break;
		if (!known[i])
			return bad_value(o, TP_OPT_AGENT, "names an agent other than aws-iot-device-client, env, openssl",
					 err);
	}
	return 0;
}

int tp_options_finish(struct tp_options *o, struct tp_error *err)
{
	const char *v;
	size_t n;

	if (o->val[TP_OPT_KEY_FILE] && o->val[TP_OPT_KEY_HANDLE])
		return tp_error_set(err, o->origin[TP_OPT_KEY_FILE] == TP_FROM_CONFIG &&
						 o->origin[TP_OPT_KEY_HANDLE] == TP_FROM_CONFIG ? EX_CONFIG : EX_USAGE,
				    "give either key-handle or key-file, not both");

	if (set_default(o, TP_OPT_TCTI, TP_DEFAULT_TCTI, TP_FROM_DEFAULT, err) < 0 ||
	    set_default(o, TP_OPT_KEY_HANDLE, o->val[TP_OPT_KEY_FILE] ? NULL : "0x81000002", TP_FROM_DEFAULT, err) < 0 ||
	    set_default(o, TP_OPT_KEY_ALG, "ecc-p256", TP_FROM_DEFAULT, err) < 0 ||
	    set_default(o, TP_OPT_REGION, getenv("AWS_REGION"), TP_FROM_ENV, err) < 0 ||
	    set_default(o, TP_OPT_REGION, getenv("AWS_DEFAULT_REGION"), TP_FROM_ENV, err) < 0 ||
	    set_default(o, TP_OPT_SIGNING_NAME, "iot", TP_FROM_DEFAULT, err) < 0 ||
	    set_default(o, TP_OPT_CA_BUNDLE, getenv("AWS_CA_BUNDLE"), TP_FROM_ENV, err) < 0 ||
	    set_default(o, TP_OPT_OUT_DIR, TP_DEFAULT_OUT_DIR, TP_FROM_DEFAULT, err) < 0)
		return -1;

	v = o->val[TP_OPT_THING_NAME];
	if (!v)
		return tp_error_set(err, EX_USAGE, "no thing name: give --thing-name or \"thing-name\" in the config file");
	n = strlen(v);
	if (n == 0 || n > 128 || !all_chars(v, ":_-", true))
		return bad_value(o, TP_OPT_THING_NAME, "is not a valid thing name (1-128 of A-Z a-z 0-9 : _ -)", err);

	if (!*o->val[TP_OPT_TCTI])
		return bad_value(o, TP_OPT_TCTI, "is empty", err);

	o->key_handle = 0;
	if (o->val[TP_OPT_KEY_HANDLE] && tp_parse_handle(o->val[TP_OPT_KEY_HANDLE], &o->key_handle) < 0)
		return bad_value(o, TP_OPT_KEY_HANDLE, "is not a persistent handle in 0x81000000-0x817FFFFF", err);
	if (o->val[TP_OPT_KEY_HANDLE] && o->key_handle == TP_SRK_HANDLE)
		return bad_value(o, TP_OPT_KEY_HANDLE, "is the storage root key's handle", err);

	n = (size_t)tp_key_alg_parse(o->val[TP_OPT_KEY_ALG]);
	if (n >= TP_ALG__COUNT)
		return bad_value(o, TP_OPT_KEY_ALG, "is not a key algorithm (ecc-p256, ecc-p384, rsa-2048, rsa-3072)", err);
	o->key_alg = (enum tp_key_alg)n;
	if (tp_opt_flag(o, TP_OPT_RSA_PSS) && !tp_key_alg_is_rsa(o->key_alg))
		return tp_error_set(err, o->origin[TP_OPT_RSA_PSS] == TP_FROM_CONFIG ? EX_CONFIG : EX_USAGE,
				    "rsa-pss needs an RSA key (key-alg rsa-2048 or rsa-3072), not %s",
				    o->val[TP_OPT_KEY_ALG]);
	if (o->val[TP_OPT_KEY_FILE] && !*o->val[TP_OPT_KEY_FILE])
		return bad_value(o, TP_OPT_KEY_FILE, "is empty", err);
	if (o->val[TP_OPT_KEY_AUTH_FILE] && !*o->val[TP_OPT_KEY_AUTH_FILE])
		return bad_value(o, TP_OPT_KEY_AUTH_FILE, "is empty", err);

	v = o->val[TP_OPT_REGION];
	if (!v)
		return tp_error_set(err, EX_USAGE, "no region: give --region or set AWS_REGION");
	n = strlen(v);
	if (n == 0 || n > 32 || !all_chars(v, "-", false))
		return bad_value(o, TP_OPT_REGION, "is not a valid AWS region name", err);

	v = o->val[TP_OPT_SIGNING_NAME];
	if (strcmp(v, "iot") != 0 && strcmp(v, "execute-api") != 0)
		return bad_value(o, TP_OPT_SIGNING_NAME, "is not a signing name (iot or execute-api)", err);

	if (o->val[TP_OPT_ENDPOINT_URL]) {
		if (check_endpoint(o, err) < 0)
			return -1;
	} else {
		if (tp_endpoint_for_region(o->val[TP_OPT_REGION], &o->val[TP_OPT_ENDPOINT_URL], err) < 0)
			return -1;
		o->origin[TP_OPT_ENDPOINT_URL] = TP_FROM_DEFAULT;
	}

	if (o->val[TP_OPT_DEADLINE]) {
		unsigned long secs;
		char *end;

		v = o->val[TP_OPT_DEADLINE];
		secs = isdigit((unsigned char)*v) ? strtoul(v, &end, 10) : 0;
		if (!isdigit((unsigned char)*v) || *end || secs < 1 || secs > 86400)
			return bad_value(o, TP_OPT_DEADLINE, "is not a number of seconds from 1 to 86400", err);
		o->deadline = (unsigned)secs;
	} else {
		o->deadline = TP_DEFAULT_DEADLINE;
	}
	if (check_agents(o, err) < 0 || resolve_owner(o, &o->owner_uid, &o->owner_gid, err) < 0)
		return -1;
	v = o->val[TP_OPT_IOT_ENDPOINT];
	if (v && (!*v || strlen(v) > 253 || !all_chars(v, ".-", true)))
		return bad_value(o, TP_OPT_IOT_ENDPOINT, "is not a host name", err);
	if (set_default(o, TP_OPT_ROOT_CA, TP_DEFAULT_ROOT_CA, TP_FROM_DEFAULT, err) < 0 ||
	    set_default(o, TP_OPT_AGENT_CONFIG, TP_DEFAULT_AGENT_CONFIG, TP_FROM_DEFAULT, err) < 0)
		return -1;

	if (!*o->val[TP_OPT_OUT_DIR])
		return bad_value(o, TP_OPT_OUT_DIR, "is empty", err);
	if (o->val[TP_OPT_CA_BUNDLE] && !*o->val[TP_OPT_CA_BUNDLE])
		return bad_value(o, TP_OPT_CA_BUNDLE, "is empty", err);
	return 0;
}

void tp_options_free(struct tp_options *o)
{
	int i;

	if (!o)
		return;
	free(o->config_path);
	for (i = 0; i < TP_OPT__COUNT; i++)
		free(o->val[i]);
	memset(o, 0, sizeof(*o));
}

int tp_options_load(struct tp_options *o, enum tp_cmd cmd, int argc, char **argv, struct tp_error *err)
{
	int r = tp_options_parse_argv(o, cmd, argc, argv, err);

	if (r != 0)
		return r;
	if (tp_config_load(o, cmd, err) < 0 || tp_options_finish(o, err) < 0)
		return -1;
	return 0;
}
