#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: what an operator inspecting a device is told.  After the
# factory workflow (csr, batch --attach-thing --policy, install offline)
# install does not claim the certificate is unattached; `status` shows the
# key's algorithm, why the key was not checked, and everything it can read
# offline when the TPM cannot be reached; an output directory this user may
# not write names the way out; `help` with an unknown command is a usage
# error with a suggestion.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

HANDLE=0x81000060
DEV="$TEST_DIR/dev"
device_args() {
	echo --thing-name gw-i1 --tcti "$TCTI" --key-handle "$HANDLE" --out-dir "$DEV"
}
service_args() {
	echo --region eu-west-1 --endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}
install_args() {
	echo --iot-endpoint data.example --root-ca "$EMU_CA"
}
# status_json FIELD: a member of the object the last status --json printed
# ("absent" when there is none, "no object" when it printed none).
status_json() {
	"$PY" -c '
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except ValueError:
    v = None
print(v.get(sys.argv[2], "absent") if isinstance(v, dict) else "no object")' "$RUN_OUT" "$1"
}
# key_line PATTERN: the human status output's key line matches PATTERN.
key_line() {
	grep -q "^key: *$1" "$RUN_OUT"
}

# --- the factory workflow: install after batch attached the certificate -----

mkdir -p "$TEST_DIR/csrs"
# shellcheck disable=SC2046
run -- csr $(device_args) --key-alg ecc-p384 --out "$TEST_DIR/csrs/gw-i1.csr"
[ "$RC" -eq 0 ] || bail "csr failed: $(cat "$RUN_ERR")"
emulator_aws create-policy --policy-name line --policy-document '{"Version":"2012-10-17","Statement":[]}' \
	>/dev/null || bail "aws iot create-policy failed"
# shellcheck disable=SC2046
run -- batch $(service_args) --csr-dir "$TEST_DIR/csrs" --out-dir "$TEST_DIR/certs" --attach-thing --policy line
[ "$RC" -eq 0 ] || bail "batch failed: $(cat "$RUN_ERR")"
requests_before=$(emulator_requests)
# shellcheck disable=SC2046
run -- install $(device_args) $(install_args) --cert "$TEST_DIR/certs/gw-i1.cert.pem"
check "install of the batch's certificate exits 0" succeeded_with "$DEV/state.json"
check "install sent nothing to the service" [ "$(emulator_requests)" -eq "$requests_before" ]
check "install does not claim that batch's certificate is attached to nothing" \
	not grep -q "is not attached to a thing or policy yet" "$RUN_ERR"
check "install says this run attached nothing, and what the device needs if nothing else did" \
	grep -q "this run attached nothing: .*batch --attach-thing --policy.*--attach-thing and --policy NAME" "$RUN_ERR"

# enroll knows: it made the certificate, and attached nothing to it.
# shellcheck disable=SC2046
run -- enroll --thing-name gw-i2 --tcti "$TCTI" --key-handle 0x81000061 --out-dir "$TEST_DIR/dev2" \
	$(service_args) $(install_args)
check "enroll without attachments still says the device cannot connect yet" \
	bash -c '[ "$1" -eq 0 ] && grep -q "not attached to a thing or policy yet, so the device cannot connect" "$2"' \
	_ "$RC" "$RUN_ERR"

# --- status: the key's algorithm ------------------------------------------------

run -- status --out-dir "$DEV" --tcti "$TCTI"
check "status shows the key's location and algorithm, matching" \
	bash -c '[ "$1" -eq 0 ] && grep -q "^key: *handle 0x81000060, ecc-p384, matches the certificate$" "$2"' \
	_ "$RC" "$RUN_OUT"
check "status says the attachments made elsewhere are not recorded here" \
	bash -c 'grep -q "^thing attached: none recorded" "$1" && grep -q "^policies: *none recorded" "$1"' _ "$RUN_OUT"
run -- status --out-dir "$DEV" --tcti "$TCTI" --json
check "status --json: keyAlgorithm as the key journal records it" [ "$(status_json keyAlgorithm)" = ecc-p384 ]
check "status --json: keyMatches, and no keyNotChecked" \
	bash -c '[ "$1" = True ] && [ "$2" = absent ]' _ "$(status_json keyMatches)" "$(status_json keyNotChecked)"
cp -r "$DEV" "$TEST_DIR/dev-nojournal" && rm "$TEST_DIR/dev-nojournal/journal.json"
run -- status --out-dir "$TEST_DIR/dev-nojournal" --tcti "$TCTI" --json
check "status --json without a key journal: keyAlgorithm from the certificate's key" \
	[ "$(status_json keyAlgorithm)" = ecc-p384 ]

# --- status: the TPM cannot be reached -------------------------------------------

NO_TPM="swtpm:host=127.0.0.1,port=1"
run -- status --out-dir "$DEV" --tcti "$NO_TPM"
check "status with the TPM unreachable exits 74" [ "$RC" -eq 74 ]
check "status with the TPM unreachable still shows the thing, certificate, validity and files" \
	bash -c 'grep -q "^thing: *gw-i1$" "$1" && grep -q "^certificate: *[0-9a-f]\{64\}$" "$1" &&
		grep -q "^valid: .* days left" "$1" && grep -q "^installed: *certificate.pem" "$1"' _ "$RUN_OUT"
check "status with the TPM unreachable: the key is not checked, and why" \
	key_line "handle 0x81000060, ecc-p384, not checked: .*port=1"
check "status with the TPM unreachable: one error line saying the key could not be checked" \
	bash -c '[ "$(grep -vc "^tpm-provision: " "$1")" -eq 1 ] &&
		grep -q "^tpm-provision status: the key at handle 0x81000060 could not be checked: " "$1"' _ "$RUN_ERR"
run -- status --out-dir "$DEV" --tcti "$NO_TPM" --json
check "status --json with the TPM unreachable exits 74 with the object" \
	bash -c '[ "$1" -eq 74 ] && [ "$2" = gw-i1 ]' _ "$RC" "$(status_json thing)"
check "status --json with the TPM unreachable: no keyMatches, no consistent, keyNotChecked says why" \
	bash -c '[ "$1" = absent ] && [ "$2" = absent ] && grep -q "port=1" <<<"$3"' _ \
	"$(status_json keyMatches)" "$(status_json consistent)" "$(status_json keyNotChecked)"

# --- status: the key is gone -------------------------------------------------------

tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1 || bail "tpm2_evictcontrol failed"
run -- status --out-dir "$DEV" --tcti "$TCTI"
expect_failure 65 "inconsistent: the key at handle 0x81000060 is no longer in the TPM" \
	"status with the key gone exits 65"
check "status with the key gone says why the key is not checked" \
	key_line "handle 0x81000060, ecc-p384, not checked: not in the TPM$"
run -- status --out-dir "$DEV" --tcti "$TCTI" --json
check "status --json with the key gone: keyNotChecked \"not in the TPM\", consistent false" \
	bash -c '[ "$1" = "not in the TPM" ] && [ "$2" = False ]' _ \
	"$(status_json keyNotChecked)" "$(status_json consistent)"

# --- an output directory this user may not write ------------------------------------

# as_other CMD...: run CMD as a user that may not write a directory of
# root's (as root: nobody; else this user, the directory made read-only).
LOCKED="$TEST_DIR/locked/out"
if [ "$(id -u)" -eq 0 ]; then
	chmod 0711 "$TEST_DIR"
	mkdir -p "$LOCKED" && chmod 0755 "$TEST_DIR/locked" "$LOCKED"
	printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "%s" "$@"\n' "$TPM_PROVISION" \
		>"$TEST_DIR/as-nobody"
	chmod 0755 "$TEST_DIR/as-nobody"
	runner="$TEST_DIR/as-nobody"
else
	mkdir -p "$LOCKED" && chmod 0555 "$LOCKED"
	runner="$TPM_PROVISION"
fi
if "$runner" --version >/dev/null 2>&1; then
	# shellcheck disable=SC2046
	TPM_PROVISION="$runner" run -- install --thing-name gw-i1 --tcti "$TCTI" --key-handle "$HANDLE" \
		--out-dir "$LOCKED" $(install_args) --cert "$TEST_DIR/certs/gw-i1.cert.pem"
	expect_failure 74 "lock file .*Permission denied: run as root, or give --out-dir a directory this user may write" \
		"an existing out-dir this user may not write names --out-dir and root"
else
	skip "this user cannot run $TPM_PROVISION as another user"
fi

# --- help ------------------------------------------------------------------------------

run -- help enrol
expect_failure 64 "^tpm-provision help: unknown command \"enrol\": did you mean enroll?" \
	"help with a misspelt command is a usage error with the closest command"
check "help with a misspelt command prints no usage" [ ! -s "$RUN_OUT" ]
run -- help nosuch
expect_failure 64 "unknown command \"nosuch\"" "help with an unknown command is a usage error"
run -- help status
check "help with a command still prints its usage, exit 0" \
	bash -c '[ "$1" -eq 0 ] && grep -q "^usage: tpm-provision status" "$2"' _ "$RC" "$RUN_OUT"

# The --cert line comes from the option table register shares: worded for
# both.
run -- install --help
check "install --help does not describe --cert as the certificate to register" \
	bash -c 'grep -q "^  --cert FILE " "$1" && ! grep -q "^  --cert FILE .*to register" "$1"' _ "$RUN_OUT"

check "no secret in any output" no_secret_in_output

done_testing
