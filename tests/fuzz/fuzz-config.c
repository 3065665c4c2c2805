/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz harness: the JSON config file parser, then the validation. */
#include <stdint.h>

#include "src/cli/options.h"
#include "src/cmd/commands.h"

const char *const fuzz_seeds[] = {
	"{\"thing-name\": \"gw\", \"key-handle\": 2164260866, \"rsa-pss\": true, \"region\": \"eu-west-1\"}",
	"{\"tcti\": \"swtpm:port=2321\", \"out-dir\": \"/x\", \"deadline\": \"30\", \"agent\": [\"env\"]}",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input parsed (the driver checks the seeds do). */
int fuzz_accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_raw_options raw = { .all = tp_commands, .cmd = tp_command_find("enroll") };
	struct tp_options o = { 0 };
	struct tp_error err = { 0 };

	fuzz_accepted = tp_raw_parse_config(&raw, (const char *)data, size, "fuzz", &err) == 0;
	if (fuzz_accepted)
		tp_options_from_raw(&raw, &o, &err);
	tp_options_free(&o);
	tp_raw_options_free(&raw);
	return 0;
}
