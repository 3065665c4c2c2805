# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# Helpers for the AWS IoT certificate API emulator (tests/emulator/iot-emulator.py).
# Sourced by tests/e2e/lib.sh, which provides TEST_DIR, PY, register_pid, diag
# and bail.  Sourcing has no side effects.

# _emu_random_key N: N random characters from the base64 alphabet
# (AWS secrets contain '/' and '+' too, which is worth signing).
_emu_random_key() {
	openssl rand -base64 $(($1 * 3 / 4 + 3)) | tr -d '\n' | cut -c "1-$1"
}

# _emu_random_akid PREFIX: an access key id like AWS's (20 upper case).
_emu_random_akid() {
	printf '%s%s' "$1" "$(openssl rand -hex 8 | tr a-f A-F)"
}

# emulator_start [ARGS...]: start the emulator with its own state directory
# and test credentials; ARGS go to iot-emulator.py (e.g. --region).
# Sets (not exported):
#   EMU_PID EMU_PORT EMU_URL EMU_CA EMU_DIR
#   EMU_MQTT_PORT                     the MQTT over TLS port (with --mqtt)
#   EMU_ACCESS_KEY_ID EMU_SECRET_ACCESS_KEY            a plain credential
#   EMU_SESSION_ACCESS_KEY_ID EMU_SESSION_SECRET_ACCESS_KEY EMU_SESSION_TOKEN
#                                                     a temporary credential
emulator_start() {
	local _
	EMU_DIR="$TEST_DIR/emu"
	mkdir -p "$EMU_DIR"
	rm -f "$EMU_DIR/port" "$EMU_DIR/mqtt-port"
	EMU_ACCESS_KEY_ID=$(_emu_random_akid AKIA)
	EMU_SECRET_ACCESS_KEY=$(_emu_random_key 40)
	EMU_SESSION_ACCESS_KEY_ID=$(_emu_random_akid ASIA)
	EMU_SESSION_SECRET_ACCESS_KEY=$(_emu_random_key 40)
	EMU_SESSION_TOKEN=$(_emu_random_key 200)
	(
		umask 077
		cat >"$EMU_DIR/credentials.json" <<EOF
[
  {"accessKeyId": "$EMU_ACCESS_KEY_ID",
   "secretAccessKey": "$EMU_SECRET_ACCESS_KEY"},
  {"accessKeyId": "$EMU_SESSION_ACCESS_KEY_ID",
   "secretAccessKey": "$EMU_SESSION_SECRET_ACCESS_KEY",
   "sessionToken": "$EMU_SESSION_TOKEN"}
]
EOF
	)
	# shellcheck disable=SC2154 # top_srcdir: set by automake or lib.sh
	"$PY" "$top_srcdir/tests/emulator/iot-emulator.py" --dir "$EMU_DIR" "$@" \
		2>"$EMU_DIR/emulator.log" &
	EMU_PID=$!
	register_pid "$EMU_PID"
	for _ in $(seq 1 200); do
		[ -s "$EMU_DIR/port" ] && break
		kill -0 "$EMU_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$EMU_DIR/port" ]; then
		diag "emulator log:" "$(tail -n 20 "$EMU_DIR/emulator.log" 2>/dev/null)"
		bail "the IoT emulator did not start"
	fi
	EMU_PORT=$(cat "$EMU_DIR/port")
	EMU_MQTT_PORT=
	# shellcheck disable=SC2034 # for the tests
	[ ! -s "$EMU_DIR/mqtt-port" ] || EMU_MQTT_PORT=$(cat "$EMU_DIR/mqtt-port")
	EMU_URL="https://127.0.0.1:$EMU_PORT"
	EMU_CA="$EMU_DIR/ca.pem"
}

# emulator_stop: stop the emulator (the EXIT trap does it anyway).
emulator_stop() {
	kill "$EMU_PID" 2>/dev/null
	wait "$EMU_PID" 2>/dev/null
	return 0
}

# emulator_requests [OPERATION]: print how many API requests the emulator
# logged (only those for OPERATION, e.g. CreateCertificateFromCsr, if given).
emulator_requests() {
	"$PY" - "$EMU_DIR/requests.jsonl" "${1:-}" <<'EOF'
import json, sys
path, operation = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        entries = [json.loads(line) for line in f if line.strip()]
except FileNotFoundError:
    entries = []
print(sum(1 for e in entries if not operation or e["operation"] == operation))
EOF
}

# emulator_fault JSON: queue a fault for the next API request(s); see the
# docstring of tests/emulator/iot-emulator.py for the fields.
emulator_fault() {
	curl -sS --fail --cacert "$EMU_CA" -H 'Content-Type: application/json' \
		--data-binary "$1" "$EMU_URL/_emulator/faults" >/dev/null
}

# emulator_clear_faults: drop the faults not yet used.
emulator_clear_faults() {
	curl -sS --fail --cacert "$EMU_CA" -X DELETE \
		"$EMU_URL/_emulator/faults" >/dev/null
}

# emulator_held: how many responses "hold" faults hold now.
emulator_held() {
	curl -sS --fail --cacert "$EMU_CA" "$EMU_URL/_emulator/held" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["held"])'
}

# emulator_release: send every held response.
emulator_release() {
	curl -sS --fail --cacert "$EMU_CA" -X POST "$EMU_URL/_emulator/release" >/dev/null
}

# kill_when_held N PID: once the service holds N answers ("hold" faults),
# kill PID as a power cut would and reap it; then drop the faults left and
# release the held answers, which go to nobody (the service logs them).
_emulator_holds() {
	[ "$(emulator_held)" -ge "$1" ]
}
kill_when_held() {
	wait_until 300 "$1 answers held at the service" _emulator_holds "$1"
	kill -KILL "$2" 2>/dev/null
	wait "$2" 2>/dev/null
	emulator_clear_faults
	emulator_release
}

# need_aws_cli: AWS_CLI names Debian's awscli (v2; another aws on PATH may
# be a different major version), or the test is skipped as a whole.
need_aws_cli() {
	AWS_CLI=${AWS_CLI:-/usr/bin/aws}
	[ -x "$AWS_CLI" ] || AWS_CLI=$(command -v aws) || {
		echo "1..0 # SKIP aws CLI not installed"
		exit 0
	}
}

# emulator_aws ARGS...: the real aws CLI, as a peer client of the emulator
# with its credentials ("aws iot ARGS"); output on stdout.
emulator_aws() {
	(
		unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN \
			AWS_SECURITY_TOKEN AWS_REGION AWS_DEFAULT_REGION
		export AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY"
		export AWS_CA_BUNDLE="$EMU_CA" AWS_CONFIG_FILE=/dev/null \
			AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER='' \
			AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1
		exec aws --endpoint-url "$EMU_URL" --region eu-west-1 --output json iot "$@"
	)
}

# json_field FILE KEY[.KEY...]: one value of a JSON file, or nothing.
json_field() {
	"$PY" -c '
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value.get(key) if isinstance(value, dict) else None
    if value is None:
        break
print("" if value is None else value if isinstance(value, str) else json.dumps(value), end="")' "$1" "$2"
}

# emulator_control METHOD PATH [JSON]: a control call of the emulator
# (/_emulator/...); its JSON answer on stdout, failing on an HTTP error.
emulator_control() {
	curl -sS --fail-with-body --cacert "$EMU_CA" -X "$1" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$EMU_URL$2"
}

# emulator_mqtt_fault JSON: queue a fault for the next MQTT operation(s)
# (the emulator started with --mqtt); see the docstring for the fields.
emulator_mqtt_fault() {
	emulator_control POST /_emulator/mqtt-faults "$1" >/dev/null
}
