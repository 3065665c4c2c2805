#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: the factory line and image build commands.  `csr` writes a
# CSR for the TPM key and sends nothing; `install` puts a certificate
# obtained elsewhere (here: by the aws CLI, an independent client) in
# place after checking it; `batch` turns a directory of CSRs into
# certificates, skipping invalid ones, resuming after SIGKILL without
# sending any CSR twice, and slowing down for a throttling service.
# Outcomes are checked with openssl, tpm2-tools and the aws CLI.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

HANDLE=0x81000030
DEV="$TEST_DIR/dev"
device_args() {
	echo --thing-name gw-f1 --tcti "$TCTI" --key-handle "$HANDLE" --out-dir "$DEV"
}

# same_key A B: the public keys of two PEM objects (certificate, CSR or
# public key), as DER, are equal.
pubkey_der() {
	case $(head -n 1 "$1") in
	*REQUEST*) openssl req -in "$1" -pubkey -noout | openssl pkey -pubin -outform der ;;
	*CERTIFICATE*) openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der ;;
	*) openssl pkey -pubin -in "$1" -outform der ;;
	esac
}
same_key() {
	cmp -s <(pubkey_der "$1") <(pubkey_der "$2")
}

# --- csr: offline, the TPM key, nothing sent ---------------------------------

# shellcheck disable=SC2046
run -- csr $(device_args) --out "$TEST_DIR/gw-f1.csr"
check "csr exits 0 and writes the CSR" succeeded_with "$TEST_DIR/gw-f1.csr"
tpm2_readpublic -c "$HANDLE" -f pem -o "$TEST_DIR/tpm-key.pem" >/dev/null 2>&1
check "the CSR's signature verifies (openssl req -verify)" \
	bash -c 'openssl req -in "$1" -verify -noout >/dev/null 2>&1' _ "$TEST_DIR/gw-f1.csr"
check "the CSR is for the TPM key (tpm2_readpublic)" same_key "$TEST_DIR/gw-f1.csr" "$TEST_DIR/tpm-key.pem"
check "the CSR's subject is CN = the thing name" \
	grep -q "CN *= *gw-f1" <(openssl req -in "$TEST_DIR/gw-f1.csr" -subject -noout)
check "the key is persisted at the handle" bash -c 'tpm2_readpublic -c "$1" >/dev/null 2>&1' _ "$HANDLE"
check "the step is recorded" [ "$(json_field "$DEV/request.json" phase)" = csr-written ]
check "nothing was sent to the service" [ "$(emulator_requests)" -eq 0 ]
cp "$TEST_DIR/gw-f1.csr" "$TEST_DIR/first.csr"
# shellcheck disable=SC2046
run -- csr $(device_args) --out "$TEST_DIR/gw-f1.csr"
check "a second csr reuses the key" grep -q "^tpm-provision: reusing" "$RUN_ERR"
check "a second csr is for the same key" same_key "$TEST_DIR/gw-f1.csr" "$TEST_DIR/first.csr"
# shellcheck disable=SC2046
run -- csr $(device_args)
expect_failure 64 "csr needs --out FILE" "csr without --out is a usage error"

# --- install: a certificate from elsewhere -----------------------------------

emulator_aws create-certificate-from-csr --set-as-active \
	--certificate-signing-request "file://$TEST_DIR/gw-f1.csr" >"$TEST_DIR/created.json" ||
	bail "aws iot create-certificate-from-csr failed"
json_field "$TEST_DIR/created.json" certificatePem >"$TEST_DIR/gw-f1.cert.pem"
cert_id=$(json_field "$TEST_DIR/created.json" certificateId)
requests_before=$(emulator_requests)

# A certificate for another key, on a fresh device directory: refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TEST_DIR/other.key" \
	-subj /CN=gw-f1 -days 30 -out "$TEST_DIR/other.pem" 2>/dev/null
install_args() {
	echo --iot-endpoint data.example --root-ca "$EMU_CA" --agent env --agent openssl
}
# shellcheck disable=SC2046
run -- install $(device_args) $(install_args) --cert "$TEST_DIR/other.pem"
expect_failure 65 "other.pem is for another key, not the TPM key" "install refuses a certificate for another key"
check "nothing is installed for it" nothing_installed "$DEV"
# shellcheck disable=SC2046
run -- install $(device_args) --root-ca "$EMU_CA" --cert "$TEST_DIR/gw-f1.cert.pem"
expect_failure 64 "install needs --iot-endpoint" "install without --iot-endpoint is a usage error"

# shellcheck disable=SC2046
run -- install $(device_args) $(install_args) --cert "$TEST_DIR/gw-f1.cert.pem"
check "install exits 0" succeeded_with "$DEV/certificate.pem"
check "the installed certificate is the one obtained elsewhere" cmp -s \
	<(openssl x509 -in "$DEV/certificate.pem" -outform der) <(openssl x509 -in "$TEST_DIR/gw-f1.cert.pem" -outform der)
check "the installed certificate is for the TPM key" same_key "$DEV/certificate.pem" "$TEST_DIR/tpm-key.pem"
check "state.json records the id the service gave (aws CLI)" \
	[ "$(json_field "$DEV/state.json" certificate-id)" = "$cert_id" ]
check "agent.env and openssl.cnf are installed" \
	bash -c '[ -s "$1" ] && [ -s "$2" ]' _ "$DEV/agent.env" "$DEV/openssl.cnf"
check "the csr record is gone: state.json says everything" [ ! -e "$DEV/request.json" ]
check "install sent nothing to the service" [ "$(emulator_requests)" -eq "$requests_before" ]
# shellcheck disable=SC2046
run -- install $(device_args) $(install_args) --cert "$TEST_DIR/gw-f1.cert.pem"
check "a rerun leaves the provisioned device alone" grep -q "^tpm-provision: already provisioned" "$RUN_ERR"
# shellcheck disable=SC2046
run -- install $(device_args) $(install_args) --cert "$TEST_DIR/other.pem"
expect_failure 65 "already provisioned with certificate $cert_id" \
	"another certificate is not installed over the record"
check "the installed certificate is unchanged" cmp -s \
	<(openssl x509 -in "$DEV/certificate.pem" -outform der) <(openssl x509 -in "$TEST_DIR/gw-f1.cert.pem" -outform der)

# With --attach-thing and --policy the service is asked, and only then.
emulator_aws create-policy --policy-name factory --policy-document '{"Version":"2012-10-17","Statement":[]}' \
	>/dev/null || bail "aws iot create-policy failed"
# shellcheck disable=SC2046
run -- install $(device_args) $(install_args) --cert "$TEST_DIR/gw-f1.cert.pem" --region eu-west-1 \
	--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" --attach-thing --policy factory
check "install --attach-thing --policy exits 0" [ "$RC" -eq 0 ]
check "the thing has the certificate as principal (aws CLI)" \
	grep -q "cert/$cert_id" <(emulator_aws list-thing-principals --thing-name gw-f1)
check "the policy targets the certificate" \
	grep -q "cert/$cert_id" <(curl -sS --cacert "$EMU_CA" "$EMU_URL/_emulator/policies")

# --- status: the device as it is, offline ------------------------------------

run -- status --out-dir "$DEV" --tcti "$TCTI"
check "status of the provisioned device exits 0, the key matching" \
	bash -c '[ "$1" -eq 0 ] && grep -q "^key: .*matches the certificate" "$2" && grep -q "^thing: *gw-f1" "$2"' \
	_ "$RC" "$RUN_OUT"
run -- status --out-dir "$DEV" --tcti "$TCTI" --json
echo "$(cat "$RUN_OUT")" >"$TEST_DIR/status.json"
status_json_fields() {
	[ "$(json_field "$TEST_DIR/status.json" thing)" = gw-f1 ] &&
		[ "$(json_field "$TEST_DIR/status.json" certificateId)" = "$cert_id" ] &&
		[ "$(json_field "$TEST_DIR/status.json" keyMatches)" = true ] &&
		[ "$(json_field "$TEST_DIR/status.json" attachedThing)" = gw-f1 ] &&
		[ "$(json_field "$TEST_DIR/status.json" policies.0)" = factory ]
}
check "status --json: thing, certificate id, key match, attachments" status_json_fields
check "status --json: the certificate's notAfter as openssl reads it" \
	[ "$(date -u -d "$(openssl x509 -in "$DEV/certificate.pem" -enddate -noout | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" = \
		"$(json_field "$TEST_DIR/status.json" notAfter)" ]
run -- status --out-dir "$TEST_DIR/empty" --json
check "status of a device not provisioned exits 1, JSON says so" \
	bash -c '[ "$1" -eq 1 ] && [ "$(cat "$2")" = "$3" ]' _ "$RC" "$RUN_OUT" '{"provisioned":false}'
cp -r "$DEV" "$TEST_DIR/dev-other" && cp "$TEST_DIR/other.pem" "$TEST_DIR/dev-other/certificate.pem"
run -- status --out-dir "$TEST_DIR/dev-other" --tcti "$TCTI"
expect_failure 65 "inconsistent: .*certificate.pem is not for the key in the TPM" \
	"status of a certificate for another key exits 65"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
run -- status --out-dir "$DEV" --tcti "$TCTI"
expect_failure 65 "inconsistent: the key at handle 0x81000030 is no longer in the TPM" \
	"status with the key gone exits 65"

# --- batch --------------------------------------------------------------------

# make_csrs DIR N PREFIX: N EC P-256 CSRs DIR/PREFIX-I.csr with their keys.
make_csrs() {
	local i
	mkdir -p "$1"
	for i in $(seq -w 1 "$2"); do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$3-$i.key" \
			-subj "/CN=$3-$i" -out "$1/$3-$i.csr" 2>/dev/null || bail "openssl req failed"
	done
}
# all_match DIR OUT N: N certificates in OUT, each for its CSR's key, its
# id the SHA-256 of its DER, and ACTIVE at the service.
all_match() {
	local csr name n=0
	for csr in "$1"/*.csr; do
		name=$(basename "$csr" .csr)
		[ -e "$2/$name.json" ] || continue
		same_key "$2/$name.cert.pem" "$csr" || return 1
		[ "$(json_field "$2/$name.json" certificate-id)" = \
			"$(openssl x509 -in "$2/$name.cert.pem" -outform der | sha256sum | cut -d' ' -f1)" ] || return 1
		n=$((n + 1))
	done
	[ "$n" -eq "$3" ]
}
# completed DIR OUT N: the last run exited 0 and all_match DIR OUT N.
completed() {
	[ "$RC" -eq 0 ] && all_match "$@"
}
batch_args() {
	echo --region eu-west-1 --endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}
# batch_in_background ARGS...: a batch with the emulator's credentials,
# not waited for; its PID in batch_pid.
batch_in_background() {
	# shellcheck disable=SC2046
	env HOME="$TEST_DIR" AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" \
		AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY" "$TPM_PROVISION" batch $(batch_args) "$@" >/dev/null 2>&1 &
	batch_pid=$!
	register_pid "$batch_pid"
}
# duplicates: how many CSRs the service received more than once since
# csr_mark (it keeps them as csr/1.pem, 2.pem, ... in the order received).
duplicates() {
	local f n
	for f in "$EMU_DIR"/csr/*.pem; do
		n=$(basename "$f" .pem)
		[ "$n" -gt "$csr_mark" ] && sha256sum <"$f"
	done | sort | uniq -d | wc -l
}

B1="$TEST_DIR/b1"
make_csrs "$B1" 24 dev
printf 'not a CSR\n' >"$B1/garbage.csr"
sed '2s/^\(....\)./\1A/' "$B1/dev-01.csr" >"$B1/tampered.csr"
head -c 70000 /dev/zero | tr '\0' 'A' >"$B1/huge.csr"
openssl req -new -newkey rsa:1024 -nodes -keyout "$B1/weak.key" -subj /CN=weak -out "$B1/weak.csr" 2>/dev/null
creates_before=$(emulator_requests CreateCertificateFromCsr)
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B1" --out-dir "$TEST_DIR/o1" --json
check "a batch with invalid CSRs exits 65" [ "$RC" -eq 65 ]
check "every valid CSR got a certificate for its key, with its id (openssl)" all_match "$B1" "$TEST_DIR/o1" 24
check "the CSR that is not PEM is named with the reason" grep -q "garbage.csr: not a PEM certificate request" "$RUN_ERR"
check "the tampered CSR is named with the reason" grep -q "tampered.csr: .*" "$RUN_ERR"
check "the oversized CSR is named with the reason" grep -q "huge.csr: .*larger than" "$RUN_ERR"
check "the key the service refuses is named with the service's reason" \
	grep -q "weak.csr: .*InvalidRequestException" "$RUN_ERR"
check "25 CreateCertificateFromCsr requests: the invalid ones were not sent" \
	[ "$(($(emulator_requests CreateCertificateFromCsr) - creates_before))" -eq 25 ]
check "--json prints one result line per CSR" [ "$(grep -c '"csr":' "$RUN_OUT")" -eq 28 ]
check "the summary line counts them" grep -q "24 of 28 CSRs got a certificate" "$RUN_ERR"
check "no journal is left for a finished CSR" [ -z "$(ls "$TEST_DIR/o1" | grep '^dev-.*\.pending$')" ]
check "a result names its certificate's ARN" \
	grep -q "^arn:aws:iot:eu-west-1:[0-9]\{12\}:cert/" <(json_field "$TEST_DIR/o1/dev-07.json" certificate-arn)
creates_before=$(emulator_requests CreateCertificateFromCsr)
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B1" --out-dir "$TEST_DIR/o1"
check "a rerun sends only the CSR the service refused" \
	[ "$(($(emulator_requests CreateCertificateFromCsr) - creates_before))" -eq 1 ]
check "a rerun counts the done CSRs" grep -q "24 of 28 CSRs got a certificate (0 written now, 24 before)" "$RUN_ERR"

# Interrupted: SIGKILL midway, then reruns.  No CSR reaches the service
# twice unless an operator asks for the unanswered ones to be sent again.
# The moment of the kill is chosen at the service, whatever the speed of
# the client (valgrind): the first 8 requests are answered, the next ones
# are performed but their answers held.  With --parallel 4 the batch then
# has sent exactly 4 more, each journaled before it went; the answers to
# the first 8 were written before the slot that sent the 12th was free.
B2="$TEST_DIR/b2"
make_csrs "$B2" 40 int
emulator_fault '[{"mode": "slow", "delay": 0, "count": 8, "operation": "CreateCertificateFromCsr"},
	{"mode": "hold", "count": 1000, "operation": "CreateCertificateFromCsr"}]'
csr_mark=$(ls "$EMU_DIR/csr" | wc -l)
batch_in_background --csr-dir "$B2" --out-dir "$TEST_DIR/o2" --parallel 4
kill_when_held 4 "$batch_pid" # the service issues 4 certificates nobody receives
count() { ls "$TEST_DIR/o2" | grep -c "$1"; }
check "the killed batch had written the 8 answered results, 4 journals of requests in flight" \
	[ "$(count '\.json$') $(count '\.pending$')" = "8 4" ]
check "no temporary file is left" [ -z "$(ls -A "$TEST_DIR/o2" | grep -v -e '\.json$' -e '\.cert\.pem$' -e '\.pending$' -e '^batch.lock$')" ]
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B2" --out-dir "$TEST_DIR/o2"
unanswered=$(count '\.pending$')
check "the rerun reports the 4 CSRs sent without an answer, exit 65" \
	bash -c '[ "$1" -eq 65 ] && [ "$2" -eq 4 ] && [ "$3" -eq 4 ]' _ "$RC" "$(grep -c 'got no answer' "$RUN_ERR")" "$unanswered"
check "the rerun completes the rest" all_match "$B2" "$TEST_DIR/o2" 36
check "no CSR reached the service twice (counted at the service)" [ "$(duplicates)" -eq 0 ]
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B2" --out-dir "$TEST_DIR/o2" --resend-unanswered
check "--resend-unanswered completes the batch, exit 0" completed "$B2" "$TEST_DIR/o2" 40
check "no journal is left" [ -z "$(ls "$TEST_DIR/o2" | grep '\.pending$')" ]

# Killed after a result is written and before the directory sync after
# which its journal goes (the crash point of the test build; the rerun is
# the program under test, valgrind's in make check-valgrind): the rerun
# takes the CSR as done, removes its journal, and sends it no more.
B7="$TEST_DIR/b7"
make_csrs "$B7" 3 win
csr_mark=$(ls "$EMU_DIR/csr" | wc -l)
shipped=$TPM_PROVISION
TPM_PROVISION="$top_builddir/tests/tpm-provision-test"
# shellcheck disable=SC2046
run TPM_PROVISION_TEST_CRASH_AT=batch-result-written -- batch $(batch_args) --csr-dir "$B7" \
	--out-dir "$TEST_DIR/o7" --parallel 1
TPM_PROVISION=$shipped
first=$(ls "$TEST_DIR/o7" | sed -n 's/\.json$//p')
check "killed after writing a result: its journal is still there" \
	bash -c '[ "$1" -eq 137 ] && [ -n "$2" ] && [ -e "$3/$2.pending" ]' _ "$RC" "$first" "$TEST_DIR/o7"
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B7" --out-dir "$TEST_DIR/o7"
check "the rerun completes the batch, exit 0, nothing reported unanswered" \
	bash -c '[ "$1" -eq 0 ] && ! grep -q "got no answer" "$2"' _ "$RC" "$RUN_ERR"
check "the rerun counts the CSR written before the kill as done" \
	grep -q "3 of 3 CSRs got a certificate (2 written now, 1 before)" "$RUN_ERR"
check "the rerun leaves no journal" [ -z "$(ls "$TEST_DIR/o7" | grep '\.pending$')" ]
check "each CSR reached the service once" \
	bash -c '[ "$1" -eq 0 ] && [ $(($(ls "$2" | wc -l) - $3)) -eq 3 ]' _ "$(duplicates)" "$EMU_DIR/csr" "$csr_mark"
check "every certificate is for its CSR's key" all_match "$B7" "$TEST_DIR/o7" 3

# Throttled: a service that allows 2 requests a second, well below what
# this client sends even under valgrind on a loaded machine; the batch
# slows down and still completes.
emulator_stop
emulator_start --region eu-west-1 --rate-limit 2
B3="$TEST_DIR/b3"
make_csrs "$B3" 20 thr
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B3" --out-dir "$TEST_DIR/o3" --parallel 10
throttled=$("$PY" -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["errorType"] == "ThrottlingException"))' "$EMU_DIR/requests.jsonl")
check "the service throttled the batch ($throttled times)" [ "$throttled" -gt 0 ]
check "the throttled batch completes, exit 0" completed "$B3" "$TEST_DIR/o3" 20
check "throttling cost at most a few retries per CSR" [ "$throttled" -lt 40 ]
check "the summary counts the throttled answers" grep -q "the service throttled $throttled " "$RUN_ERR"
check "without -v, no line per retry" not grep -q "attempt [0-9]* failed" "$RUN_ERR"
emulator_stop
emulator_start --region eu-west-1 --rate-limit 15
B3V="$TEST_DIR/b3v"
make_csrs "$B3V" 30 thv
# Throttled for sure, however fast this client runs (valgrind is slow).
emulator_fault '{"count": 2, "errorType": "ThrottlingException", "operation": "CreateCertificateFromCsr"}'
# shellcheck disable=SC2046
run -- batch $(batch_args) -v --csr-dir "$B3V" --out-dir "$TEST_DIR/o3v" --parallel 10
check "-v: a short line per retry: request, attempt, reason, wait, time left" \
	grep -q "^tpm-provision: POST /certificates?setAsActive=true: attempt [0-9]* failed (HTTP 400 ThrottlingException); retrying in [0-9.]*s, [0-9]*s left$" "$RUN_ERR"
check "-v: each answer's status line and request id" grep -q "HTTP 200 (request id [^)]*)$" "$RUN_ERR"

# --rate caps the rate: 60 requests at 30/s take at least about 2 seconds.
B3="$TEST_DIR/b3r"
make_csrs "$B3" 60 rat
start=$(date +%s.%N)
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B3" --out-dir "$TEST_DIR/o4" --rate 30
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
check "--rate 30 keeps 60 requests to 30 a second ($elapsed s)" \
	bash -c '[ "$1" -eq 0 ] && [ "$(echo "$2 > 1.8" | bc)" -eq 1 ]' _ "$RC" "$elapsed"
check "--rate 30: every CSR got its certificate" completed "$B3" "$TEST_DIR/o4" 60

# Under --rate a CSR is journaled only when its request goes: a batch
# killed while CSRs wait for their turn has journaled only the one whose
# request went, not the ones waiting in its slots; the rerun sends every
# CSR never journaled, each once.  The first request's answer is held at
# the service, and the next token is 5 s away: the kill comes between.
B6="$TEST_DIR/b6"
make_csrs "$B6" 60 rk
accepted_before=$(ls "$EMU_DIR/csr" | wc -l)
emulator_fault '{"mode": "hold", "count": 1000, "operation": "CreateCertificateFromCsr"}'
batch_in_background --csr-dir "$B6" --out-dir "$TEST_DIR/o6" --rate 0.2 --parallel 10
kill_when_held 1 "$batch_pid"
received=$(($(ls "$EMU_DIR/csr" | wc -l) - accepted_before))
journaled=$(ls "$TEST_DIR/o6" | sed -n 's/\.\(pending\|json\)$//p' | sort -u | wc -l)
check "killed under --rate: journaled $journaled CSRs, the service received $received: one each" \
	[ "$journaled $received" = "1 1" ]
accepted_before=$(ls "$EMU_DIR/csr" | wc -l)
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B6" --out-dir "$TEST_DIR/o6"
check "the rerun sends exactly the $((60 - journaled)) CSRs never journaled" \
	[ "$(($(ls "$EMU_DIR/csr" | wc -l) - accepted_before))" -eq $((60 - journaled)) ]

# Attachments per certificate: the thing is the CSR's CN.
emulator_aws create-policy --policy-name line --policy-document '{"Version":"2012-10-17","Statement":[]}' \
	>/dev/null || bail "aws iot create-policy failed"
B5="$TEST_DIR/b5"
make_csrs "$B5" 3 att
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B5" --out-dir "$TEST_DIR/o5" --attach-thing --policy line
check "batch --attach-thing --policy exits 0" [ "$RC" -eq 0 ]
id=$(json_field "$TEST_DIR/o5/att-2.json" certificate-id)
check "each thing is named by its CSR's CN and has its certificate (aws CLI)" \
	grep -q "cert/$id" <(emulator_aws list-thing-principals --thing-name att-2)
check "the policy targets each certificate" [ "$(curl -sS --cacert "$EMU_CA" "$EMU_URL/_emulator/policies" |
	"$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["line"]["targets"]))')" -eq 3 ]
check "the result records the attachments" [ "$(json_field "$TEST_DIR/o5/att-2.json" attached-thing)" = att-2 ]

# A certificate for another key is refused as enroll refuses it: journaled
# as refused in NAME.pending, deactivated; a rerun asks for a fresh one.
B8="$TEST_DIR/b8"
make_csrs "$B8" 1 wrong
emulator_fault '{"operation": "CreateCertificateFromCsr", "mode": "wrongkey"}'
updates_before=$(emulator_requests UpdateCertificate)
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B8" --out-dir "$TEST_DIR/o8"
emulator_clear_faults
check "a certificate for another key fails the batch (exit 65)" [ "$RC" -eq 65 ]
check "the CSR is named with the reason and what became of the certificate" \
	grep -q "wrong-1.csr: certificate [0-9a-f]\{64\} from the service is for another key.*set INACTIVE" "$RUN_ERR"
check "an UpdateCertificate was sent for it" [ "$(($(emulator_requests UpdateCertificate) - updates_before))" -eq 1 ]
check "it is journaled as refused" [ "$(json_field "$TEST_DIR/o8/wrong-1.pending" phase)" = certificate-refused ]
check "nothing written for it" [ ! -e "$TEST_DIR/o8/wrong-1.json" ] && [ ! -e "$TEST_DIR/o8/wrong-1.cert.pem" ]
# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B8" --out-dir "$TEST_DIR/o8"
check "the rerun sends a fresh request and gets a certificate for the key" completed "$B8" "$TEST_DIR/o8" 1
check "no journal is left after the rerun" [ ! -e "$TEST_DIR/o8/wrong-1.pending" ]
check "the result keeps nothing of the refused certificate" not grep -q refused "$TEST_DIR/o8/wrong-1.json"

# Long input is used whole or refused, never cut: a 2,500-character
# endpoint path reaches the service whole; a 3,000-character output
# directory is created and used.
long=$(printf 'p%.0s' $(seq 1 2500))
deep="$TEST_DIR/$(printf 'd%.0s' $(seq 1 200))"
for _ in $(seq 1 14); do deep="$deep/$(printf 'd%.0s' $(seq 1 200))"; done
run -- batch --region eu-west-1 --endpoint-url "$EMU_URL/$long" --ca-bundle "$EMU_CA" --csr-dir "$B5" \
	--out-dir "$TEST_DIR/o6" --deadline 5
check "a 2,500-character endpoint path reaches the service whole" \
	grep -q "\"path\": \"/$long/certificates\"" "$EMU_DIR/requests.jsonl"
run -- batch $(batch_args) --csr-dir "$B5" --out-dir "$deep"
check "a ${#deep}-character output directory is used whole" succeeded_with "$deep/att-1.cert.pem"

# shellcheck disable=SC2046
run -- batch $(batch_args) --csr-dir "$B5"
expect_failure 64 "batch needs --out-dir" "batch without --out-dir is a usage error"
check "no secret in any output" no_secret_in_output

done_testing
