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
#include "src/device/install.h"
#include "tpm/tpm.h"

#define TP_DEFAULT_CONFIG "/etc/tpm-provision/config.json"
#define TP_DEFAULT_TCTI "device:/dev/tpmrm0"
#define TP_DEFAULT_OUT_DIR "/var/lib/tpm-provision"
#define TP_DEFAULT_DEADLINE 300
#define TP_DEFAULT_PARALLEL 10
#define TP_DEFAULT_ROOT_CA "/etc/ssl/certs/Amazon_Root_CA_1.pem"
#define TP_DEFAULT_KEY_ALG TPM_ALG_ECC_P256
#define TP_DEFAULT_AGENT_CONFIG "/etc/.aws-iot-device-client/aws-iot-device-client.conf"

/* Which subcommands take an option. */
enum tp_cmd {
	TP_CMD_ENROLL = 1 << 0,
	TP_CMD_REGISTER = 1 << 1,
	TP_CMD_CSR = 1 << 2,
	TP_CMD_INSTALL = 1 << 3,
	TP_CMD_BATCH = 1 << 4,
	TP_CMD_STATUS = 1 << 5,
	TP_CMD_CHECK = 1 << 6,
};

enum tp_cert_status { TP_STATUS_ACTIVE = 0, TP_STATUS_INACTIVE };

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
	/* register */
	char *cert;
	char *ca_cert;
	bool no_ca;
	enum tp_cert_status status;
	/* csr */
	char *csr_out;
	/* batch */
	char *csr_dir;
	unsigned parallel; /* requests in flight at most */
	double rate;	   /* requests per second at most, 0: no cap */
	bool json;	   /* results as JSON lines on stdout */
	bool resend_unanswered;
	int verbosity; /* -1 -q, 0, 1 -v */
};

/* Parse everything for subcommand cmd: 0, or TP_HELP when --help was asked
 * for (nothing else is done then). */
int tp_options_load(struct tp_options *ret, enum tp_cmd cmd, int argc, char **argv, struct tp_error *err);

void tp_options_usage(FILE *f, enum tp_cmd cmd);
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
	TP_OPT_CA_CERT,
	TP_OPT_NO_CA,
	TP_OPT_STATUS,
	TP_OPT_OUT,
	TP_OPT_CSR_DIR,
	TP_OPT_PARALLEL,
	TP_OPT_RATE,
	TP_OPT_JSON,
	TP_OPT_RESEND_UNANSWERED,
	TP_OPT_VERBOSE,
	TP_OPT_QUIET,
	TP_OPT__COUNT
};

enum tp_origin { TP_FROM_DEFAULT = 0, TP_FROM_ARGV, TP_FROM_CONFIG, TP_FROM_ENV };

struct tp_raw_value {
	bool set;
	enum tp_origin origin;
	char *str;    /* a string option's value */
	char **items; /* a list option's values, NULL-terminated */
};

struct tp_raw_options {
	enum tp_cmd cmd;
	char *config_path; /* --config, NULL for the default */
	struct tp_raw_value v[TP_OPT__COUNT];
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

#endif
