/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz harness: service answers and AWS error bodies. */
#include <stdint.h>
#include <string.h>

#include "src/aws/answer.h"
#include "src/aws/iot.h"

const char *const fuzz_seeds[] = {
	"{\"certificateArn\":\"arn:aws:iot:eu-west-1:1:cert/ab\",\"certificateId\":"
	"\"abababababababababababababababababababababababababababababababab\",\"certificatePem\":\"-----BEGIN\"}",
	"{\"__type\":\"com.amazonaws.iot#ThrottlingException\",\"message\":\"Rate exceeded\"}",
	"{\"success\":false,\"error\":{\"code\":\"InvalidRequestException\",\"message\":\"no\"}}",
	"{\"success\":true,\"data\":{\"id\":\"abc123\",\"created_at\":\"2025-01-01T00:00:00Z\"}}",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input parsed (the driver checks the seeds do). */
int fuzz_accepted;

/* What production takes from a decoded answer: the certificate of a
 * create or register answer, of a describe answer, or the error line. */
static void taken(const struct tp_answer *a)
{
	struct tp_issued_cert c = { 0 };
	struct tp_error err = { 0 };

	if (a->failed) {
		tp_answer_fail(a, "POST https://fuzz/certificates", &err);
		return;
	}
	tp_iot_answer_issued(a, &c, &err);
	tp_issued_cert_free(&c);
	memset(&c, 0, sizeof(c));
	tp_iot_answer_described(a, &c, &err);
	tp_issued_cert_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_issued_cert c = { 0 };
	struct tp_error err = { 0 };
	struct tp_aws_error e;
	struct tp_http_response resp = { .status = 200, .body = (char *)data, .len = size };
	struct tp_answer a;

	fuzz_accepted = tp_iot_parse_create((const char *)data, size, &c, &err) == 0;
	tp_issued_cert_free(&c);
	/* The decoder production runs, on a success and on an error. */
	for (resp.status = 200; resp.status <= 400; resp.status += 200) {
		memset(&err, 0, sizeof(err));
		if (tp_answer_decode(&resp, "POST https://fuzz/certificates", &a, &err) == 0) {
			/* A success that decodes, an error that names itself. */
			fuzz_accepted |= resp.status == 200 ? !a.failed : a.aws.type[0] != '\0';
			taken(&a);
			tp_answer_free(&a);
		}
	}
	tp_aws_parse_error("ThrottlingException:http://x", (const char *)data, size, &e);
	return 0;
}
