/* state.json: what was provisioned, the record a rerun trusts. */
#ifndef TP_STATE_H
#define TP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TP_STATE_FILE "state.json"
#define TP_CERT_FILE "certificate.pem"
#define TP_STATE_MAX (64 * 1024)

struct tp_state {
	char *thing_name;
	char *certificate_id;
	char *certificate_arn;
	uint32_t key_handle;
	char *key_name;        /* TPM name of the key, lowercase hex */
	char *endpoint;        /* certificate API endpoint used */
	char *provisioned_at;  /* RFC 3339, UTC */
	char *tool_version;
};

int tp_state_format(const struct tp_state *s, char **ret_json, struct tp_error *err);

/* Parse state.json; a missing member or a wrong type is EX_DATAERR naming
 * it and the file. */
int tp_state_parse(const char *json, size_t len, const char *path,
		   struct tp_state *ret_state, struct tp_error *err);

void tp_state_free(struct tp_state *s);

#endif
