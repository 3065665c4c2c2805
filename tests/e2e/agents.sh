#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: install for the device's IoT agent: root CA, key reference,
# data endpoint, the agents' configuration files with their modes and
# owner, and an OpenSSL client that authenticates with the TPM key using
# only what was installed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

args() {
	echo --thing-name gw-0042 --region eu-west-1 --tcti "$TCTI" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}

OUT="$TEST_DIR/var/lib/tpm-provision"

# (The device client and other PKCS#11 agents, through the key's token:
# tests/e2e/pkcs11.sh.)
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$OUT" --agent env --agent openssl --owner nobody:nogroup
check "enroll for two agents exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"

mode_owner() {
	stat -c '%a %U:%G' "$1" 2>/dev/null
}
for f in certificate.pem root-ca.pem agent.env openssl.cnf state.json; do
	check "$f installed 0644 for nobody:nogroup" [ "$(mode_owner "$OUT/$f")" = "644 nobody:nogroup" ]
done
check "root-ca.pem is Debian's Amazon Root CA 1" cmp -s "$OUT/root-ca.pem" /etc/ssl/certs/Amazon_Root_CA_1.pem
check "DescribeEndpoint was asked for the data endpoint" [ "$(emulator_requests DescribeEndpoint)" -eq 1 ]
check "DescribeEndpoint asked for iot:Data-ATS" grep -q '"query": "endpointType=iot%3AData-ATS"' "$EMU_DIR/requests.jsonl"

field() {
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
endpoint=$(field "$OUT/state.json" iot-endpoint)
check "state.json records the ATS data endpoint ($endpoint)" grep -q -- '-ats\.iot\.eu-west-1\.amazonaws\.com$' <<<"$endpoint"

# agent.env: an EnvironmentFile= (NAME="value" lines).
check "agent.env has only NAME=\"value\" lines and comments" \
	bash -c '! grep -v -e "^#" -e "^[A-Z0-9_]*=\"[^\"]*\"$" "$1"' _ "$OUT/agent.env"
(
	set -a
	. "$OUT/agent.env"
	set +a
	[ "$IOT_ENDPOINT" = "$endpoint" ] && [ "$IOT_THING_NAME" = gw-0042 ] && [ -s "$IOT_CERT" ] &&
		[ -s "$IOT_ROOT_CA" ] && [ "$IOT_KEY" = handle:0x81000002 ] && [ -s "$OPENSSL_CONF" ]
) && ok "agent.env points at the installed files and the key" || not_ok "agent.env points at the installed files and the key"

# The worked example: an OpenSSL agent authenticates with the TPM key, using
# only agent.env and openssl.cnf, to a TLS server that requires a client
# certificate from the service's CA.
cd "$TEST_DIR" || bail "no test directory"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -subj /CN=127.0.0.1 \
	-days 1 -out srv.pem 2>/dev/null
port=$(free_port_pair)
openssl s_server -accept "127.0.0.1:$port" -cert srv.pem -key srv.key -Verify 1 -verify_return_error \
	-CAfile "$EMU_DIR/issuer-ca.pem" -naccept 1 -www >s_server.log 2>&1 &
server=$!
register_pid "$server"
wait_until 60 "openssl s_server" grep -q ACCEPT s_server.log
(
	set -a
	. "$OUT/agent.env"
	set +a
	echo Q | openssl s_client -connect "127.0.0.1:$port" -cert "$IOT_CERT" -key "$IOT_KEY" -CAfile srv.pem \
		-verify_return_error >s_client.log 2>&1
)
wait "$server"
check "an OpenSSL client authenticated with the TPM key (server accepted the handshake)" \
	grep -q "1 server accepts that finished" s_server.log
check "the server verified the client certificate from the service" grep -q "CN = AWS IoT Certificate" s_server.log
check "nothing left loaded in the TPM after the agent's handshake" [ "$(tpm_transient_count)" -eq 0 ]

# --iot-endpoint: no DescribeEndpoint; key-file mode: key.tss2.pem 0640.
OUT2="$TEST_DIR/out2"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$OUT2" --key-file "$TEST_DIR/device.tss2.pem" --iot-endpoint a1-ats.iot.example.com \
	--agent env
check "enroll with --iot-endpoint and a key file" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "--iot-endpoint sends no DescribeEndpoint" [ "$(emulator_requests DescribeEndpoint)" -eq 1 ]
check "key.tss2.pem installed 0640" [ "$(stat -c %a "$OUT2/key.tss2.pem" 2>/dev/null)" = 640 ]
check "key.tss2.pem is the key file" cmp -s "$OUT2/key.tss2.pem" "$TEST_DIR/device.tss2.pem"
check "agent.env points at key.tss2.pem" grep -qx "IOT_KEY=\"$OUT2/key.tss2.pem\"" "$OUT2/agent.env"
# --agent env without --agent openssl: agent.env names only installed files.
check "agent.env without --agent openssl names no OPENSSL_CONF" bash -c '! grep -q "^OPENSSL_CONF=" "$1"' _ "$OUT2/agent.env"
missing=$(
	set -a
	. "$OUT2/agent.env"
	set +a
	for v in IOT_CERT IOT_ROOT_CA IOT_KEY OPENSSL_CONF; do
		[ -z "${!v:-}" ] || [ -e "${!v}" ] || echo "$v=${!v}"
	done
)
check "every file agent.env names exists${missing:+ (missing: $missing)}" [ -z "$missing" ]

# Values a shell would run or split: agent.env quotes them, so that
# sourcing it runs nothing and reads back every value exactly.
HOSTILE="$TEST_DIR/out \$(touch $TEST_DIR/pwned) \`touch $TEST_DIR/pwned\` \"q\" 'a' \\ \$HOME;x"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$HOSTILE" --key-handle 0x81000006 --iot-endpoint a1-ats.iot.example.com --agent env
check "enroll into an out-dir full of shell syntax" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
reads_back() { # SHELL: the shell sources agent.env and prints IOT_CERT
	"$1" -c 'set -a; . "$1"; printf %s "$IOT_CERT"' _ "$HOSTILE/agent.env"
}
check "bash reads the out-dir back exactly" [ "$(reads_back bash)" = "$HOSTILE/certificate.pem" ]
check "a POSIX sh (dash) reads it back exactly" [ "$(reads_back dash)" = "$HOSTILE/certificate.pem" ]
check "sourcing agent.env ran nothing" [ ! -e "$TEST_DIR/pwned" ]
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/out-nl" --key-handle 0x81000007 --agent env \
	--tcti "$TCTI"$'\nLD_PRELOAD=/tmp/evil.so'
expect_failure 64 'tcti.*contains a control character, which agent.env cannot hold' \
	"a value with a newline is refused before anything is done"
check "nothing was made for it" [ ! -e "$TEST_DIR/out-nl/journal.json" ]

# Bad input.
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/out3" --agent mosquitto
expect_failure 64 '"mosquitto" names an agent other than' "an unknown agent is quoted"
echo 'not json' >"$TEST_DIR/broken.conf"
tpm2_evictcontrol -C o -c 0x81000002 >/dev/null 2>&1
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/out4" --key-file "$TEST_DIR/out4-key/key.tss2.pem" \
	--agent aws-iot-device-client --agent-config "$TEST_DIR/broken.conf"
expect_failure 78 "broken.conf is not a JSON object; not touching it" "a device client config that is not JSON"
check "the broken config is left as it was" grep -qx 'not json' "$TEST_DIR/broken.conf"
check "nothing installed with a broken agent config" [ ! -e "$TEST_DIR/out4/state.json" ]
check "a broken agent config is found before a key is made" [ ! -e "$TEST_DIR/out4/journal.json" ]
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$TEST_DIR/out5" --key-handle 0x81000005 --owner no-such-user-here
expect_failure 64 '"no-such-user-here" names no user' "an unknown owner"
check "an unknown owner is refused before a key is made" [ ! -e "$TEST_DIR/out5/journal.json" ]

done_testing
