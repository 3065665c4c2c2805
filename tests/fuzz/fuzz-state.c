/* Fuzz harness: the state.json parser. */
#include <stdint.h>

#include "src/state.h"

const char *const fuzz_seeds[] = {
	"{\"thing-name\":\"x\",\"certificate-id\":\"a\",\"certificate-arn\":\"a\",\"key-handle\":\"0x81000002\","
	"\"key-name\":\"a\",\"endpoint\":\"a\",\"iot-endpoint\":\"a\",\"provisioned-at\":\"a\",\"tool-version\":\"a\"}",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_state s = { 0 };
	struct tp_error err = { 0 };

	tp_state_parse((const char *)data, size, "fuzz", &s, &err);
	tp_state_free(&s);
	return 0;
}
