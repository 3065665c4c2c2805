/* SPDX-License-Identifier: BSD-2-Clause */
/* The command table; see commands.h. */
#include "src/cmd/commands.h"

#include <string.h>

/* Each defined in its command's file. */
extern const struct tp_command_impl tp_cmd_enroll, tp_cmd_register, tp_cmd_csr, tp_cmd_install, tp_cmd_batch,
	tp_cmd_status, tp_cmd_check;

/* The option sets of the commands that provision this device. */
#define PROVISIONS (TP_OPTS_TPM | TP_OPTS_DEVICE | TP_OPTS_DEADLINE)

const struct tp_command tp_commands[] = {
	{ "enroll", "create the TPM key, get a certificate for it with a CSR, install it", false,
	  PROVISIONS | TP_OPTS_NEW_KEY | TP_OPTS_REPLACE_KEY | TP_OPTS_SERVICE | TP_OPTS_INSTALL, &tp_cmd_enroll },
	{ "register", "register the TPM key's existing certificate, install it", false,
	  PROVISIONS | TP_OPTS_SERVICE | TP_OPTS_INSTALL | TP_OPTS_CERT, &tp_cmd_register },
	{ "csr", "create the TPM key and write a CSR for it (offline)", false,
	  PROVISIONS | TP_OPTS_NEW_KEY | TP_OPTS_REPLACE_KEY, &tp_cmd_csr },
	{ "install", "install a certificate for the TPM key obtained elsewhere", false,
	  PROVISIONS | TP_OPTS_SERVICE | TP_OPTS_INSTALL | TP_OPTS_CERT, &tp_cmd_install },
	{ "batch", "certificates for a directory of CSRs (factory; no TPM)", true, TP_OPTS_SERVICE | TP_OPTS_DEADLINE,
	  &tp_cmd_batch },
	{ "status", "what this device is provisioned as, offline", true, TP_OPTS_TPM, &tp_cmd_status },
	{ "check", "pre-flight: check everything enroll needs, change nothing", true,
	  PROVISIONS | TP_OPTS_NEW_KEY | TP_OPTS_SERVICE | TP_OPTS_INSTALL, &tp_cmd_check },
	{ NULL },
};

const struct tp_command *tp_command_find(const char *name)
{
	const struct tp_command *c;

	for (c = tp_commands; c->name; c++)
		if (strcmp(name, c->name) == 0)
			return c;
	return NULL;
}
