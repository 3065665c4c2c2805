#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "options.h"

int tp_state_format(const struct tp_state *s, char **ret_json, struct tp_error *err)
{
	char handle[16], *json = NULL, *with_nl;
	cJSON *root;

	snprintf(handle, sizeof(handle), "0x%08x", s->key_handle);
	root = cJSON_CreateObject();
	if (!root || !cJSON_AddStringToObject(root, "thing-name", s->thing_name) ||
	    !cJSON_AddStringToObject(root, "certificate-id", s->certificate_id) ||
	    !cJSON_AddStringToObject(root, "certificate-arn", s->certificate_arn) ||
	    !cJSON_AddStringToObject(root, "key-handle", handle) ||
	    !cJSON_AddStringToObject(root, "key-name", s->key_name) ||
	    !cJSON_AddStringToObject(root, "endpoint", s->endpoint) ||
	    !cJSON_AddStringToObject(root, "provisioned-at", s->provisioned_at) ||
	    !cJSON_AddStringToObject(root, "tool-version", s->tool_version) ||
	    !(json = cJSON_Print(root))) {
		cJSON_Delete(root);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	cJSON_Delete(root);
	with_nl = realloc(json, strlen(json) + 2);
	if (!with_nl) {
		free(json);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	strcat(with_nl, "\n");
	*ret_json = with_nl;
	return 0;
}

static int member(const cJSON *root, const char *name, const char *path, char **ret, struct tp_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!cJSON_IsString(item))
		return tp_error_set(err, EX_DATAERR, "%s: \"%s\" is missing or not a string", path, name);
	*ret = strdup(item->valuestring);
	if (!*ret)
		return tp_error_set(err, EX_IOERR, "out of memory");
	return 0;
}

int tp_state_parse(const char *json, size_t len, const char *path, struct tp_state *ret_state,
		   struct tp_error *err)
{
	struct tp_state s = { 0 };
	char *handle = NULL;
	cJSON *root;
	int r = -1;

	root = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(root)) {
		tp_error_set(err, EX_DATAERR, "%s: not a JSON object", path);
		goto out;
	}
	if (member(root, "thing-name", path, &s.thing_name, err) < 0 ||
	    member(root, "certificate-id", path, &s.certificate_id, err) < 0 ||
	    member(root, "certificate-arn", path, &s.certificate_arn, err) < 0 ||
	    member(root, "key-handle", path, &handle, err) < 0 ||
	    member(root, "key-name", path, &s.key_name, err) < 0 ||
	    member(root, "endpoint", path, &s.endpoint, err) < 0 ||
	    member(root, "provisioned-at", path, &s.provisioned_at, err) < 0 ||
	    member(root, "tool-version", path, &s.tool_version, err) < 0)
		goto out;
	if (tp_parse_handle(handle, &s.key_handle) < 0) {
		tp_error_set(err, EX_DATAERR, "%s: \"key-handle\" is not a persistent handle", path);
		goto out;
	}
	*ret_state = s;
	memset(&s, 0, sizeof(s));
	r = 0;
out:
	free(handle);
	tp_state_free(&s);
	cJSON_Delete(root);
	return r;
}

void tp_state_free(struct tp_state *s)
{
	if (!s)
		return;
	free(s->thing_name);
	free(s->certificate_id);
	free(s->certificate_arn);
	free(s->key_name);
	free(s->endpoint);
	free(s->provisioned_at);
	free(s->tool_version);
	memset(s, 0, sizeof(*s));
}
