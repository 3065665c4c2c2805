/* SPDX-License-Identifier: BSD-2-Clause */
/* The tpm2-pkcs11 token of the device key; see pkcs11.h. */
#include "src/device/pkcs11.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/base/cleanup.h"
#include "src/store/file.h"

#define STAGING_DIR TP_PKCS11_STORE_DIR ".new"
#define PIN_BYTES 16
#define PIN_LEN (2 * PIN_BYTES)
#define PIN_MAX 256
#define STDERR_KEEP 4096
/* A fresh store's first primary object: tpm2_ptool init numbers it 1. */
#define PRIMARY_ID "1"
/* The storage root key, the parent of every key this program makes. */
#define SRK_HANDLE "0x81000001"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int tp_pkcs11_check(struct tp_error *err)
{
	if (access(TP_PKCS11_PTOOL, X_OK) < 0)
		return tp_error_set(err, EX_CONFIG, "%s is not installed (Debian package libtpm2-pkcs11-tools)",
				    TP_PKCS11_PTOOL);
	if (access(TP_PKCS11_LIB, R_OK) < 0)
		return tp_error_set(err, EX_CONFIG, "%s is not installed (Debian package libtpm2-pkcs11-1)",
				    TP_PKCS11_LIB);
	return 0;
}

int tp_pkcs11_store(const char *dir, char **ret, struct tp_error *err)
{
	return tp_path_join(dir, TP_PKCS11_STORE_DIR, ret, err);
}

int tp_pkcs11_uri(char **ret, struct tp_error *err)
{
	/* Both labels are unreserved characters only: nothing to escape. */
	if (asprintf(ret, "pkcs11:token=%s;object=%s;type=private", TP_PKCS11_TOKEN_LABEL, TP_PKCS11_KEY_LABEL) < 0)
		return tp_error_oom(err);
	return 0;
}

int tp_pkcs11_read_pin(const char *dir, char **ret_pin, struct tp_error *err)
{
	_cleanup_free_ char *store = NULL, *pin = NULL;
	size_t len;
	int r;

	if (tp_pkcs11_store(dir, &store, err) < 0)
		return -1;
	r = tp_read_file_in(store, TP_PKCS11_PIN_FILE, PIN_MAX, &pin, &len, err);
	if (r != 0)
		return r;
	if (len == 0 || strlen(pin) != len) {
		explicit_bzero(pin, len);
		return tp_error_set(err, EX_DATAERR, "%s/%s does not hold a PIN", store, TP_PKCS11_PIN_FILE);
	}
	*ret_pin = TAKE_PTR(pin);
	return 0;
}

/* PIN_LEN random hex digits. */
static int random_pin(char out[PIN_LEN + 1], struct tp_error *err)
{
	unsigned char raw[PIN_BYTES];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return tp_error_set(err, EX_IOERR, "cannot get random bytes for the PKCS#11 PIN: %s", strerror(errno));
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Remove a store directory this program made (files only); a missing one
 * is fine. */
static int remove_store(const char *path, struct tp_error *err)
{
	_cleanup_(closedirp) DIR *d = opendir(path);
	struct dirent *e;

	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return tp_error_set(err, EX_IOERR, "cannot open %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && unlinkat(dirfd(d), e->d_name, 0) < 0)
			return tp_error_set(err, EX_IOERR, "cannot remove %s/%s: %s", path, e->d_name, strerror(errno));
	if (rmdir(path) < 0)
		return tp_error_set(err, EX_IOERR, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

/* The store and every file in it: the agent's only (0700, files 0600),
 * then synced. */
static int own_store(const char *path, uid_t uid, gid_t gid, struct tp_error *err)
{
	_cleanup_(closedirp) DIR *d = opendir(path);
	struct dirent *e;
	int dfd;

	if (!d)
		return tp_error_set(err, EX_IOERR, "cannot open %s: %s", path, strerror(errno));
	dfd = dirfd(d);
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fchmodat(dfd, e->d_name, 0600, 0) < 0 ||
		    (uid != (uid_t)-1 && fchownat(dfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0))
			return tp_error_set(err, EX_IOERR, "cannot set the mode and owner of %s/%s: %s", path,
					    e->d_name, strerror(errno));
	}
	if (fchmod(dfd, 0700) < 0 || (uid != (uid_t)-1 && fchown(dfd, uid, gid) < 0) || fsync(dfd) < 0)
		return tp_error_set(err, EX_IOERR, "cannot set the mode and owner of %s: %s", path, strerror(errno));
	return 0;
}

static int sync_dir(const char *path, struct tp_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return tp_error_set(err, EX_IOERR, "cannot sync %s: %s", path, strerror(errno));
	return 0;
}

/* Put the complete staging store in place of the store in one step: an
 * exchange when there is an old one (then removed), else a rename. */
static int swap_in(const char *dir, const char *staging, const char *store, struct tp_error *err)
{
	int e;

	if (renameat2(AT_FDCWD, staging, AT_FDCWD, store, RENAME_EXCHANGE) == 0) {
		if (sync_dir(dir, err) < 0)
			return -1;
		return remove_store(staging, err) < 0 ? -1 : sync_dir(dir, err);
	}
	/* No old store; or a file system without exchange, where a run
	 * stopped between these two steps leaves no store, made again by
	 * the rerun. */
	e = errno;
	if (e == EINVAL && remove_store(store, err) < 0)
		return -1;
	if (e != ENOENT && e != EINVAL)
		return tp_error_set(err, EX_IOERR, "cannot replace %s: %s", store, strerror(e));
	if (rename(staging, store) < 0)
		return tp_error_set(err, EX_IOERR, "cannot rename %s to %s: %s", staging, store, strerror(errno));
	return sync_dir(dir, err);
}

/* The environment tpm2_ptool runs in: nothing of ours but the TPM and the
 * D-Bus address a tabrmd TCTI needs. */
static char **ptool_env(const char *tcti)
{
	static const char *const pass[] = { "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS" };
	char **env = calloc(6, sizeof(*env));
	size_t i, n = 0;

	if (!env)
		return NULL;
	env[n++] = strdup("PATH=/usr/bin:/bin");
	env[n++] = strdup("LC_ALL=C.UTF-8");
	if (asprintf(&env[n++], "TPM2TOOLS_TCTI=%s", tcti) < 0)
		env[n - 1] = NULL;
	for (i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		if (getenv(pass[i]) && asprintf(&env[n++], "%s=%s", pass[i], getenv(pass[i])) < 0)
			env[n - 1] = NULL;
	for (i = 0; i < n; i++)
		if (!env[i]) {
			for (i = 0; i < n; i++)
				free(env[i]);
			free(env);
			return NULL;
		}
	return env;
}

static void free_env(char **env)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* In the child: tied to parent, stdin and stdout /dev/null, stderr
 * errfd; exec. */
static void spawned_child(char *const argv[], char *const env[], int errfd, pid_t parent)
{
	int null;

	/* Killed with its parent: a tpm2_ptool left running when this program
	 * is killed would go on writing next to the store, under a rerun.  A
	 * parent already gone before the prctl() is no longer the parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
		_exit(127);
	execve(argv[0], argv, env);
	_exit(127);
}

int tp_pkcs11_spawn(char *const argv[], char *const env[], int errfd, pid_t *ret_pid, struct tp_error *err)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0)
		return tp_error_set(err, EX_IOERR, "cannot run %s: %s", argv[0], strerror(errno));
	if (pid == 0)
		spawned_child(argv, env, errfd, parent);
	*ret_pid = pid;
	return 0;
}

/* Read fd to its end, keeping the last STDERR_KEEP bytes in buf. */
static void read_tail(int fd, char buf[STDERR_KEEP + 1])
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (len == STDERR_KEEP) {
			memmove(buf, buf + STDERR_KEEP / 2, STDERR_KEEP / 2);
			len = STDERR_KEEP / 2;
		}
		n = read(fd, buf + len, STDERR_KEEP - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
}

/* The last line of what tpm2_ptool said, unless it names a secret. */
static const char *last_line(char *text, const char *const secrets[2])
{
	char *end = text + strlen(text), *start;

	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(text, '\n');
	start = start ? start + 1 : text;
	if ((secrets[0] && strstr(start, secrets[0])) || (secrets[1] && strstr(start, secrets[1])))
		return "(its message is not shown: it contains a PIN)";
	return *start ? start : "(no message)";
}

/* Run tpm2_ptool with argv (argv[1] the command), never through a shell;
 * a failure is one line with its last line of stderr.  secrets are
 * withheld from that line. */
static int run_ptool(char *const argv[], const char *tcti, const char *const secrets[2], struct tp_error *err)
{
	char **env = ptool_env(tcti);
	char out[STDERR_KEEP + 1];
	int fds[2], status, r;
	pid_t pid = 0;

	if (!env)
		return tp_error_oom(err);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free_env(env);
		return tp_error_set(err, EX_IOERR, "cannot run %s: %s", TP_PKCS11_PTOOL, strerror(errno));
	}
	r = tp_pkcs11_spawn(argv, env, fds[1], &pid, err);
	free_env(env);
	close(fds[1]);
	if (r < 0) {
		close(fds[0]);
		return -1;
	}
	read_tail(fds[0], out);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return tp_error_set(err, EX_IOERR, "waiting for %s: %s", TP_PKCS11_PTOOL, strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !out[0])
		return tp_error_set(err, EX_CONFIG, "cannot run %s", TP_PKCS11_PTOOL);
	return tp_error_set(err, EX_IOERR, "%s %s failed (%s %d): %s", TP_PKCS11_PTOOL, argv[1],
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), last_line(out, secrets));
}

/*
 * The three tpm2_ptool steps into the empty store: the storage root key as
 * its primary object, the token, the key linked from its key file.
 * tpm2_ptool takes the PINs only as arguments (see README).
 */
static int fill_store(const struct tp_pkcs11_plan *p, const char *store, char *pin, char *so_pin, struct tp_error *err)
{
	char *init[] = { TP_PKCS11_PTOOL, "init", "--primary-handle=" SRK_HANDLE, "--path", (char *)store, NULL };
	char *token[] = { TP_PKCS11_PTOOL,
			  "addtoken",
			  "--pid",
			  PRIMARY_ID,
			  "--label",
			  TP_PKCS11_TOKEN_LABEL,
			  "--sopin",
			  so_pin,
			  "--userpin",
			  pin,
			  "--path",
			  (char *)store,
			  NULL };
	char *link[] = {
		TP_PKCS11_PTOOL, "link", "--label", TP_PKCS11_TOKEN_LABEL, "--key-label",	TP_PKCS11_KEY_LABEL,
		"--userpin",	 pin,	 "--path",  (char *)store,	   (char *)p->key_file, NULL
	};
	const char *const secrets[2] = { pin, so_pin };

	if (run_ptool(init, p->tcti, secrets, err) < 0 || run_ptool(token, p->tcti, secrets, err) < 0 ||
	    run_ptool(link, p->tcti, secrets, err) < 0)
		return -1;
	return 0;
}

/* The new store, complete, in staging: the token and the PIN file. */
static int make_staging(const struct tp_pkcs11_plan *p, const char *staging, struct tp_error *err)
{
	char pin[PIN_LEN + 1], so_pin[PIN_LEN + 1];
	int r;

	if (remove_store(staging, err) < 0)
		return -1;
	if (mkdir(staging, 0700) < 0)
		return tp_error_set(err, EX_IOERR, "cannot create %s: %s", staging, strerror(errno));
	r = random_pin(pin, err) < 0 || random_pin(so_pin, err) < 0 ? -1 : 0;
	if (r == 0)
		r = fill_store(p, staging, pin, so_pin, err);
	/* Nobody needs the SO PIN: the token is made again rather than
	 * recovered. */
	explicit_bzero(so_pin, sizeof(so_pin));
	if (r == 0)
		r = tp_write_file_atomic(staging, TP_PKCS11_PIN_FILE, pin, strlen(pin), 0600, p->uid, p->gid, err);
	explicit_bzero(pin, sizeof(pin));
	return r;
}

int tp_pkcs11_make_token(const struct tp_pkcs11_plan *p, struct tp_error *err)
{
	_cleanup_free_ char *staging = NULL, *store = NULL;

	if (tp_path_join(p->dir, STAGING_DIR, &staging, err) < 0 || tp_pkcs11_store(p->dir, &store, err) < 0)
		return -1;
	if (make_staging(p, staging, err) < 0 || own_store(staging, p->uid, p->gid, err) < 0 ||
	    swap_in(p->dir, staging, store, err) < 0) {
		/* Nothing half made stays behind. */
		remove_store(staging, NULL);
		return -1;
	}
	return 0;
}
