#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tp_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct tp_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return tp_error_set(err, EX_IOERR, "cannot open %s: %s", path, strerror(errno));
	}
	buf = malloc(max + 1);
	if (!buf) {
		tp_error_set(err, EX_IOERR, "out of memory");
		goto out;
	}
	/* Read one byte past max to tell "exactly max" from "too large". */
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tp_error_set(err, EX_IOERR, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		tp_error_set(err, EX_DATAERR, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int tp_mkdir_p(const char *dir, mode_t mode, struct tp_error *err)
{
	char *path, *p;
	int r = -1;

	path = strdup(dir);
	if (!path)
		return tp_error_set(err, EX_IOERR, "out of memory");
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		/* chmod: the mode is meant as given, whatever the umask. */
		if (mkdir(path, mode) == 0) {
			if (chmod(path, mode) < 0) {
				tp_error_set(err, EX_IOERR, "cannot set the mode of %s: %s", path, strerror(errno));
				goto out;
			}
		} else if (errno != EEXIST) {
			tp_error_set(err, EX_IOERR, "cannot create directory %s: %s", path, strerror(errno));
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	r = 0;
out:
	free(path);
	return r;
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

int tp_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
			 struct tp_error *err)
{
	return tp_write_file_atomic_owned(dir, name, data, len, mode, (uid_t)-1, (gid_t)-1, err);
}

int tp_write_file_atomic_owned(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
			       uid_t uid, gid_t gid, struct tp_error *err)
{
	char tmp[256] = "";
	uint64_t rnd;
	int dfd, fd = -1, r = -1;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return tp_error_set(err, EX_IOERR, "cannot open directory %s: %s", dir, strerror(errno));
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		tp_error_set(err, EX_IOERR, "getrandom: %s", strerror(errno));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), ".%s.tmp-%016llx", name, (unsigned long long)rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0600);
	if (fd < 0) {
		tp_error_set(err, EX_IOERR, "cannot create %s/%s: %s", dir, tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, data, len) < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		tp_error_set(err, EX_IOERR, "cannot write %s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		tp_error_set(err, EX_IOERR, "cannot write %s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		tp_error_set(err, EX_IOERR, "cannot rename into %s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if (fsync(dfd) < 0) {
		tp_error_set(err, EX_IOERR, "cannot sync directory %s: %s", dir, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] && r < 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return r;
}

int tp_remove_file(const char *dir, const char *name, struct tp_error *err)
{
	int dfd, r = -1;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return tp_error_set(err, EX_IOERR, "cannot open directory %s: %s", dir, strerror(errno));
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		tp_error_set(err, EX_IOERR, "cannot remove %s/%s: %s", dir, name, strerror(errno));
	else if (fsync(dfd) < 0)
		tp_error_set(err, EX_IOERR, "cannot sync directory %s: %s", dir, strerror(errno));
	else
		r = 0;
	close(dfd);
	return r;
}

int tp_lock_file(const char *dir, const char *name, unsigned timeout, int *ret_fd, struct tp_error *err)
{
	const struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
	char path[4096];
	unsigned waited;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return tp_error_set(err, EX_IOERR, "cannot open lock file %s: %s", path, strerror(errno));
	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited++) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			tp_error_set(err, EX_IOERR, "cannot lock %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (waited >= timeout * 10) {
			close(fd);
			return tp_error_set(err, EX_TEMPFAIL,
					    "another tpm-provision run holds %s; gave up waiting after %us", path,
					    timeout);
		}
		nanosleep(&pause, NULL);
	}
	*ret_fd = fd;
	return 0;
}
