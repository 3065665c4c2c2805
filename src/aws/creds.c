/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/aws/creds.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/base/cleanup.h"
#include "src/store/file.h"

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
static bool header_safe(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return n > 0;
}

/* Copy a credential value; what names it in errors (never the value). */
/* gcc 12's analyzer loses the pointer once it is stored through *ret
 * (strv[n] = s): a false "leak", silenced here only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static int take_value(const char *v, size_t n, const char *what, char **ret, struct tp_error *err)
{
	char *copy;

	if (!header_safe(v, n))
		return tp_error_set(err, EX_NOPERM, "%s is empty or contains characters that cannot be sent", what);
	copy = strndup(v, n);
	if (!copy)
		return tp_error_set(err, EX_IOERR, "out of memory");
	*ret = copy;
	return 0;
}
#pragma GCC diagnostic pop

/* Both parts present, or an error naming the missing one. */
static int complete(struct tp_creds *c, const char *key_name, const char *secret_name, struct tp_error *err)
{
	if (!c->access_key_id)
		return tp_error_set(err, EX_NOPERM, "incomplete AWS credentials: %s is missing", key_name);
	if (!c->secret_access_key)
		return tp_error_set(err, EX_NOPERM, "incomplete AWS credentials: %s is missing", secret_name);
	return 0;
}

static int from_env(struct tp_creds *c, struct tp_error *err)
{
	static const char *const names[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN" };
	char **fields[] = { &c->access_key_id, &c->secret_access_key, &c->session_token };
	const char *v;
	size_t i;

	for (i = 0; i < 3; i++) {
		v = getenv(names[i]);
		if (v && *v && take_value(v, strlen(v), names[i], fields[i], err) < 0)
			return -1;
	}
	c->source = "environment";
	return complete(c, names[0], names[1], err);
}

/* A systemd credential file: its content, less trailing newlines. */
static int read_credential(int dfd, const char *dir, const char *name, char **ret, struct tp_error *err)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	_cleanup_free_ char *what = NULL;
	char buf[4096];
	ssize_t n;
	int r;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (asprintf(&what, "credential %s/%s", dir, name) < 0)
		return tp_error_oom(err);
	if (fd < 0)
		return tp_error_set(err, EX_CONFIG, "cannot read %s: %s", what, strerror(errno));
	if (tp_check_regular(fd, what, err) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 || n == (ssize_t)sizeof(buf))
		r = tp_error_set(err, EX_NOPERM, "cannot read %s: %s", what, n < 0 ? strerror(errno) : "too large");
	else {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		r = take_value(buf, (size_t)n, what, ret, err);
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* TP_MISSING when the directory holds none of our credentials. */
static int from_systemd(const char *dir, struct tp_creds *c, struct tp_error *err)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return tp_error_set(err, EX_CONFIG, "cannot open $CREDENTIALS_DIRECTORY %s: %s", dir, strerror(errno));
	if (read_credential(dfd, dir, "aws-access-key-id", &c->access_key_id, err) < 0 ||
	    read_credential(dfd, dir, "aws-secret-access-key", &c->secret_access_key, err) < 0 ||
	    read_credential(dfd, dir, "aws-session-token", &c->session_token, err) < 0)
		return -1;
	c->source = "systemd credentials";
	if (!c->access_key_id && !c->secret_access_key)
		return TP_MISSING;
	return complete(c, "credential aws-access-key-id", "credential aws-secret-access-key", err);
}

static const char *trim(char *s, char **end)
{
	while (*s == ' ' || *s == '\t')
		s++;
	*end = s + strlen(s);
	while (*end > s && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
		(*end)--;
	**end = '\0';
	return s;
}

/* The parser's place in the file. */
struct ini {
	const char *profile, *path;
	bool in_profile, found;
	struct tp_creds c;
};

/* A "key = value" line inside the profile: take the keys we know. */
static int ini_setting(struct ini *ini, char *s, char *eq, struct tp_error *err)
{
	const char *key, *value;
	char **field, *end;

	*eq = '\0';
	key = trim(s, &end);
	value = trim(eq + 1, &end);
	if (strcasecmp(key, "aws_access_key_id") == 0)
		field = &ini->c.access_key_id;
	else if (strcasecmp(key, "aws_secret_access_key") == 0)
		field = &ini->c.secret_access_key;
	else if (strcasecmp(key, "aws_session_token") == 0)
		field = &ini->c.session_token;
	else
		return 0;
	free_secret(*field);
	*field = NULL;
	return take_value(value, strlen(value), key, field, err);
}

static int ini_line(struct ini *ini, char *line, struct tp_error *err)
{
	char *end, *eq, *s = (char *)trim(line, &end);

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		if (end[-1] != ']')
			return tp_error_set(err, EX_NOPERM, "%s: malformed section header", ini->path);
		end[-1] = '\0';
		s = (char *)trim(s + 1, &end);
		ini->in_profile = strcmp(s, ini->profile) == 0;
		ini->found |= ini->in_profile;
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq)
		return tp_error_set(err, EX_NOPERM, "%s: a line that is neither a section nor key = value", ini->path);
	return ini->in_profile ? ini_setting(ini, s, eq, err) : 0;
}

static int ini_lines(struct ini *ini, char *text, struct tp_error *err)
{
	char *line, *next;

	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (ini_line(ini, line, err) < 0)
			return -1;
	}
	if (!ini->found)
		return tp_error_set(err, EX_NOPERM, "%s has no profile [%s]", ini->path, ini->profile);
	if (complete(&ini->c, "aws_access_key_id", "aws_secret_access_key", err) < 0) {
		tp_error_append(err, "%s [%s]", ini->path, ini->profile);
		return -1;
	}
	return 0;
}

int tp_creds_parse_ini(const char *text, size_t len, const char *profile, const char *path, struct tp_creds *ret_creds,
		       struct tp_error *err)
{
	struct ini ini = { .profile = profile, .path = path, .c = { .source = "credentials file" } };
	char *copy;
	int r;

	if (memchr(text, '\0', len))
		return tp_error_set(err, EX_NOPERM, "%s contains a NUL byte", path);
	copy = malloc(len + 1);
	if (!copy)
		return tp_error_oom(err);
	memcpy(copy, text, len);
	copy[len] = '\0';
	r = ini_lines(&ini, copy, err);
	if (r == 0) {
		*ret_creds = ini.c;
		ini.c = (struct tp_creds){ 0 };
	}
	explicit_bzero(copy, len);
	free(copy);
	tp_creds_free(&ini.c);
	return r;
}

static int from_file(const char *path, const char *profile, struct tp_creds *c, struct tp_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	if (fd < 0)
		return errno == ENOENT ? TP_MISSING
				       : tp_error_set(err, EX_CONFIG, "cannot open %s: %s", path, strerror(errno));
	if (tp_check_regular(fd, path, err) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return tp_error_set(err, EX_CONFIG, "cannot stat %s: %s", path, strerror(errno));
	/* Like ssh with its keys: a secret others can read is not used. */
	if (st.st_mode & 077)
		return tp_error_set(err, EX_NOPERM,
				    "%s is readable by group or others (mode %03o); run chmod 600 on it", path,
				    (unsigned)(st.st_mode & 0777));
	if (tp_read_fd(fd, path, TP_CREDS_FILE_MAX, &buf, &len, err) < 0) {
		err->exit_code = EX_NOPERM;
		return -1;
	}
	r = tp_creds_parse_ini(buf, len, profile, path, c, err);
	explicit_bzero(buf, len);
	free(buf);
	return r;
}

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home)
		return home;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

int tp_creds_load(struct tp_creds *ret_creds, struct tp_error *err)
{
	struct tp_creds c = { 0 };
	const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE");
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	_cleanup_free_ char *default_path = NULL;
	int r;

	if ((getenv("AWS_ACCESS_KEY_ID") && *getenv("AWS_ACCESS_KEY_ID")) ||
	    (getenv("AWS_SECRET_ACCESS_KEY") && *getenv("AWS_SECRET_ACCESS_KEY")))
		r = from_env(&c, err);
	else {
		r = dir && *dir ? from_systemd(dir, &c, err) : TP_MISSING;
		if (r == TP_MISSING) {
			tp_creds_free(&c);
			if (!path || !*path) {
				if (asprintf(&default_path, "%s/.aws/credentials", home_dir()) < 0)
					return tp_error_oom(err);
				path = default_path;
			}
			r = from_file(path, profile && *profile ? profile : "default", &c, err);
			if (r == TP_MISSING)
				r = tp_error_set(
					err, EX_NOPERM,
					"no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
					"pass systemd credentials aws-access-key-id and aws-secret-access-key, "
					"or create %s",
					path);
		}
	}
	if (r < 0) {
		tp_creds_free(&c);
		return -1;
	}
	*ret_creds = c;
	return 0;
}
