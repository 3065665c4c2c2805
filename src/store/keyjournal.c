/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/store/keyjournal.h"

#include <string.h>

#include "src/store/json.h"

#define JOURNAL_MAX (64 * 1024)

static const char *const phase_names[] = {
	[TP_KEY_CREATING] = "creating-key",
	[TP_KEY_CREATED] = "key-created",
};

static cJSON *journal_json(const void *record)
{
	const struct tp_keyjournal *j = record;
	cJSON *root = cJSON_CreateObject();

	if (!root || !cJSON_AddStringToObject(root, "phase", phase_names[j->phase]) ||
	    !tp_json_add_keyloc(root, &j->key) || !cJSON_AddStringToObject(root, "key-alg", tpm_key_alg_name(j->alg)) ||
	    (j->key_name && !cJSON_AddStringToObject(root, "key-name", j->key_name))) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static int parse_phase(const cJSON *root, const char *path, enum tp_key_phase *ret, struct tp_error *err)
{
	int i;

	if (tp_json_member_enum(root, "phase", phase_names, sizeof(phase_names) / sizeof(phase_names[0]), path, &i,
				err) < 0)
		return -1;
	*ret = (enum tp_key_phase)i;
	return 0;
}

static int parse_alg(const cJSON *root, const char *path, enum tpm_key_alg *ret, struct tp_error *err)
{
	_cleanup_free_ char *alg = NULL;
	int a;

	if (tp_json_member(root, "key-alg", path, &alg, err) < 0)
		return -1;
	a = tpm_key_alg_parse(alg);
	if (a < 0)
		return tp_error_set(err, EX_DATAERR, "%s: unknown \"key-alg\" \"%s\"", path, alg);
	*ret = (enum tpm_key_alg)a;
	return 0;
}

static int journal_from_json(const cJSON *root, const char *path, void *ret, struct tp_error *err)
{
	struct tp_keyjournal j = { 0 };

	if (parse_phase(root, path, &j.phase, err) < 0 || tp_json_keyloc(root, path, &j.key, err) < 0 ||
	    parse_alg(root, path, &j.alg, err) < 0 ||
	    (j.phase == TP_KEY_CREATED && tp_json_member(root, "key-name", path, &j.key_name, err) < 0)) {
		tp_keyjournal_free(&j);
		return -1;
	}
	*(struct tp_keyjournal *)ret = j;
	return 0;
}

static const struct tp_record_type journal_record = {
	.max = JOURNAL_MAX, .mode = 0644, .to_json = journal_json, .from_json = journal_from_json
};

int tp_keyjournal_format(const struct tp_keyjournal *j, char **ret_json, struct tp_error *err)
{
	return tp_record_format(&journal_record, j, ret_json, err);
}

int tp_keyjournal_parse(const char *json, size_t len, const char *path, struct tp_keyjournal *ret_journal,
			struct tp_error *err)
{
	return tp_record_parse(&journal_record, json, len, path, ret_journal, err);
}

int tp_keyjournal_load(const char *dir, struct tp_keyjournal *ret_journal, struct tp_error *err)
{
	return tp_record_load(&journal_record, dir, TP_KEYJOURNAL_FILE, ret_journal, err);
}

int tp_keyjournal_save(const char *dir, const struct tp_keyjournal *j, struct tp_error *err)
{
	return tp_record_save(&journal_record, dir, TP_KEYJOURNAL_FILE, j, (uid_t)-1, (gid_t)-1, err);
}

void tp_keyjournal_free(struct tp_keyjournal *j)
{
	if (!j)
		return;
	tp_keyloc_free(&j->key);
	free(j->key_name);
	*j = (struct tp_keyjournal){ 0 };
}
