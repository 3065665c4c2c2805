/* Options shared by the subcommands: command line, config file, defaults. */
#ifndef TP_OPTIONS_H
#define TP_OPTIONS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "err.h"
#include "keyalg.h"

#define TP_DEFAULT_CONFIG "/etc/tpm-provision/config.json"
#define TP_DEFAULT_TCTI "device:/dev/tpmrm0"
#define TP_DEFAULT_KEY_HANDLE 0x81000002u
#define TP_SRK_HANDLE 0x81000001u
#define TP_DEFAULT_OUT_DIR "/var/lib/tpm-provision"
#define TP_CONFIG_MAX (64 * 1024)
#define TP_DEFAULT_DEADLINE 300
#define TP_DEFAULT_ROOT_CA "/etc/ssl/certs/Amazon_Root_CA_1.pem"
#define TP_DEFAULT_AGENT_CONFIG "/etc/.aws-iot-device-client/aws-iot-device-client.conf"

/* One entry per long option; the config file uses the same names as keys. */
enum tp_opt {
	TP_OPT_THING_NAME,
	TP_OPT_TCTI,
	TP_OPT_KEY_HANDLE,
	TP_OPT_REGION,
	TP_OPT_ENDPOINT_URL,
	TP_OPT_SIGNING_NAME,
	TP_OPT_CA_BUNDLE,
	TP_OPT_OUT_DIR,
	/* key creation (enroll) */
	TP_OPT_KEY_ALG,
	TP_OPT_KEY_FILE,
	TP_OPT_KEY_AUTH_FILE,
	TP_OPT_RSA_PSS,
	TP_OPT_FORCE_NEW_KEY,
	/* service client */
	TP_OPT_DEADLINE,
	TP_OPT_INSECURE_HTTP_LOOPBACK,
	/* install for the IoT agent */
	TP_OPT_IOT_ENDPOINT,
	TP_OPT_ROOT_CA,
	TP_OPT_AGENT,
	TP_OPT_AGENT_CONFIG,
	TP_OPT_OWNER,
	/* register */
	TP_OPT_CERT,
	TP_OPT_CA_CERT,
	TP_OPT_NO_CA,
	TP_OPT_STATUS,
	TP_OPT__COUNT
};

/* Which subcommands take an option. */
enum tp_cmd { TP_CMD_ENROLL = 1 << 0, TP_CMD_REGISTER = 1 << 1 };

enum tp_origin { TP_FROM_DEFAULT = 0, TP_FROM_ARGV, TP_FROM_CONFIG, TP_FROM_ENV };

struct tp_options {
	char *config_path;            /* --config, NULL for the default */
	char *val[TP_OPT__COUNT];     /* raw values, NULL when unset; a set
				       * flag is "true"; a list is
				       * comma-separated */
	enum tp_origin origin[TP_OPT__COUNT];
	uint32_t key_handle;          /* parsed by tp_options_finish(); 0
				       * with a key file */
	enum tp_key_alg key_alg;      /* parsed by tp_options_finish() */
	unsigned deadline;            /* seconds, parsed by tp_options_finish() */
	uid_t owner_uid;              /* --owner, resolved by tp_options_finish(); */
	gid_t owner_gid;              /* (uid_t)-1 / (gid_t)-1 without one */
};

/* Parse "--name value" / "--name=value" / "--flag" options of subcommand
 * cmd.  Returns 1 when --help was asked for, 0 on success, -1 on error
 * (EX_USAGE). */
int tp_options_parse_argv(struct tp_options *o, enum tp_cmd cmd, int argc,
			  char **argv, struct tp_error *err);

/* Fill the options still unset from a JSON config document.  An unknown key
 * or a value of the wrong type is an error naming the key (EX_CONFIG). */
int tp_config_parse(struct tp_options *o, enum tp_cmd cmd, const char *json, size_t len,
		    const char *path, struct tp_error *err);

/* Read --config, or the default config file when it exists. */
int tp_config_load(struct tp_options *o, enum tp_cmd cmd, struct tp_error *err);

/* The command line, then the config file, then tp_options_finish():
 * what every subcommand does first.  1 when --help was asked for. */
int tp_options_load(struct tp_options *o, enum tp_cmd cmd, int argc, char **argv,
		    struct tp_error *err);

/* Whether a flag option is set. */
int tp_opt_flag(const struct tp_options *o, enum tp_opt opt);

/* Apply environment and defaults, validate every value, derive the
 * endpoint from the region. */
int tp_options_finish(struct tp_options *o, struct tp_error *err);

/* "https://iot.REGION.amazonaws.com" (".amazonaws.com.cn" for cn-*). */
int tp_endpoint_for_region(const char *region, char **ret_url,
			   struct tp_error *err);

/* Parse a persistent handle in the owner range 0x81000000-0x817FFFFF. */
int tp_parse_handle(const char *s, uint32_t *ret_handle);

const char *tp_opt_name(enum tp_opt opt);
void tp_options_usage(FILE *f, enum tp_cmd cmd);
void tp_options_free(struct tp_options *o);

#endif
