/* SPDX-License-Identifier: BSD-2-Clause */
/* state.json: what was provisioned, the record a rerun trusts.  This module
 * alone parses, formats, loads and saves it. */
#ifndef TP_STATE_H
#define TP_STATE_H

#include <stddef.h>
#include <sys/types.h>

#include "src/base/err.h"
#include "src/base/keyloc.h"
#include "src/base/timefmt.h"

#define TP_STATE_FILE "state.json"

struct tp_state {
	char *thing_name;
	char *certificate_id;
	char *certificate_arn;	      /* NULL when the service gave none */
	char *certificate_created_at; /* a gateway's created_at, or NULL */
	struct tp_keyloc key;
	char *key_name;	      /* TPM name of the key, lowercase hex */
	char *endpoint;	      /* certificate API endpoint used; NULL after install */
	char *iot_endpoint;   /* the agent's data endpoint */
	char *provisioned_at; /* RFC 3339, UTC */
	char *tool_version;
	char *attached_thing; /* the thing the certificate is attached to, or NULL */
	char **policies;      /* the policies attached to it, NULL-terminated */
};

/* A provisioning made now, by this program: what s says was installed
 * (set by the caller) stamped with when (the time now, kept in when) and
 * by what version. */
void tp_state_stamp(struct tp_state *s, char when[TP_TIME_MAX]);

int tp_state_format(const struct tp_state *s, char **ret_json, struct tp_error *err);

/* Parse state.json; a missing member or a wrong type is EX_DATAERR naming
 * it and the file. */
int tp_state_parse(const char *json, size_t len, const char *path, struct tp_state *ret_state, struct tp_error *err);

/* dir/state.json: TP_MISSING when there is none. */
int tp_state_load(const char *dir, struct tp_state *ret_state, struct tp_error *err);

/* Save dir/state.json atomically, 0644, owned by uid:gid (or -1). */
int tp_state_save(const char *dir, const struct tp_state *s, uid_t uid, gid_t gid, struct tp_error *err);

void tp_state_free(struct tp_state *s);

#endif
