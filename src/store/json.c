/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/store/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "src/base/strv.h"
#include "src/store/file.h"

int tp_json_print(const cJSON *root, char **ret_json, struct tp_error *err)
{
	_cleanup_free_ char *json = cJSON_Print(root);
	char *with_nl;

	if (!json || asprintf(&with_nl, "%s\n", json) < 0)
		return tp_error_oom(err);
	*ret_json = with_nl;
	return 0;
}

/* The first byte of json that breaks the rule, or len: a NUL byte or a
 * control character (below 0x20) anywhere, but JSON's whitespace (tab,
 * newline, carriage return) between tokens; or a \u0000 escape.  JSON
 * forbids the first, and cJSON would take them, cutting a string short at
 * a NUL. */
static size_t find_control(const char *json, size_t len)
{
	bool in_string = false;
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)json[i];
		if (c == '\0' || (c < 0x20 && (in_string || (c != '\t' && c != '\n' && c != '\r'))))
			return i;
		if (!in_string || c != '\\') {
			in_string = in_string ? c != '"' : c == '"';
			continue;
		}
		if (i + 5 < len && memcmp(json + i + 1, "u0000", 5) == 0)
			return i;
		/* The escaped character, which must not be a control one either. */
		if (++i < len && (unsigned char)json[i] < 0x20)
			return i;
	}
	return len;
}

int tp_json_check_text(const char *json, size_t len, const char *what, int exit_code, struct tp_error *err)
{
	size_t at = find_control(json, len);
	unsigned char c;

	if (at == len)
		return 0;
	c = (unsigned char)json[at];
	if (c == '\\')
		return tp_error_set(err, exit_code, "%s: a string holds a NUL character (\\u0000) at byte %zu", what,
				    at);
	if (c == '\0')
		return tp_error_set(err, exit_code, "%s: a NUL byte at byte %zu", what, at);
	return tp_error_set(err, exit_code,
			    "%s: a control character (0x%02x) at byte %zu: JSON allows one only escaped (\\u%04x) "
			    "inside a string",
			    what, c, at, c);
}

cJSON *tp_json_parse_object(const char *json, size_t len, const char *path, struct tp_error *err)
{
	cJSON *root;

	if (tp_json_check_text(json, len, path, EX_DATAERR, err) < 0)
		return NULL;
	root = cJSON_ParseWithLength(json, len);
	if (cJSON_IsObject(root))
		return root;
	cJSON_Delete(root);
	tp_error_set(err, EX_DATAERR, "%s: not a JSON object", path);
	return NULL;
}

int tp_json_member(const cJSON *root, const char *name, const char *path, char **ret, struct tp_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!cJSON_IsString(item))
		return tp_error_set(err, EX_DATAERR, "%s: \"%s\" is missing or not a string", path, name);
	*ret = strdup(item->valuestring);
	return *ret ? 0 : tp_error_oom(err);
}

int tp_json_optional_member(const cJSON *root, const char *name, const char *path, char **ret, struct tp_error *err)
{
	*ret = NULL;
	if (!cJSON_GetObjectItemCaseSensitive(root, name))
		return 0;
	return tp_json_member(root, name, path, ret, err);
}

int tp_json_strv(const cJSON *root, const char *name, const char *path, char ***ret, struct tp_error *err)
{
	const cJSON *array = cJSON_GetObjectItemCaseSensitive(root, name), *item;
	char **strv = NULL;

	*ret = NULL;
	if (!array)
		return 0;
	if (!cJSON_IsArray(array))
		return tp_error_set(err, EX_DATAERR, "%s: \"%s\" is not an array of strings", path, name);
	cJSON_ArrayForEach(item, array)
	{
		if (!cJSON_IsString(item)) {
			tp_strv_free(strv);
			return tp_error_set(err, EX_DATAERR, "%s: \"%s\" is not an array of strings", path, name);
		}
		if (tp_strv_push_copy(&strv, item->valuestring) < 0) {
			tp_strv_free(strv);
			return tp_error_oom(err);
		}
	}
	*ret = strv;
	return 0;
}

bool tp_json_add_strv(cJSON *root, const char *name, char *const *strv)
{
	cJSON *array;

	if (!strv || !*strv)
		return true;
	array = cJSON_AddArrayToObject(root, name);
	for (; array && *strv; strv++)
		if (!cJSON_AddItemToArray(array, cJSON_CreateString(*strv)))
			return false;
	return array != NULL;
}

bool tp_json_add_optional(cJSON *root, const char *name, const char *value)
{
	return !value || cJSON_AddStringToObject(root, name, value) != NULL;
}

int tp_json_member_enum(const cJSON *root, const char *name, const char *const *names, int n, const char *path,
			int *ret, struct tp_error *err)
{
	_cleanup_free_ char *v = NULL;
	int i;

	if (tp_json_member(root, name, path, &v, err) < 0)
		return -1;
	for (i = 1; i < n; i++)
		if (names[i] && strcmp(v, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	return tp_error_set(err, EX_DATAERR, "%s: unknown \"%s\" \"%s\"", path, name, v);
}

int tp_json_add_keyloc(cJSON *root, const struct tp_keyloc *k)
{
	char handle[16];

	if (k->file)
		return cJSON_AddStringToObject(root, "key-file", k->file) != NULL;
	snprintf(handle, sizeof(handle), "0x%08x", k->handle);
	return cJSON_AddStringToObject(root, "key-handle", handle) != NULL;
}

int tp_json_keyloc(const cJSON *root, const char *path, struct tp_keyloc *ret, struct tp_error *err)
{
	_cleanup_free_ char *handle = NULL;
	struct tp_keyloc k = { 0 };

	if (cJSON_GetObjectItemCaseSensitive(root, "key-file")) {
		if (tp_json_member(root, "key-file", path, &k.file, err) < 0)
			return -1;
		*ret = k;
		return 0;
	}
	if (tp_json_member(root, "key-handle", path, &handle, err) < 0)
		return -1;
	if (tp_keyloc_parse_handle(handle, &k.handle) < 0)
		return tp_error_set(err, EX_DATAERR, "%s: \"key-handle\" is not a persistent handle", path);
	*ret = k;
	return 0;
}

int tp_record_format(const struct tp_record_type *t, const void *record, char **ret_json, struct tp_error *err)
{
	_cleanup_json_ cJSON *root = t->to_json(record);

	return root ? tp_json_print(root, ret_json, err) : tp_error_oom(err);
}

int tp_record_parse(const struct tp_record_type *t, const char *json, size_t len, const char *path, void *ret_record,
		    struct tp_error *err)
{
	_cleanup_json_ cJSON *root = tp_json_parse_object(json, len, path, err);

	return root ? t->from_json(root, path, ret_record, err) : -1;
}

int tp_record_load(const struct tp_record_type *t, const char *dir, const char *name, void *ret_record,
		   struct tp_error *err)
{
	_cleanup_free_ char *path = NULL, *json = NULL;
	size_t len;
	int r;

	if (tp_path_join(dir, name, &path, err) < 0)
		return -1;
	r = tp_read_file(path, t->max, &json, &len, err);
	if (r != 0)
		return r;
	return tp_record_parse(t, json, len, path, ret_record, err);
}

int tp_record_save(const struct tp_record_type *t, const char *dir, const char *name, const void *record, uid_t uid,
		   gid_t gid, struct tp_error *err)
{
	_cleanup_free_ char *json = NULL;

	if (tp_record_format(t, record, &json, err) < 0)
		return -1;
	if (t->group_commit)
		return tp_write_file_unsynced(dir, name, json, strlen(json), t->mode, err);
	return tp_write_file_atomic(dir, name, json, strlen(json), t->mode, uid, gid, err);
}
