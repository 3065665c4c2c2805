/* SPDX-License-Identifier: BSD-2-Clause */
/* The install step: everything the device's IoT agent needs, each file
 * replaced atomically, state.json last. */
#ifndef TP_AGENTFILES_H
#define TP_AGENTFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "src/base/err.h"
#include "src/store/state.h"

#define TP_CERT_FILE "certificate.pem"
#define TP_ROOT_CA_FILE "root-ca.pem"
#define TP_KEY_FILE_COPY "key.tss2.pem"
#define TP_AGENT_ENV_FILE "agent.env"
#define TP_OPENSSL_CNF_FILE "openssl.cnf"
/* The device client's copies of the certificate and root CA: a 0700
 * directory, as it requires. */
#define TP_DEVICE_CLIENT_DIR "device-client"

/* The agents install can configure: a bit each, for the rows of the one
 * table of them (install.c), which every layer reads through the lookups
 * below.  Adding one is a bit here, and a row and its writer there. */
enum tp_agent {
	TP_AGENT_DEVICE_CLIENT = 1 << 0, /* aws-iot-device-client's config */
	TP_AGENT_ENV = 1 << 1,		 /* agent.env */
	TP_AGENT_OPENSSL = 1 << 2,	 /* openssl.cnf */
	TP_AGENT_PKCS11 = 1 << 3,	 /* the PKCS#11 token, in agent.env */
};

/* One agent, as the rest of the program knows it; how its configuration
 * is written is its row's, in install.c. */
struct tp_agent_info {
	const char *name;  /* as --agent spells it */
	enum tp_agent bit; /* in tp_install_plan.agents */
	const char *file;  /* what it gets in the output directory (status
			    * lists it), NULL when nothing of its own */
	bool token;	   /* it uses the key through the PKCS#11 token */
};

/* The i-th agent of the table, NULL past the last. */
const struct tp_agent_info *tp_agent_info(size_t i);

/* The agent named name ("env"); NULL for any other name. */
const struct tp_agent_info *tp_agent_lookup(const char *name);

/* Of the agents in the mask agents: those that use the PKCS#11 token,
 * those that get agent.env (as masks). */
unsigned tp_agents_token(unsigned agents);
unsigned tp_agents_env(unsigned agents);

/* The names of the agents in the mask agents (every one: ~0u), joined by
 * sep; NULL when out of memory. */
char *tp_agent_names(unsigned agents, const char *sep);

/* What to install where, from the options. */
struct tp_install_plan {
	const char *dir;	  /* the output directory */
	const char *root_ca;	  /* file to install as root-ca.pem */
	const char *tcti;	  /* for the agent's tpm2 provider */
	unsigned agents;	  /* enum tp_agent bits */
	const char *agent_config; /* aws-iot-device-client config path */
	uid_t uid;		  /* owner, or (uid_t)-1 */
	gid_t gid;
};

/* What can be checked before the TPM or the service is touched: the root
 * CA parses, the device client's config (when configured) is a JSON object
 * in a directory only its owner can write. */
int tp_install_check(const struct tp_install_plan *plan, struct tp_error *err);

/* Why value cannot be written to agent.env ("contains a control
 * character", "is not valid UTF-8 ..."), or NULL when it can. */
const char *tp_env_value_problem(const char *value);

/* root-ca.pem (0644), key.tss2.pem (0640, key-file mode), certificate.pem
 * (0644; cert already checked against the TPM key), the agents'
 * configuration (the PKCS#11 token, when an agent needs it, is made
 * before: src/device/pkcs11.h), then state.json (0644): the record that
 * makes the device count as provisioned. */
int tp_install(const struct tp_install_plan *plan, X509 *cert, const struct tp_state *state, struct tp_error *err);

#endif
