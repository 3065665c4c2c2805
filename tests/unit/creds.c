/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the shared credentials file parser. */
#include <stdlib.h>
#include <string.h>

#include "src/aws/creds.h"
#include "tests/unit/tap.h"

static int parse(const char *text, const char *profile, struct tp_creds *c, struct tp_error *err)
{
	memset(err, 0, sizeof(*err));
	return tp_creds_parse_ini(text, strlen(text), profile, "creds", c, err);
}

int main(void)
{
	const char *file = "# comment\n; another\n[default]\naws_access_key_id = AKIADEFAULT\n"
			   "aws_secret_access_key=secretdefault\n\n[ device ]\r\n"
			   "  AWS_ACCESS_KEY_ID =  ASIADEVICE  \r\naws_secret_access_key = s/+ecret\n"
			   "aws_session_token = tok\nregion = eu-west-1\n";
	struct tp_creds c = { 0 };
	struct tp_error err;

	tap_ok(parse(file, "default", &c, &err) == 0, "default profile parses");
	tap_str(c.access_key_id, "AKIADEFAULT", "key id");
	tap_str(c.secret_access_key, "secretdefault", "secret without spaces around =");
	tap_ok(c.session_token == NULL, "no session token in default");
	tp_creds_free(&c);
	tp_creds_free(NULL);

	tap_ok(parse(file, "device", &c, &err) == 0, "named profile with spaces and CRLF parses");
	tap_str(c.access_key_id, "ASIADEVICE", "key names are case-insensitive, values trimmed");
	tap_str(c.secret_access_key, "s/+ecret", "secret with / and +");
	tap_str(c.session_token, "tok", "session token");
	tp_creds_free(&c);

	tap_ok(parse(file, "missing", &c, &err) < 0 && err.exit_code == EX_NOPERM && strstr(err.msg, "[missing]"),
	       "missing profile named: %s", err.msg);
	tap_ok(parse("[default]\naws_access_key_id = A\n", "default", &c, &err) < 0 &&
		       strstr(err.msg, "aws_secret_access_key is missing"),
	       "incomplete profile named: %s", err.msg);
	tap_ok(parse("[default\n", "default", &c, &err) < 0 && strstr(err.msg, "section"), "bad section: %s", err.msg);
	tap_ok(parse("[default]\njunk\n", "default", &c, &err) < 0 && strstr(err.msg, "key = value"),
	       "a line without '=': %s", err.msg);
	tap_ok(parse("[default]\naws_access_key_id = A B\naws_secret_access_key = x\n", "default", &c, &err) < 0 &&
		       strstr(err.msg, "aws_access_key_id") && !strstr(err.msg, "A B"),
	       "a value with a space is refused without quoting it: %s", err.msg);
	tap_ok(c.access_key_id == NULL, "nothing returned on failure");
	/* Found by fuzzing: an embedded NUL made the wipe overrun its copy. */
	memset(&err, 0, sizeof(err));
	tap_ok(tp_creds_parse_ini(";\0\0\0[default]\n", 13, "default", "creds", &c, &err) < 0 &&
		       strstr(err.msg, "NUL byte"),
	       "a NUL byte is refused: %s", err.msg);
	return tap_done();
}
