#include "src/store/keyjournal.h"

#include <string.h>

#include "src/store/json.h"

#define JOURNAL_MAX (64 * 1024)

static const char *const phase_names[] = {
	[TP_KEY_CREATING] = "creating-key",
	[TP_KEY_CREATED] = "key-created",
};

static cJSON *journal_json(const struct tp_keyjournal *j)
{
	cJSON *root = cJSON_CreateObject();

	if (!root || !cJSON_AddStringToObject(root, "phase", phase_names[j->phase]) ||
	    !tp_json_add_keyloc(root, &j->key) || !cJSON_AddStringToObject(root, "key-alg", tpm_key_alg_name(j->alg)) ||
	    (j->key_name && !cJSON_AddStringToObject(root, "key-name", j->key_name))) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int tp_keyjournal_format(const struct tp_keyjournal *j, char **ret_json, struct tp_error *err)
{
	_cleanup_json_ cJSON *root = journal_json(j);

	return root ? tp_json_print(root, ret_json, err) : tp_error_oom(err);
}

int tp_keyjournal_write(const char *dir, const struct tp_keyjournal *j, struct tp_error *err)
{
	_cleanup_json_ cJSON *root = journal_json(j);

	if (!root)
		return tp_error_oom(err);
	return tp_json_write_file(dir, TP_KEYJOURNAL_FILE, root, 0644, (uid_t)-1, (gid_t)-1, err);
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

static int journal_from_json(const cJSON *root, const char *path, struct tp_keyjournal *ret, struct tp_error *err)
{
	struct tp_keyjournal j = { 0 };

	if (parse_phase(root, path, &j.phase, err) < 0 || tp_json_keyloc(root, path, &j.key, err) < 0 ||
	    parse_alg(root, path, &j.alg, err) < 0 ||
	    (j.phase == TP_KEY_CREATED && tp_json_member(root, "key-name", path, &j.key_name, err) < 0)) {
		tp_keyjournal_free(&j);
		return -1;
	}
	*ret = j;
	return 0;
}

int tp_keyjournal_parse(const char *json, size_t len, const char *path, struct tp_keyjournal *ret_journal,
			struct tp_error *err)
{
	_cleanup_json_ cJSON *root = tp_json_parse_object(json, len, path, err);

	return root ? journal_from_json(root, path, ret_journal, err) : -1;
}

int tp_keyjournal_read(const char *dir, struct tp_keyjournal *ret_journal, struct tp_error *err)
{
	_cleanup_json_ cJSON *root = NULL;
	_cleanup_free_ char *path = NULL;
	int r;

	r = tp_json_read_file(dir, TP_KEYJOURNAL_FILE, JOURNAL_MAX, &root, &path, err);
	if (r != 0)
		return r;
	return journal_from_json(root, path, ret_journal, err);
}

void tp_keyjournal_free(struct tp_keyjournal *j)
{
	if (!j)
		return;
	tp_keyloc_free(&j->key);
	free(j->key_name);
	*j = (struct tp_keyjournal){ 0 };
}
