/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: service answers and AWS error decoding. */
#include <stdlib.h>
#include <string.h>

#include "src/aws/iot.h"
#include "tests/unit/tap.h"

#define ID "abababababababababababababababababababababababababababababababab"

static int parse_create(const char *body, struct tp_issued_cert *c, struct tp_error *err)
{
	memset(err, 0, sizeof(*err));
	return tp_iot_parse_create(body, strlen(body), c, err);
}

static void test_create(void)
{
	struct tp_issued_cert c = { 0 };
	struct tp_error err;

	tap_ok(parse_create("{\"certificateArn\":\"arn:aws:iot:eu-west-1:1:cert/ab\",\"certificateId\":\"" ID "\","
			    "\"certificatePem\":\"-----BEGIN CERTIFICATE-----\\nAA==\\n-----END CERTIFICATE-----\\n\"}",
			    &c, &err) == 0,
	       "create answer parses");
	tap_str(c.arn, "arn:aws:iot:eu-west-1:1:cert/ab", "certificateArn");
	tap_str(c.id, ID, "certificateId");
	tap_ok(c.pem && strstr(c.pem, "-----BEGIN CERTIFICATE-----\nAA==") != NULL, "certificatePem unescaped");
	tp_issued_cert_free(&c);
	tp_issued_cert_free(NULL);

	tap_ok(parse_create("{\"certificateArn\":\"a\",\"certificateId\":\"" ID "\"}", &c, &err) == 0 && !c.pem,
	       "an answer without the PEM parses (it is fetched with DescribeCertificate)");
	tp_issued_cert_free(&c);
	tap_ok(parse_create("{\"certificateArn\":\"a\",\"certificatePem\":\"p\"}", &c, &err) < 0 &&
		       err.exit_code == EX_DATAERR && strstr(err.msg, "certificateId"),
	       "missing member named: %s", err.msg);
	tap_ok(c.pem == NULL && c.arn == NULL, "nothing returned on failure");
	tap_ok(parse_create("{\"certificateArn\":\"a\",\"certificateId\":\"abab\\u0000" ID "\"}", &c, &err) < 0 &&
		       err.exit_code == EX_DATAERR && strstr(err.msg, "NUL"),
	       "a NUL character in an id refuses the answer whole: %s", err.msg);
	tap_ok(parse_create("{\"certificateArn\":\"a\",\"certificateId\":\"../../x\"}", &c, &err) < 0 &&
		       strstr(err.msg, "64 hex digits"),
	       "a certificate id that is not a safe id is refused: %s", err.msg);
	tap_ok(parse_create("{\"certificateArn\":1,\"certificateId\":\"" ID "\",\"certificatePem\":\"c\"}", &c, &err) <
			       0 &&
		       strstr(err.msg, "certificateArn"),
	       "wrong type named: %s", err.msg);
	tap_ok(parse_create("<html>", &c, &err) < 0 && strstr(err.msg, "not a JSON object"), "not JSON: %s", err.msg);
	tap_ok(parse_create("", &c, &err) < 0, "empty body refused");
}

static void test_gateway_ids(void)
{
	struct tp_issued_cert c = { 0 };
	struct tp_error err;

	tap_ok(parse_create("{\"id\":\"abc123\",\"created_at\":\"2025-01-01T00:00:00Z\"}", &c, &err) == 0,
	       "a gateway's data.id answer parses");
	tap_str(c.id, "abc123", "the opaque id is the certificate id");
	tap_str(c.created_at, "2025-01-01T00:00:00Z", "created_at is kept");
	tap_ok(!c.arn && !c.pem, "no ARN and no PEM are invented");
	tp_issued_cert_free(&c);
	tap_ok(parse_create("{\"id\":\"a/b\"}", &c, &err) < 0 && strstr(err.msg, "plain identifier"),
	       "an id that is not a safe path segment is refused: %s", err.msg);
	tap_ok(tp_iot_safe_segment("gw-0042_a.b", 128) && !tp_iot_safe_segment("..", 128) &&
		       !tp_iot_safe_segment("a:b", 128) && !tp_iot_safe_segment("", 128),
	       "safe path segments");
	tap_ok(tp_iot_aws_cert_id(ID) && !tp_iot_aws_cert_id("abc123"), "AWS's id form is 64 hex digits");
}

static void test_decode(void)
{
	const char *env = "{\"success\":true,\"data\":{\"id\":\"x\"}}";
	const char *bad = "{\"success\":false,\"error\":{\"code\":\"ThrottlingException\",\"message\":\"slow\"}}";
	struct tp_http_response resp = { .status = 200, .body = (char *)env, .len = strlen(env) };
	struct tp_error err = { 0 };
	struct tp_answer a;

	tap_ok(tp_answer_decode(&resp, "GET x", &a, &err) == 0 && !a.failed && cJSON_IsObject(a.data) &&
		       cJSON_GetObjectItem(a.data, "id"),
	       "a gateway success envelope is unwrapped");
	tp_answer_free(&a);
	resp.body = (char *)bad;
	resp.len = strlen(bad);
	tap_ok(tp_answer_decode(&resp, "GET x", &a, &err) == 0 && a.failed &&
		       strcmp(a.aws.type, "ThrottlingException") == 0,
	       "a gateway failure envelope is a failure");
	tp_answer_free(&a);
	resp.body = "[1]";
	resp.len = 3;
	tap_ok(tp_answer_decode(&resp, "GET x", &a, &err) < 0 && strstr(err.msg, "GET x: HTTP 200"),
	       "a 2xx that is not an object is refused, naming the request: %s", err.msg);
}

static void test_errors(void)
{
	struct tp_aws_error e;
	const char *body =
		"{\"message\":\"The request signature we calculated does not match\\nThe Canonical String...\"}";

	tp_aws_parse_error("InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/", body,
			   strlen(body), &e);
	tap_str(e.type, "InvalidSignatureException", "type from x-amzn-ErrorType, before the colon");
	tap_str(e.message, "The request signature we calculated does not match", "message: first line only");

	body = "{\"__type\":\"com.amazonaws.iot#ThrottlingException\",\"Message\":\"Rate exceeded\"}";
	tp_aws_parse_error(NULL, body, strlen(body), &e);
	tap_str(e.type, "ThrottlingException", "type from __type without namespace");
	tap_str(e.message, "Rate exceeded", "message from Message");

	body = "{\"code\":\"InvalidRequestException\",\"message\":\"bad\\u0007csr\"}";
	tp_aws_parse_error("", body, strlen(body), &e);
	tap_str(e.type, "InvalidRequestException", "type from code");
	tap_str(e.message, "bad?csr", "control characters replaced");

	body = "{\"success\":false,\"error\":{\"code\":\"ThrottlingException\",\"message\":\"slow down\"}}";
	tp_aws_parse_error(NULL, body, strlen(body), &e);
	tap_str(e.type, "ThrottlingException", "type from a gateway envelope's error code");
	tap_str(e.message, "slow down", "message from a gateway envelope's error");

	tp_aws_parse_error(NULL, "junk", 4, &e);
	tap_ok(e.type[0] == '\0' && e.message[0] == '\0', "junk body gives no type and no message");

	tap_ok(tp_aws_error_exit_code(400, "ThrottlingException") == EX_TEMPFAIL, "throttling (HTTP 400) is temporary");
	tap_ok(tp_aws_error_exit_code(503, "ServiceUnavailableException") == EX_TEMPFAIL, "503 is temporary");
	tap_ok(tp_aws_error_exit_code(502, "") == EX_TEMPFAIL, "5xx without type is temporary");
	tap_ok(tp_aws_error_exit_code(403, "InvalidSignatureException") == EX_NOPERM, "bad signature is permission");
	tap_ok(tp_aws_error_exit_code(401, "UnauthorizedException") == EX_NOPERM, "unauthorized is permission");
	tap_ok(tp_aws_error_exit_code(403, "") == EX_NOPERM, "403 without type is permission");
	tap_ok(tp_aws_error_exit_code(400, "InvalidRequestException") == EX_DATAERR, "invalid request is data");
	tap_ok(tp_aws_error_exit_code(404, "") == EX_DATAERR, "other 4xx is data");
	tap_ok(tp_aws_retryable(400, "ThrottlingException"), "throttling is retried whatever its status");
	tap_ok(tp_aws_retryable(503, "") && tp_aws_retryable(500, "") && tp_aws_retryable(502, "") &&
		       tp_aws_retryable(504, ""),
	       "500/502/503/504 are retried");
	tap_ok(!tp_aws_retryable(400, "InvalidRequestException"), "validation errors are not retried");
	tap_ok(!tp_aws_retryable(403, "InvalidSignatureException"), "permission errors are not retried");
	tap_ok(!tp_aws_retryable(501, ""), "501 is not retried");
	tap_ok(!tp_aws_retryable(410, "LimitExceededException") &&
		       tp_aws_error_exit_code(410, "LimitExceededException") == EX_DATAERR,
	       "a quota (LimitExceededException, HTTP 410) is not throttling: no retry, exit 65");
}

int main(void)
{
	test_create();
	test_errors();
	test_gateway_ids();
	test_decode();
	return tap_done();
}
