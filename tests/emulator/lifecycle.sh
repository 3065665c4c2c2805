#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# shellcheck disable=SC2317 # the test functions are called through check
# TAP: the emulator's certificate lifecycle calls (DetachThingPrincipal,
# DetachPolicy, DeleteCertificate, ListThingPrincipals, ListAttachedPolicies)
# driven by the real aws CLI, with AWS's refusals: an ACTIVE certificate, or
# one still attached to a thing or (unforced) to a policy, is not deleted.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/e2e/lib.sh
. "$top_srcdir/tests/e2e/lib.sh"

need_aws_cli

plan 24

emulator_start --region eu-west-1 --account 123456789012
W="$TEST_DIR/w"
mkdir -p "$W"

# awsiot ARGS...: `aws iot ARGS`; stdout in $W/out, stderr in $W/err.
# AK, SK and TOKEN override the credential.
# Secrets go through the environment, never argv.
awsiot() {
	(
		unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN \
			AWS_SECURITY_TOKEN AWS_REGION AWS_DEFAULT_REGION
		export AWS_ACCESS_KEY_ID="${AK:-$EMU_ACCESS_KEY_ID}"
		export AWS_SECRET_ACCESS_KEY="${SK:-$EMU_SECRET_ACCESS_KEY}"
		[ -z "${TOKEN:-}" ] || export AWS_SESSION_TOKEN="$TOKEN"
		export AWS_CA_BUNDLE="$EMU_CA" AWS_CONFIG_FILE=/dev/null \
			AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER='' \
			AWS_EC2_METADATA_DISABLED=true AWS_RETRY_MODE=standard \
			AWS_MAX_ATTEMPTS=3
		exec "$AWS_CLI" --endpoint-url "$EMU_URL" --region eu-west-1 \
			--output json iot "$@"
	) >"$W/out" 2>"$W/err"
}

# aws_error TYPE ARGS...: `aws iot ARGS` fails with error TYPE.
aws_error() {
	local type=$1
	shift
	if awsiot "$@"; then
		diag "aws iot $1 unexpectedly succeeded"
		return 1
	fi
	grep -q "An error occurred ($type)" "$W/err" || {
		diag "$(cat "$W/err")"
		return 1
	}
}

# field KEY: a member of the last answer.
field() {
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end="")' \
		"$W/out" "$1"
}

# count KEY: the length of a list member of the last answer.
count() {
	"$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))[sys.argv[2]]), end="")' \
		"$W/out" "$1"
}

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$W/dev.key" -subj "/CN=dev" -out "$W/dev.csr" 2>/dev/null ||
	bail "openssl cannot make a CSR"
awsiot create-certificate-from-csr --set-as-active \
	--certificate-signing-request "file://$W/dev.csr" || bail "$(cat "$W/err")"
ID=$(field certificateId)
ARN=$(field certificateArn)
awsiot create-thing --thing-name lc-thing || bail "$(cat "$W/err")"
awsiot create-policy --policy-name lc-policy \
	--policy-document '{"Version":"2012-10-17","Statement":[]}' || bail "$(cat "$W/err")"
awsiot attach-thing-principal --thing-name lc-thing --principal "$ARN" || bail "$(cat "$W/err")"
awsiot attach-policy --policy-name lc-policy --target "$ARN" || bail "$(cat "$W/err")"

listed_principal() {
	awsiot list-thing-principals --thing-name lc-thing && [ "$(count principals)" = 1 ] &&
		grep -qF "$ARN" "$W/out"
}
check "list-thing-principals names the attached certificate" listed_principal

listed_policy() {
	awsiot list-attached-policies --target "$ARN" && [ "$(count policies)" = 1 ] &&
		grep -q '"lc-policy"' "$W/out"
}
check "list-attached-policies names the attached policy" listed_policy

check "delete-certificate of an ACTIVE certificate: CertificateStateException" \
	aws_error CertificateStateException delete-certificate --certificate-id "$ID"
check "the refused certificate still exists" awsiot describe-certificate --certificate-id "$ID"

awsiot update-certificate --certificate-id "$ID" --new-status INACTIVE || bail "$(cat "$W/err")"
check "delete-certificate while a thing holds it: DeleteConflictException" \
	aws_error DeleteConflictException delete-certificate --certificate-id "$ID"
check "... even with --force-delete" \
	aws_error DeleteConflictException delete-certificate --certificate-id "$ID" --force-delete

check "detach-thing-principal" \
	awsiot detach-thing-principal --thing-name lc-thing --principal "$ARN"
no_principal() {
	awsiot list-thing-principals --thing-name lc-thing && [ "$(count principals)" = 0 ]
}
check "list-thing-principals is then empty" no_principal
check "detach-thing-principal of an unknown certificate: ResourceNotFoundException" \
	aws_error ResourceNotFoundException detach-thing-principal --thing-name lc-thing \
	--principal "${ARN%/*}/$(printf '%064d' 0)"

check "delete-certificate with a policy attached: DeleteConflictException" \
	aws_error DeleteConflictException delete-certificate --certificate-id "$ID"

check "detach-policy" awsiot detach-policy --policy-name lc-policy --target "$ARN"
no_policy() {
	awsiot list-attached-policies --target "$ARN" && [ "$(count policies)" = 0 ]
}
check "list-attached-policies is then empty" no_policy
check "detach-policy of an unknown policy: ResourceNotFoundException" \
	aws_error ResourceNotFoundException detach-policy --policy-name lc-nope --target "$ARN"

check "delete-certificate of the detached INACTIVE certificate" \
	awsiot delete-certificate --certificate-id "$ID"
check "describe-certificate then: ResourceNotFoundException" \
	aws_error ResourceNotFoundException describe-certificate --certificate-id "$ID"

# --force-delete takes a policy attachment away with the certificate.
forced() {
	awsiot create-certificate-from-csr --certificate-signing-request "file://$W/dev.csr" &&
		local id arn && id=$(field certificateId) && arn=$(field certificateArn) &&
		awsiot attach-policy --policy-name lc-policy --target "$arn" &&
		awsiot delete-certificate --certificate-id "$id" --force-delete &&
		awsiot list-attached-policies --target "$arn" && [ "$(count policies)" = 0 ]
}
check "delete-certificate --force-delete of an INACTIVE one with a policy: policy detached" forced

# --- the credentials provider ---------------------------------------------------

CPORT=$(cat "$EMU_DIR/credentials-port")
awsiot create-certificate-from-csr --set-as-active \
	--certificate-signing-request "file://$W/dev.csr" || bail "$(cat "$W/err")"
field certificatePem >"$W/dev.pem"
ID2=$(field certificateId)
awsiot attach-thing-principal --thing-name lc-thing --principal "$(field certificateArn)" ||
	bail "$(cat "$W/err")"
check "create-role-alias" awsiot create-role-alias --role-alias lc-alias \
	--role-arn arn:aws:iam::123456789012:role/lc-role --credential-duration-seconds 900

# fetch ALIAS [THING]: the provider's answer in $W/creds.json, status printed.
fetch() {
	curl -sS --cacert "$EMU_CA" --cert "$W/dev.pem" --key "$W/dev.key" \
		-H "x-amzn-iot-thingname: ${2:-lc-thing}" -o "$W/creds.json" -w '%{http_code}' \
		"https://127.0.0.1:$CPORT/role-aliases/$1/credentials" 2>"$W/curl.err"
}
check "the provider answers an ACTIVE certificate of the thing" [ "$(fetch lc-alias)" = 200 ]
cred() {
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["credentials"][sys.argv[2]], end="")' \
		"$W/creds.json" "$1"
}
TAK=$(cred accessKeyId) TSK=$(cred secretAccessKey) TTOKEN=$(cred sessionToken)
expiry_later() {
	"$PY" -c '
import datetime, json, sys
e = json.load(open(sys.argv[1]))["credentials"]["expiration"]
left = datetime.datetime.strptime(e, "%Y-%m-%dT%H:%M:%SZ") - datetime.datetime.utcnow()
sys.exit(0 if 0 < left.total_seconds() <= 900 else 1)' "$W/creds.json"
}
check "the answer's expiration is within the alias's 900 s" expiry_later
with_token() {
	AK=$TAK SK=$TSK TOKEN=$TTOKEN awsiot describe-certificate --certificate-id "$ID2"
}
check "the temporary credentials sign describe-certificate with their token" with_token
without_token() {
	AK=$TAK SK=$TSK aws_error UnrecognizedClientException describe-certificate \
		--certificate-id "$ID2"
}
check "... and are refused without it" without_token
check "an unknown alias: 403" [ "$(fetch lc-nope)" = 403 ]
check "a thing the certificate is not attached to: 403" [ "$(fetch lc-alias other-thing)" = 403 ]
awsiot update-certificate --certificate-id "$ID2" --new-status INACTIVE || bail "$(cat "$W/err")"
refused() {
	rm -f "$W/creds.json"
	[ "$(fetch lc-alias)" = 000 ] && [ ! -s "$W/creds.json" ]
}
check "an INACTIVE certificate: refused at the TLS handshake" refused
