/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz harness: the shared credentials file (INI) parser. */
#include <stdint.h>

#include "src/aws/creds.h"

const char *const fuzz_seeds[] = {
	"[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n# c\n[p]\naws_session_token=t\n",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input parsed (the driver checks the seeds do). */
int fuzz_accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_creds c = { 0 };
	struct tp_error err = { 0 };

	fuzz_accepted = tp_creds_parse_ini((const char *)data, size, "default", "fuzz", &c, &err) == 0;
	tp_creds_free(&c);
	return 0;
}
