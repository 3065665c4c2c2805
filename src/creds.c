#include "creds.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void tp_creds_free(struct tp_creds *c)
{
	if (!c)
		return;
	free_secret(c->access_key_id);
	free_secret(c->secret_access_key);
	free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

/* Printable ASCII without spaces: these go into HTTP headers. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static int take(const char *var, bool required, char **ret, struct tp_error *err)
{
	const char *v = getenv(var);

	if (!v || !*v) {
		if (required)
			return tp_error_set(err, EX_NOPERM, "no AWS credentials: %s is not set", var);
		*ret = NULL;
		return 0;
	}
	/* Name the variable, never its value. */
	if (!header_safe(v))
		return tp_error_set(err, EX_NOPERM, "%s contains characters that cannot be sent", var);
	*ret = strdup(v);
	if (!*ret)
		return tp_error_set(err, EX_IOERR, "out of memory");
	return 0;
}

int tp_creds_load(struct tp_creds *ret_creds, struct tp_error *err)
{
	struct tp_creds c = { .source = "environment" };

	if (take("AWS_ACCESS_KEY_ID", true, &c.access_key_id, err) < 0 ||
	    take("AWS_SECRET_ACCESS_KEY", true, &c.secret_access_key, err) < 0 ||
	    take("AWS_SESSION_TOKEN", false, &c.session_token, err) < 0) {
		tp_creds_free(&c);
		return -1;
	}
	*ret_creds = c;
	return 0;
}
