/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/store/state.h"

#include <string.h>
#include <time.h>

#include "src/base/strv.h"
#include "src/store/file.h"
#include "src/store/json.h"

#define STATE_MAX (64 * 1024)

static cJSON *state_json(const void *record)
{
	const struct tp_state *s = record;
	cJSON *root = cJSON_CreateObject();

	if (!root || !cJSON_AddStringToObject(root, "thing-name", s->thing_name) ||
	    !cJSON_AddStringToObject(root, "certificate-id", s->certificate_id) ||
	    !tp_json_add_optional(root, "certificate-arn", s->certificate_arn) ||
	    !tp_json_add_optional(root, "certificate-created-at", s->certificate_created_at) ||
	    !tp_json_add_keyloc(root, &s->key) || !cJSON_AddStringToObject(root, "key-name", s->key_name) ||
	    !tp_json_add_optional(root, "endpoint", s->endpoint) ||
	    !cJSON_AddStringToObject(root, "iot-endpoint", s->iot_endpoint) ||
	    !cJSON_AddStringToObject(root, "provisioned-at", s->provisioned_at) ||
	    !cJSON_AddStringToObject(root, "tool-version", s->tool_version) ||
	    !tp_json_add_optional(root, "attached-thing", s->attached_thing) ||
	    !tp_json_add_strv(root, "policies", s->policies)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

void tp_state_stamp(struct tp_state *s, char when[TP_TIME_MAX])
{
	tp_format_time(time(NULL), when);
	s->provisioned_at = when;
	s->tool_version = (char *)PACKAGE_VERSION;
}

static int state_from_json(const cJSON *root, const char *path, void *ret_state, struct tp_error *err)
{
	struct tp_state s = { 0 };

	if (tp_json_member(root, "thing-name", path, &s.thing_name, err) < 0 ||
	    tp_json_member(root, "certificate-id", path, &s.certificate_id, err) < 0 ||
	    tp_json_optional_member(root, "certificate-arn", path, &s.certificate_arn, err) < 0 ||
	    tp_json_optional_member(root, "certificate-created-at", path, &s.certificate_created_at, err) < 0 ||
	    tp_json_keyloc(root, path, &s.key, err) < 0 ||
	    tp_json_member(root, "key-name", path, &s.key_name, err) < 0 ||
	    tp_json_optional_member(root, "endpoint", path, &s.endpoint, err) < 0 ||
	    tp_json_member(root, "iot-endpoint", path, &s.iot_endpoint, err) < 0 ||
	    tp_json_member(root, "provisioned-at", path, &s.provisioned_at, err) < 0 ||
	    tp_json_member(root, "tool-version", path, &s.tool_version, err) < 0 ||
	    tp_json_optional_member(root, "attached-thing", path, &s.attached_thing, err) < 0 ||
	    tp_json_strv(root, "policies", path, &s.policies, err) < 0) {
		tp_state_free(&s);
		return -1;
	}
	*(struct tp_state *)ret_state = s;
	return 0;
}

static const struct tp_record_type state_record = {
	.max = STATE_MAX, .mode = 0644, .to_json = state_json, .from_json = state_from_json
};

int tp_state_format(const struct tp_state *s, char **ret_json, struct tp_error *err)
{
	return tp_record_format(&state_record, s, ret_json, err);
}

int tp_state_parse(const char *json, size_t len, const char *path, struct tp_state *ret_state, struct tp_error *err)
{
	return tp_record_parse(&state_record, json, len, path, ret_state, err);
}

int tp_state_load(const char *dir, struct tp_state *ret_state, struct tp_error *err)
{
	return tp_record_load(&state_record, dir, TP_STATE_FILE, ret_state, err);
}

int tp_state_save(const char *dir, const struct tp_state *s, uid_t uid, gid_t gid, struct tp_error *err)
{
	return tp_record_save(&state_record, dir, TP_STATE_FILE, s, uid, gid, err);
}

void tp_state_free(struct tp_state *s)
{
	if (!s)
		return;
	free(s->thing_name);
	free(s->certificate_id);
	free(s->certificate_arn);
	tp_keyloc_free(&s->key);
	free(s->key_name);
	free(s->endpoint);
	free(s->iot_endpoint);
	free(s->provisioned_at);
	free(s->tool_version);
	free(s->certificate_created_at);
	free(s->attached_thing);
	tp_strv_free(s->policies);
	*s = (struct tp_state){ 0 };
}
