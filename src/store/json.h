/* SPDX-License-Identifier: BSD-2-Clause */
/* What the store's JSON files share: members, objects, the key location. */
#ifndef TP_STORE_JSON_H
#define TP_STORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "src/base/cleanup.h"
#include "src/base/err.h"
#include "src/base/keyloc.h"

TP_DEFINE_POINTER_CLEANUP(cJSON, cJSON_Delete)
#define _cleanup_json_ _cleanup_(cJSON_Deletep)

/* Pretty JSON with a final newline. */
int tp_json_print(const cJSON *root, char **ret_json, struct tp_error *err);

/* The rule for every JSON file read: no NUL byte, no control character
 * (below 0x20) but whitespace between tokens (JSON forbids them raw in a
 * string), no \u0000 escape (a C string would end there).  A breach is
 * exit_code, naming what (the file) and the byte offset. */
int tp_json_check_text(const char *json, size_t len, const char *what, int exit_code, struct tp_error *err);

/* The document as a JSON object, or NULL with err set (EX_DATAERR naming
 * path): a text tp_json_check_text refuses, or anything else. */
cJSON *tp_json_parse_object(const char *json, size_t len, const char *path, struct tp_error *err);

/* A string member, copied; missing or not a string is EX_DATAERR naming it
 * and path. */
int tp_json_member(const cJSON *root, const char *name, const char *path, char **ret, struct tp_error *err);

/* The same, optional: *ret stays NULL when the member is absent. */
int tp_json_optional_member(const cJSON *root, const char *name, const char *path, char **ret, struct tp_error *err);

/* An optional array of strings (NULL when absent), and adding one (nothing
 * for an empty list); the add functions return false when out of memory. */
int tp_json_strv(const cJSON *root, const char *name, const char *path, char ***ret, struct tp_error *err);
bool tp_json_add_strv(cJSON *root, const char *name, char *const *strv);

/* Add name: value unless value is NULL. */
bool tp_json_add_optional(cJSON *root, const char *name, const char *value);

/* A string member that must be one of names[1..n-1] (names[0] unused, so
 * that enums start at 1): *ret is its index.  An unknown value is quoted. */
int tp_json_member_enum(const cJSON *root, const char *name, const char *const *names, int n, const char *path,
			int *ret, struct tp_error *err);

/* The key's location as "key-handle" or "key-file". */
int tp_json_add_keyloc(cJSON *root, const struct tp_keyloc *k);
int tp_json_keyloc(const cJSON *root, const char *path, struct tp_keyloc *ret, struct tp_error *err);

/*
 * The one skeleton of the store's JSON records (state.json, journal.json,
 * request.json, a batch's files): a record type says how large its file may
 * be, its mode, whether its directory is synced, and how a record (a struct
 * of its module) becomes a JSON object and back; the functions below do the
 * rest the same way for all.  A record is loaded and saved; the bytes of a
 * file are read and written (file.h).
 */
struct tp_record_type {
	size_t max;	   /* the largest file loaded */
	mode_t mode;	   /* of the file saved */
	bool group_commit; /* the caller syncs the directory (tp_sync_dir), once
			    * for many files; the owner is then this user */
	/* The record as a new object; NULL when out of memory. */
	cJSON *(*to_json)(const void *record);
	/* The object as a record, written only on success; a missing member
	 * or a wrong type is EX_DATAERR naming it and path. */
	int (*from_json)(const cJSON *root, const char *path, void *ret_record, struct tp_error *err);
};

/* The record as pretty JSON with a final newline. */
int tp_record_format(const struct tp_record_type *t, const void *record, char **ret_json, struct tp_error *err);

/* The document as a record; path names it in errors. */
int tp_record_parse(const struct tp_record_type *t, const char *json, size_t len, const char *path, void *ret_record,
		    struct tp_error *err);

/* dir/name as a record: TP_MISSING when there is no such file. */
int tp_record_load(const struct tp_record_type *t, const char *dir, const char *name, void *ret_record,
		   struct tp_error *err);

/* Replace dir/name with the record atomically, owned by uid:gid (or -1). */
int tp_record_save(const struct tp_record_type *t, const char *dir, const char *name, const void *record, uid_t uid,
		   gid_t gid, struct tp_error *err);

#endif
