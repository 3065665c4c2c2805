/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/store/reqjournal.h"

#include <string.h>

#include "src/base/strv.h"
#include "src/store/file.h"
#include "src/store/json.h"

/* The record holds a certificate (at most 64 KiB of PEM, escaped). */
#define REQUEST_MAX (320 * 1024)

static const char *const phase_names[] = {
	[TP_REQUEST_SENT] = "request-sent",
	[TP_CERT_RECEIVED] = "certificate-received",
	[TP_CERT_REFUSED] = "certificate-refused",
	[TP_CSR_WRITTEN] = "csr-written",
};

static bool add_certificate(cJSON *root, const struct tp_reqjournal *q)
{
	if (q->phase == TP_CERT_REFUSED)
		return cJSON_AddStringToObject(root, "certificate-id", q->certificate_id) &&
		       cJSON_AddStringToObject(root, "refused-because", q->refused_because);
	return q->phase != TP_CERT_RECEIVED || (cJSON_AddStringToObject(root, "certificate-id", q->certificate_id) &&
						tp_json_add_optional(root, "certificate-arn", q->certificate_arn) &&
						cJSON_AddStringToObject(root, "certificate-pem", q->certificate_pem) &&
						tp_json_add_optional(root, "created-at", q->created_at) &&
						tp_json_add_optional(root, "attached-thing", q->attached_thing) &&
						tp_json_add_strv(root, "attached-policies", q->attached_policies));
}

static cJSON *request_json(const void *record)
{
	const struct tp_reqjournal *q = record;
	cJSON *root = cJSON_CreateObject();

	if (!root || !cJSON_AddStringToObject(root, "phase", phase_names[q->phase]) ||
	    !cJSON_AddStringToObject(root, "key-name", q->key_name) ||
	    !cJSON_AddStringToObject(root, q->phase == TP_CSR_WRITTEN ? "written-at" : "sent-at", q->sent_at) ||
	    (q->phase == TP_CSR_WRITTEN && !cJSON_AddStringToObject(root, "csr-file", q->csr_file)) ||
	    !add_certificate(root, q)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static int parse_phase(const cJSON *root, const char *path, enum tp_request_phase *ret, struct tp_error *err)
{
	int i;

	if (tp_json_member_enum(root, "phase", phase_names, sizeof(phase_names) / sizeof(phase_names[0]), path, &i,
				err) < 0)
		return -1;
	*ret = (enum tp_request_phase)i;
	return 0;
}

static int certificate_from_json(const cJSON *root, const char *path, struct tp_reqjournal *q, struct tp_error *err)
{
	if (q->phase == TP_CERT_REFUSED)
		return tp_json_member(root, "certificate-id", path, &q->certificate_id, err) < 0 ||
				       tp_json_member(root, "refused-because", path, &q->refused_because, err) < 0
			       ? -1
			       : 0;
	if (q->phase != TP_CERT_RECEIVED)
		return 0;
	if (tp_json_member(root, "certificate-id", path, &q->certificate_id, err) < 0 ||
	    tp_json_optional_member(root, "certificate-arn", path, &q->certificate_arn, err) < 0 ||
	    tp_json_member(root, "certificate-pem", path, &q->certificate_pem, err) < 0 ||
	    tp_json_optional_member(root, "created-at", path, &q->created_at, err) < 0 ||
	    tp_json_optional_member(root, "attached-thing", path, &q->attached_thing, err) < 0 ||
	    tp_json_strv(root, "attached-policies", path, &q->attached_policies, err) < 0)
		return -1;
	return 0;
}

static int request_from_json(const cJSON *root, const char *path, void *ret, struct tp_error *err)
{
	struct tp_reqjournal q = { 0 };

	if (parse_phase(root, path, &q.phase, err) < 0 ||
	    tp_json_member(root, "key-name", path, &q.key_name, err) < 0 ||
	    tp_json_member(root, q.phase == TP_CSR_WRITTEN ? "written-at" : "sent-at", path, &q.sent_at, err) < 0 ||
	    (q.phase == TP_CSR_WRITTEN && tp_json_member(root, "csr-file", path, &q.csr_file, err) < 0) ||
	    certificate_from_json(root, path, &q, err) < 0) {
		tp_reqjournal_free(&q);
		return -1;
	}
	*(struct tp_reqjournal *)ret = q;
	return 0;
}

static const struct tp_record_type request_record = {
	.max = REQUEST_MAX, .mode = 0600, .to_json = request_json, .from_json = request_from_json
};

int tp_reqjournal_format(const struct tp_reqjournal *q, char **ret_json, struct tp_error *err)
{
	return tp_record_format(&request_record, q, ret_json, err);
}

int tp_reqjournal_parse(const char *json, size_t len, const char *path, struct tp_reqjournal *ret_request,
			struct tp_error *err)
{
	return tp_record_parse(&request_record, json, len, path, ret_request, err);
}

int tp_reqjournal_load(const char *dir, const char *key_name, struct tp_reqjournal *ret_request, struct tp_error *err)
{
	struct tp_reqjournal q;
	int r;

	r = tp_record_load(&request_record, dir, TP_REQJOURNAL_FILE, &q, err);
	if (r != 0)
		return r;
	if (strcmp(q.key_name, key_name) != 0) {
		tp_reqjournal_free(&q);
		return TP_MISSING;
	}
	*ret_request = q;
	return 0;
}

int tp_reqjournal_save(const char *dir, const struct tp_reqjournal *q, struct tp_error *err)
{
	return tp_record_save(&request_record, dir, TP_REQJOURNAL_FILE, q, (uid_t)-1, (gid_t)-1, err);
}

int tp_reqjournal_remove(const char *dir, struct tp_error *err)
{
	return tp_remove_file(dir, TP_REQJOURNAL_FILE, err);
}

void tp_reqjournal_free(struct tp_reqjournal *q)
{
	if (!q)
		return;
	free(q->key_name);
	free(q->sent_at);
	free(q->csr_file);
	free(q->certificate_id);
	free(q->certificate_arn);
	free(q->certificate_pem);
	free(q->created_at);
	free(q->refused_because);
	free(q->attached_thing);
	tp_strv_free(q->attached_policies);
	*q = (struct tp_reqjournal){ 0 };
}
