/* SPDX-License-Identifier: BSD-2-Clause */
/* Files: bounded reads, atomic replacement, removal, the run lock.  Bytes
 * are read and written here; the records made of them are loaded and saved
 * (json.h). */
#ifndef TP_FILE_H
#define TP_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "src/base/err.h"

/* "dir/name", allocated. */
int tp_path_join(const char *dir, const char *name, char **ret, struct tp_error *err);

/* Split path into its directory and its last component, both allocated. */
int tp_path_split(const char *path, char **ret_dir, char **ret_base, struct tp_error *err);

/* Refuse anything but a regular file behind fd (a FIFO would block, a
 * device never end); path names it. */
int tp_check_regular(int fd, const char *path, struct tp_error *err);

/* Read at most max bytes of the regular file path into a NUL-terminated
 * buffer.  TP_MISSING when the file does not exist (nothing set); a file
 * larger than max, or not a regular file, is an error. */
int tp_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct tp_error *err);

/* Read fd to its end the same way; path names it in errors. */
int tp_read_fd(int fd, const char *path, size_t max, char **ret_buf, size_t *ret_len, struct tp_error *err);

/* The same for dir/name. */
int tp_read_file_in(const char *dir, const char *name, size_t max, char **ret_buf, size_t *ret_len,
		    struct tp_error *err);

/* Create dir (and missing parents) with mode when it does not exist. */
int tp_mkdir_p(const char *dir, mode_t mode, struct tp_error *err);

/* A directory this program writes files others trust into: writable by
 * no one but its owner, who is this user or root; anything else is
 * EX_CONFIG with the mode or owner in the message. */
int tp_check_dir_safe(const char *dir, struct tp_error *err);

/* Create dir (0755, owned by this user) when missing, then check it. */
int tp_mkdir_safe(const char *dir, struct tp_error *err);

/* Replace dir/name with data: temporary file in dir, write, fchown (unless
 * uid and gid are -1), fchmod(mode), fsync, rename over name, fsync dir.  On
 * failure the old file is intact and the temporary file is gone. */
int tp_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
			 gid_t gid, struct tp_error *err);

/* As tp_write_file_atomic (owned by this user), but dir is not synced: the
 * new name is durable only once tp_sync_dir(dir) returns.  For many files
 * at once (a batch): one directory sync covers all of them. */
int tp_write_file_unsynced(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
			   struct tp_error *err);

/* fsync dir: the renames and removals made in it so far are durable. */
int tp_sync_dir(const char *dir, struct tp_error *err);

/* Remove dir/name (missing is fine) and sync dir. */
int tp_remove_file(const char *dir, const char *name, struct tp_error *err);

/* Take an exclusive flock on dir/name (created 0600), waiting at most
 * timeout seconds; waiting (when given) is told once if the lock is held,
 * with the holder's PID (0 if unknown).  *ret_fd holds the lock until
 * closed. */
int tp_lock_file(const char *dir, const char *name, unsigned timeout, void (*waiting)(const char *path, long pid),
		 int *ret_fd, struct tp_error *err);

#endif
