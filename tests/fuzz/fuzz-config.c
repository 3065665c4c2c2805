/* Fuzz harness: the JSON config file parser. */
#include <stdint.h>

#include "src/options.h"

const char *const fuzz_seeds[] = {
	"{\"thing-name\": \"gw\", \"key-handle\": 2164260866, \"rsa-pss\": true, \"region\": \"eu-west-1\"}",
	"{\"tcti\": \"swtpm:port=2321\", \"out-dir\": \"/x\", \"deadline\": \"30\"}",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_options o = { 0 };
	struct tp_error err = { 0 };

	tp_config_parse(&o, TP_CMD_ENROLL, (const char *)data, size, "fuzz", &err);
	tp_options_free(&o);
	return 0;
}
