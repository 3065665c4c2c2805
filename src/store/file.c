/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/store/file.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "src/base/cleanup.h"

int tp_path_join(const char *dir, const char *name, char **ret, struct tp_error *err)
{
	return asprintf(ret, "%s/%s", dir, name) < 0 ? tp_error_oom(err) : 0;
}

int tp_path_split(const char *path, char **ret_dir, char **ret_base, struct tp_error *err)
{
	_cleanup_free_ char *a = strdup(path), *b = strdup(path), *dir = NULL, *base = NULL;

	if (!a || !b || !(dir = strdup(dirname(a))) || !(base = strdup(basename(b))))
		return tp_error_oom(err);
	*ret_dir = TAKE_PTR(dir);
	*ret_base = TAKE_PTR(base);
	return 0;
}

int tp_read_fd(int fd, const char *path, size_t max, char **ret_buf, size_t *ret_len, struct tp_error *err)
{
	_cleanup_free_ char *buf = malloc(max + 1);
	size_t len = 0;
	ssize_t n;

	if (!buf)
		return tp_error_oom(err);
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tp_error_set(err, EX_IOERR, "cannot read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return tp_error_set(err, EX_DATAERR, "%s is larger than %zu bytes", path, max);
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int tp_check_regular(int fd, const char *path, struct tp_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return tp_error_set(err, EX_CONFIG, "cannot stat %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return tp_error_set(err, EX_CONFIG, "%s is a directory, not a file", path);
	if (!S_ISREG(st.st_mode))
		return tp_error_set(err, EX_CONFIG, "%s is not a regular file (a FIFO, device or socket)", path);
	return 0;
}

int tp_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct tp_error *err)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 && errno == ENOENT)
		return TP_MISSING;
	/* The rule for input files (README, exit codes): one that cannot be
	 * opened, or is not a regular file, is a configuration error. */
	if (fd < 0)
		return tp_error_set(err, EX_CONFIG, "cannot open %s: %s", path, strerror(errno));
	if (tp_check_regular(fd, path, err) < 0)
		return -1;
	return tp_read_fd(fd, path, max, ret_buf, ret_len, err);
}

int tp_read_file_in(const char *dir, const char *name, size_t max, char **ret_buf, size_t *ret_len,
		    struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;

	if (tp_path_join(dir, name, &path, err) < 0)
		return -1;
	return tp_read_file(path, max, ret_buf, ret_len, err);
}

int tp_mkdir_p(const char *dir, mode_t mode, struct tp_error *err)
{
	_cleanup_free_ char *path = strdup(dir);
	char *p, c;

	if (!path)
		return tp_error_oom(err);
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		/* chmod: the mode is meant as given, whatever the umask. */
		if (mkdir(path, mode) == 0) {
			if (chmod(path, mode) < 0)
				return tp_error_set(err, EX_IOERR, "cannot set the mode of %s: %s", path,
						    strerror(errno));
		} else if (errno != EEXIST) {
			return tp_error_set(err, EX_IOERR, "cannot create directory %s: %s", path, strerror(errno));
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

int tp_check_dir_safe(const char *dir, struct tp_error *err)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return tp_error_set(err, EX_IOERR, "cannot stat directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return tp_error_set(err, EX_CONFIG, "%s is not a directory", dir);
	if (st.st_mode & 022)
		return tp_error_set(err, EX_CONFIG,
				    "directory %s is writable by group or others (mode %04o): another "
				    "user could replace what is installed there; use a directory only its owner can "
				    "write (chmod go-w)",
				    dir, (unsigned)(st.st_mode & 07777));
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return tp_error_set(err, EX_CONFIG, "directory %s is owned by uid %u, not by this user or root", dir,
				    (unsigned)st.st_uid);
	return 0;
}

int tp_mkdir_safe(const char *dir, struct tp_error *err)
{
	if (tp_mkdir_p(dir, 0755, err) < 0)
		return -1;
	return tp_check_dir_safe(dir, err);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write, own and sync the new file; closes fd. */
static int fill_temp(int fd, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
	/* The mode while still ours: once the agent's account owns the
	 * file, changing it would need CAP_FOWNER besides CAP_CHOWN. */
	int r = write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0 || fsync(fd) < 0 ? -1
														  : 0;
	int saved = errno;

	if (close(fd) < 0 && r == 0)
		return -1;
	errno = saved;
	return r;
}

/* dir opened for *at() calls and fsync: the fd, or -1 with err set. */
static int open_dir(const char *dir, struct tp_error *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		tp_error_set(err, EX_IOERR, "cannot open directory %s: %s", dir, strerror(errno));
	return dfd;
}

static int sync_dir_fd(int dfd, const char *dir, struct tp_error *err)
{
	if (fsync(dfd) < 0)
		return tp_error_set(err, EX_IOERR, "cannot sync directory %s: %s", dir, strerror(errno));
	return 0;
}

static int replace_at(int dfd, const char *dir, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
		      gid_t gid, bool sync_dir, struct tp_error *err)
{
	char tmp[NAME_MAX + 32];
	uint64_t rnd;
	int fd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return tp_error_set(err, EX_IOERR, "getrandom: %s", strerror(errno));
	snprintf(tmp, sizeof(tmp), ".%s.tmp-%016llx", name, (unsigned long long)rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0600);
	if (fd < 0)
		return tp_error_set(err, EX_IOERR, "cannot create %s/%s: %s", dir, tmp, strerror(errno));
	if (fill_temp(fd, data, len, mode, uid, gid) < 0) {
		tp_error_set(err, EX_IOERR, "cannot write %s/%s: %s", dir, name, strerror(errno));
	} else if (renameat(dfd, tmp, dfd, name) < 0) {
		tp_error_set(err, EX_IOERR, "cannot rename into %s/%s: %s", dir, name, strerror(errno));
	} else {
		return sync_dir ? sync_dir_fd(dfd, dir, err) : 0;
	}
	unlinkat(dfd, tmp, 0);
	return -1;
}

static int write_in(const char *dir, const char *name, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
		    bool sync_dir, struct tp_error *err)
{
	_cleanup_close_ int dfd = open_dir(dir, err);

	return dfd < 0 ? -1 : replace_at(dfd, dir, name, data, len, mode, uid, gid, sync_dir, err);
}

int tp_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
			 gid_t gid, struct tp_error *err)
{
	return write_in(dir, name, data, len, mode, uid, gid, true, err);
}

int tp_write_file_unsynced(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
			   struct tp_error *err)
{
	return write_in(dir, name, data, len, mode, (uid_t)-1, (gid_t)-1, false, err);
}

int tp_sync_dir(const char *dir, struct tp_error *err)
{
	_cleanup_close_ int dfd = open_dir(dir, err);

	return dfd < 0 ? -1 : sync_dir_fd(dfd, dir, err);
}

int tp_remove_file(const char *dir, const char *name, struct tp_error *err)
{
	_cleanup_close_ int dfd = open_dir(dir, err);

	if (dfd < 0)
		return -1;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return tp_error_set(err, EX_IOERR, "cannot remove %s/%s: %s", dir, name, strerror(errno));
	return sync_dir_fd(dfd, dir, err);
}

/* The PID holding a flock on fd's file, from /proc/locks ("1: FLOCK
 * ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF"), or 0 when unknown. */
static long lock_holder(int fd)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/locks", "re");
	unsigned maj, min;
	unsigned long ino;
	struct stat st;
	char line[256];
	long pid;

	if (!f || fstat(fd, &st) < 0)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d: FLOCK %*s %*s %ld %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) && ino == st.st_ino)
			return pid;
	return 0;
}

int tp_lock_file(const char *dir, const char *name, unsigned timeout, void (*waiting)(const char *path, long pid),
		 int *ret_fd, struct tp_error *err)
{
	const struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	unsigned waited;

	if (tp_path_join(dir, name, &path, err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return tp_error_set(err, EX_IOERR, "cannot open lock file %s: %s", path, strerror(errno));
	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited++) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return tp_error_set(err, EX_IOERR, "cannot lock %s: %s", path, strerror(errno));
		if (waited >= timeout * 10)
			return tp_error_set(err, EX_TEMPFAIL,
					    "another tpm-provision run (PID %ld) holds %s; gave up waiting after %us",
					    lock_holder(fd), path, timeout);
		if (waited == 0 && waiting)
			waiting(path, lock_holder(fd));
		nanosleep(&pause, NULL);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}
