/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Options: parsed once, from the command line, the config file, the
 * environment and the defaults (in that order of precedence), into one typed
 * struct.  Every value goes through the same validation wherever it came
 * from, and an error names the option the way the user wrote it
 * (--key-handle, or "key-handle" in the config file).
 */
#ifndef TP_OPTIONS_H
#define TP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "src/base/err.h"
#include "src/base/keyloc.h"
#include "src/device/agentfiles.h"
#include "tpm/tpm.h"

#define TP_DEFAULT_CONFIG "/etc/tpm-provision/config.json"
#define TP_DEFAULT_TCTI "device:/dev/tpmrm0"
#define TP_DEFAULT_OUT_DIR "/var/lib/tpm-provision"
#define TP_DEFAULT_DEADLINE 300
#define TP_DEFAULT_ROOT_CA "/etc/ssl/certs/Amazon_Root_CA_1.pem"
#define TP_DEFAULT_KEY_ALG TPM_ALG_ECC_P256
#define TP_DEFAULT_AGENT_CONFIG "/etc/.aws-iot-device-client/aws-iot-device-client.conf"

/* The option sets several commands share; a command's row in the command
 * table (src/cmd/commands.c) lists those it takes.  --config, --help,
 * --out-dir, --json, -v and -q are every command's. */
enum tp_opt_set {
	TP_OPTS_TPM = 1 << 0,	      /* --tcti */
	TP_OPTS_DEVICE = 1 << 1,      /* this device's thing and key: --thing-name, --key-handle, --key-file */
	TP_OPTS_NEW_KEY = 1 << 2,     /* the key to make: --key-alg, --key-auth-file, --rsa-pss */
	TP_OPTS_REPLACE_KEY = 1 << 3, /* --force-new-key */
	TP_OPTS_SERVICE = 1 << 4,     /* AWS IoT: the endpoint, the signing, --attach-thing, --policy */
	TP_OPTS_INSTALL = 1 << 5,     /* the files for the agents */
	TP_OPTS_CERT = 1 << 6,	      /* --cert: a certificate issued elsewhere */
	TP_OPTS_DEADLINE = 1 << 7,    /* --deadline */
	TP_OPTS_EVERY = 1 << 8,	      /* every command's; no row lists it */
};

/* How a command uses its options, beyond the sets it takes. */
enum tp_cmd_flag {
	/* Installs a certificate already registered at the service: the
	 * service only to attach it. */
	TP_CMD_CERT_REGISTERED = 1 << 0,
};

enum tp_opt_kind {
	TP_KIND_STRING,
	TP_KIND_HANDLE, /* a string, or a JSON number */
	TP_KIND_NUMBER, /* a string on the command line, a number (or string) in JSON */
	TP_KIND_FLAG,	/* no value on the command line, true/false in JSON */
	TP_KIND_LIST,	/* repeatable; a string or an array of strings in JSON */
};

/* An option: how it is written, read and listed in --help. */
struct tp_opt_def {
	const char *name;
	const char *arg; /* placeholder in the usage text */
	enum tp_opt_kind kind;
	unsigned sets; /* enum tp_opt_set bits (the shared options); 0 for a command's own */
	bool cli_only; /* a one-off action, not a setting for a file */
	const char *help;
	bool after_json; /* a command's own, listed after --json in --help */
	/* Instead of help, for a value out of a table (the key algorithms,
	 * the agents): the text made from the table, so it never lags. */
	void (*print_help)(FILE *f);
};

/* The options only one command takes, at most this many. */
#define TP_OWN_OPTS_MAX 8

struct tp_command;
struct tp_options;
struct tp_raw_options;

/* What a command's own file (src/cmd/NAME.c) defines. */
struct tp_command_impl {
	int (*run)(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err);
	/* The options only this command takes, ending with { NULL }; their
	 * raw values are raw->v[TP_OPT_OWN(i)]. */
	const struct tp_opt_def *options;
	/* Its checks, after the shared ones: the typed values into o (NULL:
	 * none to make). */
	int (*check_options)(struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err);
	unsigned flags; /* enum tp_cmd_flag bits */
};

/* A row of the command table (src/cmd/commands.c). */
struct tp_command {
	const char *name;
	const char *summary;
	bool own_json;	   /* prints its own JSON, also when it fails */
	unsigned opt_sets; /* enum tp_opt_set bits */
	const struct tp_command_impl *impl;
};

enum tp_cert_status { TP_STATUS_ACTIVE = 0, TP_STATUS_INACTIVE };

enum tp_origin { TP_FROM_DEFAULT = 0, TP_FROM_ARGV, TP_FROM_CONFIG, TP_FROM_ENV };

struct tp_raw_value {
	bool set;
	enum tp_origin origin;
	char *str;    /* a string option's value */
	char **items; /* a list option's values, NULL-terminated */
};

/* The typed configuration of a run. */
struct tp_options {
	char *thing_name;
	char *tcti;
	char *out_dir;
	/* the key */
	struct tp_keyloc key;
	enum tpm_key_alg key_alg;
	char *key_auth_file; /* NULL: the empty authorization */
	bool rsa_pss;
	bool force_new_key;
	/* the service */
	char *region;
	char *endpoint_url; /* given, or derived from the region */
	char *signing_name; /* "iot" or "execute-api" */
	char *ca_bundle;    /* NULL: the system's trust store */
	unsigned deadline;  /* seconds */
	bool insecure_http_loopback;
	/* the install */
	char *iot_endpoint; /* NULL: ask DescribeEndpoint */
	char *root_ca;
	unsigned agents; /* enum tp_agent bits */
	char *agent_config;
	uid_t owner_uid; /* (uid_t)-1 / (gid_t)-1 without --owner */
	gid_t owner_gid;
	/* the identity at the service */
	bool attach_thing; /* CreateThing + AttachThingPrincipal */
	char **policies;   /* AttachPolicy each, NULL-terminated */
	char *cert;	   /* --cert */
	/* Set by the commands' own option checks: register */
	char *ca_cert;
	bool no_ca;
	enum tp_cert_status status;
	/* csr */
	char *csr_out;
	/* batch */
	char *csr_dir;
	unsigned parallel; /* requests in flight at most */
	double rate;	   /* requests per second at most, 0: no cap */
	bool resend_unanswered;
	/* every command's */
	bool json;     /* the result as JSON on stdout */
	int verbosity; /* -1 -q, 0, 1 -v */
	/* A command's own options that its check left as they were. */
	struct tp_raw_value own[TP_OWN_OPTS_MAX];
};

/* Parse everything for command cmd, a row of the table all (which ends
 * with { NULL }: one config file serves every command): 0, or TP_HELP when
 * --help was asked for (nothing else is done then). */
int tp_options_load(struct tp_options *ret, const struct tp_command *all, const struct tp_command *cmd, int argc,
		    char **argv, struct tp_error *err);

/* The options of cmd, a line each, as --help lists them. */
void tp_options_usage(FILE *f, const struct tp_command *cmd);
void tp_options_free(struct tp_options *o);

const char *tp_cert_status_name(enum tp_cert_status s);

/* "https://iot.REGION.amazonaws.com" (".amazonaws.com.cn" for cn-*). */
int tp_endpoint_for_region(const char *region, char **ret_url, struct tp_error *err);

/*
 * The stages of tp_options_load(), for the unit tests and the fuzz
 * harness: raw values with where they came from, then the typed options.
 */
enum tp_opt {
	TP_OPT_THING_NAME,
	TP_OPT_TCTI,
	TP_OPT_KEY_HANDLE,
	TP_OPT_REGION,
	TP_OPT_ENDPOINT_URL,
	TP_OPT_SIGNING_NAME,
	TP_OPT_CA_BUNDLE,
	TP_OPT_OUT_DIR,
	TP_OPT_KEY_ALG,
	TP_OPT_KEY_FILE,
	TP_OPT_KEY_AUTH_FILE,
	TP_OPT_RSA_PSS,
	TP_OPT_FORCE_NEW_KEY,
	TP_OPT_DEADLINE,
	TP_OPT_INSECURE_HTTP_LOOPBACK,
	TP_OPT_IOT_ENDPOINT,
	TP_OPT_ROOT_CA,
	TP_OPT_AGENT,
	TP_OPT_AGENT_CONFIG,
	TP_OPT_OWNER,
	TP_OPT_ATTACH_THING,
	TP_OPT_POLICY,
	TP_OPT_CERT,
	TP_OPT_JSON,
	TP_OPT_VERBOSE,
	TP_OPT_QUIET,
	TP_OPT__COUNT
};

/* The raw value index of a command's own option i. */
#define TP_OPT_OWN(i) (TP_OPT__COUNT + (i))
#define TP_OPT__MAX TP_OPT_OWN(TP_OWN_OPTS_MAX)

struct tp_raw_options {
	const struct tp_command *all; /* the command table */
	const struct tp_command *cmd; /* the row of the command parsed for */
	char *config_path;	      /* --config, NULL for the default */
	struct tp_raw_value v[TP_OPT__MAX];
};

int tp_raw_parse_argv(struct tp_raw_options *raw, int argc, char **argv, struct tp_error *err);
/* Fill the options still unset from a JSON config document.  An unknown key
 * or a value of the wrong type is an error naming the key (EX_CONFIG), and
 * a bad document changes nothing. */
int tp_raw_parse_config(struct tp_raw_options *raw, const char *json, size_t len, const char *path,
			struct tp_error *err);
/* Environment, defaults, validation: the typed options. */
int tp_options_from_raw(struct tp_raw_options *raw, struct tp_options *ret, struct tp_error *err);
void tp_raw_options_free(struct tp_raw_options *raw);

/* Inside src/cli: the table of the shared options (options.c), the
 * definition of option opt (an index of raw->v) of the command raw is
 * parsed for, and setting a raw value from origin, taking str (or items). */
extern const struct tp_opt_def tp_opt_defs[TP_OPT__COUNT];
const struct tp_opt_def *tp_opt_def_of(const struct tp_raw_options *raw, int opt);
void tp_raw_set(struct tp_raw_value *v, enum tp_origin origin, char *str, char **items);

/* For a command's own option checks: the value of option opt (its index
 * in raw->v), whether it is set, a bad value of it (saying where it came
 * from, -1), and a whole number of it in [min, max]. */
const char *tp_raw_str(const struct tp_raw_options *raw, int opt);
bool tp_raw_flag(const struct tp_raw_options *raw, int opt);
int tp_raw_bad_value(const struct tp_raw_options *raw, int opt, const char *why, struct tp_error *err);
int tp_raw_count(const struct tp_raw_options *raw, int opt, unsigned long min, unsigned long max, unsigned long *ret,
		 struct tp_error *err);
/* The string value of opt, taken out of raw. */
char *tp_raw_take_str(struct tp_raw_options *raw, int opt);

#endif
