/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: state.json, journal.json and request.json round trips and refusals. */
#include <stdlib.h>
#include <string.h>

#include "src/store/keyjournal.h"
#include "src/store/reqjournal.h"
#include "src/store/state.h"
#include "tests/unit/tap.h"

int main(void)
{
	struct tp_state in = {
		.thing_name = "gw-0042",
		.certificate_id = "abcd",
		.certificate_arn = "arn:aws:iot:eu-west-1:123456789012:cert/abcd",
		.key = { .handle = 0x81000002u },
		.key_name = "000b0102",
		.endpoint = "https://iot.eu-west-1.amazonaws.com",
		.iot_endpoint = "a1b2c3-ats.iot.eu-west-1.amazonaws.com",
		.provisioned_at = "2026-11-22T10:00:00Z",
		.tool_version = "0.1.0",
	};
	struct tp_state out = { 0 };
	struct tp_error err = { 0 };
	char *json = NULL;

	tap_ok(tp_state_format(&in, &json, &err) == 0, "state formats");
	tap_ok(json && json[strlen(json) - 1] == '\n', "state ends with a newline");
	tap_ok(json && tp_state_parse(json, strlen(json), "state.json", &out, &err) == 0, "state parses back");
	tap_str(out.thing_name, in.thing_name, "thing name round trip");
	tap_str(out.certificate_arn, in.certificate_arn, "ARN round trip");
	tap_str(out.key_name, in.key_name, "key name round trip");
	tap_ok(out.key.handle == in.key.handle && out.key.file == NULL, "key handle round trip");
	tp_state_free(&out);
	tp_state_free(NULL);
	free(json);

	memset(&err, 0, sizeof(err));
	json = "{\"thing-name\": \"x\"}";
	tap_ok(tp_state_parse(json, strlen(json), "/x/state.json", &out, &err) < 0 && err.exit_code == EX_DATAERR &&
		       strstr(err.msg, "/x/state.json") && strstr(err.msg, "certificate-id"),
	       "missing member named with the file: %s", err.msg);
	tap_ok(out.thing_name == NULL, "nothing returned on failure");
	memset(&err, 0, sizeof(err));
	json = "{\"thing-name\":\"x\",\"certificate-id\":\"a\",\"certificate-arn\":\"a\",\"key-handle\":\"0x1\","
	       "\"key-name\":\"a\",\"endpoint\":\"a\",\"iot-endpoint\":\"a\",\"provisioned-at\":\"a\",\"tool-version\":"
	       "\"a\"}";
	tap_ok(tp_state_parse(json, strlen(json), "s", &out, &err) < 0 && strstr(err.msg, "key-handle"),
	       "bad handle refused: %s", err.msg);
	{
		/* What JSON forbids, and cJSON would take: a raw NUL cutting a
		 * string short, a raw control character; and \u0000. */
		static const char nul[] = "{\"thing-name\":\"gw\0,O=evil\"}";
		const char *ctl = "{\"thing-name\":\"gw\x1b[2J\"}", *esc = "{\"thing-name\":\"gw\\u0000x\"}";
		const char *escaped = "{\"thing-name\":\"gw\\\\u0000\"}";

		memset(&err, 0, sizeof(err));
		tap_ok(tp_state_parse(nul, sizeof(nul) - 1, "s", &out, &err) < 0 && err.exit_code == EX_DATAERR &&
			       strstr(err.msg, "s: a NUL byte at byte 17"),
		       "a raw NUL in a store file is refused: %s", err.msg);
		memset(&err, 0, sizeof(err));
		tap_ok(tp_state_parse(ctl, strlen(ctl), "s", &out, &err) < 0 &&
			       strstr(err.msg, "control character (0x1b) at byte 17"),
		       "a raw control character in a store file is refused: %s", err.msg);
		memset(&err, 0, sizeof(err));
		tap_ok(tp_state_parse(esc, strlen(esc), "s", &out, &err) < 0 && strstr(err.msg, "\\u0000) at byte 17"),
		       "a \\u0000 escape in a store file is refused: %s", err.msg);
		memset(&err, 0, sizeof(err));
		tap_ok(tp_state_parse(escaped, strlen(escaped), "s", &out, &err) < 0 &&
			       strstr(err.msg, "certificate-id"),
		       "an escaped backslash before u0000 is no NUL: %s", err.msg);
		tap_ok(out.thing_name == NULL, "nothing returned on failure");
	}

	{
		struct tp_keyjournal j = { .phase = TP_KEY_CREATING,
					   .key = { .file = "/k.pem" },
					   .alg = TPM_ALG_RSA_2048 };
		struct tp_keyjournal back = { 0 };

		memset(&err, 0, sizeof(err));
		json = NULL;
		tap_ok(tp_keyjournal_format(&j, &json, &err) == 0 && !strstr(json, "key-name") &&
			       !strstr(json, "key-handle") && strstr(json, "\"creating-key\"") &&
			       strstr(json, "\"rsa-2048\""),
		       "journal of an intent has no key name");
		tap_ok(tp_keyjournal_parse(json, strlen(json), "journal.json", &back, &err) == 0 &&
			       back.key.handle == 0 && strcmp(back.key.file, "/k.pem") == 0 &&
			       back.alg == TPM_ALG_RSA_2048 && back.phase == TP_KEY_CREATING,
		       "journal round trip");
		tp_keyjournal_free(&back);
		free(json);
		json = "{\"phase\": \"key-created\", \"key-handle\": \"0x81000002\", \"key-alg\": \"ecc-p256\"}";
		tap_ok(tp_keyjournal_parse(json, strlen(json), "journal.json", &back, &err) < 0 &&
			       strstr(err.msg, "key-name"),
		       "key-created needs the key name: %s", err.msg);
		memset(&err, 0, sizeof(err));
		json = "{\"phase\": \"done\", \"key-handle\": \"0x81000002\", \"key-alg\": \"ecc-p256\"}";
		tap_ok(tp_keyjournal_parse(json, strlen(json), "journal.json", &back, &err) < 0 &&
			       strstr(err.msg, "\"done\""),
		       "an unknown phase is quoted: %s", err.msg);
		tp_keyjournal_free(NULL);
	}
	{
		struct tp_reqjournal q = { .phase = TP_CERT_RECEIVED,
					   .key_name = "000b01",
					   .sent_at = "2026-11-22T10:00:00Z",
					   .certificate_id = "ab",
					   .certificate_arn = "arn",
					   .certificate_pem = "pem\n" };
		struct tp_reqjournal back = { 0 };

		memset(&err, 0, sizeof(err));
		json = NULL;
		tap_ok(tp_reqjournal_format(&q, &json, &err) == 0 &&
			       tp_reqjournal_parse(json, strlen(json), "request.json", &back, &err) == 0 &&
			       back.phase == TP_CERT_RECEIVED && strcmp(back.certificate_pem, "pem\n") == 0 &&
			       strcmp(back.sent_at, q.sent_at) == 0,
		       "request journal round trip");
		tp_reqjournal_free(&back);
		free(json);
		json = "{\"phase\": \"certificate-received\", \"key-name\": \"a\", \"sent-at\": \"t\"}";
		tap_ok(tp_reqjournal_parse(json, strlen(json), "request.json", &back, &err) < 0 &&
			       strstr(err.msg, "certificate-id"),
		       "a received certificate needs its id: %s", err.msg);
		memset(&err, 0, sizeof(err));
		json = "{\"phase\": \"certificate-refused\", \"key-name\": \"a\", \"sent-at\": \"t\", "
		       "\"certificate-id\": \"abc\", \"refused-because\": \"for another key\"}";
		tap_ok(tp_reqjournal_parse(json, strlen(json), "request.json", &back, &err) == 0 &&
			       back.phase == TP_CERT_REFUSED && strcmp(back.refused_because, "for another key") == 0,
		       "a refused certificate is recorded with its reason");
		tp_reqjournal_free(&back);
		tp_reqjournal_free(NULL);
	}
	{
		char *policies[] = { "gw-connect", "gw-telemetry", NULL };
		struct tp_state with = in;
		struct tp_state back = { 0 };

		with.certificate_arn = NULL;
		with.attached_thing = "gw-0042";
		with.policies = policies;
		memset(&err, 0, sizeof(err));
		json = NULL;
		tap_ok(tp_state_format(&with, &json, &err) == 0 && !strstr(json, "certificate-arn") &&
			       tp_state_parse(json, strlen(json), "state.json", &back, &err) == 0 &&
			       !back.certificate_arn && strcmp(back.attached_thing, "gw-0042") == 0 && back.policies &&
			       strcmp(back.policies[1], "gw-telemetry") == 0 && !back.policies[2],
		       "state records what is attached; a missing ARN stays absent");
		tp_state_free(&back);
		free(json);
		json = "{\"thing-name\":\"x\",\"certificate-id\":\"a\",\"key-handle\":\"0x81000002\",\"key-name\":"
		       "\"a\","
		       "\"endpoint\":\"a\",\"iot-endpoint\":\"a\",\"provisioned-at\":\"a\",\"tool-version\":\"a\","
		       "\"policies\":[\"p\",1]}";
		tap_ok(tp_state_parse(json, strlen(json), "state.json", &back, &err) < 0 && strstr(err.msg, "policies"),
		       "policies must be strings: %s", err.msg);
	}
	return tap_done();
}
