/* Unit tests: state.json round trip and refusals. */
#include <stdlib.h>
#include <string.h>

#include "src/state.h"
#include "tests/tap.h"

int main(void)
{
	struct tp_state in = {
		.thing_name = "gw-0042",
		.certificate_id = "abcd",
		.certificate_arn = "arn:aws:iot:eu-west-1:123456789012:cert/abcd",
		.key_handle = 0x81000002u,
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
	tap_ok(out.key_handle == in.key_handle, "key handle round trip");
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
	       "\"key-name\":\"a\",\"endpoint\":\"a\",\"iot-endpoint\":\"a\",\"provisioned-at\":\"a\",\"tool-version\":\"a\"}";
	tap_ok(tp_state_parse(json, strlen(json), "s", &out, &err) < 0 && strstr(err.msg, "key-handle"),
	       "bad handle refused: %s", err.msg);

	{
		struct tp_journal j = { .phase = TP_PHASE_CREATING_KEY, .key_file = "/k.pem", .key_alg = "rsa-2048" };
		struct tp_journal back = { 0 };

		memset(&err, 0, sizeof(err));
		json = NULL;
		tap_ok(tp_journal_format(&j, &json, &err) == 0 && !strstr(json, "key-name") && !strstr(json, "key-handle"),
		       "journal of an intent has no key name");
		tap_ok(tp_journal_parse(json, strlen(json), "journal.json", &back, &err) == 0 &&
			       back.key_handle == 0 && strcmp(back.key_file, "/k.pem") == 0 &&
			       strcmp(back.key_alg, "rsa-2048") == 0, "journal round trip");
		tp_journal_free(&back);
		free(json);
		json = "{\"phase\": \"key-created\", \"key-handle\": \"0x81000002\", \"key-alg\": \"ecc-p256\"}";
		tap_ok(tp_journal_parse(json, strlen(json), "journal.json", &back, &err) < 0 && strstr(err.msg, "key-name"),
		       "key-created needs the key name: %s", err.msg);
		tp_journal_free(NULL);
	}
	return tap_done();
}
