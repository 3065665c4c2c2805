#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: what operators see.  `check` passes on a healthy setup and
# names what is wrong on broken ones (no TPM, wrong secret, untrusted
# endpoint) without changing anything; --json results parse and carry the
# right fields; human lines are on stderr, in order, with stdout and
# stderr on one pipe; -q and -v; a malformed TCTI and a region typo are
# usage errors at once; the success line says what to run next.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

HANDLE=0x81000050
args() {
	echo --thing-name gw-op --region eu-west-1 --tcti "$TCTI" --key-handle "$HANDLE" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" --iot-endpoint data.example --root-ca "$EMU_CA"
}
# json_of FIELD: a field of the JSON object the last run printed on stdout.
json_of() {
	"$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); print(v.get(sys.argv[2], ""))' "$RUN_OUT" "$1"
}
# check_line NAME STATE: the last check run printed "STATE NAME ...".
check_line() {
	grep -q "^$2 $1 " "$RUN_OUT"
}
# check_failed CODE NAME PATTERN: the last check run exited CODE, failed
# the NAME line, and printed a line matching PATTERN.
check_failed() {
	[ "$RC" -eq "$1" ] && check_line "$2" FAIL && grep -q -- "$3" "$RUN_OUT"
}

# --- check -----------------------------------------------------------------------

# shellcheck disable=SC2046
run -- check $(args) --out-dir "$TEST_DIR/dev"
check "check passes on a healthy setup, exit 0" \
	bash -c '[ "$1" -eq 0 ] && [ "$2" -eq 9 ]' _ "$RC" "$(grep -c '^PASS ' "$RUN_OUT")"
changed_nothing() {
	[ ! -e "$TEST_DIR/dev" ] && ! tpm2_readpublic -c "$HANDLE" >/dev/null 2>&1 &&
		[ "$(emulator_requests CreateCertificateFromCsr)" -eq 0 ]
}
check "check changed nothing: no output directory, no key, no certificate" changed_nothing
check "check made one signed read-only call" [ "$(emulator_requests DescribeEndpoint)" -eq 1 ]
check "check never prints the credentials" no_secret_in_output
# shellcheck disable=SC2046
run -- check $(args) --out-dir "$TEST_DIR/dev" --json
check "check --json: ok, and one entry per check" bash -c '[ "$1" = True ] && [ "$2" -eq 9 ]' _ "$(json_of ok)" \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["checks"]))' "$RUN_OUT")"

run -- check --thing-name gw-op --region eu-west-1 --tcti "swtpm:host=127.0.0.1,port=1" --endpoint-url "$EMU_URL" \
	--ca-bundle "$EMU_CA" --iot-endpoint data.example --root-ca "$EMU_CA" --out-dir "$TEST_DIR/dev"
check "no TPM: check fails the tpm line, exit 74, and still checks the service" \
	check_failed 74 tpm "^PASS endpoint "
# shellcheck disable=SC2046
run AWS_SECRET_ACCESS_KEY=wrong-secret -- check $(args) --out-dir "$TEST_DIR/dev"
check "a wrong secret: the endpoint line fails with the service's reason, exit 77" \
	check_failed 77 endpoint "InvalidSignatureException"
# shellcheck disable=SC2046
run -- check $(args) --out-dir "$TEST_DIR/dev" --ca-bundle /etc/ssl/certs/ca-certificates.crt
check "an untrusted endpoint: FAIL with the hint to --ca-bundle, exit 78" \
	check_failed 78 endpoint "--ca-bundle FILE or AWS_CA_BUNDLE"

# --- enroll: lines, order, --json ----------------------------------------------

# shellcheck disable=SC2046
env HOME="$TEST_DIR" AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" \
	AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY" "$TPM_PROVISION" enroll $(args) --out-dir "$TEST_DIR/dev2" \
	--key-handle 0x81000051 >"$TEST_DIR/both" 2>&1
check "enroll with stdout and stderr on one pipe exits 0" [ $? -eq 0 ]
order() {
	local steps
	steps=$(sed -n 's/^tpm-provision: \(creating\|created\|signing\|requesting\|installing\|enrolled\).*/\1/p' "$1" | tr '\n' ' ')
	[ "$steps" = "creating created signing requesting installing enrolled " ]
}
check "stdout and stderr on one pipe: each step once, in order" order "$TEST_DIR/both"
check "the success line says how to inspect the device" \
	grep -q "inspect it with: tpm-provision status --out-dir $TEST_DIR/dev2" "$TEST_DIR/both"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/dev3" --key-handle 0x81000052 --json
check "enroll --json: stdout is one JSON object" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$RUN_OUT"
enrolled_json() {
	[ "$(json_of result)" = enrolled ] && [ "$(json_of thing)" = gw-op ] &&
		[ "$(json_of certificateId)" = "$(openssl x509 -in "$TEST_DIR/dev3/certificate.pem" -outform der | sha256sum | cut -d' ' -f1)" ]
}
check "enroll --json: result, thing and the certificate id of the installed certificate" enrolled_json
check "enroll --json: the human lines went to stderr" grep -q "^tpm-provision: enrolled thing gw-op" "$RUN_ERR"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/dev3" --key-handle 0x81000052 --json
check "a rerun with --json: already-provisioned" [ "$(json_of result)" = already-provisioned ]
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/dev3" --key-handle 0x81000052 --json --thing-name other
error_json() {
	[ "$RC" -eq 65 ] && [ "$(json_of result)" = error ] && [ "$(json_of exitCode)" = 65 ] &&
		grep -q "another --out-dir" <(json_of error)
}
check "a failure with --json: result error, its exit code, its message" error_json

# --- -q and -v -------------------------------------------------------------------

# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/dev3" --key-handle 0x81000052 -q
check "-q: nothing on stderr when all is well" bash -c '[ "$1" -eq 0 ] && [ ! -s "$2" ]' _ "$RC" "$RUN_ERR"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/dev4" --key-handle 0x81000053 -v
check "-v: each answer's HTTP status and request id" \
	grep -q "^tpm-provision: POST $EMU_URL/certificates?setAsActive=true: HTTP 200 (request id [0-9a-f-]*)" "$RUN_ERR"
check "-v: no secret either" no_secret_in_output

# --- usage errors at once ------------------------------------------------------------

run -- enroll --thing-name gw-op --region eu-west-1 --tcti "swtpm:port=notanumber" --out-dir "$TEST_DIR/dev5"
expect_failure 64 'TCTI "swtpm:port=notanumber" is malformed' "a malformed TCTI is a usage error"
start=$(date +%s)
run -- enroll --thing-name gw-op --region eu-wst-1 --tcti "$TCTI" --out-dir "$TEST_DIR/dev5"
expect_failure 64 '--region "eu-wst-1" is not an AWS region: did you mean eu-west-1?' "a region typo is a usage error"
# At once: no attempt to reach an endpoint was made (a retry line would
# say so), and the run did not wait out a deadline.
check "the region typo fails at once, not after retries" \
	bash -c '! grep -q "retrying\|attempt" "$1" && [ $(($(date +%s) - $2)) -le 10 ]' _ "$RUN_ERR" "$start"
check "nothing was made by the usage errors" [ ! -e "$TEST_DIR/dev5/journal.json" ]

check "nothing left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]
done_testing
