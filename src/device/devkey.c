/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/device/devkey.h"

#include <string.h>

#include "src/base/cleanup.h"
#include "src/store/file.h"
#include "src/store/keyjournal.h"
#include "src/x509/keyfile.h"

#define AUTH_MAX 32 /* the digest size of the key's name algorithm, SHA-256 */

/* A TPM library failure as a run's error: its message, with the exit code
 * and the hint that belong to its kind. */
static int tpm_failed(const struct tpm_error *e, struct tp_error *err)
{
	switch (e->kind) {
	case TPM_ERR_AUTH:
		return tp_error_set(err, EX_NOPERM, "%s (check --key-auth-file)", e->msg);
	case TPM_ERR_LOCKOUT:
		return tp_error_set(err, EX_TEMPFAIL, "%s", e->msg);
	case TPM_ERR_CONFIG:
		return tp_error_set(err, EX_CONFIG, "%s", e->msg);
	case TPM_ERR_DATA:
		return tp_error_set(err, EX_DATAERR, "%s", e->msg);
	case TPM_ERR_USAGE:
		return tp_error_set(err, EX_USAGE, "%s (see --tcti in the README)", e->msg);
	default:
		return tp_error_set(err, EX_IOERR, "%s", e->msg);
	}
}

static int check_auth_value(const char *path, const char *buf, size_t len, struct tp_error *err)
{
	if (len == 0)
		return tp_error_set(err, EX_CONFIG, "key auth file %s is empty", path);
	if (len > AUTH_MAX)
		return tp_error_set(err, EX_CONFIG, "key auth file %s: the value is longer than %d bytes", path,
				    AUTH_MAX);
	if (memchr(buf, '\0', len))
		return tp_error_set(err, EX_CONFIG, "key auth file %s: the value contains a NUL byte", path);
	return 0;
}

int tp_devkey_read_auth(const char *path, struct tpm_auth *ret_auth, struct tp_error *err)
{
	char *buf = NULL, *nl;
	size_t len = 0, size;
	int r;

	r = tp_read_file(path, 4096, &buf, &len, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_CONFIG, "key auth file %s does not exist", path);
	if (r < 0)
		return -1;
	size = len;
	nl = memchr(buf, '\n', len);
	if (nl)
		len = (size_t)(nl - buf);
	/* One rule with OpenSSL's -passin file: the first line, without its
	 * final newline; what it would read differently is refused. */
	if (memchr(buf, '\r', size))
		r = tp_error_set(
			err, EX_CONFIG,
			"key auth file %s contains a carriage return (CRLF line end?); write it with one LF-ended line",
			path);
	else if (nl && (size_t)(nl - buf) + 1 < size)
		r = tp_error_set(err, EX_CONFIG, "key auth file %s has more than one line; keep only the value", path);
	else
		r = check_auth_value(path, buf, len, err);
	if (r == 0) {
		memcpy(ret_auth->value, buf, len);
		ret_auth->len = len;
	}
	explicit_bzero(buf, size);
	free(buf);
	return r;
}

static int journal_save(const struct tp_devkey *k, enum tp_key_phase phase, const char *name_hex, struct tp_error *err)
{
	const struct tp_keyjournal j = {
		.phase = phase,
		.key = *k->loc,
		.alg = k->alg,
		.key_name = (char *)name_hex,
	};

	return tp_keyjournal_save(k->out_dir, &j, err);
}

/* Run fn with the key's reference: the handle, or the key file's blob. */
static int with_keyref(const struct tp_devkey *k,
		       int (*fn)(const struct tp_devkey *, const struct tpm_keyref *, void *, struct tpm_error *),
		       void *data, struct tp_error *err)
{
	struct tpm_keyref ref = { .handle = k->loc->handle };
	struct tpm_error e = { 0 };
	struct tpm_blob blob;
	int r;

	if (k->loc->file) {
		r = tp_keyfile_read(k->loc->file, &blob, err);
		if (r != 0)
			return r;
		ref.blob = &blob;
	}
	r = fn(k, &ref, data, &e);
	if (k->loc->file)
		explicit_bzero(&blob, sizeof(blob));
	if (r == TPM_ABSENT)
		return TP_MISSING;
	return r < 0 ? tpm_failed(&e, err) : 0;
}

static int read_key(const struct tp_devkey *k, const struct tpm_keyref *ref, void *pub, struct tpm_error *e)
{
	return tpm_read_key(k->tcti, ref, pub, e);
}

static int check_auth(const struct tp_devkey *k, const struct tpm_keyref *ref, void *unused, struct tpm_error *e)
{
	(void)unused;
	return tpm_check_auth(k->tcti, ref, k->auth, e);
}

int tp_devkey_probe(const struct tp_devkey *k, bool *ret_srk_present, struct tp_error *err)
{
	struct tpm_error e = { 0 };

	if (tpm_probe(k->tcti, k->alg, ret_srk_present, &e) < 0)
		return tpm_failed(&e, err);
	return 0;
}

int tp_devkey_check_lockout(const struct tp_devkey *k, struct tp_error *err)
{
	struct tpm_error e = { 0 };

	if (tpm_check_lockout(k->tcti, &e) < 0)
		return tpm_failed(&e, err);
	return 0;
}

int tp_devkey_read(const struct tp_devkey *k, struct tpm_public *ret_pub, struct tp_error *err)
{
	return with_keyref(k, read_key, ret_pub, err);
}

/* Ours: the journal names it, or records that this program was about to
 * create a key there (crashed before recording its name) and the key there
 * has the attributes and algorithm it would have made. */
static bool is_ours(const struct tp_devkey *k, const struct tp_keyjournal *j, const struct tpm_public *pub)
{
	if (!j->phase || !tp_keyloc_equal(&j->key, k->loc))
		return false;
	if (j->phase == TP_KEY_CREATED)
		return strcmp(j->key_name, pub->name_hex) == 0;
	return pub->device_key && pub->alg == (int)j->alg;
}

static int refuse_foreign(const struct tp_devkey *k, const struct tpm_public *pub, struct tp_error *err)
{
	_cleanup_free_ char *where = NULL;

	if (tp_keyloc_describe(k->loc, &where, err) < 0)
		return -1;
	return tp_error_set(err, EX_CONFIG,
			    "%s already holds a key that tpm-provision did not create (TPM name %s is not the one "
			    "recorded in %s/%s); it is left untouched: choose another one with %s",
			    where, pub->name_hex, k->out_dir, TP_KEYJOURNAL_FILE,
			    k->loc->file ? "--key-file" : "--key-handle");
}

static int refuse_other_alg(const struct tp_devkey *k, const struct tpm_public *pub, struct tp_error *err)
{
	_cleanup_free_ char *where = NULL;

	if (tp_keyloc_describe(k->loc, &where, err) < 0)
		return -1;
	return tp_error_set(err, EX_CONFIG,
			    "the key tpm-provision created at %s is %s, not %s; "
			    "use --force-new-key to replace it",
			    where, pub->alg >= 0 ? tpm_key_alg_name(pub->alg) : "other", tpm_key_alg_name(k->alg));
}

/* The key there is ours: evict it for --force-new-key (a key file is simply
 * replaced), or finish its journal and check its authorization. */
static int reuse_or_replace(const struct tp_devkey *k, const struct tp_keyjournal *j, const struct tpm_public *pub,
			    struct tp_error *err)
{
	struct tpm_error e = { 0 };
	int r;

	if (k->force) {
		if (!k->loc->file && tpm_evict_key(k->tcti, k->loc->handle, pub, &e) < 0)
			return tpm_failed(&e, err);
		return TP_NEED_NEW_KEY;
	}
	if (pub->alg != (int)k->alg)
		return refuse_other_alg(k, pub, err);
	if (j->phase == TP_KEY_CREATING && journal_save(k, TP_KEY_CREATED, pub->name_hex, err) < 0)
		return -1;
	r = with_keyref(k, check_auth, NULL, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_IOERR, "key file %s disappeared", k->loc->file);
	return r;
}

int tp_devkey_find(const struct tp_devkey *k, struct tpm_public *ret_pub, struct tp_error *err)
{
	struct tp_keyjournal j = { 0 };
	struct tpm_public pub;
	int r;

	r = tp_keyjournal_load(k->out_dir, &j, err);
	if (r < 0)
		return -1;
	r = tp_devkey_read(k, &pub, err);
	if (r == TP_MISSING)
		r = TP_NEED_NEW_KEY;
	else if (r == 0 && !is_ours(k, &j, &pub))
		r = refuse_foreign(k, &pub, err);
	else if (r == 0)
		r = reuse_or_replace(k, &j, &pub, err);
	tp_keyjournal_free(&j);
	if (r == 0)
		*ret_pub = pub;
	return r;
}

/* A persistent key's TSS2 blob, kept when asked for (keep_blob). */
static int keep_blob(const struct tp_devkey *k, const struct tpm_blob *blob, struct tp_error *err)
{
	_cleanup_free_ char *path = NULL;

	if (k->loc->file || !k->keep_blob)
		return 0;
	if (tp_path_join(k->out_dir, TP_KEY_BLOB_FILE, &path, err) < 0)
		return -1;
	return tp_keyfile_write(path, blob, k->auth->len == 0, err);
}

int tp_devkey_create(const struct tp_devkey *k, struct tpm_public *ret_pub, struct tp_error *err)
{
	struct tpm_error e = { 0 };
	struct tpm_public pub;
	struct tpm_blob blob;
	int r = -1;

	/* The intent first: a crash after the TPM made the key and before
	 * its name is recorded leaves a key the rerun may claim. */
	if (journal_save(k, TP_KEY_CREATING, NULL, err) < 0)
		return -1;
	if (tpm_create_key(k->tcti, k->alg, k->auth, k->loc->file ? 0 : k->loc->handle, &pub, &blob, &e) < 0)
		tpm_failed(&e, err);
	else if (k->loc->file && tp_keyfile_write(k->loc->file, &blob, k->auth->len == 0, err) < 0)
		;
	else if (keep_blob(k, &blob, err) < 0)
		;
	else if (journal_save(k, TP_KEY_CREATED, pub.name_hex, err) == 0)
		r = 0;
	explicit_bzero(&blob, sizeof(blob));
	if (r == 0)
		*ret_pub = pub;
	return r;
}
