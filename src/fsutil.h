/* Reading bounded files and writing files atomically. */
#ifndef TP_FSUTIL_H
#define TP_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Read at most max bytes of path into a NUL-terminated buffer.  Returns 0 on
 * success, 1 when the file does not exist (nothing set), -1 on error (a
 * file larger than max is an error). */
int tp_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
		 struct tp_error *err);

/* Create dir (and missing parents) with mode when it does not exist. */
int tp_mkdir_p(const char *dir, mode_t mode, struct tp_error *err);

/* Replace dir/name with data: temporary file in dir, write, fchmod(mode),
 * fsync, rename over name, fsync dir.  On failure the old file is intact and
 * the temporary file is gone. */
int tp_write_file_atomic(const char *dir, const char *name, const void *data,
			 size_t len, mode_t mode, struct tp_error *err);

/* The same, owned by uid:gid ((uid_t)-1 / (gid_t)-1 leave it as is) before
 * it is renamed into place. */
int tp_write_file_atomic_owned(const char *dir, const char *name, const void *data,
			       size_t len, mode_t mode, uid_t uid, gid_t gid,
			       struct tp_error *err);

/* Remove dir/name (missing is fine) and sync dir. */
int tp_remove_file(const char *dir, const char *name, struct tp_error *err);

/* Take an exclusive flock on dir/name (created 0600), waiting at most
 * timeout seconds.  *ret_fd holds the lock until closed. */
int tp_lock_file(const char *dir, const char *name, unsigned timeout, int *ret_fd,
		 struct tp_error *err);

#endif
