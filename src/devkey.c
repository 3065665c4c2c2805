#include "devkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "keyfile.h"
#include "state.h"

#define AUTH_MAX 32 /* the digest size of the key's name algorithm, SHA-256 */

int tp_devkey_read_auth(const char *path, struct tp_tpm_auth *ret_auth, struct tp_error *err)
{
	struct tp_tpm_auth auth = { 0 };
	char *buf = NULL, *nl;
	size_t len = 0;
	int r;

	r = tp_read_file(path, 4096, &buf, &len, err);
	if (r > 0)
		return tp_error_set(err, EX_CONFIG, "key auth file %s does not exist", path);
	if (r < 0)
		return -1;
	nl = memchr(buf, '\n', len);
	if (nl)
		len = (size_t)(nl - buf);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	r = -1;
	if (len == 0)
		tp_error_set(err, EX_CONFIG, "key auth file %s is empty", path);
	else if (len > AUTH_MAX)
		tp_error_set(err, EX_CONFIG, "key auth file %s: the value is longer than %d bytes", path, AUTH_MAX);
	else if (memchr(buf, '\0', len))
		tp_error_set(err, EX_CONFIG, "key auth file %s: the value contains a NUL byte", path);
	else
		r = 0;
	if (r == 0) {
		memcpy(auth.value, buf, len);
		auth.len = len;
		*ret_auth = auth;
	}
	explicit_bzero(buf, len);
	explicit_bzero(&auth, sizeof(auth));
	free(buf);
	return r;
}

/* "handle 0x81000002" or "key file /x/y.pem", for messages. */
void tp_devkey_where(const struct tp_devkey *k, char *buf, size_t len)
{
	if (k->file)
		snprintf(buf, len, "key file %s", k->file);
	else
		snprintf(buf, len, "handle 0x%08x", k->handle);
}

static int journal_read(const struct tp_devkey *k, struct tp_journal *ret_j, struct tp_error *err)
{
	char path[4096], *json = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", k->out_dir, TP_JOURNAL_FILE);
	r = tp_read_file(path, 64 * 1024, &json, &len, err);
	if (r != 0)
		return r;
	r = tp_journal_parse(json, len, path, ret_j, err);
	free(json);
	return r;
}

static int journal_write(const struct tp_devkey *k, const char *phase, const char *name_hex,
			 struct tp_error *err)
{
	struct tp_journal j = {
		.phase = (char *)phase,
		.key_handle = k->handle,
		.key_file = (char *)k->file,
		.key_alg = (char *)tp_key_alg_name(k->alg),
		.key_name = (char *)name_hex,
	};
	char *json = NULL;
	int r;

	if (tp_journal_format(&j, &json, err) < 0)
		return -1;
	r = tp_write_file_atomic(k->out_dir, TP_JOURNAL_FILE, json, strlen(json), 0644, err);
	free(json);
	return r;
}

/* Whether the journal is about this key location. */
static bool journal_here(const struct tp_devkey *k, const struct tp_journal *j)
{
	if (!j->phase)
		return false;
	if (k->file)
		return j->key_file && strcmp(j->key_file, k->file) == 0;
	return !j->key_file && j->key_handle == k->handle;
}

int tp_devkey_read(const struct tp_devkey *k, struct tp_tpm_public *ret_pub, struct tp_error *err)
{
	struct tp_tpm_keyref ref = { .handle = k->handle };
	struct tp_tpm_blob blob;
	int r;

	if (k->file) {
		r = tp_keyfile_read(k->file, &blob, err);
		if (r != 0)
			return r;
		ref.blob = &blob;
	}
	r = tp_tpm_read_key(k->tcti, &ref, ret_pub, err);
	if (k->file)
		explicit_bzero(&blob, sizeof(blob));
	return r;
}

static int check_auth(const struct tp_devkey *k, struct tp_error *err)
{
	struct tp_tpm_keyref ref = { .handle = k->handle };
	struct tp_tpm_blob blob;
	int r;

	if (k->file) {
		r = tp_keyfile_read(k->file, &blob, err);
		if (r > 0)
			r = tp_error_set(err, EX_IOERR, "key file %s disappeared", k->file);
		if (r != 0)
			return -1;
		ref.blob = &blob;
	}
	r = tp_tpm_check_auth(k->tcti, &ref, k->auth, err);
	if (k->file)
		explicit_bzero(&blob, sizeof(blob));
	return r;
}

int tp_devkey_find(const struct tp_devkey *k, struct tp_tpm_public *ret_pub, struct tp_error *err)
{
	struct tp_journal j = { 0 };
	struct tp_tpm_public pub;
	char name_hex[2 * 66 + 1], loc[4200];
	bool ours;
	int r;

	tp_devkey_where(k, loc, sizeof(loc));
	if (journal_read(k, &j, err) < 0)
		return -1;
	r = tp_devkey_read(k, &pub, err);
	if (r != 0)
		goto out; /* 1: nothing there, a new key is needed */
	r = -1;
	tp_tpm_name_hex(&pub, name_hex);
	/* Ours: the journal names it, or records that this program was about
	 * to create a key there (crashed before recording its name) and the
	 * key there has the attributes and algorithm it would have made. */
	ours = journal_here(k, &j) &&
	       ((strcmp(j.phase, TP_PHASE_KEY_CREATED) == 0 && strcmp(j.key_name, name_hex) == 0) ||
		(strcmp(j.phase, TP_PHASE_CREATING_KEY) == 0 && pub.device_key &&
		 pub.alg == tp_key_alg_parse(j.key_alg)));
	if (!ours) {
		tp_error_set(err, EX_CONFIG,
			     "%s already holds a key that tpm-provision did not create (TPM name %s is not the one "
			     "recorded in %s/%s); it is left untouched: choose another one with %s", loc, name_hex,
			     k->out_dir, TP_JOURNAL_FILE, k->file ? "--key-file" : "--key-handle");
		goto out;
	}
	if (k->force) {
		if (!k->file && tp_tpm_evict_key(k->tcti, k->handle, &pub, err) < 0)
			goto out;
		r = 1;
		goto out;
	}
	if (pub.alg != (int)k->alg) {
		tp_error_set(err, EX_CONFIG, "the key tpm-provision created at %s is %s, not %s; "
			     "use --force-new-key to replace it", loc, pub.alg >= 0 ? tp_key_alg_name(pub.alg) : "other",
			     tp_key_alg_name(k->alg));
		goto out;
	}
	if (strcmp(j.phase, TP_PHASE_CREATING_KEY) == 0 && journal_write(k, TP_PHASE_KEY_CREATED, name_hex, err) < 0)
		goto out;
	if (check_auth(k, err) < 0)
		goto out;
	*ret_pub = pub;
	r = 0;
out:
	tp_journal_free(&j);
	return r;
}

int tp_devkey_create(const struct tp_devkey *k, struct tp_tpm_public *ret_pub, struct tp_error *err)
{
	struct tp_tpm_public pub;
	struct tp_tpm_blob blob;
	char name_hex[2 * 66 + 1];
	int r = -1;

	/* The intent first: a crash after the TPM made the key and before
	 * its name is recorded leaves a key the rerun may claim. */
	if (journal_write(k, TP_PHASE_CREATING_KEY, NULL, err) < 0)
		return -1;
	if (tp_tpm_create_key(k->tcti, k->alg, k->auth, k->file ? 0 : k->handle, &pub, &blob, err) < 0)
		goto out;
	if (k->file && tp_keyfile_write(k->file, &blob, k->auth->len == 0, err) < 0)
		goto out;
	tp_tpm_name_hex(&pub, name_hex);
	if (journal_write(k, TP_PHASE_KEY_CREATED, name_hex, err) < 0)
		goto out;
	*ret_pub = pub;
	r = 0;
out:
	explicit_bzero(&blob, sizeof(blob));
	return r;
}
