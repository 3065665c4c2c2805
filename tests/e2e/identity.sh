#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: the device's identity at the service.  Certificates that fail
# the check (another key, expired, a bad ARN, a wrong status) are refused,
# deactivated and never stick; a gateway's opaque ids; quotas fail fast;
# the thing and policies are attached before anything is installed, and a
# rerun resumes with the same certificate.  Outcomes are read back with the
# aws CLI and openssl.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

HANDLE=0x81000020
common_args() {
	echo --thing-name gw-0042 --region eu-west-1 --tcti "$TCTI" --key-handle "$HANDLE" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" --iot-endpoint data.example
}

# enroll_in DIR [ARGS...]: enroll into $TEST_DIR/DIR with the key at HANDLE.
enroll_in() {
	local dir=$1
	shift
	# shellcheck disable=SC2046
	run "${RUN_ENV[@]}" -- enroll $(common_args) --out-dir "$TEST_DIR/$dir" "$@"
}
RUN_ENV=()

fresh_key() {
	tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
	return 0
}

# installed_matches_tpm DIR: the last run succeeded and DIR's certificate is
# for the TPM key (openssl against tpm2-tools).
installed_matches_tpm() {
	[ "$RC" -eq 0 ] || return 1
	tpm2_readpublic -c "$HANDLE" -f pem -o "$TEST_DIR/key.pem" >/dev/null &&
		cmp -s <(openssl x509 -in "$TEST_DIR/$1/certificate.pem" -pubkey -noout | openssl pkey -pubin -outform der) \
			<(openssl pkey -pubin -in "$TEST_DIR/key.pem" -outform der)
}

# status_of ID: the certificate's status as the aws CLI sees it.
status_of() {
	emulator_aws describe-certificate --certificate-id "$1" >"$TEST_DIR/desc.json" 2>/dev/null &&
		json_field "$TEST_DIR/desc.json" certificateDescription.status
}

creates() {
	emulator_requests CreateCertificateFromCsr
}

# --- a certificate for another key ------------------------------------------------

fresh_key
emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "wrongkey"}'
enroll_in wrong
expect_failure 65 "certificate [0-9a-f]\{64\} from the service is for another key, not the TPM key.*set INACTIVE" \
	"a certificate for another key is refused, naming its id"
refused=$(grep -o 'certificate [0-9a-f]\{64\}' "$RUN_ERR" | head -n 1 | cut -d' ' -f2)
check "the refused certificate is INACTIVE at the service (aws CLI)" [ "$(status_of "$refused")" = INACTIVE ]
check "an UpdateCertificate was sent for it" [ "$(emulator_requests UpdateCertificate)" -eq 1 ]
check "it is journaled as refused" [ "$(json_field "$TEST_DIR/wrong/request.json" phase)" = certificate-refused ]
check "nothing installed for it" nothing_installed "$TEST_DIR/wrong"
before=$(creates)
enroll_in wrong
check "the rerun sends a fresh request and provisions the device" installed_matches_tpm wrong
check "the rerun sent exactly one more CreateCertificateFromCsr" [ "$(creates)" -eq $((before + 1)) ]
check "the rerun does not claim to resume the refused certificate" not grep -q resuming "$RUN_ERR"
check "the rerun does not warn about a lost request" not grep -q "got no answer" "$RUN_ERR"
check "the installed certificate is not the refused one" \
	[ "$(json_field "$TEST_DIR/wrong/state.json" certificate-id)" != "$refused" ]
check "the success line says nothing is attached yet, and how" grep -q "not attached to a thing or policy yet" "$RUN_ERR"

# --- certificates that are not valid now, ARNs that are not ARNs --------------------

# A certificate for the TPM key, from a CA of the test's, as a broken
# service might answer.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TEST_DIR/ca.key" \
	-subj "/CN=Test CA" -days 3650 -out "$TEST_DIR/ca.pem" 2>/dev/null
tpm_cert() { # NAME FAKETIME DAYS
	TPM2OPENSSL_TCTI="$TCTI" openssl req -provider tpm2 -provider default \
		-propquery '?provider=tpm2,tpm2.digest!=yes' -new -key "handle:$HANDLE" -subj "/CN=gw-0042" \
		-out "$TEST_DIR/$1.csr" &&
		faketime "$2" openssl x509 -req -in "$TEST_DIR/$1.csr" -CA "$TEST_DIR/ca.pem" -CAkey "$TEST_DIR/ca.key" \
			-CAcreateserial -days "$3" -out "$TEST_DIR/$1.pem" 2>/dev/null
}
# answer_with PEMFILE [ARN]: the next create answer carries this certificate.
answer_with() {
	"$PY" - "$1" "${2-}" >"$TEST_DIR/answer.json" <<'PYEOF'
import hashlib, json, ssl, sys
pem = open(sys.argv[1]).read()
cid = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
arn = sys.argv[2].replace("ID", cid) if sys.argv[2] else "arn:aws:iot:eu-west-1:123456789012:cert/" + cid
body = {"certificateArn": arn, "certificateId": cid, "certificatePem": pem}
print(json.dumps({"operation": "CreateCertificateFromCsr", "mode": "envelope", "body": json.dumps(body)}))
PYEOF
	emulator_fault "@$TEST_DIR/answer.json"
}

# The key first (the service unreachable), then certificates for it; the
# runs below share that output directory, whose journal made the key.
fresh_key
enroll_in certs --insecure-http-loopback --endpoint-url http://127.0.0.1:1 --deadline 1
tpm2_readpublic -c "$HANDLE" >/dev/null 2>&1 || bail "the key for the certificate tests was not made"
tpm_cert expired '2020-01-01 00:00:00' 2 || bail "cannot make an expired certificate"
answer_with "$TEST_DIR/expired.pem"
enroll_in certs
expect_failure 65 "from the service has expired (notAfter Jan  3" "an expired certificate is refused, with its date"
check "nothing installed for the expired certificate" nothing_installed "$TEST_DIR/certs"

tpm_cert future '2099-01-01 00:00:00' 30 || bail "cannot make a future certificate"
answer_with "$TEST_DIR/future.pem"
enroll_in certs
expect_failure 65 "from the service is not valid yet" "a certificate not valid yet is refused"

tpm_cert current "$(date -d yesterday '+%Y-%m-%d %H:%M:%S')" 30 || bail "cannot make a current certificate"
answer_with "$TEST_DIR/current.pem" $'arn:aws:iot:eu-west-1:123456789012:cert/ID\e[31m'
enroll_in certs
expect_failure 65 "the service's ARN is not arn:PARTITION:iot:REGION:ACCOUNT:cert/ID" "an ARN with control characters is refused"
check "the control character is not echoed" not grep -q $'\e' "$RUN_ERR"
answer_with "$TEST_DIR/current.pem" "arn:aws:iot:eu-west-1:123456789012:cert/$(printf 'cd%.0s' $(seq 32))"
enroll_in certs
expect_failure 65 "ARN is not" "an ARN naming another certificate is refused"
# A \u0000 in the answer's id would cut it short: the answer is refused
# whole, and nothing is asked of the service about a cut id.
"$PY" - "$TEST_DIR/current.pem" >"$TEST_DIR/answer.json" <<'PYEOF'
import hashlib, json, ssl, sys
pem = open(sys.argv[1]).read()
cid = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
body = {"certificateArn": "arn:aws:iot:eu-west-1:123456789012:cert/" + cid,
        "certificateId": cid[:8] + "\u0000" + cid[8:], "certificatePem": pem}
print(json.dumps({"operation": "CreateCertificateFromCsr", "mode": "envelope", "body": json.dumps(body)}))
PYEOF
grep -q 'u0000' "$TEST_DIR/answer.json" || bail "the answer with a NUL was not made"
emulator_fault "@$TEST_DIR/answer.json"
before=$(emulator_requests)
enroll_in certs
expect_failure 65 "a string holds a NUL character" "an id with a NUL character in the answer is refused"
check "nothing was asked about the cut id (only the create reached the service)" \
	[ "$(emulator_requests)" -eq $((before + 1)) ]
check "nothing installed after the refused certificates and ARNs" nothing_installed "$TEST_DIR/certs"
check "nothing left loaded in the TPM after the refused certificates and ARNs" [ "$(tpm_transient_count)" -eq 0 ]
emulator_clear_faults
enroll_in certs
check "with the service answering right again the rerun provisions the device" \
	provisioned_with_key "$TEST_DIR/certs" "$HANDLE"

# --- the gateway's own ids -------------------------------------------------------------

fresh_key
emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "gatewayids"}'
enroll_in gateway
check "a gateway's data.id answer provisions the device" installed_matches_tpm gateway
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
gw_id=$(json_field "$TEST_DIR/gateway/state.json" certificate-id)
check "state.json records the gateway's opaque id" bash -c '[[ $1 =~ ^[A-Za-z0-9._-]+$ && ${#1} -ne 64 ]]' _ "$gw_id"
check "the PEM came from DescribeCertificate by that id" \
	grep -q "\"path\": \"/certificates/$gw_id\"" "$EMU_DIR/requests.jsonl"
check "state.json records created_at" [ -n "$(json_field "$TEST_DIR/gateway/state.json" certificate-created-at)" ]
check "state.json records the ARN the description gave" \
	grep -q '"certificate-arn":[[:space:]]*"arn:aws:iot:eu-west-1:123456789012:cert/[0-9a-f]\{64\}"' \
	"$TEST_DIR/gateway/state.json"

fresh_key
emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "gatewayids", "omitArn": true}'
enroll_in gateway-noarn
check "without an ARN the device is still provisioned" installed_matches_tpm gateway-noarn
check "a missing ARN is recorded as absent, not invented" \
	not grep -q certificate-arn "$TEST_DIR/gateway-noarn/state.json"
fresh_key
emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "gatewayids", "omitArn": true}'
enroll_in gateway-noarn-attach --attach-thing
expect_failure 65 "gave no ARN for certificate .*cannot be attached" "attaching without an ARN says why it cannot"

# --- quotas and client errors ---------------------------------------------------------------

fresh_key
emulator_fault '{"count": 3, "operation": "CreateCertificateFromCsr", "errorType": "LimitExceededException", "message": "certificate quota reached"}'
before=$(creates)
enroll_in quota
expect_failure 65 "HTTP 410 LimitExceededException: certificate quota reached" "a quota fails at once with its message"
check "a quota is not retried" [ "$(creates)" -eq $((before + 1)) ]
check "nothing installed after a quota" nothing_installed "$TEST_DIR/quota"
check "nothing left loaded in the TPM after a quota" [ "$(tpm_transient_count)" -eq 0 ]
emulator_clear_faults
enroll_in quota
check "with the quota raised the rerun provisions the device" provisioned_with_key "$TEST_DIR/quota" "$HANDLE"

fresh_key
emulator_fault '{"operation": "CreateCertificateFromCsr", "errorType": "InvalidRequestException", "message": "no"}'
enroll_in client-error
expect_failure 65 "HTTP 400 InvalidRequestException: no" "a client error fails"
check "a client error leaves no request journal" [ ! -e "$TEST_DIR/client-error/request.json" ]
check "nothing installed after a client error" nothing_installed "$TEST_DIR/client-error"
enroll_in client-error
check "the run after a client error provisions the device" installed_matches_tpm client-error
check "and does not warn about a lost request" not grep -q "got no answer" "$RUN_ERR"

# --- thing and policies ------------------------------------------------------------------

fresh_key
emulator_aws create-policy --policy-name gw-connect --policy-document '{"Version":"2012-10-17","Statement":[]}' \
	>/dev/null || bail "aws iot create-policy failed"
before=$(creates)
enroll_in attach --attach-thing --policy gw-connect --policy gw-telemetry
expect_failure 65 'policy "gw-telemetry" does not exist' "a missing policy is an error naming it"
check "the device is not counted as provisioned" [ ! -e "$TEST_DIR/attach/state.json" ]
check "nothing installed while a policy is missing" nothing_installed "$TEST_DIR/attach"
journaled_attach() {
	[ "$(json_field "$1" phase)" = certificate-received ] && [ "$(json_field "$1" attached-thing)" = gw-0042 ]
}
check "the certificate and what was attached are journaled" journaled_attach "$TEST_DIR/attach/request.json"
attach_id=$(json_field "$TEST_DIR/attach/request.json" certificate-id)
emulator_aws create-policy --policy-name gw-telemetry --policy-document '{"Version":"2012-10-17","Statement":[]}' \
	>/dev/null || bail "aws iot create-policy failed"
attaches=$(emulator_requests AttachThingPrincipal)
enroll_in attach --attach-thing --policy gw-connect --policy gw-telemetry
check "once the policy exists the rerun provisions the device" installed_matches_tpm attach
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "with the same certificate: one CreateCertificateFromCsr in all" [ "$(creates)" -eq $((before + 1)) ]
check "the installed certificate is the journaled one" [ "$(json_field "$TEST_DIR/attach/state.json" certificate-id)" = "$attach_id" ]
check "the thing is not attached a second time" [ "$(emulator_requests AttachThingPrincipal)" -eq "$attaches" ]
arn=$(json_field "$TEST_DIR/attach/state.json" certificate-arn)
emulator_aws list-thing-principals --thing-name gw-0042 >"$TEST_DIR/principals.json"
check "the aws CLI lists the certificate as the thing's principal" grep -qF "$arn" "$TEST_DIR/principals.json"
emulator_aws list-attached-policies --target "$arn" >"$TEST_DIR/policies.json"
check "the aws CLI lists both policies on the certificate" \
	bash -c 'grep -q "\"gw-connect\"" "$1" && grep -q "\"gw-telemetry\"" "$1"' _ "$TEST_DIR/policies.json"
check "the ARN went in the signed x-amzn-principal header" \
	grep -q '"operation": "AttachThingPrincipal".*"signedHeaders": \[[^]]*"x-amzn-principal"' "$EMU_DIR/requests.jsonl"
records_attached() {
	[ "$(json_field "$1" attached-thing)" = gw-0042 ] &&
		[ "$(json_field "$1" policies)" = '["gw-connect", "gw-telemetry"]' ]
}
check "state.json records the thing and the policies" records_attached "$TEST_DIR/attach/state.json"
check "the success line says what was attached" \
	grep -q "attached to thing gw-0042 and policies gw-connect, gw-telemetry" "$RUN_ERR"

before=$(emulator_requests)
enroll_in attach --attach-thing --policy gw-connect --policy gw-telemetry
sent_nothing() {
	[ "$RC" -eq 0 ] && [ "$(emulator_requests)" -eq "$1" ] && grep -q "already provisioned" "$RUN_ERR"
}
check "a rerun with the same options sends nothing" sent_nothing "$before"
emulator_aws create-policy --policy-name gw-shadow --policy-document '{"Version":"2012-10-17","Statement":[]}' >/dev/null
before=$(emulator_requests)
policies_before=$(emulator_requests AttachPolicy)
enroll_in attach --attach-thing --policy gw-connect --policy gw-telemetry --policy gw-shadow
attached_one_more() {
	[ "$RC" -eq 0 ] && [ "$(emulator_requests)" -eq $(($1 + 1)) ] &&
		[ "$(emulator_requests AttachPolicy)" -eq $(($2 + 1)) ]
}
check "a rerun asking for one more policy attaches just that one" attached_one_more "$before" "$policies_before"
check "state.json then records it too" grep -q '"gw-shadow"' "$TEST_DIR/attach/state.json"

# --- killed after attaching ---------------------------------------------------------------

fresh_key
TPM_PROVISION_SHIPPED=$TPM_PROVISION
TPM_PROVISION="$top_builddir/tests/tpm-provision-test"
before=$(creates)
RUN_ENV=(TPM_PROVISION_TEST_CRASH_AT=attached)
enroll_in crash --attach-thing --policy gw-connect
check "killed right after attaching" [ "$RC" -eq 137 ]
check "killed right after attaching: nothing installed" nothing_installed "$TEST_DIR/crash"
RUN_ENV=()
enroll_in crash --attach-thing --policy gw-connect
check "after a kill once attached the rerun provisions the device" installed_matches_tpm crash
check "with exactly one certificate requested" [ "$(creates)" -eq $((before + 1)) ]
TPM_PROVISION=$TPM_PROVISION_SHIPPED

# --- register: the status at the service is the one asked for ------------------------------

fresh_key
enroll_in reg-source
reg_cert="$TEST_DIR/reg-source/certificate.pem"
reg_id=$(json_field "$TEST_DIR/reg-source/state.json" certificate-id)
emulator_aws update-certificate --certificate-id "$reg_id" --new-status REVOKED >/dev/null
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$TEST_DIR/reg-revoked" --cert "$reg_cert" --no-ca
expect_failure 65 "certificate $reg_id is REVOKED at the service, not ACTIVE" "a REVOKED certificate on the 409 path is refused"
check "nothing installed for the revoked certificate" nothing_installed "$TEST_DIR/reg-revoked"
emulator_aws update-certificate --certificate-id "$reg_id" --new-status INACTIVE >/dev/null
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$TEST_DIR/reg-inactive" --cert "$reg_cert" --no-ca
expect_failure 65 "certificate $reg_id is INACTIVE at the service, not ACTIVE.*--new-status ACTIVE" \
	"an INACTIVE certificate is refused with how to activate it"
check "it is not reactivated behind the operator's back" [ "$(status_of "$reg_id")" = INACTIVE ]
# shellcheck disable=SC2046
run -- register $(common_args) --out-dir "$TEST_DIR/reg-inactive" --cert "$reg_cert" --no-ca --status INACTIVE \
	--attach-thing --policy gw-connect
check "asked for INACTIVE, an INACTIVE certificate is registered and attached" \
	bash -c '[ "$1" -eq 0 ] && grep -q "attached to thing gw-0042 and policies gw-connect" "$2"' _ "$RC" "$RUN_ERR"

# --- names that cannot be sent --------------------------------------------------------------

# shellcheck disable=SC2046
run -- enroll $(common_args | sed 's/gw-0042/gw:0042/') --out-dir "$TEST_DIR/colon" --attach-thing
expect_failure 64 '"gw:0042" cannot be attached as a thing' "a thing name this client cannot send is a usage error"
enroll_in bad-policy --policy 'iot+all'
expect_failure 64 '"iot+all" is not a policy name' "a policy name this client cannot send is a usage error"

check "no secret in any output" no_secret_in_output
check "nothing left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]
done_testing
