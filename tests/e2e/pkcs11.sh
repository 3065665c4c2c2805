#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: the device key as a tpm2-pkcs11 token, for the AWS IoT Device
# Client (its secure-element config) and any PKCS#11 client (agent.env),
# against swtpm behind tpm2-abrmd on a private D-Bus session bus.  A real
# PKCS#11 TLS client (gnutls-cli) authenticates with the token's key to a
# TLS server that requires a client certificate from the service's CA; the
# Device Client's permission rules are checked with stat; a rerun and a run
# killed after making the token converge to one token with one key.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

# The test build, with the crash points (src/cmd/testhook.h).
TPM_PROVISION="$top_builddir/tests/tpm-provision-test"
[ -x "$TPM_PROVISION" ] || TPM_PROVISION="$top_builddir/tpm-provision"

for tool in tpm2_ptool tpm2-abrmd dbus-daemon gnutls-cli p11tool; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (.ci/install-deps)"
		exit 0
	fi
done
LIB=$(ls /usr/lib/*/pkcs11/libtpm2_pkcs11.so 2>/dev/null | head -n 1)
[ -n "$LIB" ] || {
	echo "1..0 # SKIP libtpm2_pkcs11.so is not installed (.ci/install-deps)"
	exit 0
}

# --- swtpm behind tpm2-abrmd on a private session bus ---------------------------

swtpm_start
[ -n "${ABRMD_PID:-}" ] || abrmd_start
# What an agent's unit gives tpm2-pkcs11 (doc/agents.md: a drop-in for the Device
# Client; agent.env for the others).
export TPM2_PKCS11_TCTI="$TCTI"

emulator_start --region eu-west-1

args() { # THING
	echo --thing-name "$1" --region eu-west-1 --tcti "$TCTI" --endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" \
		--iot-endpoint a1-ats.iot.eu-west-1.amazonaws.com
}
field() { # FILE PATH...: a member of a JSON file, as the Device Client reads it
	"$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(json.dumps(v) if isinstance(v, (bool, dict, list)) else v)' "$@"
}
# absent FILE PATH...: the member is not there.
absent() {
	! field "$@" 2>/dev/null
}
mode_owner() {
	stat -c '%a %U:%G' "$1" 2>/dev/null
}
# private_keys STORE PIN: how many private key objects the token holds.
private_keys() {
	TPM2_PKCS11_STORE=$1 p11tool --provider "$LIB" --list-privkeys --login --set-pin "$2" \
		"pkcs11:token=tpm-provision" 2>/dev/null | grep -c 'type=private'
}
# tokens STORE: how many tokens the store holds.
tokens() {
	tpm2_ptool listtokens --pid 1 --path "$1" 2>/dev/null | grep -c 'label:'
}

# The TLS server: requires a client certificate from the service's CA.
cd "$TEST_DIR" || bail "no test directory"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -days 1 -out srv.pem 2>/dev/null
# mutual_tls NAME KEY-URI CERT [ENV=VALUE...]: gnutls-cli signs with the
# token's key; passes when the server finished the handshake and verified
# the certificate.
mutual_tls() {
	local name=$1 uri=$2 cert=$3 port server
	shift 3
	port=$(free_port_pair)
	openssl s_server -accept "127.0.0.1:$port" -cert srv.pem -key srv.key -Verify 1 -verify_return_error \
		-CAfile "$EMU_DIR/issuer-ca.pem" -naccept 1 -www >"$name.server.log" 2>&1 &
	server=$!
	register_pid "$server"
	wait_until 60 "openssl s_server" grep -q ACCEPT "$name.server.log"
	printf 'GET / HTTP/1.0\r\n\r\n' | env "$@" timeout 60 gnutls-cli --provider "$LIB" --x509keyfile "$uri" \
		--x509certfile "$cert" --x509cafile srv.pem -p "$port" 127.0.0.1 >"$name.client.log" 2>&1 ||
		kill "$server" 2>/dev/null
	wait "$server"
	grep -q "1 server accepts that finished" "$name.server.log" &&
		grep -q "CN = AWS IoT Certificate" "$name.server.log" && grep -q "Handshake was completed" "$name.client.log"
}

# tls_as_agent_env NAME AGENT_ENV: mutual TLS as an agent configured by
# AGENT_ENV would do it: its key URI and PIN file, its certificate, its
# token store and TCTI.
tls_as_agent_env() {
	(
		set -a
		. "$2"
		set +a
		mutual_tls "$1" "$IOT_PKCS11_URI;pin-value=$(cat "$IOT_PKCS11_PIN_FILE")" "$IOT_CERT" \
			TPM2_PKCS11_STORE="$TPM2_PKCS11_STORE" TPM2_PKCS11_TCTI="$TPM2_PKCS11_TCTI"
	)
}

# --- the Device Client ------------------------------------------------------------

OUT="$TEST_DIR/var/lib/tpm-provision"
DC="$TEST_DIR/etc/aws-iot-device-client/aws-iot-device-client.conf"
mkdir -p "$(dirname "$DC")"
echo '{"logging": {"level": "INFO"}, "key": "/old/key.pem", "jobs": {"enabled": true},
 "secure-element": {"secure-element-slot-id": 7, "enabled": false}}' >"$DC"
# shellcheck disable=SC2046
run -- enroll $(args gw-dc) --out-dir "$OUT" --key-file "$TEST_DIR/keys/dc.tss2.pem" \
	--agent aws-iot-device-client --agent-config "$DC" --owner nobody:nogroup
check "enroll --agent aws-iot-device-client exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "it says the token was made" grep -q "PKCS#11 token tpm-provision with key device-key made in $OUT/pkcs11" \
	"$RUN_OUT" "$RUN_ERR"

STORE="$OUT/pkcs11"
PIN=$(cat "$STORE/user-pin" 2>/dev/null)
check "the user PIN is random hex, 32 digits" grep -qxE '[0-9a-f]{32}' <<<"$PIN"
check "the PIN is never printed" not grep -qF -- "$PIN" "$TEST_DIR/all-output"
check "the PIN is in no installed file but the PIN file" \
	[ "$(grep -rlF -- "$PIN" "$OUT" 2>/dev/null)" = "$STORE/user-pin" ]

# The config, read as the Device Client reads it.
check "config: endpoint" [ "$(field "$DC" endpoint)" = a1-ats.iot.eu-west-1.amazonaws.com ]
check "config: thing name" [ "$(field "$DC" thing-name)" = gw-dc ]
check "config: no key file" absent "$DC" key
check "config: secure-element enabled" [ "$(field "$DC" secure-element enabled)" = true ]
check "config: pkcs11-lib is the absolute path of libtpm2_pkcs11.so" \
	[ "$(field "$DC" secure-element pkcs11-lib)" = "$LIB" ]
check "config: the PIN is the token's" [ "$(field "$DC" secure-element secure-element-pin)" = "$PIN" ]
check "config: key label" [ "$(field "$DC" secure-element secure-element-key-label)" = device-key ]
check "config: token label" [ "$(field "$DC" secure-element secure-element-token-label)" = tpm-provision ]
check "config: a slot id that would contradict the token label is dropped" \
	absent "$DC" secure-element secure-element-slot-id
check "config: other keys kept" "$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(not (c["logging"] == {"level": "INFO"} and c["jobs"] == {"enabled": True}))' "$DC"
CERT=$(field "$DC" cert)
CA=$(field "$DC" root-ca)
check "config: cert is the installed certificate" cmp -s "$CERT" "$OUT/certificate.pem"
check "config: root-ca is the installed root CA" cmp -s "$CA" "$OUT/root-ca.pem"

# The Device Client's permission rules (docs/PERMISSIONS.md).
check "the certificate's directory is 0700 for the agent" [ "$(mode_owner "$(dirname "$CERT")")" = "700 nobody:nogroup" ]
check "the root CA's directory is 0700 for the agent" [ "$(mode_owner "$(dirname "$CA")")" = "700 nobody:nogroup" ]
check "the certificate is 0644" [ "$(mode_owner "$CERT")" = "644 nobody:nogroup" ]
check "the root CA is 0644" [ "$(mode_owner "$CA")" = "644 nobody:nogroup" ]
check "the config is 0640" [ "$(mode_owner "$DC")" = "640 nobody:nogroup" ]
check "the token store is 0700 for the agent" [ "$(mode_owner "$STORE")" = "700 nobody:nogroup" ]
check "the PIN file is 0600 for the agent" [ "$(mode_owner "$STORE/user-pin")" = "600 nobody:nogroup" ]
check "the token database is 0600 for the agent" \
	[ "$(mode_owner "$STORE/tpm2_pkcs11.sqlite3")" = "600 nobody:nogroup" ]

check "one token in the store" [ "$(tokens "$STORE")" -eq 1 ]
check "one private key object in the token" [ "$(private_keys "$STORE" "$PIN")" -eq 1 ]
uri="pkcs11:token=$(field "$DC" secure-element secure-element-token-label);object=$(field "$DC" secure-element \
	secure-element-key-label);type=private;pin-value=$(field "$DC" secure-element secure-element-pin)"
check "gnutls-cli with the token's key: mutual TLS with a server requiring the service's CA" \
	mutual_tls dc "$uri" "$CERT" TPM2_PKCS11_STORE="$STORE"

# A rerun: provisioned, nothing made again.
# shellcheck disable=SC2046
run -- enroll $(args gw-dc) --out-dir "$OUT" --key-file "$TEST_DIR/keys/dc.tss2.pem" \
	--agent aws-iot-device-client --agent-config "$DC" --owner nobody:nogroup
check "a rerun exits 0, already provisioned" \
	bash -c '[ "$1" -eq 0 ] && cat "$2" "$3" | grep -q "already provisioned"' _ "$RC" "$RUN_OUT" "$RUN_ERR"
check "after the rerun: one token, one key, the same PIN" \
	bash -c '[ "$1" -eq 1 ] && [ "$2" -eq 1 ] && [ "$(cat "$3")" = "$4" ]' _ "$(tokens "$STORE")" \
	"$(private_keys "$STORE" "$PIN")" "$STORE/user-pin" "$PIN"

# --- killed: after the token is made, and half way through making it ---------------

OUT2="$TEST_DIR/out-crash"
DC2="$TEST_DIR/etc2/aws-iot-device-client.conf"
# shellcheck disable=SC2046
run TPM_PROVISION_TEST_CRASH_AT=token-created -- enroll $(args gw-crash) --out-dir "$OUT2" \
	--key-file "$TEST_DIR/keys/crash.tss2.pem" --agent aws-iot-device-client --agent-config "$DC2"
check "killed right after making the token (exit 137)" [ "$RC" -eq 137 ]
check "the killed run left a token but no state.json" \
	bash -c '[ -s "$1/pkcs11/user-pin" ] && [ ! -e "$1/state.json" ]' _ "$OUT2"
first_pin=$(cat "$OUT2/pkcs11/user-pin" 2>/dev/null)
# A run killed while tpm2_ptool was filling the new store leaves it half made.
mkdir -p "$OUT2/pkcs11.new" && echo partial >"$OUT2/pkcs11.new/tpm2_pkcs11.sqlite3"
# shellcheck disable=SC2046
run -- enroll $(args gw-crash) --out-dir "$OUT2" --key-file "$TEST_DIR/keys/crash.tss2.pem" \
	--agent aws-iot-device-client --agent-config "$DC2"
check "the rerun completes" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "the rerun resumed with the certificate received (one request)" \
	bash -c 'cat "$1" "$2" | grep -q "resuming: using certificate"' _ "$RUN_OUT" "$RUN_ERR"
PIN2=$(cat "$OUT2/pkcs11/user-pin" 2>/dev/null)
check "converged: one token" [ "$(tokens "$OUT2/pkcs11")" -eq 1 ]
check "converged: one private key object" [ "$(private_keys "$OUT2/pkcs11" "$PIN2")" -eq 1 ]
check "the token was made again, with a new PIN" bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$PIN2" "$first_pin"
check "the config has the token's PIN" [ "$(field "$DC2" secure-element secure-element-pin)" = "$PIN2" ]
check "nothing half made is left" [ ! -e "$OUT2/pkcs11.new" ]
check "the converged token works: mutual TLS" \
	mutual_tls crash "pkcs11:token=tpm-provision;object=device-key;type=private;pin-value=$PIN2" \
	"$(field "$DC2" cert)" TPM2_PKCS11_STORE="$OUT2/pkcs11"

# --- any PKCS#11 client: agent.env --------------------------------------------------

OUT3="$TEST_DIR/out-pkcs11"
# shellcheck disable=SC2046
run -- enroll $(args gw-p11) --out-dir "$OUT3" --key-file "$TEST_DIR/keys/p11.tss2.pem" --agent pkcs11
check "enroll --agent pkcs11 exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "agent.env has only NAME=\"value\" lines and comments" \
	bash -c '! grep -v -e "^#" -e "^[A-Z0-9_]*=\"[^\"]*\"$" "$1"' _ "$OUT3/agent.env"
(
	set -a
	. "$OUT3/agent.env"
	set +a
	[ "$IOT_PKCS11_URI" = "pkcs11:token=tpm-provision;object=device-key;type=private" ] &&
		[ "$IOT_PKCS11_LIB" = "$LIB" ] && [ "$IOT_PKCS11_PIN_FILE" = "$OUT3/pkcs11/user-pin" ] &&
		[ "$TPM2_PKCS11_STORE" = "$OUT3/pkcs11" ] && [ "$TPM2_PKCS11_TCTI" = "$TCTI" ] &&
		[ "$IOT_CERT" = "$OUT3/certificate.pem" ] && [ -s "$IOT_ROOT_CA" ]
) && ok "agent.env: the key's URI, the module, the PIN file, the store and the TPM" ||
	not_ok "agent.env: the key's URI, the module, the PIN file, the store and the TPM"
check "the PIN file is 0600" [ "$(stat -c %a "$OUT3/pkcs11/user-pin")" = 600 ]
check "no PIN in agent.env" not grep -qF -- "$(cat "$OUT3/pkcs11/user-pin")" "$OUT3/agent.env"
check "gnutls-cli through IOT_PKCS11_URI: mutual TLS" tls_as_agent_env p11 "$OUT3/agent.env"
check "one token, one private key object" \
	bash -c '[ "$1" -eq 1 ] && [ "$2" -eq 1 ]' _ "$(tokens "$OUT3/pkcs11")" \
	"$(private_keys "$OUT3/pkcs11" "$(cat "$OUT3/pkcs11/user-pin")")"

# --- a persistent key: its blob kept when it is made -------------------------------------

OUT4="$TEST_DIR/out-handle"
# shellcheck disable=SC2046
run -- enroll $(args gw-h) --out-dir "$OUT4" --key-handle 0x81000003 --agent pkcs11
check "enroll --agent pkcs11 with a persistent key exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "the persistent key's blob is kept, 0600" [ "$(stat -c %a "$OUT4/key-blob.tss2.pem" 2>/dev/null)" = 600 ]
check "the key is persisted at its handle" tpm2_readpublic -c 0x81000003 -Q
check "the persistent key through its token: mutual TLS" tls_as_agent_env handle "$OUT4/agent.env"

# A persistent key made without its blob (here by csr) cannot be linked:
# said before a certificate is asked for.
# shellcheck disable=SC2046
run -- csr --thing-name gw-nb --tcti "$TCTI" --out-dir "$TEST_DIR/out-noblob" --key-handle 0x81000005 \
	--out "$TEST_DIR/noblob.csr"
check "csr made a persistent key" [ "$RC" -eq 0 ]
requests_before=$(emulator_requests CreateCertificateFromCsr)
# shellcheck disable=SC2046
run -- enroll $(args gw-nb) --out-dir "$TEST_DIR/out-noblob" --key-handle 0x81000005 --agent pkcs11
expect_failure 78 "key-blob.tss2.pem does not exist: the key at 0x81000005 was made without keeping its blob" \
	"a persistent key without its blob is refused"
check "no certificate was asked for it" [ "$(emulator_requests CreateCertificateFromCsr)" -eq "$requests_before" ]

# --- refused before anything is made ---------------------------------------------------

echo secret >"$TEST_DIR/auth"
# shellcheck disable=SC2046
run -- enroll $(args gw-a) --out-dir "$TEST_DIR/out-auth" --key-file "$TEST_DIR/keys/auth.tss2.pem" \
	--key-auth-file "$TEST_DIR/auth" --agent aws-iot-device-client --agent-config "$TEST_DIR/dc-a.conf"
expect_failure 64 "key-auth-file cannot be used with the PKCS#11 token" "a key with an authorization value is refused"
check "no secret in any output" no_secret_in_output

done_testing
