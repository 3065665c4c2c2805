/* AWS credentials: held in memory only, wiped when freed. */
#ifndef TP_CREDS_H
#define TP_CREDS_H

#include "err.h"

struct tp_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;      /* NULL without one */
	const char *source;       /* where they came from, for messages */
};

/* Load credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN.  Missing credentials are EX_NOPERM. */
int tp_creds_load(struct tp_creds *ret_creds, struct tp_error *err);

void tp_creds_free(struct tp_creds *c);

#endif
