/* SPDX-License-Identifier: BSD-2-Clause */
/* The option table and the two parsers: the command line, the config file. */
#include "src/cli/options.h"

#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src/base/cleanup.h"
#include "src/base/spell.h"
#include "src/base/strv.h"
#include "src/store/file.h"
#include "src/store/json.h"

#define CONFIG_MAX (64 * 1024)
#define STR(x) #x
#define XSTR(x) STR(x)

/* --key-alg: the algorithms of the table, the default marked. */
static void key_alg_help(FILE *f)
{
	const char *name;
	int i;

	for (i = 0; (name = tpm_key_alg_name(i)); i++)
		fprintf(f, "%s%s%s", i ? ", " : "", name, i == TP_DEFAULT_KEY_ALG ? " (default)" : "");
}

/* --agent: the agents of the table. */
static void agent_help(FILE *f)
{
	const struct tp_agent_info *a;
	size_t i;

	fputs("configure ", f);
	for (i = 0; (a = tp_agent_info(i)); i++)
		fprintf(f, "%s%s", i ? ", " : "", a->name);
	fputs(" (repeatable)", f);
}

/* The shared options, with the set each is in; a command's own options
 * are declared in its file. */

const struct tp_opt_def tp_opt_defs[TP_OPT__COUNT] = {
	[TP_OPT_THING_NAME] = { "thing-name", "NAME", TP_KIND_STRING, TP_OPTS_DEVICE, false,
				"AWS IoT thing name (certificate CN)" },
	[TP_OPT_TCTI] = { "tcti", "CONF", TP_KIND_STRING, TP_OPTS_TPM, false,
			  "TPM TCTI (default " TP_DEFAULT_TCTI ")" },
	[TP_OPT_KEY_HANDLE] = { "key-handle", "HANDLE", TP_KIND_HANDLE, TP_OPTS_DEVICE, false,
				"persistent key handle (default 0x81000002)" },
	[TP_OPT_REGION] = { "region", "REGION", TP_KIND_STRING, TP_OPTS_SERVICE, false,
			    "AWS region (default $AWS_REGION, $AWS_DEFAULT_REGION)" },
	[TP_OPT_ENDPOINT_URL] = { "endpoint-url", "URL", TP_KIND_STRING, TP_OPTS_SERVICE, false,
				  "certificate API endpoint (default from the region)" },
	[TP_OPT_SIGNING_NAME] = { "signing-name", "NAME", TP_KIND_STRING, TP_OPTS_SERVICE, false,
				  "SigV4 signing name: iot (default) or execute-api" },
	[TP_OPT_CA_BUNDLE] = { "ca-bundle", "FILE", TP_KIND_STRING, TP_OPTS_SERVICE, false,
			       "CA bundle for the endpoint (default $AWS_CA_BUNDLE, system)" },
	[TP_OPT_OUT_DIR] = { "out-dir", "DIR", TP_KIND_STRING, TP_OPTS_EVERY, false,
			     "output directory (default " TP_DEFAULT_OUT_DIR ")" },
	[TP_OPT_KEY_ALG] = { "key-alg", "ALG", TP_KIND_STRING, TP_OPTS_NEW_KEY, false, NULL,
			     .print_help = key_alg_help },
	[TP_OPT_KEY_FILE] = { "key-file", "PATH", TP_KIND_STRING, TP_OPTS_DEVICE, false,
			      "keep the key in a TSS2 key file, not at a handle" },
	[TP_OPT_KEY_AUTH_FILE] = { "key-auth-file", "FILE", TP_KIND_STRING, TP_OPTS_NEW_KEY, false,
				   "file holding the key's authorization value" },
	[TP_OPT_RSA_PSS] = { "rsa-pss", "", TP_KIND_FLAG, TP_OPTS_NEW_KEY, false,
			     "sign the CSR with RSA-PSS (RSA keys)" },
	[TP_OPT_FORCE_NEW_KEY] = { "force-new-key", "", TP_KIND_FLAG, TP_OPTS_REPLACE_KEY, true,
				   "replace the key this program created" },
	[TP_OPT_DEADLINE] = { "deadline", "SECONDS", TP_KIND_NUMBER, TP_OPTS_DEADLINE, false,
			      "give up retrying after this long (default " XSTR(TP_DEFAULT_DEADLINE) ")" },
	[TP_OPT_INSECURE_HTTP_LOOPBACK] = { "insecure-http-loopback", "", TP_KIND_FLAG, TP_OPTS_SERVICE, true,
					    "allow http:// to a loopback endpoint (tests)" },
	[TP_OPT_IOT_ENDPOINT] = { "iot-endpoint", "HOST", TP_KIND_STRING, TP_OPTS_INSTALL, false,
				  "IoT data endpoint for the agent (default: DescribeEndpoint)" },
	[TP_OPT_ROOT_CA] = { "root-ca", "FILE", TP_KIND_STRING, TP_OPTS_INSTALL, false,
			     "CA for the agent (default " TP_DEFAULT_ROOT_CA ")" },
	[TP_OPT_AGENT] = { "agent", "NAME", TP_KIND_LIST, TP_OPTS_INSTALL, false, NULL, .print_help = agent_help },
	[TP_OPT_AGENT_CONFIG] = { "agent-config", "PATH", TP_KIND_STRING, TP_OPTS_INSTALL, false,
				  "aws-iot-device-client config file" },
	[TP_OPT_OWNER] = { "owner", "USER[:GROUP]", TP_KIND_STRING, TP_OPTS_INSTALL, false,
			   "owner of the installed files (the agent's account)" },
	[TP_OPT_ATTACH_THING] = { "attach-thing", "", TP_KIND_FLAG, TP_OPTS_SERVICE, false,
				  "create the thing and attach the certificate to it" },
	[TP_OPT_POLICY] = { "policy", "NAME", TP_KIND_LIST, TP_OPTS_SERVICE, false,
			    "attach this IoT policy to the certificate (repeatable)" },
	[TP_OPT_CERT] = { "cert", "FILE", TP_KIND_STRING, TP_OPTS_CERT, false,
			  "the device certificate (PEM) for the TPM key" },
	[TP_OPT_JSON] = { "json", "", TP_KIND_FLAG, TP_OPTS_EVERY, true,
			  "the result as JSON on stdout (batch: a line per CSR)" },
	[TP_OPT_VERBOSE] = { "verbose", "", TP_KIND_FLAG, TP_OPTS_EVERY, true,
			     "-v: also debug lines (HTTP status, request ids)" },
	[TP_OPT_QUIET] = { "quiet", "", TP_KIND_FLAG, TP_OPTS_EVERY, true, "-q: only errors on stderr" },
};

enum { OPT_CONFIG = TP_OPT__MAX, OPT_HELP };

const struct tp_opt_def *tp_opt_def_of(const struct tp_raw_options *raw, int opt)
{
	return opt < TP_OPT__COUNT ? &tp_opt_defs[opt] : &raw->cmd->impl->options[opt - TP_OPT__COUNT];
}

/* Whether command cmd takes shared option i. */
static bool takes(const struct tp_command *cmd, int i)
{
	return (tp_opt_defs[i].sets & (cmd->opt_sets | TP_OPTS_EVERY)) != 0;
}

typedef void (*option_visitor)(const struct tp_opt_def *def, int opt, void *data);

/* The own options of cmd, or of every command of all when cmd is NULL
 * (opt then -1), listed before --json or after it. */
static void visit_own(const struct tp_command *all, const struct tp_command *cmd, bool after_json, option_visitor visit,
		      void *data)
{
	const struct tp_command *c;
	const struct tp_opt_def *d;

	for (c = cmd ? cmd : all; c && c->name; c = cmd ? NULL : c + 1)
		for (d = c->impl->options; d && d->name; d++)
			if (d->after_json == after_json)
				visit(d, cmd ? TP_OPT_OWN((int)(d - c->impl->options)) : -1, data);
}

/* Visit the options of cmd (NULL: of every command of all, a shared one
 * once) in the order --help lists them: the shared ones in the table's
 * order, with the command's own before --json. */
static void visit_options(const struct tp_command *all, const struct tp_command *cmd, option_visitor visit, void *data)
{
	int i;

	for (i = 0; i < TP_OPT__COUNT; i++) {
		if (i == TP_OPT_JSON)
			visit_own(all, cmd, false, visit, data);
		if (!cmd || takes(cmd, i))
			visit(&tp_opt_defs[i], i, data);
		if (i == TP_OPT_JSON)
			visit_own(all, cmd, true, visit, data);
	}
}

static void print_option(const struct tp_opt_def *def, int opt, void *data)
{
	char left[64];

	(void)opt;
	snprintf(left, sizeof(left), "--%s %s", def->name, def->arg);
	fprintf(data, "  %-28s ", left);
	if (def->print_help)
		def->print_help(data);
	else
		fputs(def->help, data);
	fputc('\n', data);
}

void tp_options_usage(FILE *f, const struct tp_command *cmd)
{
	fprintf(f, "  %-28s %s\n", "--config FILE", "config file (default " TP_DEFAULT_CONFIG " if present)");
	visit_options(NULL, cmd, print_option, f);
}

void tp_raw_set(struct tp_raw_value *v, enum tp_origin origin, char *str, char **items)
{
	free(v->str);
	tp_strv_free(v->items);
	*v = (struct tp_raw_value){ .set = true, .origin = origin, .str = str, .items = items };
}

/* One option from the command line. */
static int take_argv(struct tp_raw_options *raw, int opt, const char *arg, struct tp_error *err)
{
	struct tp_raw_value *v = &raw->v[opt];
	char *copy = arg ? strdup(arg) : NULL;
	char **items;

	if (arg && !copy)
		return tp_error_oom(err);
	if (tp_opt_def_of(raw, opt)->kind != TP_KIND_LIST) {
		tp_raw_set(v, TP_FROM_ARGV, copy, NULL);
		return 0;
	}
	items = TAKE_PTR(v->items);
	if (tp_strv_push(&items, copy) < 0) {
		tp_strv_free(items);
		return tp_error_oom(err);
	}
	tp_raw_set(v, TP_FROM_ARGV, NULL, items);
	return 0;
}

struct longopts {
	struct option *opts;
	int n;
};

static void add_longopt(const struct tp_opt_def *def, int opt, void *data)
{
	struct longopts *l = data;

	l->opts[l->n++] =
		(struct option){ def->name, def->kind == TP_KIND_FLAG ? no_argument : required_argument, NULL, opt };
}

static void build_longopts(const struct tp_command *cmd, struct option *longopts)
{
	struct longopts l = { longopts, 0 };

	visit_options(NULL, cmd, add_longopt, &l);
	longopts[l.n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[l.n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	longopts[l.n] = (struct option){ NULL, 0, NULL, 0 };
}

struct closest {
	const char *name;
	const char *best;
	size_t best_d;
};

static void consider(const char *candidate, struct closest *c)
{
	size_t d = tp_edit_distance(c->name, candidate);

	if (tp_close_enough(c->name, candidate) && d < c->best_d) {
		c->best = candidate;
		c->best_d = d;
	}
}

static void consider_option(const struct tp_opt_def *def, int opt, void *data)
{
	(void)opt;
	consider(def->name, data);
}

/* The closest option of cmd (NULL: of any command of all) to name (for a
 * suggestion), or NULL. */
static const char *closest_option(const struct tp_command *all, const struct tp_command *cmd, const char *name)
{
	struct closest c = { .name = name, .best_d = SIZE_MAX };

	visit_options(all, cmd, consider_option, &c);
	consider("config", &c);
	return c.best;
}

struct prefixes {
	const char *name;
	char *list;
	size_t n, used;
	int count;
	bool exact;
};

static void consider_prefix(const char *candidate, struct prefixes *p)
{
	size_t len = strlen(p->name);

	if (strncmp(candidate, p->name, len) != 0)
		return;
	p->count++;
	p->exact = p->exact || !candidate[len];
	if (p->used < p->n)
		p->used += (size_t)snprintf(p->list + p->used, p->n - p->used, ", --%s", candidate);
}

static void consider_prefix_option(const struct tp_opt_def *def, int opt, void *data)
{
	(void)opt;
	consider_prefix(def->name, data);
}

/* The options of cmd (and --config, --help) that name starts, as
 * ", --a, --b" into list (of size n); how many there are.  *exact: one of
 * them is name. */
static int prefix_of(const struct tp_command *cmd, const char *name, char *list, size_t n, bool *exact)
{
	struct prefixes p = { .name = name, .list = list, .n = n };

	list[0] = '\0';
	visit_options(NULL, cmd, consider_prefix_option, &p);
	consider_prefix("config", &p);
	consider_prefix("help", &p);
	*exact = p.exact;
	return p.count;
}

struct lookup {
	const char *name;
	const struct tp_opt_def *def;
	int opt;
};

static void match_name(const struct tp_opt_def *def, int opt, void *data)
{
	struct lookup *l = data;

	if (!l->def && strcmp(def->name, l->name) == 0) {
		l->def = def;
		l->opt = opt;
	}
}

/* The option named name of cmd (NULL: of any command of all): its
 * definition and its index (-1 for another command's own), or NULL. */
static const struct tp_opt_def *find_option(const struct tp_command *all, const struct tp_command *cmd,
					    const char *name, int *ret_opt)
{
	struct lookup l = { .name = name, .opt = -1 };

	visit_options(all, cmd, match_name, &l);
	*ret_opt = l.opt;
	return l.def;
}

/* "--name[=value]" as typed: an unknown option, with the closest one; one
 * of another command's; or an abbreviation, which is not accepted (a
 * script that works today must not break when an option is added): of one
 * option, named; of several, all listed. */
static int bad_option(const struct tp_raw_options *raw, const char *token, struct tp_error *err)
{
	_cleanup_free_ char *name = strndup(token + 2, strcspn(token + 2, "="));
	char list[512];
	const char *hint;
	bool exact = false;
	int i;

	if (!name || strncmp(token, "--", 2) != 0)
		return name ? tp_error_set(err, EX_USAGE, "unknown option \"%s\"", token) : tp_error_oom(err);
	if (!find_option(raw->all, raw->cmd, name, &i) && find_option(raw->all, NULL, name, &i))
		return tp_error_set(err, EX_USAGE, "option \"--%s\" is not one of this command's (see --help)", name);
	i = *name ? prefix_of(raw->cmd, name, list, sizeof(list), &exact) : 0;
	/* Written out, and still refused: a flag given a value. */
	if (exact && strchr(token, '='))
		return tp_error_set(err, EX_USAGE, "option \"--%s\" takes no value", name);
	if (i > 1)
		return tp_error_set(err, EX_USAGE, "option \"--%s\" is ambiguous (%s): write one out", name, list + 2);
	if (i == 1)
		return tp_error_set(err, EX_USAGE, "option \"--%s\" is abbreviated: write it out, %s", name, list + 2);
	hint = closest_option(raw->all, raw->cmd, name);
	if (hint)
		return tp_error_set(err, EX_USAGE, "unknown option \"--%s\": did you mean --%s?", name, hint);
	return tp_error_set(err, EX_USAGE, "unknown option \"--%s\"", name);
}

/* Whether token names the long option name exactly. */
static bool spelled_out(const char *token, const char *name)
{
	size_t n = strlen(name);

	return strncmp(token, "--", 2) == 0 && strncmp(token + 2, name, n) == 0 &&
	       (!token[n + 2] || token[n + 2] == '=');
}

int tp_raw_parse_argv(struct tp_raw_options *raw, int argc, char **argv, struct tp_error *err)
{
	struct option longopts[TP_OPT__MAX + 3];
	int c, at, index;

	build_longopts(raw->cmd, longopts);
	/* 0, not 1: getopt starts over, forgetting where it was in the last
	 * argv it parsed (inside "-hx", say).  "+": no reordering, so the
	 * option's own word is where getopt started. */
	optind = 0;
	opterr = 0;
	for (;;) {
		at = optind ? optind : 1;
		index = -1;
		c = getopt_long(argc, argv, "+:hvq", longopts, &index);
		if (c == -1)
			break;
		if (c == 'v' || c == 'q')
			c = c == 'v' ? TP_OPT_VERBOSE : TP_OPT_QUIET;
		if (index >= 0 && !spelled_out(argv[at], longopts[index].name))
			return bad_option(raw, argv[at], err);
		if (c == 'h' || c == OPT_HELP)
			return TP_HELP;
		if (c == ':')
			return tp_error_set(err, EX_USAGE, "option %s needs a value", argv[optind - 1]);
		if (c == '?')
			return bad_option(raw, argv[at], err);
		if (c == OPT_CONFIG) {
			free(raw->config_path);
			if (!(raw->config_path = strdup(optarg)))
				return tp_error_oom(err);
		} else if (take_argv(raw, c, optarg, err) < 0) {
			return -1;
		}
	}
	if (optind < argc)
		return tp_error_set(err, EX_USAGE, "unexpected argument \"%s\"", argv[optind]);
	return 0;
}

/* A config file key: -1 when no command knows it, TP_OPT__MAX when it is
 * for other commands than cmd (one file serves them all). */
static int find_opt(const struct tp_raw_options *raw, const char *name)
{
	const struct tp_opt_def *def;
	int opt;

	def = find_option(raw->all, raw->cmd, name, &opt);
	if (def)
		return def->cli_only ? -1 : opt;
	def = find_option(raw->all, NULL, name, &opt);
	return def && !def->cli_only ? TP_OPT__MAX : -1;
}

/* A JSON array of strings. */
static int config_list(const cJSON *array, const char *path, struct tp_raw_value *v, struct tp_error *err)
{
	const cJSON *item;
	char **items = calloc(1, sizeof(*items));

	if (!items)
		return tp_error_oom(err);
	cJSON_ArrayForEach(item, array)
	{
		if (!cJSON_IsString(item)) {
			tp_strv_free(items);
			return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" must be an array of names", path,
					    array->string);
		}
		if (tp_strv_push_copy(&items, item->valuestring) < 0) {
			tp_strv_free(items);
			return tp_error_oom(err);
		}
	}
	tp_raw_set(v, TP_FROM_CONFIG, NULL, items);
	return 0;
}

/* A number where one is allowed: a handle, given as a JSON number. */
static int config_number(const cJSON *item, const char *path, struct tp_raw_value *v, struct tp_error *err)
{
	double d = cJSON_GetNumberValue(item);
	char *s;

	if (d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d)
		return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" is not a valid number", path, item->string);
	if (asprintf(&s, "0x%08x", (uint32_t)d) < 0)
		return tp_error_oom(err);
	tp_raw_set(v, TP_FROM_CONFIG, s, NULL);
	return 0;
}

/* The JSON value of a key into v (left unset for a false flag). */
static int config_value(const cJSON *item, enum tp_opt_kind kind, const char *path, struct tp_raw_value *v,
			struct tp_error *err)
{
	char *s, **items;

	if (kind == TP_KIND_FLAG) {
		if (!cJSON_IsBool(item))
			return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" must be true or false", path,
					    item->string);
		if (cJSON_IsTrue(item))
			tp_raw_set(v, TP_FROM_CONFIG, NULL, NULL);
		return 0;
	}
	if (kind == TP_KIND_LIST && cJSON_IsArray(item))
		return config_list(item, path, v, err);
	if (kind == TP_KIND_HANDLE && cJSON_IsNumber(item))
		return config_number(item, path, v, err);
	if (kind == TP_KIND_NUMBER && cJSON_IsNumber(item)) {
		/* The same text the command line would give. */
		if (asprintf(&s, "%.17g", cJSON_GetNumberValue(item)) < 0)
			return tp_error_oom(err);
		tp_raw_set(v, TP_FROM_CONFIG, s, NULL);
		return 0;
	}
	if (!cJSON_IsString(item))
		return tp_error_set(err, EX_CONFIG, "config %s: \"%s\" must be a %s", path, item->string,
				    kind == TP_KIND_HANDLE || kind == TP_KIND_NUMBER ? "string or a number"
				    : kind == TP_KIND_LIST			     ? "string or an array of strings"
										     : "string");
	if (!(s = strdup(item->valuestring)))
		return tp_error_oom(err);
	if (kind != TP_KIND_LIST) {
		tp_raw_set(v, TP_FROM_CONFIG, s, NULL);
		return 0;
	}
	items = NULL;
	if (tp_strv_push(&items, s) < 0)
		return tp_error_oom(err);
	tp_raw_set(v, TP_FROM_CONFIG, NULL, items);
	return 0;
}

static void raw_values_free(struct tp_raw_value *v)
{
	int i;

	for (i = 0; i < TP_OPT__MAX; i++) {
		free(v[i].str);
		tp_strv_free(v[i].items);
	}
}

static int unknown_key(const struct tp_raw_options *raw, const char *path, const char *key, struct tp_error *err)
{
	const char *hint = closest_option(raw->all, NULL, key);

	if (hint && strcmp(hint, "config") != 0)
		return tp_error_set(err, EX_CONFIG, "config %s: unknown key \"%s\": did you mean \"%s\"?", path, key,
				    hint);
	return tp_error_set(err, EX_CONFIG, "config %s: unknown key \"%s\"", path, key);
}

/* Check every key before taking anything: a bad file changes nothing. */
static int config_values(const cJSON *root, const struct tp_raw_options *raw, const char *path,
			 struct tp_raw_value *values, struct tp_error *err)
{
	bool seen[TP_OPT__MAX] = { 0 };
	const cJSON *item;
	int opt;

	cJSON_ArrayForEach(item, root)
	{
		opt = find_opt(raw, item->string);
		if (opt < 0)
			return unknown_key(raw, path, item->string, err);
		if (opt == TP_OPT__MAX)
			continue;
		if (seen[opt])
			return tp_error_set(err, EX_CONFIG, "config %s: key \"%s\" appears twice", path, item->string);
		seen[opt] = true;
		if (config_value(item, tp_opt_def_of(raw, opt)->kind, path, &values[opt], err) < 0)
			return -1;
	}
	return 0;
}

/* Whether the n bytes at s are all JSON whitespace (s need not end in NUL). */
static bool only_space(const char *s, size_t n)
{
	for (; n > 0; s++, n--)
		if (!memchr(" \t\r\n", *s, 4))
			return false;
	return true;
}

int tp_raw_parse_config(struct tp_raw_options *raw, const char *json, size_t len, const char *path,
			struct tp_error *err)
{
	struct tp_raw_value values[TP_OPT__MAX] = { 0 };
	_cleanup_free_ char *what = NULL;
	const char *end = NULL;
	cJSON *root = NULL;
	int i, r = -1;

	if (asprintf(&what, "config %s", path) < 0)
		return tp_error_oom(err);
	/* Before parsing: cJSON takes what JSON forbids (a raw NUL cuts a
	 * string short). */
	if (tp_json_check_text(json, len, what, EX_CONFIG, err) < 0)
		return -1;
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root)
		tp_error_set(err, EX_CONFIG, "config %s: not valid JSON", path);
	else if (end && !only_space(end, len - (size_t)(end - json)))
		tp_error_set(err, EX_CONFIG, "config %s: text after the JSON object (at byte %zu)", path,
			     (size_t)(end - json));
	else if (!cJSON_IsObject(root))
		tp_error_set(err, EX_CONFIG, "config %s: the top level must be a JSON object", path);
	else if (config_values(root, raw, path, values, err) == 0)
		r = 0;
	for (i = 0; r == 0 && i < TP_OPT__MAX; i++) {
		if (values[i].set && !raw->v[i].set) {
			raw->v[i] = values[i];
			values[i] = (struct tp_raw_value){ 0 };
		}
	}
	raw_values_free(values);
	cJSON_Delete(root);
	return r;
}

/* Read --config, or the default config file when it exists. */
static int config_load(struct tp_raw_options *raw, struct tp_error *err)
{
	const char *path = raw->config_path ? raw->config_path : TP_DEFAULT_CONFIG;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = tp_read_file(path, CONFIG_MAX, &buf, &len, err);
	if (r < 0) {
		err->exit_code = EX_CONFIG;
		return -1;
	}
	if (r == TP_MISSING) {
		/* Missing: fine for the default file, an error for --config. */
		if (raw->config_path)
			return tp_error_set(err, EX_CONFIG, "config %s: no such file", path);
		return 0;
	}
	return tp_raw_parse_config(raw, buf, len, path, err);
}

void tp_raw_options_free(struct tp_raw_options *raw)
{
	if (!raw)
		return;
	free(raw->config_path);
	raw_values_free(raw->v);
	memset(raw, 0, sizeof(*raw));
}

int tp_options_load(struct tp_options *ret, const struct tp_command *all, const struct tp_command *cmd, int argc,
		    char **argv, struct tp_error *err)
{
	struct tp_raw_options raw = { .all = all, .cmd = cmd };
	int r;

	r = tp_raw_parse_argv(&raw, argc, argv, err);
	if (r == 0 && config_load(&raw, err) < 0)
		r = -1;
	if (r == 0)
		r = tp_options_from_raw(&raw, ret, err);
	tp_raw_options_free(&raw);
	return r;
}
