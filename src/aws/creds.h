/* SPDX-License-Identifier: BSD-2-Clause */
/* AWS credentials: held in memory only, wiped when freed. */
#ifndef TP_CREDS_H
#define TP_CREDS_H

#include <stddef.h>

#include "src/base/err.h"

#define TP_CREDS_FILE_MAX (64 * 1024)

struct tp_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL without one */
	const char *source;  /* where they came from, for messages */
};

/*
 * Load credentials, first source that has them wins:
 *   1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *   2. systemd credentials: $CREDENTIALS_DIRECTORY/aws-access-key-id,
 *      aws-secret-access-key, aws-session-token;
 *   3. the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, default
 *      ~/.aws/credentials), profile $AWS_PROFILE or "default"; refused when
 *      group or others can read it.
 * Missing or partial credentials are EX_NOPERM; messages never hold a value.
 */
int tp_creds_load(struct tp_creds *ret_creds, struct tp_error *err);

/* Parse a shared credentials file (INI) for profile.  Pure; fuzzed. */
int tp_creds_parse_ini(const char *text, size_t len, const char *profile, const char *path, struct tp_creds *ret_creds,
		       struct tp_error *err);

void tp_creds_free(struct tp_creds *c);

#endif
