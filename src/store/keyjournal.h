/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * journal.json: what a run did to the TPM before state.json exists, so an
 * interrupted run can be resumed.  Written atomically before the key is
 * created (phase "creating-key": the handle was free, or the key file
 * absent) and right after (phase "key-created", with the key's TPM name).
 * A rerun trusts a key at the handle (in the file) only when the journal
 * names it, or, after "creating-key", when it has the attributes this
 * program gives its keys.  This module alone parses, formats, loads and
 * saves it.
 */
#ifndef TP_KEYJOURNAL_H
#define TP_KEYJOURNAL_H

#include <stddef.h>

#include "src/base/err.h"
#include "src/base/keyloc.h"
#include "tpm/tpm.h"

#define TP_KEYJOURNAL_FILE "journal.json"

enum tp_key_phase { TP_KEY_CREATING = 1, TP_KEY_CREATED };

struct tp_keyjournal {
	enum tp_key_phase phase;
	struct tp_keyloc key;
	enum tpm_key_alg alg;
	char *key_name; /* NULL while creating */
};

int tp_keyjournal_format(const struct tp_keyjournal *j, char **ret_json, struct tp_error *err);
int tp_keyjournal_parse(const char *json, size_t len, const char *path, struct tp_keyjournal *ret_journal,
			struct tp_error *err);

/* dir/journal.json: TP_MISSING when there is none. */
int tp_keyjournal_load(const char *dir, struct tp_keyjournal *ret_journal, struct tp_error *err);
int tp_keyjournal_save(const char *dir, const struct tp_keyjournal *j, struct tp_error *err);

void tp_keyjournal_free(struct tp_keyjournal *j);

#endif
