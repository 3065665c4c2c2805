#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# shellcheck disable=SC2317 # the test functions are called through check
# TAP: the AWS IoT emulator (tests/emulator/iot-emulator.py) against real peers: the
# aws CLI (botocore, signs "execute-api"), curl's SigV4 (signs "iot", like
# tpm-provision's libcurl) and botocore's signer with a skewed clock.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/e2e/lib.sh
. "$top_srcdir/tests/e2e/lib.sh"

need_aws_cli

plan 46

emulator_start --region eu-west-1 --account 123456789012
W="$TEST_DIR/w"
mkdir -p "$W"
EXPECTED="$W/expected-requests"
: >"$EXPECTED"

# --- helpers ------------------------------------------------------------------

# expect OPERATION STATUS [ERRORTYPE]: one more request the log must show.
expect() {
	echo "$1 $2 ${3:--}" >>"$EXPECTED"
}

# awsiot ARGS...: `aws iot ARGS` as the emulator's client; stdout in $W/out,
# stderr in $W/err.  AK, SK, TOKEN and REGION override the credential and
# region.  Secrets go through the environment, never argv.
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
		exec "$AWS_CLI" --endpoint-url "$EMU_URL" --region "${REGION:-eu-west-1}" \
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

# field JSONFILE KEY[.KEY...]: print a member of a JSON document.
field() {
	"$PY" -c '
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[key]
print(value, end="")' "$1" "$2"
}

# der_sha256 PEMFILE: hex SHA-256 of a certificate's DER encoding.
der_sha256() {
	openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

# new_csr NAME KEYSPEC: a key and a CSR, $W/NAME.key and $W/NAME.csr.
new_csr() {
	openssl req -new -newkey "$2" ${3:+-pkeyopt "$3"} -nodes \
		-keyout "$W/$1.key" -subj "/CN=$1" -out "$W/$1.csr" 2>/dev/null
}

# csr_body CSRFILE: a CreateCertificateFromCsr request body.
csr_body() {
	"$PY" -c 'import json, sys; print(json.dumps({"certificateSigningRequest": open(sys.argv[1]).read()}))' "$1"
}

# Curl signing with service "iot" as tpm-provision does; the credential is
# in a config file, not on the command line.
(
	umask 077
	printf 'user = "%s:%s"\n' "$EMU_ACCESS_KEY_ID" "$EMU_SECRET_ACCESS_KEY" >"$W/curl.cfg"
)

# curl_iot METHOD PATH [BODYFILE]: a signed request; prints the HTTP status,
# headers in $W/headers, body in $W/body.
curl_iot() {
	curl -sS -K "$W/curl.cfg" --aws-sigv4 "aws:amz:eu-west-1:iot" \
		--cacert "$EMU_CA" -X "$1" -H 'Content-Type: application/json' \
		${3:+--data-binary "@$3"} -D "$W/headers" -o "$W/body" \
		-w '%{http_code}' "$EMU_URL$2"
}

# A botocore-signed request with the signing clock moved by OFFSET seconds.
cat >"$W/sign.py" <<'EOF'
import datetime, http.client, os, ssl, sys, types
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

offset, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 else b""
real = datetime.datetime

class Skewed(real):
    @classmethod
    def utcnow(cls):
        return real.utcnow() + datetime.timedelta(seconds=offset)

botocore.auth.datetime = types.SimpleNamespace(datetime=Skewed)
port = int(os.environ["EMU_PORT"])
request = AWSRequest(method=method, url="https://127.0.0.1:%d%s" % (port, path),
                     data=body, headers={"Content-Type": "application/json"})
SigV4Auth(Credentials(os.environ["SIGN_AKID"], os.environ["SIGN_SECRET"]),
          "iot", "eu-west-1").add_auth(request)
conn = http.client.HTTPSConnection(
    "127.0.0.1", port, context=ssl.create_default_context(cafile=os.environ["EMU_CA"]))
conn.request(method, path, body=body, headers=dict(request.headers.items()))
response = conn.getresponse()
print(response.status, response.getheader("x-amzn-ErrorType", "-"))
print(response.read().decode())
EOF

# signed_at OFFSET METHOD PATH [BODYFILE]: run sign.py; output in $W/signed.
signed_at() {
	EMU_PORT=$EMU_PORT EMU_CA=$EMU_CA SIGN_AKID=$EMU_ACCESS_KEY_ID \
		SIGN_SECRET=$EMU_SECRET_ACCESS_KEY "$PY" "$W/sign.py" "$@" >"$W/signed"
}

# --- CreateCertificateFromCsr, DescribeCertificate, DescribeEndpoint ----------

new_csr ec ec ec_paramgen_curve:P-256 || bail "openssl cannot make a CSR"

check "create-certificate-from-csr with an EC P-256 CSR" \
	awsiot create-certificate-from-csr --set-as-active \
	--certificate-signing-request "file://$W/ec.csr"
expect CreateCertificateFromCsr 200
cp "$W/out" "$W/created.json"
field "$W/created.json" certificatePem >"$W/created.pem"
CREATED_ID=$(field "$W/created.json" certificateId)

verifies() {
	openssl verify -CAfile "$EMU_DIR/issuer-ca.pem" "$W/created.pem" >/dev/null
}
check "the issued certificate verifies against issuer-ca.pem" verifies

same_public_key() {
	[ -s "$W/ec.pub" ] && cmp -s "$W/ec.pub" "$W/created.pub"
}
openssl req -in "$W/ec.csr" -noout -pubkey 2>/dev/null | openssl pkey -pubin -pubout >"$W/ec.pub"
openssl x509 -in "$W/created.pem" -noout -pubkey | openssl pkey -pubin -pubout >"$W/created.pub"
check "the issued certificate has the CSR's public key" same_public_key

id_and_arn_match() {
	local id
	id=$(der_sha256 "$W/created.pem")
	[ "$CREATED_ID" = "$id" ] &&
		[ "$(field "$W/created.json" certificateArn)" = "arn:aws:iot:eu-west-1:123456789012:cert/$id" ]
}
check "certificateId is the SHA-256 of the DER, certificateArn names it" id_and_arn_match

describe_matches() {
	awsiot describe-certificate --certificate-id "$CREATED_ID" &&
		[ "$(field "$W/out" certificateDescription.certificatePem)" = "$(cat "$W/created.pem")" ] &&
		[ "$(field "$W/out" certificateDescription.status)" = ACTIVE ] &&
		[ "$(field "$W/out" certificateDescription.certificateMode)" = DEFAULT ]
}
check "describe-certificate returns the same PEM, ACTIVE" describe_matches
expect DescribeCertificate 200

endpoint_ok() {
	awsiot describe-endpoint --endpoint-type iot:Data-ATS &&
		field "$W/out" endpointAddress | grep -Eqx '[a-z0-9]{14}-ats\.iot\.eu-west-1\.amazonaws\.com'
}
check "describe-endpoint iot:Data-ATS returns an ATS address" endpoint_ok
expect DescribeEndpoint 200

check "describe-certificate of an unknown id: ResourceNotFoundException" \
	aws_error ResourceNotFoundException describe-certificate \
	--certificate-id "$(printf '%064d' 0)"
expect DescribeCertificate 404 ResourceNotFoundException

# --- RegisterCertificate, RegisterCertificateWithoutCA ---------------------------

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$W/myca.key" -subj "/CN=Test Device CA" -days 30 \
	-out "$W/myca.pem" 2>/dev/null || bail "openssl cannot make a CA"
for dev in dev1 dev2; do
	if ! new_csr "$dev" ec ec_paramgen_curve:P-256 ||
		! openssl x509 -req -in "$W/$dev.csr" -CA "$W/myca.pem" -CAkey "$W/myca.key" \
			-set_serial "0x$(openssl rand -hex 8)" -days 30 -out "$W/$dev.pem" 2>/dev/null; then
		bail "openssl cannot issue a device certificate"
	fi
done

register_with_ca() {
	awsiot register-certificate --certificate-pem "file://$W/dev1.pem" \
		--ca-certificate-pem "file://$W/myca.pem" --status ACTIVE &&
		[ "$(field "$W/out" certificateId)" = "$(der_sha256 "$W/dev1.pem")" ] &&
		[ "$(field "$W/out" certificateArn)" = "arn:aws:iot:eu-west-1:123456789012:cert/$(der_sha256 "$W/dev1.pem")" ]
}
check "register-certificate with its CA" register_with_ca
expect RegisterCertificate 200

registered_with_ca() {
	awsiot describe-certificate --certificate-id "$(der_sha256 "$W/dev1.pem")" &&
		[ "$(field "$W/out" certificateDescription.caCertificateId)" = "$(der_sha256 "$W/myca.pem")" ] &&
		[ "$(field "$W/out" certificateDescription.status)" = ACTIVE ]
}
check "the registered certificate names its CA, status ACTIVE" registered_with_ca
expect DescribeCertificate 200

already_registered() {
	aws_error ResourceAlreadyExistsException "$@" &&
		grep -q "already provisioned or registered" "$W/err"
}
check "registering it again: ResourceAlreadyExistsException" \
	already_registered register-certificate --certificate-pem "file://$W/dev1.pem" \
	--ca-certificate-pem "file://$W/myca.pem"
expect RegisterCertificate 409 ResourceAlreadyExistsException

check "register-certificate with the wrong CA: CertificateValidationException" \
	aws_error CertificateValidationException register-certificate \
	--certificate-pem "file://$W/dev2.pem" \
	--ca-certificate-pem "file://$EMU_DIR/issuer-ca.pem"
expect RegisterCertificate 400 CertificateValidationException

register_without_ca() {
	awsiot register-certificate-without-ca --certificate-pem "file://$W/dev2.pem" &&
		awsiot describe-certificate --certificate-id "$(der_sha256 "$W/dev2.pem")" &&
		[ "$(field "$W/out" certificateDescription.certificateMode)" = SNI_ONLY ] &&
		[ "$(field "$W/out" certificateDescription.status)" = INACTIVE ]
}
check "register-certificate-without-ca: SNI_ONLY, INACTIVE by default" register_without_ca
expect RegisterCertificateWithoutCA 200
expect DescribeCertificate 200

check "register-certificate-without-ca of an issued one: ResourceAlreadyExistsException" \
	already_registered register-certificate-without-ca \
	--certificate-pem "file://$W/created.pem"
expect RegisterCertificateWithoutCA 409 ResourceAlreadyExistsException

# --- bad CSRs ---------------------------------------------------------------------

new_csr rsa1024 rsa:1024 || bail "openssl cannot make an RSA-1024 CSR"
check "a CSR with an RSA-1024 key: InvalidRequestException" \
	aws_error InvalidRequestException create-certificate-from-csr \
	--certificate-signing-request "file://$W/rsa1024.csr"
expect CreateCertificateFromCsr 400 InvalidRequestException

# The last byte of the DER is the last byte of the signature.
"$PY" - "$W/ec.csr" "$W/tampered.csr" <<'EOF'
import base64, sys
lines = open(sys.argv[1]).read().splitlines()
der = bytearray(base64.b64decode("".join(l for l in lines if not l.startswith("-----"))))
der[-1] ^= 0x01
b64 = base64.b64encode(bytes(der)).decode()
with open(sys.argv[2], "w") as f:
    f.write("-----BEGIN CERTIFICATE REQUEST-----\n")
    f.write("".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64)))
    f.write("-----END CERTIFICATE REQUEST-----\n")
EOF
tampered_rejected() {
	openssl req -in "$W/tampered.csr" -noout 2>/dev/null || {
		diag "the tampered CSR does not even parse"
		return 1
	}
	# (OpenSSL 3.0's req -verify exits 0 either way: read its verdict)
	if openssl req -in "$W/tampered.csr" -noout -verify 2>&1 | grep -q 'verify OK'; then
		diag "the tampered CSR still verifies"
		return 1
	fi
	aws_error InvalidRequestException create-certificate-from-csr \
		--certificate-signing-request "file://$W/tampered.csr"
}
check "a CSR with a broken signature: InvalidRequestException" tampered_rejected
expect CreateCertificateFromCsr 400 InvalidRequestException

# --- authentication -------------------------------------------------------------

wrong_secret() {
	SK="x$EMU_SECRET_ACCESS_KEY" aws_error InvalidSignatureException describe-endpoint &&
		grep -q "signature we calculated does not match" "$W/err"
}
check "a wrong secret: InvalidSignatureException" wrong_secret
expect DescribeEndpoint 403 InvalidSignatureException

unknown_key() {
	AK=AKIAUNKNOWNUNKNOWN00 aws_error UnrecognizedClientException describe-endpoint
}
check "an unknown access key: UnrecognizedClientException" unknown_key
expect DescribeEndpoint 403 UnrecognizedClientException

session_with_token() {
	AK=$EMU_SESSION_ACCESS_KEY_ID SK=$EMU_SESSION_SECRET_ACCESS_KEY \
		TOKEN=$EMU_SESSION_TOKEN awsiot describe-endpoint --endpoint-type iot:Data-ATS
}
check "a session credential with its token" session_with_token
expect DescribeEndpoint 200

session_without_token() {
	AK=$EMU_SESSION_ACCESS_KEY_ID SK=$EMU_SESSION_SECRET_ACCESS_KEY \
		aws_error UnrecognizedClientException describe-endpoint
}
check "a session credential without its token: UnrecognizedClientException" session_without_token
expect DescribeEndpoint 403 UnrecognizedClientException

wrong_region() {
	REGION=us-east-1 aws_error InvalidSignatureException describe-endpoint &&
		grep -q "scoped to a valid region" "$W/err"
}
check "a signature for another region: InvalidSignatureException" wrong_region
expect DescribeEndpoint 403 InvalidSignatureException

csr_body "$W/ec.csr" >"$W/csr.json"
curl_iot_create() {
	local status id
	status=$(curl_iot POST '/certificates?setAsActive=true' "$W/csr.json") || return 1
	[ "$status" = 200 ] || {
		diag "HTTP $status: $(cat "$W/body")"
		return 1
	}
	field "$W/body" certificatePem >"$W/curl.pem"
	id=$(field "$W/body" certificateId)
	[ "$id" = "$(der_sha256 "$W/curl.pem")" ] &&
		grep -Eqi '^x-amzn-RequestId: [0-9a-f-]{36}' "$W/headers" &&
		tail -n 1 "$EMU_DIR/requests.jsonl" | grep -q '"service": "iot"'
}
check "curl signing with service iot creates a certificate" curl_iot_create
expect CreateCertificateFromCsr 200

unsigned_refused() {
	local status
	status=$(curl -sS --cacert "$EMU_CA" -D "$W/headers" -o "$W/body" \
		-w '%{http_code}' "$EMU_URL/endpoint") &&
		[ "$status" = 403 ] &&
		grep -qi '^x-amzn-ErrorType: MissingAuthenticationTokenException' "$W/headers"
}
check "an unsigned request: 403 MissingAuthenticationTokenException" unsigned_refused
expect DescribeEndpoint 403 MissingAuthenticationTokenException

signed_now() {
	signed_at 0 POST '/certificates?setAsActive=false' "$W/csr.json" &&
		head -n 1 "$W/signed" | grep -qx '200 -'
}
check "a botocore signature made now verifies" signed_now
expect CreateCertificateFromCsr 200

signed_long_ago() {
	signed_at -1200 POST '/certificates?setAsActive=false' "$W/csr.json" &&
		head -n 1 "$W/signed" | grep -qx '403 InvalidSignatureException' &&
		grep -q 'Signature expired' "$W/signed"
}
check "a signature from 20 minutes ago: InvalidSignatureException, expired" signed_long_ago
expect CreateCertificateFromCsr 403 InvalidSignatureException

# --- faults -------------------------------------------------------------------

throttled() {
	local status
	emulator_fault '{"count": 1, "errorType": "ThrottlingException", "message": "Rate exceeded"}' &&
		status=$(curl_iot GET '/endpoint?endpointType=iot%3AData-ATS') &&
		[ "$status" = 400 ] &&
		grep -qi '^x-amzn-ErrorType: ThrottlingException:' "$W/headers" &&
		[ "$(field "$W/body" message)" = "Rate exceeded" ]
}
check "an injected ThrottlingException: HTTP 400, x-amzn-ErrorType" throttled
expect DescribeEndpoint 400 ThrottlingException

retried() {
	emulator_fault '{"count": 2, "operation": "DescribeEndpoint"}' &&
		awsiot describe-endpoint --endpoint-type iot:Data-ATS
}
check "the aws CLI retries through two injected 503s" retried
expect DescribeEndpoint 503 ServiceUnavailableException
expect DescribeEndpoint 503 ServiceUnavailableException
expect DescribeEndpoint 200

# A held answer: the operation is done when the request arrives, the
# answer waits until released (the moment a test kills its client).
held_then_released() {
	local pid n
	emulator_fault '{"count": 1, "operation": "DescribeEndpoint", "mode": "hold"}' || return 1
	awsiot describe-endpoint --endpoint-type iot:Data-ATS &
	pid=$!
	for n in $(seq 1 600); do
		[ "$(emulator_held)" = 1 ] && break
		sleep 0.05
	done
	[ "$(emulator_held)" = 1 ] && kill -0 "$pid" 2>/dev/null &&
		[ "$(curl -sS --fail --cacert "$EMU_CA" -X POST "$EMU_URL/_emulator/release")" = '{"released": 1}' ] &&
		wait "$pid" && [ "$(emulator_held)" = 0 ] && grep -q '"endpointAddress"' "$W/out"
}
check "hold: the aws CLI waits for the held answer until it is released, then gets it" held_then_released
expect DescribeEndpoint 200

# --- certificate status, things, principals, policies -------------------------

# The certificate create-certificate-from-csr made above: its status.
status_is() {
	awsiot describe-certificate --certificate-id "$CREATED_ID" && [ "$(field "$W/out" certificateDescription.status)" = "$1" ]
}
check "update-certificate to INACTIVE" awsiot update-certificate --certificate-id "$CREATED_ID" --new-status INACTIVE
expect UpdateCertificate 200
check "describe-certificate then shows INACTIVE" status_is INACTIVE
expect DescribeCertificate 200
check "update-certificate to ACTIVE again" awsiot update-certificate --certificate-id "$CREATED_ID" --new-status ACTIVE
expect UpdateCertificate 200
refused_status() {
	! awsiot update-certificate --certificate-id "$CREATED_ID" --new-status PENDING_TRANSFER &&
		grep -q InvalidRequestException "$W/err"
}
check "update-certificate to PENDING_TRANSFER is refused" refused_status
expect UpdateCertificate 400 InvalidRequestException
unknown_cert() {
	! awsiot update-certificate --certificate-id "$(printf 'ef%.0s' $(seq 32))" --new-status INACTIVE &&
		grep -q ResourceNotFoundException "$W/err"
}
check "update-certificate of an unknown id: ResourceNotFoundException" unknown_cert
expect UpdateCertificate 404 ResourceNotFoundException

CREATED_ARN=$(field "$W/created.json" certificateArn)
check "create-thing" awsiot create-thing --thing-name gw-emu
expect CreateThing 200
same_thing() {
	cp "$W/out" "$W/thing1.json" && awsiot create-thing --thing-name gw-emu && cmp -s "$W/out" "$W/thing1.json"
}
check "create-thing again with the same configuration: the same answer" same_thing
expect CreateThing 200
other_thing() {
	! awsiot create-thing --thing-name gw-emu --attribute-payload '{"attributes": {"a": "b"}}' &&
		grep -q ResourceAlreadyExistsException "$W/err"
}
check "create-thing with another configuration: 409" other_thing
expect CreateThing 409 ResourceAlreadyExistsException
described_thing() {
	awsiot describe-thing --thing-name gw-emu && [ "$(field "$W/out" thingName)" = gw-emu ]
}
check "describe-thing" described_thing
expect DescribeThing 200
principal_listed() {
	awsiot attach-thing-principal --thing-name gw-emu --principal "$CREATED_ARN" &&
		awsiot list-thing-principals --thing-name gw-emu && grep -qF "$CREATED_ARN" "$W/out" &&
		awsiot list-principal-things --principal "$CREATED_ARN" && grep -q gw-emu "$W/out"
}
check "attach-thing-principal, then both listings show it" principal_listed
expect AttachThingPrincipal 200
expect ListThingPrincipals 200
expect ListPrincipalThings 200
principal_signed() {
	grep '"operation": "AttachThingPrincipal"' "$EMU_DIR/requests.jsonl" | grep -q '"x-amzn-principal"'
}
check "the request log records x-amzn-principal among the signed headers" principal_signed
policy_attached() {
	awsiot create-policy --policy-name emu-connect --policy-document '{"Version":"2012-10-17","Statement":[]}' &&
		awsiot attach-policy --policy-name emu-connect --target "$CREATED_ARN" &&
		awsiot list-attached-policies --target "$CREATED_ARN" && grep -q '"emu-connect"' "$W/out"
}
check "create-policy, attach-policy, list-attached-policies" policy_attached
expect CreatePolicy 200
expect AttachPolicy 200
expect ListAttachedPolicies 200
missing_policy() {
	! awsiot attach-policy --policy-name no-such-policy --target "$CREATED_ARN" &&
		grep -q ResourceNotFoundException "$W/err"
}
check "attach-policy of a missing policy: 404 ResourceNotFoundException" missing_policy
expect AttachPolicy 404 ResourceNotFoundException

# The fault modes for broken services, through botocore.
wrong_key() {
	emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "wrongkey"}' &&
		signed_at 0 POST '/certificates?setAsActive=true' "$W/csr.json" &&
		head -n 1 "$W/signed" | grep -qx '200 -' &&
		sed -n 2p "$W/signed" >"$W/wrong.json" && field "$W/wrong.json" certificatePem >"$W/wrong.pem" &&
		! cmp -s <(openssl x509 -in "$W/wrong.pem" -pubkey -noout) "$W/ec.pub"
}
check "wrongkey: a certificate for a key that is not the CSR's" wrong_key
expect CreateCertificateFromCsr 200
gateway_ids() {
	emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "gatewayids"}' &&
		signed_at 0 POST '/certificates?setAsActive=true' "$W/csr.json" &&
		sed -n 2p "$W/signed" >"$W/gw.json" && [ "$(field "$W/gw.json" success)" = True ] &&
		GW_ID=$(field "$W/gw.json" data.id) && [ -n "$(field "$W/gw.json" data.created_at)" ] &&
		signed_at 0 GET "/certificates/$GW_ID" && sed -n 2p "$W/signed" >"$W/gwdesc.json" &&
		[ "$(field "$W/gwdesc.json" data.certificateDescription.certificateId)" = "$GW_ID" ]
}
check "gatewayids: data.id and created_at, then DescribeCertificate by that id in the envelope" gateway_ids
expect CreateCertificateFromCsr 200
expect DescribeCertificate 200
quota() {
	local status
	emulator_fault '{"count": 1, "errorType": "LimitExceededException", "message": "quota"}' &&
		status=$(curl_iot GET '/endpoint?endpointType=iot%3AData-ATS') &&
		[ "$status" = 410 ] && grep -qi '^x-amzn-ErrorType: LimitExceededException:' "$W/headers"
}
check "LimitExceededException is answered as HTTP 410" quota
expect DescribeEndpoint 410 LimitExceededException

# --- the request log ----------------------------------------------------------

log_matches() {
	"$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e["operation"], e["status"], e["errorType"].split(":")[0] if e["errorType"] else "-")
' "$EMU_DIR/requests.jsonl" | sort >"$W/actual-requests"
	sort "$EXPECTED" | diff -u - "$W/actual-requests" >"$W/log.diff" || {
		diag "$(cat "$W/log.diff")"
		return 1
	}
	[ "$(emulator_requests)" = "$(wc -l <"$EXPECTED")" ] &&
		[ "$(emulator_requests CreateCertificateFromCsr)" = "$(grep -c '^CreateCertificateFromCsr ' "$EXPECTED")" ]
}
check "the request log shows exactly the requests sent" log_matches

no_secrets_logged() {
	! grep -qF -e "$EMU_SECRET_ACCESS_KEY" -e "$EMU_SESSION_SECRET_ACCESS_KEY" \
		-e "$EMU_SESSION_TOKEN" -e "Signature=" \
		"$EMU_DIR/emulator.log" "$EMU_DIR/requests.jsonl"
}
check "no secrets or signatures in the emulator's logs" no_secrets_logged

stops_cleanly() {
	local rc
	kill -TERM "$EMU_PID" && wait "$EMU_PID"
	rc=$?
	[ "$rc" = 0 ] && ! kill -0 "$EMU_PID" 2>/dev/null &&
		[ ! -e "$EMU_DIR/port" ] && grep -q 'stopped' "$EMU_DIR/emulator.log"
}
check "SIGTERM stops the emulator cleanly" stops_cleanly

exit $((_tap_failed != 0))
