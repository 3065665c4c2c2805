/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --json: a command's result as one JSON object on stdout, for scripts and
 * CI (the human lines stay on stderr).  A failure is
 * {"command", "result": "error", "exitCode", "error"}.
 */
#ifndef TP_JSONOUT_H
#define TP_JSONOUT_H

#include <stdbool.h>

#include "src/base/err.h"

/* The result of a command that provisions (enroll, register, csr, install). */
struct tp_jsonout {
	const char *command; /* "enroll", ... */
	const char *result;  /* "enrolled", "already-provisioned", ... */
	const char *thing;
	const char *certificate_id;
	const char *certificate_arn;
	const char *out_dir;
	const char *csr_file;
	const char *attached_thing;
	char *const *policies;
};

/* Print it as one line on stdout. */
int tp_jsonout_result(const struct tp_jsonout *r, struct tp_error *err);

struct cJSON;
/* An array named name of the strings in items (empty for NULL); false when
 * out of memory. */
bool tp_jsonout_add_strv(struct cJSON *o, const char *name, char *const *items);
/* Print o as one line on stdout and delete it (NULL is fine); built is false
 * when building it ran out of memory. */
int tp_jsonout_print(struct cJSON *o, bool built, struct tp_error *err);
/* The failure of command, for main(). */
void tp_jsonout_error(const char *command, int exit_code, const char *msg);

#endif
