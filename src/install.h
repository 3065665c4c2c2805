/* The install step: everything the device's IoT agent needs, each file
 * replaced atomically, state.json last. */
#ifndef TP_INSTALL_H
#define TP_INSTALL_H

#include <sys/types.h>

#include <openssl/x509.h>

#include "err.h"
#include "state.h"

#define TP_ROOT_CA_FILE "root-ca.pem"
#define TP_KEY_FILE_COPY "key.tss2.pem"
#define TP_AGENT_ENV_FILE "agent.env"
#define TP_OPENSSL_CNF_FILE "openssl.cnf"

struct tp_install_files {
	const char *dir;
	X509 *cert;                /* already checked against the TPM key */
	const char *root_ca;       /* file to install as root-ca.pem */
	const char *key_file;      /* key-file mode: installed as key.tss2.pem */
	const char *tcti;          /* for the agent's tpm2 provider */
	const char *agents;        /* comma-separated, or NULL */
	const char *agent_config;  /* aws-iot-device-client config path */
	uid_t uid;                 /* owner, or (uid_t)-1 */
	gid_t gid;
	const struct tp_state *state;
};

/* root-ca.pem (0644), key.tss2.pem (0640, key-file mode), certificate.pem
 * (0644), the agents' configuration, then state.json (0644): the record
 * that makes the device count as provisioned. */
int tp_install(const struct tp_install_files *in, struct tp_error *err);

#endif
