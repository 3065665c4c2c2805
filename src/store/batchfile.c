/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/store/batchfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/base/strv.h"
#include "src/store/file.h"
#include "src/store/json.h"

#define RECORD_MAX (16 * 1024)

static const char *const phase_names[] = {
	[TP_BATCH_SENT] = "request-sent",
	[TP_BATCH_RECEIVED] = "certificate-received",
	[TP_BATCH_DONE] = "done",
	[TP_BATCH_REFUSED] = "certificate-refused",
};

static cJSON *record_json(const struct tp_batch_record *rec, const char *error)
{
	cJSON *root = cJSON_CreateObject();

	if (!root || (rec->phase && !cJSON_AddStringToObject(root, "phase", phase_names[rec->phase])) ||
	    !cJSON_AddStringToObject(root, "csr", rec->csr) || !tp_json_add_optional(root, "sent-at", rec->sent_at) ||
	    !tp_json_add_optional(root, "certificate-id", rec->certificate_id) ||
	    !tp_json_add_optional(root, "certificate-arn", rec->certificate_arn) ||
	    !tp_json_add_optional(root, "status", rec->status) ||
	    !tp_json_add_optional(root, "done-at", rec->done_at) ||
	    !tp_json_add_optional(root, "attached-thing", rec->attached_thing) ||
	    !tp_json_add_strv(root, "policies", rec->policies) ||
	    !tp_json_add_optional(root, "refused-because", rec->refused_because) ||
	    !tp_json_add_optional(root, "error", error)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static int file_name(const char *name, const char *suffix, char **ret, struct tp_error *err)
{
	return asprintf(ret, "%s%s", name, suffix) < 0 ? tp_error_oom(err) : 0;
}

int tp_batch_pending_remove(const char *dir, const char *name, bool durable, struct tp_error *err)
{
	_cleanup_free_ char *file = NULL, *path = NULL;

	if (file_name(name, ".pending", &file, err) < 0)
		return -1;
	if (durable)
		return tp_remove_file(dir, file, err);
	if (tp_path_join(dir, file, &path, err) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return tp_error_set(err, EX_IOERR, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static bool exists(const char *dir, const char *name, const char *suffix)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s%s", dir, name, suffix) < 0)
		return false;
	return access(path, F_OK) == 0;
}

bool tp_batch_done(const char *dir, const char *name)
{
	return exists(dir, name, ".json");
}

bool tp_batch_pending_exists(const char *dir, const char *name)
{
	return exists(dir, name, ".pending");
}

int tp_batch_record_line(const struct tp_batch_record *rec, const char *error, char **ret, struct tp_error *err)
{
	_cleanup_json_ cJSON *root = record_json(rec, error);

	if (!root || !(*ret = cJSON_PrintUnformatted(root)))
		return tp_error_oom(err);
	return 0;
}

static int record_from_json(const cJSON *root, const char *path, void *ret, struct tp_error *err)
{
	struct tp_batch_record rec = { 0 };
	int phase;

	if (tp_json_member_enum(root, "phase", phase_names, sizeof(phase_names) / sizeof(phase_names[0]), path, &phase,
				err) < 0)
		return -1;
	rec.phase = (enum tp_batch_phase)phase;
	if (tp_json_member(root, "csr", path, &rec.csr, err) < 0 ||
	    tp_json_optional_member(root, "sent-at", path, &rec.sent_at, err) < 0 ||
	    (rec.phase == TP_BATCH_SENT ? 0 : tp_json_member(root, "certificate-id", path, &rec.certificate_id, err)) <
		    0 ||
	    tp_json_optional_member(root, "certificate-arn", path, &rec.certificate_arn, err) < 0 ||
	    tp_json_optional_member(root, "status", path, &rec.status, err) < 0 ||
	    tp_json_optional_member(root, "done-at", path, &rec.done_at, err) < 0 ||
	    tp_json_optional_member(root, "attached-thing", path, &rec.attached_thing, err) < 0 ||
	    tp_json_strv(root, "policies", path, &rec.policies, err) < 0 ||
	    tp_json_optional_member(root, "refused-because", path, &rec.refused_because, err) < 0) {
		tp_batch_record_free(&rec);
		return -1;
	}
	*(struct tp_batch_record *)ret = rec;
	return 0;
}

static cJSON *record_to_json(const void *record)
{
	return record_json(record, NULL);
}

/* The files are synced together by the caller (group commit). */
static const struct tp_record_type batch_record = {
	.max = RECORD_MAX, .mode = 0644, .group_commit = true, .to_json = record_to_json, .from_json = record_from_json
};

static int save(const char *dir, const char *name, const char *suffix, const struct tp_batch_record *rec,
		struct tp_error *err)
{
	_cleanup_free_ char *file = NULL;

	if (file_name(name, suffix, &file, err) < 0)
		return -1;
	return tp_record_save(&batch_record, dir, file, rec, (uid_t)-1, (gid_t)-1, err);
}

int tp_batch_pending_save(const char *dir, const char *name, const struct tp_batch_record *rec, struct tp_error *err)
{
	return save(dir, name, ".pending", rec, err);
}

int tp_batch_result_save(const char *dir, const char *name, const struct tp_batch_record *rec, struct tp_error *err)
{
	return save(dir, name, ".json", rec, err);
}

int tp_batch_record_parse(const char *json, size_t len, const char *path, struct tp_batch_record *ret,
			  struct tp_error *err)
{
	return tp_record_parse(&batch_record, json, len, path, ret, err);
}

int tp_batch_pending_load(const char *dir, const char *name, struct tp_batch_record *ret, struct tp_error *err)
{
	_cleanup_free_ char *file = NULL;

	if (file_name(name, ".pending", &file, err) < 0)
		return -1;
	return tp_record_load(&batch_record, dir, file, ret, err);
}

void tp_batch_record_free(struct tp_batch_record *rec)
{
	if (!rec)
		return;
	free(rec->csr);
	free(rec->sent_at);
	free(rec->certificate_id);
	free(rec->certificate_arn);
	free(rec->status);
	free(rec->done_at);
	free(rec->attached_thing);
	tp_strv_free(rec->policies);
	free(rec->refused_because);
	*rec = (struct tp_batch_record){ 0 };
}
