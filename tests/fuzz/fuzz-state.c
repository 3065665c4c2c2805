/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz harness: the parsers of the files in the output directory:
 * state.json, journal.json, request.json, and a batch's NAME.pending and
 * NAME.json. */
#include <stdint.h>

#include "src/store/batchfile.h"
#include "src/store/keyjournal.h"
#include "src/store/reqjournal.h"
#include "src/store/state.h"

const char *const fuzz_seeds[] = {
	"{\"thing-name\":\"x\",\"certificate-id\":\"a\",\"certificate-arn\":\"a\",\"key-handle\":\"0x81000002\","
	"\"key-name\":\"a\",\"endpoint\":\"a\",\"iot-endpoint\":\"a\",\"provisioned-at\":\"a\",\"tool-version\":\"a\"}",
	"{\"phase\":\"key-created\",\"key-file\":\"/k\",\"key-alg\":\"rsa-2048\",\"key-name\":\"000b\"}",
	"{\"phase\":\"certificate-received\",\"key-name\":\"a\",\"sent-at\":\"t\",\"certificate-id\":\"i\","
	"\"certificate-arn\":\"a\",\"certificate-pem\":\"p\"}",
	"{\"phase\":\"request-sent\",\"csr\":\"dev-1.csr\",\"sent-at\":\"2025-01-01T00:00:00Z\"}",
	"{\"phase\":\"done\",\"csr\":\"d.csr\",\"certificate-id\":\"i\",\"status\":\"ACTIVE\",\"done-at\":\"t\","
	"\"policies\":[\"p\"]}",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input parsed as one of the files (the driver checks
 * the seeds do). */
int fuzz_accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_state s = { 0 };
	struct tp_keyjournal j = { 0 };
	struct tp_reqjournal q = { 0 };
	struct tp_batch_record b = { 0 };
	struct tp_error err = { 0 };

	fuzz_accepted = tp_state_parse((const char *)data, size, "fuzz", &s, &err) == 0;
	tp_state_free(&s);
	fuzz_accepted |= tp_keyjournal_parse((const char *)data, size, "fuzz", &j, &err) == 0;
	tp_keyjournal_free(&j);
	fuzz_accepted |= tp_reqjournal_parse((const char *)data, size, "fuzz", &q, &err) == 0;
	tp_reqjournal_free(&q);
	fuzz_accepted |= tp_batch_record_parse((const char *)data, size, "fuzz", &b, &err) == 0;
	tp_batch_record_free(&b);
	return 0;
}
