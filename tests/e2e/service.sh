#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: the certificate service client against the emulator: register
# (with CA, without CA, converging on 409), retries of temporary failures,
# immediate failure on permanent ones, gateway envelopes, malformed answers,
# and every credential source.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

common_args() {
	echo --thing-name gw-0042 --region eu-west-1 --tcti "$TCTI" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}

# enroll_fresh NAME [ARGS...]: enroll with a fresh key at 0x81000010 into
# $TEST_DIR/NAME (the key of the previous run is evicted first).
ENROLL_HANDLE=0x81000010
enroll_fresh() {
	local name=$1
	shift
	tpm2_evictcontrol -C o -c "$ENROLL_HANDLE" >/dev/null 2>&1
	# shellcheck disable=SC2046
	run "${RUN_ENV[@]}" -- enroll $(common_args) --key-handle "$ENROLL_HANDLE" \
		--out-dir "$TEST_DIR/$name" "$@"
}
RUN_ENV=()

# installed_matches_tpm DIR: the last run succeeded and DIR's certificate is
# for the TPM key (openssl against tpm2-tools).
installed_matches_tpm() {
	local dir=$1
	[ "$RC" -eq 0 ] || return 1
	tpm2_readpublic -c "$ENROLL_HANDLE" -f pem -o "$TEST_DIR/key.pem" >/dev/null &&
		cmp -s <(openssl x509 -in "$dir/certificate.pem" -pubkey -noout | openssl pkey -pubin -outform der) \
			<(openssl pkey -pubin -in "$TEST_DIR/key.pem" -outform der)
}

# rerun_provisions NAME: with the fault cleared, a rerun into
# $TEST_DIR/NAME, with the key the failed run made, ends provisioned.
rerun_provisions() {
	# shellcheck disable=SC2046
	run -- enroll $(common_args) --key-handle "$ENROLL_HANDLE" --out-dir "$TEST_DIR/$1"
	provisioned_with_key "$TEST_DIR/$1" "$ENROLL_HANDLE"
}

# recovers NAME WHAT: after WHAT failed the run into $TEST_DIR/NAME,
# nothing is installed and nothing is left loaded in the TPM, and once the
# fault is cleared the rerun provisions the device.
recovers() {
	check "nothing installed after $2" nothing_installed "$TEST_DIR/$1"
	check "nothing left loaded in the TPM after $2" [ "$(tpm_transient_count)" -eq 0 ]
	emulator_clear_faults
	check "with the fault cleared the rerun after $2 provisions the device" rerun_provisions "$1"
}

retry_lines() {
	grep -c '^tpm-provision: POST .*: attempt [0-9]* failed' "$RUN_ERR"
}

# --- register ----------------------------------------------------------------

# A factory made the key with its own tooling and had its CA certify it.
tpm2_createprimary -C o -G ecc256 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' \
	-c "$TEST_DIR/srk.ctx" >/dev/null
tpm2_evictcontrol -C o -c "$TEST_DIR/srk.ctx" 0x81000001 >/dev/null
tpm2_flushcontext -t
factory_key() {
	tpm2_create -C 0x81000001 -G ecc256:ecdsa-sha256 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
		-u "$TEST_DIR/k.pub" -r "$TEST_DIR/k.priv" >/dev/null &&
		tpm2_load -C 0x81000001 -u "$TEST_DIR/k.pub" -r "$TEST_DIR/k.priv" -c "$TEST_DIR/k.ctx" >/dev/null &&
		tpm2_evictcontrol -C o -c "$TEST_DIR/k.ctx" "$1" >/dev/null &&
		tpm2_flushcontext -t
}
factory_cert() {
	TPM2OPENSSL_TCTI="$TCTI" openssl req -provider tpm2 -provider default -propquery '?provider=tpm2,tpm2.digest!=yes' \
		-new -key "handle:$1" -subj "/CN=$2" -out "$TEST_DIR/$2.csr" &&
		openssl x509 -req -in "$TEST_DIR/$2.csr" -CA "$TEST_DIR/factory-ca.pem" -CAkey "$TEST_DIR/factory-ca.key" \
			-CAcreateserial -days 365 -out "$TEST_DIR/$2.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TEST_DIR/factory-ca.key" \
	-subj "/CN=Factory CA" -days 365 -out "$TEST_DIR/factory-ca.pem" 2>/dev/null
factory_key 0x81000002 && factory_cert 0x81000002 gw-0042 || bail "cannot make the factory key and certificate"

REG="$TEST_DIR/reg"
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$REG" --cert "$TEST_DIR/gw-0042.pem" --ca-cert "$TEST_DIR/factory-ca.pem"
check "register with the CA exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "register sent one RegisterCertificate" [ "$(emulator_requests RegisterCertificate)" -eq 1 ]
check "the installed certificate is the registered file" \
	cmp -s <(openssl x509 -in "$REG/certificate.pem" -outform der) <(openssl x509 -in "$TEST_DIR/gw-0042.pem" -outform der)
check "the service has it as ACTIVE with its CA" bash -c \
	'curl -sS --cacert "$1" "$2/_emulator/certificates" | grep -q "\"status\": \"ACTIVE\""' _ "$EMU_CA" "$EMU_URL"
cert_id=$(openssl x509 -in "$TEST_DIR/gw-0042.pem" -outform der | sha256sum | cut -d' ' -f1)
check "state.json records the certificate id" grep -q "\"certificate-id\":[[:space:]]*\"$cert_id\"" "$REG/state.json"

# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$REG" --cert "$TEST_DIR/gw-0042.pem" --ca-cert "$TEST_DIR/factory-ca.pem"
check "register rerun: already provisioned, nothing sent" \
	bash -c '[ "$1" -eq 0 ] && grep -q "already provisioned" "$2"' _ "$RC" "$RUN_ERR"
check "register rerun sent nothing" [ "$(emulator_requests RegisterCertificate)" -eq 1 ]

# A crash after the service registered it but before the install: the rerun
# meets 409 for the same certificate and converges.
rm -f "$REG/state.json" "$REG/certificate.pem"
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$REG" --cert "$TEST_DIR/gw-0042.pem" --ca-cert "$TEST_DIR/factory-ca.pem"
check "register after a lost answer converges on 409" succeeded_with "$REG/state.json"
check "the service answered that rerun with 409 ResourceAlreadyExistsException" \
	grep -q '"status": 409, "errorType": "ResourceAlreadyExistsException"' "$EMU_DIR/requests.jsonl"
check "state.json records the ARN from the 409" \
	grep -q "\"certificate-arn\":[[:space:]]*\"arn:aws:iot:eu-west-1:123456789012:cert/$cert_id\"" "$REG/state.json"

# Without a CA: RegisterCertificateWithoutCA.
factory_key 0x81000003 && factory_cert 0x81000003 gw-0043 || bail "cannot make the second factory key"
# shellcheck disable=SC2046
run -- register $(common_args | sed 's/gw-0042/gw-0043/') --key-handle 0x81000003 --out-dir "$TEST_DIR/reg-noca" \
	--cert "$TEST_DIR/gw-0043.pem" --no-ca --status INACTIVE
check "register --no-ca exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "register --no-ca sent RegisterCertificateWithoutCA" [ "$(emulator_requests RegisterCertificateWithoutCA)" -eq 1 ]

# A certificate for another key is refused before anything is sent.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TEST_DIR/other.key" \
	-subj "/CN=other" -days 1 -out "$TEST_DIR/other.pem" 2>/dev/null
before=$(emulator_requests)
# shellcheck disable=SC2046
run -- register $(common_args) --key-handle 0x81000003 --out-dir "$TEST_DIR/reg-wrong" --cert "$TEST_DIR/other.pem" --no-ca
expect_failure 65 "other.pem is for another key, not the TPM key" "a certificate for another key is refused"
check "nothing was sent for it" [ "$(emulator_requests)" -eq "$before" ]
check "nothing was installed for it" nothing_installed "$TEST_DIR/reg-wrong"

echo garbage >"$TEST_DIR/garbage.pem"
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$TEST_DIR/reg-garbage" --cert "$TEST_DIR/garbage.pem"
expect_failure 65 "garbage.pem is not a PEM certificate" "a file that is not a certificate is named"
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$TEST_DIR/reg-x" --cert "$TEST_DIR/gw-0042.pem" --no-ca --ca-cert "$TEST_DIR/factory-ca.pem"
expect_failure 64 "exclude each other" "--ca-cert with --no-ca is a usage error"

# --- retries -------------------------------------------------------------------

emulator_fault '{"count": 2, "operation": "CreateCertificateFromCsr", "errorType": "ServiceUnavailableException"}'
enroll_fresh retry-503
check "two 503s are retried and the run succeeds" installed_matches_tpm "$TEST_DIR/retry-503"
check "each retry is reported with its reason" \
	bash -c '[ "$(grep -c "attempt [0-9]* failed (HTTP 503 ServiceUnavailableException); retrying" "$1")" -eq 2 ]' _ "$RUN_ERR"

emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "errorType": "ThrottlingException"}'
enroll_fresh retry-throttle
check "ThrottlingException (HTTP 400) is retried" \
	bash -c '[ "$1" -eq 0 ] && grep -q "HTTP 400 ThrottlingException" "$2"' _ "$RC" "$RUN_ERR"

emulator_fault '[{"operation": "CreateCertificateFromCsr", "status": 500, "errorType": "InternalFailureException"},
	{"operation": "CreateCertificateFromCsr", "status": 502, "errorType": "BadGateway"},
	{"operation": "CreateCertificateFromCsr", "status": 504, "errorType": "GatewayTimeout"}]'
enroll_fresh retry-5xx
check "500, 502 and 504 are retried" bash -c '[ "$1" -eq 0 ] && [ "$2" -eq 3 ]' _ "$RC" "$(retry_lines)"

emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "close"}'
enroll_fresh retry-close
check "a closed connection is retried" bash -c '[ "$1" -eq 0 ] && [ "$2" -eq 1 ]' _ "$RC" "$(retry_lines)"

emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "errorType": "ServiceUnavailableException", "retryAfter": 2}'
enroll_fresh retry-after
check "Retry-After is honoured" bash -c '[ "$1" -eq 0 ] && grep -q "retrying in 2\.0s" "$2"' _ "$RC" "$RUN_ERR"

# fails_at_once NAME TYPE STATUS CODE WHAT: one injected TYPE error fails the
# run with CODE after exactly one request, and installs nothing.
fails_at_once() {
	local before
	before=$(emulator_requests CreateCertificateFromCsr)
	emulator_fault "{\"count\": 1, \"operation\": \"CreateCertificateFromCsr\", \"errorType\": \"$2\", \"message\": \"no: $1\"}"
	enroll_fresh "$1"
	expect_failure "$4" "HTTP $3 $2: no: $1" "$5 fails at once"
	check "$5 is not retried" [ "$(emulator_requests CreateCertificateFromCsr)" -eq $((before + 1)) ]
	check "nothing installed after $5" nothing_installed "$TEST_DIR/$1"
}
fails_at_once fail-invalid InvalidRequestException 400 65 "a validation error"
fails_at_once fail-unauthorized UnauthorizedException 401 77 "a permission error"

emulator_fault '{"count": 1000, "operation": "CreateCertificateFromCsr", "errorType": "ServiceUnavailableException"}'
# A deadline long enough for a retry however slow the first attempt is
# (its TLS handshake under valgrind on a loaded machine).
enroll_fresh fail-deadline --deadline 10
expect_failure 75 "HTTP 503 ServiceUnavailableException" "a service that stays unavailable is a temporary failure at the deadline"
check "it was retried before the deadline" [ "$(retry_lines)" -ge 1 ]
recovers fail-deadline "503 until the deadline"

# An answer slower than the time left: the attempt times out at the deadline.
emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "slow", "delay": 6}'
enroll_fresh fail-slow --deadline 2
expect_failure 69 "timed out" "an answer slower than the deadline times out"
check "nothing installed after a timeout" nothing_installed "$TEST_DIR/fail-slow"
emulator_clear_faults
check "with the service answering in time again the rerun provisions the device" rerun_provisions fail-slow

# An endpoint nobody listens on: retried, then unavailable.
port=$(free_port_pair)
tpm2_evictcontrol -C o -c "$ENROLL_HANDLE" >/dev/null 2>&1
# shellcheck disable=SC2046
run -- enroll $(common_args | sed "s|$EMU_URL|https://127.0.0.1:$port|") --key-handle "$ENROLL_HANDLE" \
	--out-dir "$TEST_DIR/fail-unreachable" --deadline 2
expect_failure 69 "gave up after [0-9]* attempts within the 2s deadline" "an unreachable service is unavailable after retries"
check "nothing installed after an unreachable service" nothing_installed "$TEST_DIR/fail-unreachable"
check "with the service reachable the rerun provisions the device" rerun_provisions fail-unreachable

# --- answers -------------------------------------------------------------------

before=$(emulator_requests DescribeCertificate)
emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "gateway", "omitPem": true}'
enroll_fresh gateway
check "a gateway envelope without the PEM works" installed_matches_tpm "$TEST_DIR/gateway"
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "the PEM was fetched with DescribeCertificate" [ "$(emulator_requests DescribeCertificate)" -eq $((before + 1)) ]

emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "envelope", "body": "{\"success\": false, \"error\": {\"code\": \"InvalidRequestException\", \"message\": \"gateway says no\"}}"}'
enroll_fresh gateway-error
expect_failure 65 "InvalidRequestException: gateway says no" "a gateway's error envelope is an error"
recovers gateway-error "a gateway's error envelope"

emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "malformed"}'
enroll_fresh malformed
expect_failure 65 "not a JSON object" "malformed JSON is refused"
recovers malformed "malformed JSON"

emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "envelope", "body": "{\"certificateArn\": \"arn:x\"}"}'
enroll_fresh missing-member
expect_failure 65 'no "certificateId" string' "an answer without certificateId is refused"
recovers missing-member "an answer without certificateId"

"$PY" -c 'import json; print(json.dumps({"operation": "CreateCertificateFromCsr", "mode": "malformed", "body": "x" * 300000}))' \
	>"$TEST_DIR/big.json"
emulator_fault "@$TEST_DIR/big.json"
enroll_fresh oversized
expect_failure 65 "answer larger than 262144 bytes" "an oversized answer is refused"
recovers oversized "an oversized answer"

"$PY" - "$TEST_DIR/other.pem" >"$TEST_DIR/wrong-key.json" <<'EOF'
import json, sys
answer = {"certificateArn": "arn:aws:iot:eu-west-1:123456789012:cert/" + "ab" * 32,
          "certificateId": "ab" * 32, "certificatePem": open(sys.argv[1]).read()}
print(json.dumps({"operation": "CreateCertificateFromCsr", "mode": "envelope", "body": json.dumps(answer)}))
EOF
emulator_fault "@$TEST_DIR/wrong-key.json"
enroll_fresh wrong-key
expect_failure 65 "certificate \(ab\)* from the service is for another key" "a certificate for another key from the service is refused, naming its id"
check "nothing installed for it" nothing_installed "$TEST_DIR/wrong-key"

# --- credentials ---------------------------------------------------------------

mkdir -p "$TEST_DIR/creds"
printf '%s\n' "$EMU_ACCESS_KEY_ID" >"$TEST_DIR/creds/aws-access-key-id"
printf '%s' "$EMU_SECRET_ACCESS_KEY" >"$TEST_DIR/creds/aws-secret-access-key"
RUN_ENV=(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= CREDENTIALS_DIRECTORY="$TEST_DIR/creds")
enroll_fresh creds-systemd
check "credentials from systemd's CREDENTIALS_DIRECTORY" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"

(
	umask 077
	cat >"$TEST_DIR/aws-credentials" <<EOF
# a shared credentials file
[default]
aws_access_key_id = AKIAWRONGWRONGWRONG1
aws_secret_access_key = wrong

[device]
aws_access_key_id = $EMU_SESSION_ACCESS_KEY_ID
aws_secret_access_key = $EMU_SESSION_SECRET_ACCESS_KEY
aws_session_token = $EMU_SESSION_TOKEN
EOF
)
RUN_ENV=(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SHARED_CREDENTIALS_FILE="$TEST_DIR/aws-credentials" AWS_PROFILE=device)
enroll_fresh creds-file
check "credentials (with a session token) from a profile of the shared credentials file" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"

mkdir -p "$TEST_DIR/home/.aws"
cp "$TEST_DIR/aws-credentials" "$TEST_DIR/home/.aws/credentials"
chmod 640 "$TEST_DIR/home/.aws/credentials"
RUN_ENV=(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SHARED_CREDENTIALS_FILE="$TEST_DIR/home/.aws/credentials")
enroll_fresh creds-open
expect_failure 77 "credentials is readable by group or others (mode 640)" "a group-readable credentials file is refused"

RUN_ENV=(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=)
enroll_fresh creds-none
expect_failure 77 "no AWS credentials" "no credentials anywhere"
RUN_ENV=()

# --- transport -----------------------------------------------------------------

# shellcheck disable=SC2046
run -- enroll $(common_args | sed "s|$EMU_URL|http://127.0.0.1:$EMU_PORT|") --out-dir "$TEST_DIR/http"
expect_failure 64 "must start with https://" "plain http is refused without --insecure-http-loopback"
# shellcheck disable=SC2046
run -- enroll $(common_args | sed "s|$EMU_URL|http://192.0.2.1:80|") --out-dir "$TEST_DIR/http" --insecure-http-loopback
expect_failure 64 "not loopback" "plain http to a host that is not loopback is refused even with the flag"

check "no secret in any output" no_secret_in_output
check "nothing left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]

done_testing
