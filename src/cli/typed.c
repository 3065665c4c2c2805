/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * From raw option values to the typed options: the environment and the
 * defaults fill what is unset, then every value is validated, wherever it
 * came from, and converted once.
 */
#include "src/cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/base/cleanup.h"
#include "src/base/spell.h"
#include "src/base/strv.h"
#include "src/store/file.h"

/* pcap:pcap:...: more is no use, and the recursion stays bounded. */
#define TCTI_NESTING_MAX 4

static const char *val(const struct tp_raw_options *raw, int opt)
{
	return raw->v[opt].str;
}

static bool flag(const struct tp_raw_options *raw, int opt)
{
	return raw->v[opt].set;
}

const char *tp_raw_str(const struct tp_raw_options *raw, int opt)
{
	return val(raw, opt);
}

bool tp_raw_flag(const struct tp_raw_options *raw, int opt)
{
	return flag(raw, opt);
}

char *tp_raw_take_str(struct tp_raw_options *raw, int opt)
{
	return TAKE_PTR(raw->v[opt].str);
}

/* The value (what) of opt is bad: say where it came from. */
static int bad(const struct tp_raw_options *raw, int opt, const char *what, const char *why, struct tp_error *err)
{
	const char *name = tp_opt_def_of(raw, opt)->name;

	switch (raw->v[opt].origin) {
	case TP_FROM_CONFIG:
		return tp_error_set(err, EX_CONFIG, "config %s: \"%s\": \"%s\" %s",
				    raw->config_path ? raw->config_path : TP_DEFAULT_CONFIG, name, what, why);
	case TP_FROM_ENV:
		return tp_error_set(err, EX_CONFIG, "%s (from the environment) \"%s\" %s", name, what, why);
	default:
		return tp_error_set(err, EX_USAGE, "--%s \"%s\" %s", name, what, why);
	}
}

static int bad_value(const struct tp_raw_options *raw, int opt, const char *why, struct tp_error *err)
{
	return bad(raw, opt, val(raw, opt), why, err);
}

int tp_raw_bad_value(const struct tp_raw_options *raw, int opt, const char *why, struct tp_error *err)
{
	return bad_value(raw, opt, why, err);
}

/* A usage error, or a config error when every option involved came from
 * the config file. */
static int conflict_code(const struct tp_raw_options *raw, enum tp_opt a, enum tp_opt b)
{
	return raw->v[a].origin == TP_FROM_CONFIG && raw->v[b].origin == TP_FROM_CONFIG ? EX_CONFIG : EX_USAGE;
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

static int set_default(struct tp_raw_options *raw, enum tp_opt opt, const char *value, enum tp_origin origin,
		       struct tp_error *err)
{
	char *copy;

	if (raw->v[opt].set || !value || !*value)
		return 0;
	if (!(copy = strdup(value)))
		return tp_error_oom(err);
	tp_raw_set(&raw->v[opt], origin, copy, NULL);
	return 0;
}

static int apply_defaults(struct tp_raw_options *raw, struct tp_error *err)
{
	char handle[16];

	snprintf(handle, sizeof(handle), "0x%08x", TP_DEFAULT_KEY_HANDLE);
	if (flag(raw, TP_OPT_KEY_FILE) && flag(raw, TP_OPT_KEY_HANDLE))
		return tp_error_set(err, conflict_code(raw, TP_OPT_KEY_FILE, TP_OPT_KEY_HANDLE),
				    "give either key-handle or key-file, not both");
	if (set_default(raw, TP_OPT_TCTI, TP_DEFAULT_TCTI, TP_FROM_DEFAULT, err) < 0 ||
	    set_default(raw, TP_OPT_KEY_HANDLE, flag(raw, TP_OPT_KEY_FILE) ? NULL : handle, TP_FROM_DEFAULT, err) < 0 ||
	    set_default(raw, TP_OPT_KEY_ALG, tpm_key_alg_name(TP_DEFAULT_KEY_ALG), TP_FROM_DEFAULT, err) < 0 ||
	    set_default(raw, TP_OPT_REGION, getenv("AWS_REGION"), TP_FROM_ENV, err) < 0 ||
	    set_default(raw, TP_OPT_REGION, getenv("AWS_DEFAULT_REGION"), TP_FROM_ENV, err) < 0 ||
	    set_default(raw, TP_OPT_SIGNING_NAME, "iot", TP_FROM_DEFAULT, err) < 0 ||
	    set_default(raw, TP_OPT_CA_BUNDLE, getenv("AWS_CA_BUNDLE"), TP_FROM_ENV, err) < 0 ||
	    set_default(raw, TP_OPT_OUT_DIR, TP_DEFAULT_OUT_DIR, TP_FROM_DEFAULT, err) < 0 ||
	    set_default(raw, TP_OPT_ROOT_CA, TP_DEFAULT_ROOT_CA, TP_FROM_DEFAULT, err) < 0 ||
	    set_default(raw, TP_OPT_AGENT_CONFIG, TP_DEFAULT_AGENT_CONFIG, TP_FROM_DEFAULT, err) < 0)
		return -1;
	return 0;
}

/* A string option that, when given, must not be empty. */
static int nonempty(const struct tp_raw_options *raw, enum tp_opt opt, struct tp_error *err)
{
	return val(raw, opt) && !*val(raw, opt) ? bad_value(raw, opt, "is empty", err) : 0;
}

/* The TCTI part (all or part of --tcti) is bad: the whole value is quoted,
 * and the part, when it is a wrapped TCTI's configuration. */
static int bad_tcti(const struct tp_raw_options *raw, const char *part, const char *why, struct tp_error *err)
{
	_cleanup_free_ char *msg = NULL;

	if (part == val(raw, TP_OPT_TCTI))
		return bad_value(raw, TP_OPT_TCTI, why, err);
	if (asprintf(&msg, "wraps the TCTI \"%s\", which %s", part, why) < 0)
		return tp_error_oom(err);
	return bad_value(raw, TP_OPT_TCTI, msg, err);
}

/* device[:PATH]: a character device, never a file the TCTI would write a
 * TPM command into; and one this user may open. */
static int check_tcti_device(const struct tp_raw_options *raw, const char *part, const char *path, struct tp_error *err)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISCHR(st.st_mode))
		return bad_tcti(raw, part, "names a device that is not a character device", err);
	/* The usual first-boot mistake: a user that may not open the TPM. */
	if (access(path, R_OK | W_OK) < 0 && errno == EACCES)
		return tp_error_set(err, EX_NOPERM,
				    "the TPM device %s is not readable and writable by this user: run as root or as a "
				    "member of group tss (as the unit's user is)",
				    path);
	return 0;
}

/*
 * --tcti NAME[:CONF]: tpm2-tss loads libtss2-tcti-NAME (or any library
 * path it is given) and runs it as this process, root under the unit.  Only
 * the modules tpm2-tss installed are accepted, by name, and not "cmd"
 * (which runs a command); a device must be a character device.  pcap's
 * CONF is a whole TCTI configuration of its own, which tpm2-tss loads the
 * same way: the same rules apply to it (an empty one is tpm2-tss's
 * default search, which is fine).  tcti is the part checked: the value, or
 * the configuration a pcap wraps, depth levels down.
 */
static int check_tcti(const struct tp_raw_options *raw, const char *tcti, unsigned depth, struct tp_error *err)
{
	const char *conf = strchr(tcti, ':');
	_cleanup_free_ char *name = strndup(tcti, conf ? (size_t)(conf - tcti) : strlen(tcti)), *lib = NULL;

	if (!name)
		return tp_error_oom(err);
	if (!*name || !all_chars(name, "-_", false) || strcmp(name, "cmd") == 0)
		return bad_tcti(raw, tcti,
				"does not name a TCTI module of tpm2-tss (device, tabrmd, swtpm, mssim, pcap, ...)",
				err);
	if (asprintf(&lib, "%s/libtss2-tcti-%s.so.0", TP_TCTI_LIBDIR, name) < 0)
		return tp_error_oom(err);
	if (access(lib, F_OK) < 0)
		return bad_tcti(
			raw, tcti,
			"names a TCTI that tpm2-tss did not install (no libtss2-tcti-NAME in " TP_TCTI_LIBDIR ")", err);
	if (strcmp(name, "device") == 0)
		return check_tcti_device(raw, tcti, conf && conf[1] ? conf + 1 : "/dev/tpm0", err);
	if (strcmp(name, "pcap") != 0 || !conf || !conf[1])
		return 0;
	if (depth >= TCTI_NESTING_MAX)
		return bad_tcti(raw, tcti, "nests pcap TCTIs too deeply", err);
	return check_tcti(raw, conf + 1, depth + 1, err);
}

/* --tcti, for the commands that use the TPM. */
static int check_tcti_option(const struct tp_raw_options *raw, struct tp_error *err)
{
	if (!(raw->cmd->opt_sets & TP_OPTS_TPM))
		return 0;
	return nonempty(raw, TP_OPT_TCTI, err) < 0 ? -1 : check_tcti(raw, val(raw, TP_OPT_TCTI), 0, err);
}

/* The thing this device is (batch has none: each CSR names its thing;
 * status reads it from the record), then the TPM. */
static int check_thing_and_tcti(const struct tp_raw_options *raw, struct tp_error *err)
{
	const char *v = val(raw, TP_OPT_THING_NAME);
	size_t n;

	if (!(raw->cmd->opt_sets & TP_OPTS_DEVICE))
		return check_tcti_option(raw, err);
	if (!v)
		return tp_error_set(err, EX_USAGE,
				    "no thing name: give --thing-name or \"thing-name\" in the config file");
	n = strlen(v);
	if (n == 0 || n > 128 || !all_chars(v, ":_-", true))
		return bad_value(raw, TP_OPT_THING_NAME, "is not a valid thing name (1-128 of A-Z a-z 0-9 : _ -)", err);
	return check_tcti_option(raw, err);
}

/* The names of the key algorithms (of RSA keys only: rsa_only), joined by
 * sep, for a message; NULL when out of memory. */
static char *key_alg_names(bool rsa_only, const char *sep)
{
	char **names = NULL, *joined;
	const char *name;
	int i;

	for (i = 0; (name = tpm_key_alg_name(i)); i++)
		if ((!rsa_only || tpm_key_alg_is_rsa(i)) && tp_strv_push_copy(&names, name) < 0) {
			tp_strv_free(names);
			return NULL;
		}
	joined = tp_strv_join(names, sep);
	tp_strv_free(names);
	return joined;
}

/* --key-alg names none of the table's algorithms. */
static int bad_key_alg(const struct tp_raw_options *raw, struct tp_error *err)
{
	_cleanup_free_ char *names = key_alg_names(false, ", "), *why = NULL;

	if (!names || asprintf(&why, "is not a key algorithm (%s)", names) < 0)
		return tp_error_oom(err);
	return bad_value(raw, TP_OPT_KEY_ALG, why, err);
}

/* --rsa-pss with a key that is not RSA. */
static int bad_pss_key(const struct tp_raw_options *raw, struct tp_error *err)
{
	_cleanup_free_ char *names = key_alg_names(true, " or ");

	if (!names)
		return tp_error_oom(err);
	return tp_error_set(err, raw->v[TP_OPT_RSA_PSS].origin == TP_FROM_CONFIG ? EX_CONFIG : EX_USAGE,
			    "rsa-pss needs an RSA key (key-alg %s), not %s", names, val(raw, TP_OPT_KEY_ALG));
}

static int parse_key(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	int alg;

	o->key.handle = 0;
	if (val(raw, TP_OPT_KEY_HANDLE) && tp_keyloc_parse_handle(val(raw, TP_OPT_KEY_HANDLE), &o->key.handle) < 0)
		return bad_value(raw, TP_OPT_KEY_HANDLE, "is not a persistent handle in 0x81000000-0x817FFFFF", err);
	if (o->key.handle == TPM_SRK_HANDLE)
		return bad_value(raw, TP_OPT_KEY_HANDLE, "is the storage root key's handle", err);
	alg = tpm_key_alg_parse(val(raw, TP_OPT_KEY_ALG));
	if (alg < 0)
		return bad_key_alg(raw, err);
	o->key_alg = (enum tpm_key_alg)alg;
	o->rsa_pss = flag(raw, TP_OPT_RSA_PSS);
	if (o->rsa_pss && !tpm_key_alg_is_rsa(o->key_alg))
		return bad_pss_key(raw, err);
	o->force_new_key = flag(raw, TP_OPT_FORCE_NEW_KEY);
	return nonempty(raw, TP_OPT_KEY_FILE, err) < 0 || nonempty(raw, TP_OPT_KEY_AUTH_FILE, err) < 0 ? -1 : 0;
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
 * http:// only to loopback and only when explicitly allowed.  A trailing
 * slash is dropped. */
static int check_endpoint(struct tp_raw_options *raw, struct tp_error *err)
{
	char *url = raw->v[TP_OPT_ENDPOINT_URL].str;
	size_t n, scheme;

	if (strncmp(url, "https://", 8) == 0)
		scheme = 8;
	else if (strncmp(url, "http://", 7) == 0 && flag(raw, TP_OPT_INSECURE_HTTP_LOOPBACK))
		scheme = 7;
	else
		return bad_value(raw, TP_OPT_ENDPOINT_URL, "must start with https://", err);
	if (scheme == 7 && !loopback_host(url + scheme))
		return bad_value(raw, TP_OPT_ENDPOINT_URL,
				 "is plain http to a host that is not loopback (127.0.0.0/8, [::1], localhost)", err);
	if (!url[scheme] || url[scheme] == '/' || strpbrk(url, "?#@ \t\r\n\\"))
		return bad_value(raw, TP_OPT_ENDPOINT_URL, "is not a plain https://host[:port] URL", err);
	n = strlen(url);
	while (n > scheme && url[n - 1] == '/')
		url[--n] = '\0';
	return 0;
}

int tp_endpoint_for_region(const char *region, char **ret_url, struct tp_error *err)
{
	const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";

	return asprintf(ret_url, "https://iot.%s.%s", region, suffix) < 0 ? tp_error_oom(err) : 0;
}

static int parse_deadline(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *v = val(raw, TP_OPT_DEADLINE);
	unsigned long secs;
	char *end;

	o->deadline = TP_DEFAULT_DEADLINE;
	if (!v)
		return 0;
	secs = isdigit((unsigned char)*v) ? strtoul(v, &end, 10) : 0;
	if (!isdigit((unsigned char)*v) || *end || secs < 1 || secs > 86400)
		return bad_value(raw, TP_OPT_DEADLINE, "is not a number of seconds from 1 to 86400", err);
	o->deadline = (unsigned)secs;
	return 0;
}

/* The regions of AWS's partitions (aws, aws-cn, aws-us-gov), as the AWS
 * SDKs of Debian 12 know them.  Only an endpoint derived from the region
 * needs it to be one of these: a typo then fails at once instead of as
 * DNS failures retried until the deadline.  With --endpoint-url the region
 * only signs, and any well-formed name is taken (a region newer than this
 * list, too). */
static const char *const known_regions[] = {
	"af-south-1",	  "ap-east-1",	    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
	"ap-south-2",	  "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
	"ap-southeast-7", "ca-central-1",   "ca-west-1",      "cn-north-1",	"cn-northwest-1", "eu-central-1",
	"eu-central-2",	  "eu-north-1",	    "eu-south-1",     "eu-south-2",	"eu-west-1",	  "eu-west-2",
	"eu-west-3",	  "il-central-1",   "me-central-1",   "me-south-1",	"mx-central-1",	  "sa-east-1",
	"us-east-1",	  "us-east-2",	    "us-gov-east-1",  "us-gov-west-1",	"us-west-1",	  "us-west-2",
};

static int check_region(const struct tp_raw_options *raw, struct tp_error *err)
{
	const char *v = val(raw, TP_OPT_REGION), *hint = NULL;
	size_t i, d, best = SIZE_MAX;

	for (i = 0; i < sizeof(known_regions) / sizeof(known_regions[0]); i++) {
		if (strcmp(v, known_regions[i]) == 0)
			return 0;
		d = tp_edit_distance(v, known_regions[i]);
		if (d < best) {
			best = d;
			hint = known_regions[i];
		}
	}
	if (best <= 2) {
		bad(raw, TP_OPT_REGION, v, "is not an AWS region", err);
		tp_error_append(err, "did you mean %s?", hint);
		return -1;
	}
	return bad(raw, TP_OPT_REGION, v, "is not an AWS region (us-east-1, eu-west-1, ...; see the README)", err);
}

/* Where the value of opt came from, for a message: "--NAME", ENV (the
 * variable it was read from) or "config PATH". */
static int origin_of(const struct tp_raw_options *raw, enum tp_opt opt, const char *env, char **ret,
		     struct tp_error *err)
{
	int n;

	switch (raw->v[opt].origin) {
	case TP_FROM_CONFIG:
		n = asprintf(ret, "config %s", raw->config_path ? raw->config_path : TP_DEFAULT_CONFIG);
		break;
	case TP_FROM_ENV:
		n = asprintf(ret, "%s", env);
		break;
	default:
		n = asprintf(ret, "--%s", tp_opt_defs[opt].name);
		break;
	}
	return n < 0 ? tp_error_oom(err) : 0;
}

/* The input file opt names (what it is, env the variable it may come
 * from), by the one rule for input files (README, exit codes): opened
 * without blocking, so a FIFO fails at once, and a regular file; missing,
 * not openable or anything else is EX_CONFIG naming it.  Checked here, before
 * the TPM or the service is touched, for a file only a library reads much
 * later. */
static int check_input_file(const struct tp_raw_options *raw, enum tp_opt opt, const char *what, const char *env,
			    struct tp_error *err)
{
	_cleanup_free_ char *from = NULL, *label = NULL;
	_cleanup_close_ int fd = -1;
	const char *path = val(raw, opt);

	if (!path)
		return 0;
	if (origin_of(raw, opt, env, &from, err) < 0)
		return -1;
	if (asprintf(&label, "%s %s (from %s)", what, path, from) < 0)
		return tp_error_oom(err);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return tp_error_set(err, EX_CONFIG, "%s does not exist", label);
	if (fd < 0)
		return tp_error_set(err, EX_CONFIG, "cannot open %s: %s", label, strerror(errno));
	return tp_check_regular(fd, label, err);
}

static int parse_service(struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *v = val(raw, TP_OPT_REGION);
	char *url;

	/* csr and status never talk to the service; install only to attach. */
	if (!(raw->cmd->opt_sets & TP_OPTS_SERVICE) || ((raw->cmd->impl->flags & TP_CMD_CERT_REGISTERED) &&
							!flag(raw, TP_OPT_ATTACH_THING) && !flag(raw, TP_OPT_POLICY)))
		return parse_deadline(raw, o, err);
	if (!v)
		return tp_error_set(err, EX_USAGE, "no region: give --region or set AWS_REGION");
	if (strlen(v) == 0 || strlen(v) > 32 || !all_chars(v, "-", false))
		return bad_value(raw, TP_OPT_REGION, "is not a valid AWS region name", err);
	v = val(raw, TP_OPT_SIGNING_NAME);
	if (strcmp(v, "iot") != 0 && strcmp(v, "execute-api") != 0)
		return bad_value(raw, TP_OPT_SIGNING_NAME, "is not a signing name (iot or execute-api)", err);
	o->insecure_http_loopback = flag(raw, TP_OPT_INSECURE_HTTP_LOOPBACK);
	if (flag(raw, TP_OPT_ENDPOINT_URL)) {
		if (check_endpoint(raw, err) < 0)
			return -1;
	} else {
		if (check_region(raw, err) < 0 || tp_endpoint_for_region(val(raw, TP_OPT_REGION), &url, err) < 0)
			return -1;
		tp_raw_set(&raw->v[TP_OPT_ENDPOINT_URL], TP_FROM_DEFAULT, url, NULL);
	}
	if (nonempty(raw, TP_OPT_CA_BUNDLE, err) < 0 ||
	    check_input_file(raw, TP_OPT_CA_BUNDLE, "CA bundle", "AWS_CA_BUNDLE", err) < 0)
		return -1;
	return parse_deadline(raw, o, err);
}

/* --agent names none of the table's agents. */
static int bad_agent(const struct tp_raw_options *raw, const char *name, struct tp_error *err)
{
	_cleanup_free_ char *names = tp_agent_names(~0u, ", "), *why = NULL;

	if (!names || asprintf(&why, "names an agent other than %s", names) < 0)
		return tp_error_oom(err);
	return bad(raw, TP_OPT_AGENT, name, why, err);
}

/* Each --agent names an agent this program can configure. */
static int parse_agents(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const struct tp_agent_info *a;
	char **item;

	o->agents = 0;
	for (item = raw->v[TP_OPT_AGENT].items; item && *item; item++) {
		a = tp_agent_lookup(*item);
		if (!a)
			return bad_agent(raw, *item, err);
		o->agents |= a->bit;
	}
	return 0;
}

/* --owner USER[:GROUP]: the agent's account; the user's group by default. */
static int parse_owner(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *spec = val(raw, TP_OPT_OWNER);
	_cleanup_free_ char *user = NULL;
	struct passwd *pw;
	struct group *gr;
	char *colon;

	o->owner_uid = (uid_t)-1;
	o->owner_gid = (gid_t)-1;
	if (!spec)
		return 0;
	if (!(user = strdup(spec)))
		return tp_error_oom(err);
	colon = strchr(user, ':');
	if (colon)
		*colon = '\0';
	pw = getpwnam(user);
	if (!pw)
		return bad_value(raw, TP_OPT_OWNER, "names no user on this system", err);
	gr = colon ? getgrnam(colon + 1) : NULL;
	if (colon && !gr)
		return bad_value(raw, TP_OPT_OWNER, "names no group on this system", err);
	o->owner_uid = pw->pw_uid;
	o->owner_gid = gr ? gr->gr_gid : pw->pw_gid;
	return 0;
}

/* What agent.env will hold must be representable there: checked before
 * anything is done, not when installing. */
static int check_env_values(const struct tp_raw_options *raw, const struct tp_options *o, struct tp_error *err)
{
	static const enum tp_opt written[] = { TP_OPT_OUT_DIR, TP_OPT_TCTI, TP_OPT_KEY_FILE };
	_cleanup_free_ char *why = NULL;
	const char *problem;
	size_t i;

	if (!tp_agents_env(o->agents))
		return 0;
	for (i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		problem = val(raw, written[i]) ? tp_env_value_problem(val(raw, written[i])) : NULL;
		if (!problem)
			continue;
		if (asprintf(&why, "%s, which agent.env cannot hold", problem) < 0)
			return tp_error_oom(err);
		return bad_value(raw, written[i], why, err);
	}
	return 0;
}

/* tpm2_ptool takes a key's authorization value only on its command line:
 * the PKCS#11 token is not made for such a key. */
static int check_token_key(const struct tp_raw_options *raw, const struct tp_options *o, struct tp_error *err)
{
	_cleanup_free_ char *names = NULL;

	if (!tp_agents_token(o->agents) || !val(raw, TP_OPT_KEY_AUTH_FILE))
		return 0;
	names = tp_agent_names(tp_agents_token(~0u), ", ");
	if (!names)
		return tp_error_oom(err);
	return tp_error_set(err, conflict_code(raw, TP_OPT_AGENT, TP_OPT_KEY_AUTH_FILE),
			    "--key-auth-file cannot be used with the PKCS#11 token's agents (%s)", names);
}

static int parse_install(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *v = val(raw, TP_OPT_IOT_ENDPOINT);

	if (parse_agents(raw, o, err) < 0 || parse_owner(raw, o, err) < 0 || check_env_values(raw, o, err) < 0 ||
	    check_token_key(raw, o, err) < 0)
		return -1;
	if (v && (!*v || strlen(v) > 253 || !all_chars(v, ".-", true)))
		return bad_value(raw, TP_OPT_IOT_ENDPOINT, "is not a host name", err);
	return nonempty(raw, TP_OPT_OUT_DIR, err);
}

/* Names that go into a URL path: libcurl signs the path exactly as written,
 * so only names that need no escaping can be sent. */
#define PATH_NAME_CHARS "letters, digits, - _ ."

/* --attach-thing and --policy: names the service can be sent (batch's
 * things are named by its CSRs). */
static int parse_attach(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	char **p;

	o->attach_thing = flag(raw, TP_OPT_ATTACH_THING);
	if (o->attach_thing && (raw->cmd->opt_sets & TP_OPTS_DEVICE) &&
	    !all_chars(val(raw, TP_OPT_THING_NAME), "-_.", true))
		return bad_value(raw, TP_OPT_THING_NAME,
				 "cannot be attached as a thing by this program (only " PATH_NAME_CHARS ")", err);
	for (p = raw->v[TP_OPT_POLICY].items; p && *p; p++)
		if (!**p || strlen(*p) > 128 || !all_chars(*p, "-_.", true))
			return bad(raw, TP_OPT_POLICY, *p,
				   "is not a policy name this program can attach (1-128 of " PATH_NAME_CHARS ")", err);
	return 0;
}

int tp_raw_count(const struct tp_raw_options *raw, int opt, unsigned long min, unsigned long max, unsigned long *ret,
		 struct tp_error *err)
{
	const char *v = val(raw, opt);
	char *end;
	unsigned long n = isdigit((unsigned char)*v) ? strtoul(v, &end, 10) : 0;

	if (!isdigit((unsigned char)*v) || *end || n < min || n > max)
		return bad_value(raw, opt, "is out of range or not a whole number", err);
	*ret = n;
	return 0;
}

/* --json, -v and -q: every command's. */
static int parse_output(const struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	o->json = flag(raw, TP_OPT_JSON);
	if (flag(raw, TP_OPT_VERBOSE) && flag(raw, TP_OPT_QUIET))
		return tp_error_set(err, EX_USAGE, "-v (--verbose) and -q (--quiet) exclude each other: give one");
	o->verbosity = flag(raw, TP_OPT_VERBOSE) ? 1 : flag(raw, TP_OPT_QUIET) ? -1 : 0;
	return 0;
}

const char *tp_cert_status_name(enum tp_cert_status s)
{
	return s == TP_STATUS_INACTIVE ? "INACTIVE" : "ACTIVE";
}

/* Hand the validated strings over to the typed options. */
static void take_strings(struct tp_raw_options *raw, struct tp_options *o)
{
	size_t i;

	o->thing_name = TAKE_PTR(raw->v[TP_OPT_THING_NAME].str);
	o->tcti = TAKE_PTR(raw->v[TP_OPT_TCTI].str);
	o->out_dir = TAKE_PTR(raw->v[TP_OPT_OUT_DIR].str);
	o->key.file = TAKE_PTR(raw->v[TP_OPT_KEY_FILE].str);
	o->key_auth_file = TAKE_PTR(raw->v[TP_OPT_KEY_AUTH_FILE].str);
	o->region = TAKE_PTR(raw->v[TP_OPT_REGION].str);
	o->endpoint_url = TAKE_PTR(raw->v[TP_OPT_ENDPOINT_URL].str);
	o->signing_name = TAKE_PTR(raw->v[TP_OPT_SIGNING_NAME].str);
	o->ca_bundle = TAKE_PTR(raw->v[TP_OPT_CA_BUNDLE].str);
	o->iot_endpoint = TAKE_PTR(raw->v[TP_OPT_IOT_ENDPOINT].str);
	o->root_ca = TAKE_PTR(raw->v[TP_OPT_ROOT_CA].str);
	o->agent_config = TAKE_PTR(raw->v[TP_OPT_AGENT_CONFIG].str);
	o->cert = TAKE_PTR(raw->v[TP_OPT_CERT].str);
	o->policies = TAKE_PTR(raw->v[TP_OPT_POLICY].items);
	for (i = 0; i < TP_OWN_OPTS_MAX; i++) {
		o->own[i] = raw->v[TP_OPT_OWN(i)];
		raw->v[TP_OPT_OWN(i)] = (struct tp_raw_value){ 0 };
	}
}

int tp_options_from_raw(struct tp_raw_options *raw, struct tp_options *ret, struct tp_error *err)
{
	struct tp_options o = { 0 };
	int (*check_own)(struct tp_raw_options *, struct tp_options *, struct tp_error *) =
		raw->cmd->impl->check_options;

	if (apply_defaults(raw, err) < 0 || check_thing_and_tcti(raw, err) < 0 || parse_key(raw, &o, err) < 0 ||
	    parse_service(raw, &o, err) < 0 || parse_install(raw, &o, err) < 0 || parse_attach(raw, &o, err) < 0 ||
	    parse_output(raw, &o, err) < 0 || (check_own && check_own(raw, &o, err) < 0)) {
		/* A command's check may have taken values into o. */
		tp_options_free(&o);
		return -1;
	}
	take_strings(raw, &o);
	*ret = o;
	return 0;
}

void tp_options_free(struct tp_options *o)
{
	size_t i;

	if (!o)
		return;
	free(o->thing_name);
	free(o->tcti);
	free(o->out_dir);
	tp_keyloc_free(&o->key);
	free(o->key_auth_file);
	free(o->region);
	free(o->endpoint_url);
	free(o->signing_name);
	free(o->ca_bundle);
	free(o->iot_endpoint);
	free(o->root_ca);
	free(o->agent_config);
	free(o->cert);
	free(o->ca_cert);
	tp_strv_free(o->policies);
	free(o->csr_out);
	free(o->csr_dir);
	for (i = 0; i < TP_OWN_OPTS_MAX; i++) {
		free(o->own[i].str);
		tp_strv_free(o->own[i].items);
	}
	*o = (struct tp_options){ 0 };
}
