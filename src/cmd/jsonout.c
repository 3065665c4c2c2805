/* SPDX-License-Identifier: BSD-2-Clause */
/* --json: one result object on stdout (see jsonout.h). */
#include "src/cmd/jsonout.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static bool add_optional(cJSON *o, const char *name, const char *value)
{
	return !value || cJSON_AddStringToObject(o, name, value);
}

bool tp_jsonout_add_strv(cJSON *o, const char *name, char *const *items)
{
	cJSON *a = cJSON_AddArrayToObject(o, name);
	char *const *p;

	for (p = items; a && p && *p; p++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(*p)))
			return false;
	return a != NULL;
}

int tp_jsonout_print(cJSON *o, bool built, struct tp_error *err)
{
	char *text = built ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (!text)
		return tp_error_oom(err);
	printf("%s\n", text);
	free(text);
	return 0;
}

int tp_jsonout_result(const struct tp_jsonout *r, struct tp_error *err)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o && cJSON_AddStringToObject(o, "command", r->command) &&
		  cJSON_AddStringToObject(o, "result", r->result) && add_optional(o, "thing", r->thing) &&
		  add_optional(o, "certificateId", r->certificate_id) &&
		  add_optional(o, "certificateArn", r->certificate_arn) && add_optional(o, "outDir", r->out_dir) &&
		  add_optional(o, "csrFile", r->csr_file) && add_optional(o, "attachedThing", r->attached_thing) &&
		  tp_jsonout_add_strv(o, "policies", r->policies);

	return tp_jsonout_print(o, ok, err);
}

void tp_jsonout_error(const char *command, int exit_code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (o && cJSON_AddStringToObject(o, "command", command) && cJSON_AddStringToObject(o, "result", "error") &&
	    cJSON_AddNumberToObject(o, "exitCode", exit_code) && cJSON_AddStringToObject(o, "error", msg))
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text)
		printf("%s\n", text);
	free(text);
}
