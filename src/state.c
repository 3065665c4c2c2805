#include "state.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "options.h"

void tp_format_time(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, TP_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The key's location: "key-handle" or "key-file". */
static int add_key_location(cJSON *root, uint32_t key_handle, const char *key_file)
{
	char handle[16];

	if (key_file)
		return cJSON_AddStringToObject(root, "key-file", key_file) != NULL;
	snprintf(handle, sizeof(handle), "0x%08x", key_handle);
	return cJSON_AddStringToObject(root, "key-handle", handle) != NULL;
}

/* Pretty JSON with a final newline. */
static int print_json(cJSON *root, char **ret_json, struct tp_error *err)
{
	char *json = cJSON_Print(root), *with_nl;

	if (!json)
		return tp_error_set(err, EX_IOERR, "out of memory");
	with_nl = realloc(json, strlen(json) + 2);
	if (!with_nl) {
		free(json);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	strcat(with_nl, "\n");
	*ret_json = with_nl;
	return 0;
}

int tp_state_format(const struct tp_state *s, char **ret_json, struct tp_error *err)
{
	cJSON *root;
	int r;

	root = cJSON_CreateObject();
	if (!root || !cJSON_AddStringToObject(root, "thing-name", s->thing_name) ||
	    !cJSON_AddStringToObject(root, "certificate-id", s->certificate_id) ||
	    !cJSON_AddStringToObject(root, "certificate-arn", s->certificate_arn) ||
	    !add_key_location(root, s->key_handle, s->key_file) ||
	    !cJSON_AddStringToObject(root, "key-name", s->key_name) ||
	    !cJSON_AddStringToObject(root, "endpoint", s->endpoint) ||
	    !cJSON_AddStringToObject(root, "iot-endpoint", s->iot_endpoint) ||
	    !cJSON_AddStringToObject(root, "provisioned-at", s->provisioned_at) ||
	    !cJSON_AddStringToObject(root, "tool-version", s->tool_version)) {
		cJSON_Delete(root);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	r = print_json(root, ret_json, err);
	cJSON_Delete(root);
	return r;
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

/* "key-handle" or "key-file", whichever the record has. */
static int parse_key_location(const cJSON *root, const char *path, uint32_t *ret_handle, char **ret_file,
			      struct tp_error *err)
{
	char *handle = NULL;
	int r;

	if (cJSON_GetObjectItemCaseSensitive(root, "key-file")) {
		*ret_handle = 0;
		return member(root, "key-file", path, ret_file, err);
	}
	if (member(root, "key-handle", path, &handle, err) < 0)
		return -1;
	r = tp_parse_handle(handle, ret_handle);
	free(handle);
	if (r < 0)
		return tp_error_set(err, EX_DATAERR, "%s: \"key-handle\" is not a persistent handle", path);
	return 0;
}

/* The document as a JSON object, or NULL with err set. */
static cJSON *parse_object(const char *json, size_t len, const char *path, struct tp_error *err)
{
	cJSON *root = cJSON_ParseWithLength(json, len);

	if (cJSON_IsObject(root))
		return root;
	cJSON_Delete(root);
	tp_error_set(err, EX_DATAERR, "%s: not a JSON object", path);
	return NULL;
}

int tp_state_parse(const char *json, size_t len, const char *path, struct tp_state *ret_state,
		   struct tp_error *err)
{
	struct tp_state s = { 0 };
	cJSON *root;
	int r = -1;

	root = parse_object(json, len, path, err);
	if (!root)
		goto out;
	if (member(root, "thing-name", path, &s.thing_name, err) < 0 ||
	    member(root, "certificate-id", path, &s.certificate_id, err) < 0 ||
	    member(root, "certificate-arn", path, &s.certificate_arn, err) < 0 ||
	    parse_key_location(root, path, &s.key_handle, &s.key_file, err) < 0 ||
	    member(root, "key-name", path, &s.key_name, err) < 0 ||
	    member(root, "endpoint", path, &s.endpoint, err) < 0 ||
	    member(root, "iot-endpoint", path, &s.iot_endpoint, err) < 0 ||
	    member(root, "provisioned-at", path, &s.provisioned_at, err) < 0 ||
	    member(root, "tool-version", path, &s.tool_version, err) < 0)
		goto out;
	*ret_state = s;
	memset(&s, 0, sizeof(s));
	r = 0;
out:
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
	free(s->key_file);
	free(s->key_name);
	free(s->endpoint);
	free(s->iot_endpoint);
	free(s->provisioned_at);
	free(s->tool_version);
	memset(s, 0, sizeof(*s));
}

int tp_journal_format(const struct tp_journal *j, char **ret_json, struct tp_error *err)
{
	cJSON *root;
	int r;

	root = cJSON_CreateObject();
	if (!root || !cJSON_AddStringToObject(root, "phase", j->phase) ||
	    !add_key_location(root, j->key_handle, j->key_file) ||
	    !cJSON_AddStringToObject(root, "key-alg", j->key_alg) ||
	    (j->key_name && !cJSON_AddStringToObject(root, "key-name", j->key_name))) {
		cJSON_Delete(root);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	r = print_json(root, ret_json, err);
	cJSON_Delete(root);
	return r;
}

int tp_journal_parse(const char *json, size_t len, const char *path, struct tp_journal *ret_journal,
		     struct tp_error *err)
{
	struct tp_journal j = { 0 };
	cJSON *root;
	int r = -1;

	root = parse_object(json, len, path, err);
	if (!root)
		goto out;
	if (member(root, "phase", path, &j.phase, err) < 0 ||
	    parse_key_location(root, path, &j.key_handle, &j.key_file, err) < 0 ||
	    member(root, "key-alg", path, &j.key_alg, err) < 0)
		goto out;
	if (strcmp(j.phase, TP_PHASE_KEY_CREATED) == 0 && member(root, "key-name", path, &j.key_name, err) < 0)
		goto out;
	if (strcmp(j.phase, TP_PHASE_KEY_CREATED) != 0 && strcmp(j.phase, TP_PHASE_CREATING_KEY) != 0) {
		tp_error_set(err, EX_DATAERR, "%s: unknown \"phase\" \"%s\"", path, j.phase);
		goto out;
	}
	*ret_journal = j;
	memset(&j, 0, sizeof(j));
	r = 0;
out:
	tp_journal_free(&j);
	cJSON_Delete(root);
	return r;
}

void tp_journal_free(struct tp_journal *j)
{
	if (!j)
		return;
	free(j->phase);
	free(j->key_file);
	free(j->key_alg);
	free(j->key_name);
	memset(j, 0, sizeof(*j));
}

int tp_request_format(const struct tp_request *q, char **ret_json, struct tp_error *err)
{
	const bool received = strcmp(q->phase, TP_PHASE_CERT_RECEIVED) == 0;
	cJSON *root;
	int r;

	root = cJSON_CreateObject();
	if (!root || !cJSON_AddStringToObject(root, "phase", q->phase) ||
	    !cJSON_AddStringToObject(root, "key-name", q->key_name) ||
	    !cJSON_AddStringToObject(root, "sent-at", q->sent_at) ||
	    (received && (!cJSON_AddStringToObject(root, "certificate-id", q->certificate_id) ||
			  !cJSON_AddStringToObject(root, "certificate-arn", q->certificate_arn) ||
			  !cJSON_AddStringToObject(root, "certificate-pem", q->certificate_pem)))) {
		cJSON_Delete(root);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	r = print_json(root, ret_json, err);
	cJSON_Delete(root);
	return r;
}

int tp_request_parse(const char *json, size_t len, const char *path, struct tp_request *ret_request,
		     struct tp_error *err)
{
	struct tp_request q = { 0 };
	cJSON *root;
	int r = -1;

	root = parse_object(json, len, path, err);
	if (!root)
		goto out;
	if (member(root, "phase", path, &q.phase, err) < 0 || member(root, "key-name", path, &q.key_name, err) < 0 ||
	    member(root, "sent-at", path, &q.sent_at, err) < 0)
		goto out;
	if (strcmp(q.phase, TP_PHASE_CERT_RECEIVED) == 0) {
		if (member(root, "certificate-id", path, &q.certificate_id, err) < 0 ||
		    member(root, "certificate-arn", path, &q.certificate_arn, err) < 0 ||
		    member(root, "certificate-pem", path, &q.certificate_pem, err) < 0)
			goto out;
	} else if (strcmp(q.phase, TP_PHASE_REQUEST_SENT) != 0) {
		tp_error_set(err, EX_DATAERR, "%s: unknown \"phase\" \"%s\"", path, q.phase);
		goto out;
	}
	*ret_request = q;
	memset(&q, 0, sizeof(q));
	r = 0;
out:
	tp_request_free(&q);
	cJSON_Delete(root);
	return r;
}

void tp_request_free(struct tp_request *q)
{
	if (!q)
		return;
	free(q->phase);
	free(q->key_name);
	free(q->sent_at);
	free(q->certificate_id);
	free(q->certificate_arn);
	free(q->certificate_pem);
	memset(q, 0, sizeof(*q));
}
