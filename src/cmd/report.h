/*
 * --json: a command's result as one JSON object on stdout, for scripts and
 * CI (the human lines stay on stderr).  A failure is
 * {"command", "result": "error", "exitCode", "error"}.
 */
#ifndef TP_REPORT_H
#define TP_REPORT_H

#include <stdbool.h>

#include "src/base/err.h"

struct tp_report {
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

int tp_report(const struct tp_report *r, struct tp_error *err);

struct cJSON;
/* An array named name of the strings in items (empty for NULL); false when
 * out of memory. */
bool tp_report_add_strv(struct cJSON *o, const char *name, char *const *items);
/* Print o as one line on stdout and delete it (NULL is fine); built is false
 * when building it ran out of memory. */
int tp_report_print(struct cJSON *o, bool built, struct tp_error *err);
void tp_report_error(const char *command, int exit_code, const char *msg);

#endif
