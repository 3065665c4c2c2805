#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# shellcheck disable=SC2317 # the test functions are called through check
# TAP: the emulator's MQTT data plane and fleet provisioning
# (tests/emulator/iot-emulator.py --mqtt) against real peers: mosquitto_pub
# and mosquitto_sub (libmosquitto), python3-paho-mqtt for the provisioning
# flow (tests/emulator/fleet-client.py), and the aws CLI to see the
# service's state through the REST API.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/e2e/lib.sh
. "$top_srcdir/tests/e2e/lib.sh"

need_aws_cli
command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null || {
	echo "1..0 # SKIP mosquitto-clients not installed"
	exit 0
}
"$PY" -c 'import paho.mqtt.client' 2>/dev/null || {
	echo "1..0 # SKIP python3-paho-mqtt not installed"
	exit 0
}

emulator_start --mqtt --region eu-west-1 --account 123456789012
W="$TEST_DIR/w"
mkdir -p "$W"
ARN=arn:aws:iot:eu-west-1:123456789012
MQTT_LOG="$EMU_DIR/mqtt.jsonl"

# --- helpers ------------------------------------------------------------------

# awsiot ARGS...: `aws iot ARGS`; stdout in $W/out, stderr in $W/err.
awsiot() {
	(
		unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN \
			AWS_SECURITY_TOKEN AWS_REGION AWS_DEFAULT_REGION
		export AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID"
		export AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY"
		export AWS_CA_BUNDLE="$EMU_CA" AWS_CONFIG_FILE=/dev/null \
			AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER='' \
			AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1
		exec "$AWS_CLI" --endpoint-url "$EMU_URL" --region eu-west-1 \
			--output json iot "$@"
	) >"$W/out" 2>"$W/err"
}

# der_sha256 PEMFILE: hex SHA-256 of a certificate's DER encoding.
der_sha256() {
	openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

# new_key_csr NAME: an EC P-256 key and a CSR, $W/NAME.key and $W/NAME.csr.
new_key_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$W/$1.key" -subj "/CN=$1" -out "$W/$1.csr" 2>/dev/null
}

# rest_device NAME THING POLICY: a certificate from the REST API (ACTIVE)
# for $W/NAME.key in $W/NAME.pem, attached to THING and POLICY when not
# empty; its id in $W/NAME.id.
rest_device() {
	new_key_csr "$1" &&
		awsiot create-certificate-from-csr --set-as-active \
			--certificate-signing-request "file://$W/$1.csr" &&
		json_field "$W/out" certificatePem >"$W/$1.pem" &&
		json_field "$W/out" certificateId >"$W/$1.id" || return 1
	if [ -n "$2" ]; then
		awsiot create-thing --thing-name "$2" &&
			awsiot attach-thing-principal --thing-name "$2" \
				--principal "$ARN:cert/$(cat "$W/$1.id")" || return 1
	fi
	[ -z "$3" ] || awsiot attach-policy --policy-name "$3" --target "$ARN:cert/$(cat "$W/$1.id")"
}

# pub NAME CLIENTID [TOPIC [ARGS...]]: mosquitto_pub with $W/NAME.pem and
# .key, QoS 1; stderr in $W/pub.err.
pub() {
	local name=$1 id=$2 topic=${3:-test/x}
	shift 2
	[ $# -eq 0 ] || shift
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$EMU_MQTT_PORT" --cafile "$EMU_CA" \
		--cert "$W/$name.pem" --key "$W/$name.key" -i "$id" -q 1 -t "$topic" -m hello \
		"$@" 2>"$W/pub.err"
}

# mqtt_events FILTER [FILE]: the lines of the MQTT log (or FILE) for which
# the Python expression FILTER over the entry e holds.
mqtt_events() {
	"$PY" - "${2:-$MQTT_LOG}" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    try:
        if eval(sys.argv[2], {"e": e}):
            print(line, end="")
    except (KeyError, TypeError, AttributeError):
        pass
EOF
}

# logged FILTER: the MQTT log has a line matching FILTER.
logged() {
	[ -n "$(mqtt_events "$1")" ] || {
		diag "no MQTT log line where $1"
		return 1
	}
}

# log_mark: remember how long the MQTT log is now.
log_mark() {
	MARK=$(wc -l <"$MQTT_LOG")
}

# since_mark FILTER: a line matching FILTER was logged after the mark.
since_mark() {
	tail -n "+$((MARK + 1))" "$MQTT_LOG" >"$W/since"
	[ -n "$(mqtt_events "$1" "$W/since")" ]
}

# wait_logged FILTER: wait until a line matching FILTER is logged after
# the mark (a client is where the test wants it).
wait_logged() {
	local _
	for _ in $(seq 1 300); do
		since_mark "$1" && return 0
		sleep 0.05
	done
	diag "never logged: $1"
	return 1
}

# fleet NAME CLIENTID STEP...: the paho client with $W/NAME.pem/.key; its
# answers in $W/fleet.out (one JSON line each), stderr in $W/fleet.err.
fleet() {
	local name=$1 id=$2
	shift 2
	EMU_CA=$EMU_CA EMU_MQTT_PORT=$EMU_MQTT_PORT timeout 60 "$PY" \
		"$top_srcdir/tests/emulator/fleet-client.py" \
		"$W/$name.pem" "$W/$name.key" "$id" "$@" >"$W/fleet.out" 2>"$W/fleet.err"
}

# answer N KEY[.KEY...]: a member of the Nth answer of the last fleet run
# ("result", "payload.thingName", ...).
answer() {
	sed -n "${1}p" "$W/fleet.out" >"$W/answer.json"
	json_field "$W/answer.json" "$2"
}

# rejected N STATUS CODE: the Nth answer is rejected with STATUS and CODE.
rejected() {
	[ "$(answer "$1" result)" = rejected ] &&
		[ "$(answer "$1" payload.statusCode)" = "$2" ] &&
		[ "$(answer "$1" payload.errorCode)" = "$3" ] &&
		[ -n "$(answer "$1" payload.errorMessage)" ] || {
		diag "answer $1: $(sed -n "${1}p" "$W/fleet.out")" "$(cat "$W/fleet.err")"
		return 1
	}
}

# The policies: devices may connect as their thing and use test/*; another
# allows nothing but publishing.
cat >"$W/device-policy.json" <<EOF
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": "iot:Connect",
   "Resource": "$ARN:client/\${iot:Connection.Thing.ThingName}"},
  {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "$ARN:topic/test/*"},
  {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "$ARN:topicfilter/test/*"}]}
EOF
awsiot create-policy --policy-name device-policy --policy-document "file://$W/device-policy.json" ||
	bail "create-policy: $(cat "$W/err")"
awsiot create-policy --policy-name publish-only \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}' ||
	bail "create-policy: $(cat "$W/err")"

# --- the listener, with certificates from the REST API --------------------------

mqtt_port_written() {
	[ -n "$EMU_MQTT_PORT" ] && [ "$EMU_MQTT_PORT" != "$EMU_PORT" ]
}
check "--mqtt writes DIR/mqtt-port, a port of its own" mqtt_port_written

rest_device dev1 dev-1 device-policy || bail "device dev1: $(cat "$W/err")"
rest_device dev2 dev-2 device-policy || bail "device dev2: $(cat "$W/err")"

relayed() {
	local pid
	log_mark
	timeout 20 mosquitto_sub -h 127.0.0.1 -p "$EMU_MQTT_PORT" --cafile "$EMU_CA" \
		--cert "$W/dev1.pem" --key "$W/dev1.key" -i dev-1 -t 'test/#' -C 1 -v \
		>"$W/sub.out" 2>"$W/sub.err" &
	pid=$!
	wait_logged 'e["event"] == "subscribe" and e["clientId"] == "dev-1"' &&
		pub dev2 dev-2 test/hello && wait "$pid" && [ "$(cat "$W/sub.out")" = "test/hello hello" ] || {
		diag "$(cat "$W/sub.err" "$W/pub.err")"
		return 1
	}
	wait_logged 'e["event"] == "deliver" and e["clientId"] == "dev-1" and e["topic"] == "test/hello"'
}
check "mosquitto_sub receives what mosquitto_pub publishes (both as their things)" relayed

connect_logged() {
	wait_logged "e['event'] == 'connect' and e['clientId'] == 'dev-2' and e['certificateId'] == '$(cat "$W/dev2.id")' and e['result'] == 'accepted'" &&
		wait_logged 'e["event"] == "publish" and e["clientId"] == "dev-2" and e["topic"] == "test/hello" and e["qos"] == 1' &&
		wait_logged 'e["event"] == "subscribe" and e["clientId"] == "dev-1" and e["topicFilter"] == "test/#" and e["granted"] == 0' &&
		wait_logged 'e["event"] == "close" and e["clientId"] == "dev-2" and e["reason"] == "client sent DISCONNECT"'
}
check "mqtt.jsonl: CONNECT with client and certificate id, subscription, publish, close reason" connect_logged

wrong_client_id() {
	log_mark
	not pub dev1 someone-else &&
		wait_logged "e['event'] == 'connect' and e['clientId'] == 'someone-else' and e['result'].startswith('not authorized')" &&
		not since_mark 'e["event"] == "connect" and e["result"] == "accepted"' &&
		wait_logged 'e["event"] == "close" and e["reason"].startswith("not authorized to connect")'
}
check "a client id no policy allows: closed after CONNECT, no CONNACK" wrong_client_id

rest_device nopolicy dev-nopolicy "" || bail "device nopolicy: $(cat "$W/err")"
no_connect_policy() {
	log_mark
	not pub nopolicy dev-nopolicy &&
		wait_logged 'e["event"] == "connect" and e["result"].startswith("not authorized")'
}
check "a certificate without a policy: closed after CONNECT" no_connect_policy

rest_device pubonly dev-pubonly publish-only || bail "device pubonly: $(cat "$W/err")"
check "a policy without iot:Connect: closed after CONNECT" not pub pubonly dev-pubonly

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/stranger.key" \
	-subj /CN=stranger -days 3 -out "$W/stranger.pem" 2>/dev/null || bail "openssl cannot make a certificate"
unknown_refused() {
	log_mark
	not pub stranger dev-1 && wait_logged 'e["event"] == "tls-refused"' &&
		not since_mark 'e["event"] == "connect"'
}
check "a certificate the service does not know: refused at the TLS handshake" unknown_refused

no_client_cert() {
	log_mark
	! timeout 20 mosquitto_pub -h 127.0.0.1 -p "$EMU_MQTT_PORT" --cafile "$EMU_CA" -i dev-1 \
		-t test/x -m x 2>/dev/null && wait_logged 'e["event"] == "tls-refused"'
}
check "no client certificate: refused at the TLS handshake" no_client_cert

inactive_refused() {
	awsiot update-certificate --certificate-id "$(cat "$W/dev2.id")" --new-status INACTIVE || return 1
	log_mark
	not pub dev2 dev-2 && wait_logged 'e["event"] == "tls-refused"' &&
		not since_mark 'e["event"] == "connect"'
}
check "an INACTIVE certificate: refused at the TLS handshake" inactive_refused

revoked_refused() {
	awsiot update-certificate --certificate-id "$(cat "$W/dev2.id")" --new-status REVOKED &&
		not pub dev2 dev-2
}
check "a REVOKED certificate: refused at the TLS handshake" revoked_refused

active_again() {
	awsiot update-certificate --certificate-id "$(cat "$W/dev2.id")" --new-status ACTIVE &&
		pub dev2 dev-2
}
check "ACTIVE again: it connects (the status is read at each handshake)" active_again

# A certificate of the test's own CA, registered through the REST API.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$W/myca.key" -subj "/CN=Test Device CA" -days 30 -out "$W/myca.pem" 2>/dev/null &&
	new_key_csr own &&
	openssl x509 -req -in "$W/own.csr" -CA "$W/myca.pem" -CAkey "$W/myca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 30 -out "$W/own.pem" 2>/dev/null ||
	bail "openssl cannot issue a device certificate"
registered_connects() {
	local arn
	arn="$ARN:cert/$(der_sha256 "$W/own.pem")"
	awsiot register-certificate --certificate-pem "file://$W/own.pem" \
		--ca-certificate-pem "file://$W/myca.pem" --status ACTIVE &&
		awsiot create-thing --thing-name dev-own &&
		awsiot attach-thing-principal --thing-name dev-own --principal "$arn" &&
		awsiot attach-policy --policy-name device-policy --target "$arn" &&
		pub own dev-own
}
check "a certificate registered with its own CA connects" registered_connects

alpn_logged() {
	log_mark
	pub dev1 dev-1 test/x --tls-alpn x-amzn-mqtt-ca &&
		wait_logged 'e["event"] == "tls" and e["alpn"] == "x-amzn-mqtt-ca"'
}
check "ALPN x-amzn-mqtt-ca is negotiated (AWS's MQTT on port 443)" alpn_logged

takeover() {
	local pid
	log_mark
	timeout 20 mosquitto_sub -h 127.0.0.1 -p "$EMU_MQTT_PORT" --cafile "$EMU_CA" \
		--cert "$W/dev1.pem" --key "$W/dev1.key" -i dev-1 -t 'test/#' -W 15 >/dev/null 2>&1 &
	pid=$!
	wait_logged 'e["event"] == "subscribe" and e["clientId"] == "dev-1"' && pub dev1 dev-1 test/y &&
		wait_logged 'e["event"] == "close" and e["reason"] == "another connection with the same client id"'
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	wait_logged 'e["event"] == "close" and e["reason"] == "another connection with the same client id"'
}
check "a second connection with the same client id closes the first (as AWS does)" takeover

# --- fleet provisioning --------------------------------------------------------

emulator_control POST /_emulator/claim '{"policyName": "claim-policy"}' >"$W/claim.json" ||
	bail "no claim certificate"
json_field "$W/claim.json" certificatePem >"$W/claim.pem"
json_field "$W/claim.json" privateKey >"$W/claim.key"
CLAIM_ID=$(json_field "$W/claim.json" certificateId)

cat >"$W/template.json" <<'EOF'
{"templateName": "fleet",
 "templateBody": {
  "Parameters": {
    "SerialNumber": {"Type": "String"},
    "Model": {"Type": "String", "Default": "gw1"},
    "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
      "ThingName": {"Fn::Join": ["-", ["fleet", {"Ref": "SerialNumber"}]]},
      "AttributePayload": {"model": {"Ref": "Model"}}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
      "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "device-policy"}}},
  "DeviceConfiguration": {"serial": {"Ref": "SerialNumber"}, "fallback": "none"}}}
EOF
emulator_control POST /_emulator/templates "@$W/template.json" >/dev/null || bail "template not defined"

claim_policy_made() {
	awsiot list-attached-policies --target "$ARN:cert/$CLAIM_ID" && grep -q '"claim-policy"' "$W/out" &&
		awsiot describe-certificate --certificate-id "$CLAIM_ID" &&
		[ "$(json_field "$W/out" certificateDescription.status)" = ACTIVE ]
}
check "POST /_emulator/claim: an ACTIVE claim certificate with its policy" claim_policy_made

new_key_csr device1 || bail "openssl cannot make a CSR"
provisioned() {
	fleet claim claim-0001 "csr:$W/device1.csr" 'register:fleet:{"SerialNumber": "0001"}' &&
		[ "$(answer 1 result)" = accepted ] && [ "$(answer 2 result)" = accepted ] || {
		diag "$(cat "$W/fleet.out" "$W/fleet.err")"
		return 1
	}
	answer 1 payload.certificatePem >"$W/device1.pem"
	DEVICE1_ID=$(answer 1 payload.certificateId)
	TOKEN1=$(answer 1 payload.certificateOwnershipToken)
	cp "$W/fleet.out" "$W/provisioned.out"
}
check "paho: CreateCertificateFromCsr then RegisterThing with the claim, both accepted" provisioned

issued_right() {
	[ "$DEVICE1_ID" = "$(der_sha256 "$W/device1.pem")" ] && [ -n "$TOKEN1" ] &&
		cmp -s <(openssl req -in "$W/device1.csr" -noout -pubkey) \
			<(openssl x509 -in "$W/device1.pem" -noout -pubkey) &&
		openssl verify -CAfile "$EMU_DIR/issuer-ca.pem" "$W/device1.pem" >/dev/null
}
check "accepted: certificateId is the SHA-256 of certificatePem, for the CSR's key; a token" issued_right

registered_answer() {
	[ "$(answer 2 payload.thingName)" = fleet-0001 ] &&
		[ "$(answer 2 payload.deviceConfiguration)" = '{"serial": "0001", "fallback": "none"}' ]
}
check "RegisterThing accepted: thingName from Fn::Join, deviceConfiguration resolved" registered_answer

thing_state() {
	awsiot describe-thing --thing-name fleet-0001 && [ "$(json_field "$W/out" attributes.model)" = gw1 ] &&
		awsiot list-thing-principals --thing-name fleet-0001 && grep -q "cert/$DEVICE1_ID" "$W/out" &&
		awsiot describe-certificate --certificate-id "$DEVICE1_ID" &&
		[ "$(json_field "$W/out" certificateDescription.status)" = ACTIVE ] &&
		awsiot list-attached-policies --target "$ARN:cert/$DEVICE1_ID" && grep -q '"device-policy"' "$W/out"
}
check "aws CLI: the thing (with its attribute), the certificate ACTIVE attached to it and the policy" thing_state

check "the provisioned certificate connects as its thing" pub device1 fleet-0001

reused_token() {
	fleet claim claim-0001 "token:$TOKEN1" 'register:fleet:{"SerialNumber": "0001"}' &&
		rejected 1 400 InvalidCertificateOwnershipToken
}
check "a used token: rejected, 400 InvalidCertificateOwnershipToken" reused_token

unknown_token() {
	fleet claim claim-0001 token:bm90LWEtdG9rZW4= 'register:fleet:{"SerialNumber": "9"}' &&
		rejected 1 400 InvalidCertificateOwnershipToken
}
check "an unknown token: rejected, 400 InvalidCertificateOwnershipToken" unknown_token

# The two steps over two connections: the pending certificate between them.
new_key_csr device2 || bail "openssl cannot make a CSR"
pending_between() {
	fleet claim claim-0002 "csr:$W/device2.csr" && [ "$(answer 1 result)" = accepted ] || return 1
	answer 1 payload.certificatePem >"$W/device2.pem"
	TOKEN2=$(answer 1 payload.certificateOwnershipToken)
	DEVICE2_ID=$(answer 1 payload.certificateId)
	awsiot describe-certificate --certificate-id "$DEVICE2_ID" &&
		[ "$(json_field "$W/out" certificateDescription.status)" = PENDING_ACTIVATION ]
}
check "after CreateCertificateFromCsr alone the certificate is PENDING_ACTIVATION" pending_between
check "a PENDING_ACTIVATION certificate cannot connect (refused at the handshake)" not pub device2 fleet-0002

unknown_template() {
	fleet claim claim-0002 "token:$TOKEN2" 'register:no-such-template:{"SerialNumber": "0002"}' &&
		rejected 1 404 ResourceNotFoundException
}
check "an unknown template: rejected, 404 ResourceNotFoundException" unknown_template

missing_parameter() {
	fleet claim claim-0002 "token:$TOKEN2" 'register:fleet:{}' &&
		rejected 1 400 InvalidRequestException && grep -q SerialNumber "$W/fleet.out"
}
check "a missing parameter: rejected, 400 InvalidRequestException naming it" missing_parameter

resumed() {
	fleet claim claim-0002 "token:$TOKEN2" 'register:fleet:{"SerialNumber": "0002"}' &&
		[ "$(answer 1 result)" = accepted ] && [ "$(answer 1 payload.thingName)" = fleet-0002 ] &&
		pub device2 fleet-0002
}
check "the token survives a rejected RegisterThing: a new connection registers with it" resumed

bad_csr() {
	printf -- '-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n' >"$W/bad.csr"
	fleet claim claim-0003 "csr:$W/bad.csr" && rejected 1 400 InvalidRequestException
}
check "a bad CSR: rejected, 400 InvalidRequestException" bad_csr

weak_csr() {
	openssl req -new -newkey rsa:1024 -nodes -keyout "$W/weak.key" -subj /CN=weak \
		-out "$W/weak.csr" 2>/dev/null &&
		fleet claim claim-0003 "csr:$W/weak.csr" && rejected 1 400 InvalidRequestException
}
check "a CSR with an RSA-1024 key: rejected, 400 InvalidRequestException" weak_csr

new_key_csr device3 || bail "openssl cannot make a CSR"
expired_token() {
	local token id
	fleet claim claim-0004 "csr:$W/device3.csr" && [ "$(answer 1 result)" = accepted ] || return 1
	token=$(answer 1 payload.certificateOwnershipToken)
	id=$(answer 1 payload.certificateId)
	emulator_control POST /_emulator/expire-tokens >/dev/null &&
		fleet claim claim-0004 "token:$token" 'register:fleet:{"SerialNumber": "0004"}' &&
		rejected 1 400 InvalidCertificateOwnershipToken &&
		not awsiot describe-certificate --certificate-id "$id" && grep -q ResourceNotFoundException "$W/err"
}
check "an expired token: rejected, its unregistered certificate deleted (as AWS does)" expired_token

claim_other_topic() {
	log_mark
	not fleet claim claim-0005 publish:test/x && grep -q 'connection lost' "$W/fleet.err" &&
		wait_logged 'e["event"] == "close" and e["reason"] == "not authorized to publish to test/x"'
}
check "the claim certificate publishing to another topic: disconnected" claim_other_topic

claim_other_subscription() {
	timeout 20 mosquitto_sub -h 127.0.0.1 -p "$EMU_MQTT_PORT" --cafile "$EMU_CA" \
		--cert "$W/claim.pem" --key "$W/claim.key" -i claim-0006 -t 'test/#' -W 3 >/dev/null 2>"$W/sub.err"
	grep -q 'denied' "$W/sub.err"
}
check "the claim certificate subscribing to another topic: SUBACK failure (0x80)" claim_other_subscription

# A claim whose policy allows another template only.
emulator_control POST /_emulator/claim '{"templates": ["other"]}' >"$W/claim2.json" || bail "no claim"
json_field "$W/claim2.json" certificatePem >"$W/claim2.pem"
json_field "$W/claim2.json" privateKey >"$W/claim2.key"
new_key_csr device4 || bail "openssl cannot make a CSR"
claim_wrong_template() {
	fleet claim2 claim-0007 "csr:$W/device4.csr" && [ "$(answer 1 result)" = accepted ] || return 1
	fleet claim2 claim-0007 "token:$(answer 1 payload.certificateOwnershipToken)" \
		'register:fleet:{"SerialNumber": "0007"}'
	[ $? = 3 ]
}
check "a claim whose policy names another template cannot use this one" claim_wrong_template

# --- faults --------------------------------------------------------------------

fault_disconnect() {
	log_mark
	emulator_mqtt_fault '{"mode": "disconnect"}' && not pub dev1 dev-1 &&
		wait_logged 'e["event"] == "close" and e["reason"] == "fault: disconnect after CONNECT"' &&
		pub dev1 dev-1
}
check "fault disconnect: the broker closes after CONNECT, once" fault_disconnect

fault_connack() {
	emulator_mqtt_fault '{"mode": "connack", "returnCode": 5}' && not pub dev1 dev-1 &&
		grep -qi 'not authori' "$W/pub.err"
}
check "fault connack: CONNACK with return code 5 (not authorised)" fault_connack

new_key_csr device5 || bail "openssl cannot make a CSR"
fault_throttled() {
	emulator_mqtt_fault '{"mode": "rejected", "operation": "CreateCertificateFromCsr"}' &&
		fleet claim claim-0008 "csr:$W/device5.csr" "csr:$W/device5.csr" &&
		rejected 1 429 ThrottlingException && [ "$(answer 2 result)" = accepted ]
}
check "fault rejected: 429 ThrottlingException once, then accepted" fault_throttled

new_key_csr device7 || bail "openssl cannot make a CSR"
fault_slow() {
	emulator_mqtt_fault '{"mode": "slow", "operation": "RegisterThing", "delay": 2}' &&
		fleet claim claim-0008 "csr:$W/device7.csr" 'register:fleet:{"SerialNumber": "0008"}' &&
		[ "$(answer 2 result)" = accepted ] &&
		"$PY" -c 'import sys; sys.exit(float(sys.argv[1]) < 2 or float(sys.argv[2]) >= 2)' \
			"$(answer 2 elapsed)" "$(answer 1 elapsed)"
}
check "fault slow: RegisterThing answered after the delay" fault_slow

new_key_csr device6 || bail "openssl cannot make a CSR"
fault_hold() {
	local pid
	log_mark
	emulator_mqtt_fault '{"mode": "hold", "operation": "CreateCertificateFromCsr"}' || return 1
	fleet claim claim-0009 "csr:$W/device6.csr" &
	pid=$!
	wait_logged 'e["event"] == "provision" and e["fault"] == "hold" and e["result"] == "accepted"' &&
		[ "$(emulator_held)" = 1 ] && kill -0 "$pid" && emulator_release && wait "$pid" &&
		[ "$(answer 1 result)" = accepted ]
}
check "fault hold: the certificate is made, its answer held until released" fault_hold

# --- the log, the end ------------------------------------------------------------

every_connection_closed() {
	"$PY" - "$MQTT_LOG" <<'EOF'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
opened = {e["connection"] for e in entries}
closed = {e["connection"] for e in entries if e["event"] == "close" and e["reason"]}
sys.exit(opened != closed)
EOF
}
check "mqtt.jsonl: every connection has its close reason" every_connection_closed

no_secrets() {
	! grep -qF -e "$TOKEN1" -e "$TOKEN2" -e PRIVATE "$MQTT_LOG" "$EMU_DIR/emulator.log"
}
check "no token or key in the emulator's logs" no_secrets

stops_cleanly() {
	kill -TERM "$EMU_PID" && wait "$EMU_PID" && [ ! -e "$EMU_DIR/mqtt-port" ] && [ ! -e "$EMU_DIR/port" ]
}
check "SIGTERM stops the emulator, DIR/mqtt-port removed" stops_cleanly

# A token lifetime of one second: the certificate goes by itself.
emulator_start --mqtt --token-lifetime 1
emulator_control POST /_emulator/claim '{}' >"$W/claim.json" || bail "no claim certificate"
json_field "$W/claim.json" certificatePem >"$W/claim.pem"
json_field "$W/claim.json" privateKey >"$W/claim.key"
emulator_control POST /_emulator/templates "@$W/template.json" >/dev/null || bail "template not defined"
new_key_csr device8 || bail "openssl cannot make a CSR"
token_lifetime() {
	local token id _
	fleet claim claim-0010 "csr:$W/device8.csr" && [ "$(answer 1 result)" = accepted ] || return 1
	token=$(answer 1 payload.certificateOwnershipToken)
	id=$(answer 1 payload.certificateId)
	for _ in $(seq 1 100); do
		awsiot describe-certificate --certificate-id "$id" || break
		sleep 0.1
	done
	grep -q ResourceNotFoundException "$W/err" &&
		fleet claim claim-0010 "token:$token" 'register:fleet:{"SerialNumber": "0010"}' &&
		rejected 1 400 InvalidCertificateOwnershipToken
}
check "--token-lifetime 1: the unregistered certificate is deleted, the token refused" token_lifetime

done_testing
exit $((_tap_failed != 0))
