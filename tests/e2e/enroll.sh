#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: enroll a simulated device (swtpm) against the local certificate
# service, check the outcome with openssl and tpm2-tools, rerun, and refuse
# bad input without leaving anything behind.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

OUT="$TEST_DIR/out"
enroll_args() {
	echo --thing-name gw-0042 --region eu-west-1 --tcti "$TCTI" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}

# --- first run --------------------------------------------------------------

# shellcheck disable=SC2046
run -- enroll $(enroll_args) --out-dir "$OUT"
check "enroll exits 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "enroll says what it installed" grep -q "enrolled thing gw-0042: certificate [0-9a-f]\{64\} installed" "$RUN_ERR"
check "certificate.pem installed with mode 0644" [ "$(stat -c %a "$OUT/certificate.pem" 2>/dev/null)" = 644 ]
check "state.json installed with mode 0644" [ "$(stat -c %a "$OUT/state.json" 2>/dev/null)" = 644 ]
check "no temporary files left in the output directory" [ -z "$(find "$OUT" -name '.*tmp*')" ]

# The certificate's key is the TPM key: compare openssl's view of the
# certificate with tpm2-tools' view of the persisted key.
tpm2_readpublic -c 0x81000002 -f pem -o "$TEST_DIR/tpm-key.pem" >"$TEST_DIR/readpublic.txt"
openssl x509 -in "$OUT/certificate.pem" -pubkey -noout >"$TEST_DIR/cert-key.pem"
check "certificate public key equals the TPM key (openssl vs tpm2_readpublic)" \
	cmp -s <(openssl pkey -pubin -in "$TEST_DIR/tpm-key.pem" -outform der) \
	<(openssl pkey -pubin -in "$TEST_DIR/cert-key.pem" -outform der)
check "certificate verifies against the service's issuing CA" \
	bash -c 'openssl verify -CAfile "$1" "$2" >/dev/null' _ "$EMU_DIR/issuer-ca.pem" "$OUT/certificate.pem"
check "certificate key is EC P-256" \
	grep -q "NIST CURVE: P-256" <(openssl x509 -in "$OUT/certificate.pem" -noout -text)

attrs=$(sed -n '/^attributes:/,/raw:/p' "$TEST_DIR/readpublic.txt" | sed -n 's/^ *value: //p')
check "key attributes are fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign ($attrs)" \
	[ "$attrs" = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" ]
check "key is ECC on NIST P-256" bash -c 'grep -A1 "^curve-id:" "$1" | grep -q "NIST p256"' _ "$TEST_DIR/readpublic.txt"
check "SRK persisted at 0x81000001" grep -q 0x81000001 <(tpm2_getcap handles-persistent)
srk_attrs=$(tpm2_readpublic -c 0x81000001 | sed -n '/^attributes:/,/raw:/p' | sed -n 's/^ *value: //p')
check "SRK is a restricted decrypt storage key ($srk_attrs)" \
	[ "$srk_attrs" = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt" ]
check "nothing left loaded in the TPM (transient objects)" [ "$(tpm_transient_count)" -eq 0 ]
check "nothing left loaded in the TPM (sessions)" [ "$(tpm_session_count)" -eq 0 ]
check "exactly one CreateCertificateFromCsr request" [ "$(emulator_requests CreateCertificateFromCsr)" -eq 1 ]
check "the CSR sent has subject CN = thing name and a valid self-signature" \
	bash -c 'openssl req -in "$1" -verify -noout -subject 2>&1 | grep -q "CN *= *gw-0042"' _ "$EMU_DIR/csr/1.pem"

cert_id=$(openssl x509 -in "$OUT/certificate.pem" -outform der | sha256sum | cut -d' ' -f1)
state_field() {
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OUT/state.json" "$1"
}
check "state.json records the certificate id (SHA-256 of the DER)" [ "$(state_field certificate-id)" = "$cert_id" ]
check "state.json records the thing name" [ "$(state_field thing-name)" = gw-0042 ]
check "state.json records the key handle" [ "$(state_field key-handle)" = 0x81000002 ]
key_name=$(sed -n 's/^name: //p' "$TEST_DIR/readpublic.txt")
check "state.json records the key's TPM name" [ "$(state_field key-name)" = "$key_name" ]
check "state.json records the ARN" \
	[ "$(state_field certificate-arn)" = "arn:aws:iot:eu-west-1:123456789012:cert/$cert_id" ]

# --- rerun: a provisioned device is left alone -------------------------------

sum_before=$(cat "$OUT"/* | sha256sum)
requests_before=$(emulator_requests)
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --out-dir "$OUT"
check "rerun exits 0" [ "$RC" -eq 0 ]
check "rerun says already provisioned" grep -q "already provisioned" "$RUN_ERR"
check "rerun sends no request" [ "$(emulator_requests)" -eq "$requests_before" ]
check "rerun changes no file" [ "$(cat "$OUT"/* | sha256sum)" = "$sum_before" ]
check "rerun leaves nothing loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]

# A provisioned device refuses to become another thing.
# shellcheck disable=SC2046
run -- enroll $(enroll_args | sed 's/gw-0042/gw-0043/') --out-dir "$OUT"
expect_failure 65 'already provisioned as thing "gw-0042", not "gw-0043"' "provisioned device refuses another thing name"

# --- the other signing name, a session token, a config file ----------------

# shellcheck disable=SC2046
run AWS_ACCESS_KEY_ID="$EMU_SESSION_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SESSION_SECRET_ACCESS_KEY" \
	AWS_SESSION_TOKEN="$EMU_SESSION_TOKEN" -- \
	enroll $(enroll_args) --key-handle 0x81000010 --signing-name execute-api --out-dir "$TEST_DIR/out2"
check "session credentials and signing name execute-api work" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
check "the emulator saw execute-api as the signing name" \
	grep -q '"service": *"execute-api"' "$EMU_DIR/requests.jsonl"

cat >"$TEST_DIR/config.json" <<EOF
{"thing-name": "gw-cfg", "region": "eu-west-1", "tcti": "$TCTI", "key-handle": "0x81000011",
 "endpoint-url": "$EMU_URL", "ca-bundle": "$EMU_CA", "out-dir": "$TEST_DIR/out3"}
EOF
run -- enroll --config "$TEST_DIR/config.json"
check "enroll from a config file" succeeded_with "$TEST_DIR/out3/certificate.pem"

echo '{"thing-name": "gw", "key_handle": "0x81000012"}' >"$TEST_DIR/bad-config.json"
run -- enroll --config "$TEST_DIR/bad-config.json"
expect_failure 78 'unknown key "key_handle"' "config file with an unknown key"

# --- bad input: nothing half-written, nothing left loaded --------------------

# shellcheck disable=SC2046
run AWS_SECRET_ACCESS_KEY=wrong-secret-value -- enroll $(enroll_args) --key-handle 0x81000020 --out-dir "$TEST_DIR/out4"
expect_failure 77 'HTTP 403 InvalidSignatureException' "a wrong secret is a rejected signature"
check "nothing but the key journal written after a rejected signature" nothing_installed "$TEST_DIR/out4"
check "nothing left loaded after a failed run" [ "$(tpm_transient_count)" -eq 0 ]
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --key-handle 0x81000020 --out-dir "$TEST_DIR/out4"
check "with the right secret the rerun provisions the device" provisioned_with_key "$TEST_DIR/out4" 0x81000020

# shellcheck disable=SC2046
run -- enroll $(enroll_args | sed 's/--ca-bundle [^ ]*//') --key-handle 0x81000021 --out-dir "$TEST_DIR/out5"
expect_failure 78 "$EMU_URL/certificates?setAsActive=true: SSL certificate problem: .*: the endpoint's certificate is not trusted: give its CA with --ca-bundle FILE or AWS_CA_BUNDLE" \
	"a server certificate from an untrusted CA is refused"
check "nothing but the key journal written after an untrusted certificate" nothing_installed "$TEST_DIR/out5"
check "nothing left loaded after an untrusted certificate" [ "$(tpm_transient_count)" -eq 0 ]
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --key-handle 0x81000021 --out-dir "$TEST_DIR/out5"
check "with the CA given the rerun provisions the device" provisioned_with_key "$TEST_DIR/out5" 0x81000021

# A bundle whose CA has the name and key id of the server's issuer but
# another key (a rotated private CA): a trust failure, refused at once
# with the CA hint, never retried.
ski=$(openssl x509 -in "$EMU_CA" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TEST_DIR/rotated-ca.key" \
	-subj "/$(openssl x509 -in "$EMU_CA" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//' |
		tr ',' '\n' | tac | paste -sd /)" \
	-addext "subjectKeyIdentifier=$ski" -addext authorityKeyIdentifier=none \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
	-days 2 -out "$TEST_DIR/rotated-ca.pem" 2>/dev/null
check "the rotated CA has the name of the server's issuer (openssl)" \
	[ "$(openssl x509 -in "$TEST_DIR/rotated-ca.pem" -noout -subject)" = "$(openssl x509 -in "$EMU_CA" -noout -subject)" ]
requests_before=$(emulator_requests)
# shellcheck disable=SC2046
run -- enroll $(enroll_args | sed "s|--ca-bundle [^ ]*|--ca-bundle $TEST_DIR/rotated-ca.pem|") -v \
	--key-handle 0x81000028 --out-dir "$TEST_DIR/out5b"
expect_failure 78 "$EMU_URL/certificates?setAsActive=true: .*: the endpoint's certificate is not trusted: give its CA with --ca-bundle FILE or AWS_CA_BUNDLE" \
	"a CA of the same name with another key is a trust failure"
check "a trust failure is not retried" not grep -q "attempt [0-9]* failed" "$RUN_ERR"
check "nothing reached the service through the untrusted connection" [ "$(emulator_requests)" -eq "$requests_before" ]

# shellcheck disable=SC2046
run AWS_ACCESS_KEY_ID= -- enroll $(enroll_args) --key-handle 0x81000022 --out-dir "$TEST_DIR/out6"
expect_failure 77 'AWS_ACCESS_KEY_ID is missing' "incomplete credentials"

# A key this program did not make stays untouched at its handle.
tpm2_createprimary -C o -G rsa2048 -c "$TEST_DIR/foreign-primary.ctx" >/dev/null
tpm2_evictcontrol -C o -c "$TEST_DIR/foreign-primary.ctx" 0x81000030 >/dev/null
tpm2_flushcontext -t
foreign_before=$(tpm2_readpublic -c 0x81000030 | sed -n 's/^name: //p')
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --key-handle 0x81000030 --out-dir "$TEST_DIR/out7"
expect_failure 78 'handle 0x81000030 already holds a key that tpm-provision did not create' "foreign key at the handle refused"
check "foreign key left untouched" [ "$(tpm2_readpublic -c 0x81000030 | sed -n 's/^name: //p')" = "$foreign_before" ]
check "nothing installed beside a foreign key" nothing_installed "$TEST_DIR/out7"
check "nothing left loaded after refusing a foreign key" [ "$(tpm_transient_count)" -eq 0 ]
# The operator evicts the foreign key: the handle is free for ours.
tpm2_evictcontrol -C o -c 0x81000030 >/dev/null
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --key-handle 0x81000030 --out-dir "$TEST_DIR/out7"
check "with the foreign key evicted the rerun provisions the device" provisioned_with_key "$TEST_DIR/out7" 0x81000030

# shellcheck disable=SC2046
run -- enroll $(enroll_args | sed 's/--region eu-west-1/--region us-east-1/') --key-handle 0x81000022 --out-dir "$TEST_DIR/out6"
expect_failure 77 'InvalidSignatureException' "a signature for the wrong region is rejected"

run -- enroll --thing-name 'gw 1' --region eu-west-1
expect_failure 64 '"gw 1"' "an invalid thing name is quoted"

# The secret never shows in any output.
check "no secret in any output" no_secret_in_output

swtpm_stop
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --key-handle 0x81000023 --out-dir "$TEST_DIR/out9"
expect_failure 74 'TPM' "an unreachable TPM is a TPM failure"
check "nothing installed without a TPM" nothing_installed "$TEST_DIR/out9"
# The same TPM (its state kept) running again.
swtpm_start
# shellcheck disable=SC2046
run -- enroll $(enroll_args) --key-handle 0x81000023 --out-dir "$TEST_DIR/out9"
check "with the TPM running again the rerun provisions the device" provisioned_with_key "$TEST_DIR/out9" 0x81000023
check "nothing left loaded after the rerun" [ "$(tpm_transient_count)" -eq 0 ]

done_testing
