/* Fuzz harness: service answers and AWS error bodies. */
#include <stdint.h>

#include "src/aws/iot.h"

const char *const fuzz_seeds[] = {
	"{\"certificateArn\":\"arn:aws:iot:eu-west-1:1:cert/ab\",\"certificateId\":"
	"\"abababababababababababababababababababababababababababababababab\",\"certificatePem\":\"-----BEGIN\"}",
	"{\"__type\":\"com.amazonaws.iot#ThrottlingException\",\"message\":\"Rate exceeded\"}",
	"{\"success\":false,\"error\":{\"code\":\"InvalidRequestException\",\"message\":\"no\"}}",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_issued_cert c = { 0 };
	struct tp_error err = { 0 };
	struct tp_aws_error e;

	tp_iot_parse_create((const char *)data, size, &c, &err);
	tp_issued_cert_free(&c);
	tp_aws_parse_error("ThrottlingException:http://x", (const char *)data, size, &e);
	return 0;
}
