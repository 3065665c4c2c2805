#!/bin/bash
# End to end: hostile and sloppy input is refused with one line, a
# documented exit code, and nothing done: FIFOs where files are expected
# (which would block forever), JSON with trailing text or hidden NULs, an
# octal-looking handle, empty names, options a command does not use.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

EMU_ACCESS_KEY_ID=AKIAHOSTILETEST EMU_SECRET_ACCESS_KEY=not-used
base=(--thing-name gw-0042 --region eu-west-1 --tcti swtpm:host=127.0.0.1,port=1 --deadline 2)

# Every run must finish within 10 s: a FIFO that blocks fails the test
# point (exit 124) instead of hanging the suite.
cat >"$TEST_DIR/timeout-run" <<EOS
#!/bin/sh
exec timeout 10 "$TPM_PROVISION" "\$@"
EOS
chmod +x "$TEST_DIR/timeout-run"
TPM_PROVISION="$TEST_DIR/timeout-run"

# --- FIFOs and other special files ---------------------------------------------------

mkfifo "$TEST_DIR/fifo"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o1" --config "$TEST_DIR/fifo"
expect_failure 78 "fifo is not a regular file" "a FIFO as --config is refused at once"
run AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SHARED_CREDENTIALS_FILE="$TEST_DIR/fifo" -- \
	enroll "${base[@]}" --out-dir "$TEST_DIR/o2"
expect_failure 78 "fifo is not a regular file" "a FIFO as the credentials file is refused at once"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o3" --key-auth-file "$TEST_DIR/fifo"
expect_failure 78 "fifo is not a regular file" "a FIFO as --key-auth-file is refused at once"
mkdir -p "$TEST_DIR/creds"
mkfifo "$TEST_DIR/creds/aws-access-key-id"
run AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= CREDENTIALS_DIRECTORY="$TEST_DIR/creds" -- \
	enroll "${base[@]}" --out-dir "$TEST_DIR/o4"
expect_failure 78 "credential .*aws-access-key-id is not a regular file" "a FIFO as a systemd credential is refused at once"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o5" --config /dev/zero
expect_failure 78 "/dev/zero is not a regular file" "a device as --config is refused"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o6" --config "$TEST_DIR"
expect_failure 78 "is a directory, not a file" "a directory as --config is refused"

# --- lenient parsing -----------------------------------------------------------------

printf '{"thing-name": "gw-0042"} {"region": "x"}' >"$TEST_DIR/two.json"
run -- enroll "${base[@]}" --config "$TEST_DIR/two.json"
expect_failure 78 "two.json: text after the JSON object" "a second JSON object in the config file is refused"
printf '{"thing-name": "gw-0042"}garbage' >"$TEST_DIR/garbage.json"
run -- enroll "${base[@]}" --config "$TEST_DIR/garbage.json"
expect_failure 78 "garbage.json: text after the JSON object" "trailing garbage in the config file is refused"
printf '{"thing-name": "gw\\u0000,O=evil"}' >"$TEST_DIR/nul.json"
run -- enroll --region eu-west-1 --config "$TEST_DIR/nul.json"
expect_failure 78 'a string holds a NUL character' "a NUL hidden in a config string is refused, not cut short"
run -- enroll "${base[@]}" --key-handle 020100000002
expect_failure 64 '"020100000002" is not a persistent handle' "a handle with a leading 0 is not read as octal"
printf '{"agent": [""]}' >"$TEST_DIR/agent.json"
run -- enroll "${base[@]}" --config "$TEST_DIR/agent.json"
expect_failure 78 '"agent": "" names an agent other than' "an empty agent name is refused"
run -- register "${base[@]}" --cert /nonexistent --key-auth-file /nonexistent
expect_failure 64 'option "--key-auth-file" is not one of this command' "register does not take a key auth file it would never read"

# --- a service answer with a monstrous header -------------------------------------------

port=$(free_port_pair)
"$PY" - "$port" <<'PYEOF' &
import http.server, sys
class Huge(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(200)
        self.send_header("x-amzn-RequestId", "x" * 150000)
        self.end_headers()
        self.wfile.write(b"{}")
    do_GET = do_POST
    def log_message(self, *args):
        pass
class Quiet(http.server.HTTPServer):
    def handle_error(self, *args):
        pass  # the client hangs up on the huge header: expected
Quiet(("127.0.0.1", int(sys.argv[1])), Huge).serve_forever()
PYEOF
register_pid $!
wait_port "$port" $! || bail "the test server did not start"
swtpm_start
run -- enroll "${base[@]}" --tcti "$TCTI" --out-dir "$TEST_DIR/o7" --insecure-http-loopback \
	--endpoint-url "http://127.0.0.1:$port"
expect_failure 65 "a malformed answer: .*header over 100 KB" "a header over 100 KB is a malformed answer, not out of memory"

# --- directories others can write, problems found only at install time ------------------

mkdir -m 0777 "$TEST_DIR/shared"
run -- enroll "${base[@]}" --tcti "$TCTI" --out-dir "$TEST_DIR/shared"
expect_failure 78 "directory $TEST_DIR/shared is writable by group or others (mode 0777)" \
	"an out-dir others can write is refused with its mode"
check "nothing was written into it" [ -z "$(ls -A "$TEST_DIR/shared")" ]
mkdir -m 0775 "$TEST_DIR/keys-shared"
run -- enroll "${base[@]}" --tcti "$TCTI" --out-dir "$TEST_DIR/o8" --key-file "$TEST_DIR/keys-shared/k.pem"
expect_failure 78 "keys-shared is writable by group or others (mode 0775)" "a key file directory others can write is refused"
run -- enroll "${base[@]}" --tcti "$TCTI" --out-dir "$TEST_DIR/o9" --root-ca "$TEST_DIR/no-such-ca.pem"
expect_failure 78 "no-such-ca.pem does not exist" "a missing --root-ca is found before anything is done"
check "no key was made for it" [ ! -e "$TEST_DIR/o9/journal.json" ]
check "the out-dir the program made is 0755" [ "$(stat -c %a "$TEST_DIR/o9")" = 755 ]

# One rule for input files: missing, not a file, or not openable: 78.
run -- register "${base[@]}" --tcti "$TCTI" --out-dir "$TEST_DIR/o10" --cert "$TEST_DIR/no-such.pem" --no-ca
expect_failure 78 "certificate file .*no-such.pem does not exist" "a missing --cert is a configuration error"
run -- register "${base[@]}" --tcti "$TCTI" --out-dir "$TEST_DIR/o10" --cert "$TEST_DIR" --no-ca
expect_failure 78 "is a directory, not a file" "a directory as --cert is a configuration error"
run AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SHARED_CREDENTIALS_FILE="$TEST_DIR" -- \
	enroll "${base[@]}" --out-dir "$TEST_DIR/o11"
expect_failure 78 "is a directory, not a file" "a directory as the credentials file is a configuration error"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o12" --root-ca "$TEST_DIR"
expect_failure 78 "is a directory, not a file" "a directory as --root-ca is a configuration error"

# --- spelling ------------------------------------------------------------------------

run -- enrol "${base[@]}"
check "a misspelt command gets a suggestion, in one line, exit 64" \
	bash -c '[ "$2" -eq 64 ] && [ "$(wc -l <"$1")" -eq 1 ] && grep -q "unknown command \"enrol\": did you mean enroll?" "$1"' \
	_ "$RUN_ERR" "$RC"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o20" --regoin eu-west-1
expect_failure 64 'unknown option "--regoin": did you mean --region?' "a misspelt option gets a suggestion"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o20" --thing gw
expect_failure 64 'option "--thing" is abbreviated: write it out, --thing-name' "an abbreviated option is refused"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o20" --cert x.pem
expect_failure 64 'option "--cert" is not one of this command' "another command's option says so"
run -- help batch
check "help COMMAND prints that command's help" grep -q "^usage: tpm-provision batch" "$RUN_OUT"
printf '{"deadlin": 30}\n' >"$TEST_DIR/typo.json"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o20" --config "$TEST_DIR/typo.json"
expect_failure 78 'unknown key "deadlin": did you mean "deadline"?' "a misspelt config key gets a suggestion"
printf '{"deadline": 0.5}\n' >"$TEST_DIR/number.json"
run -- enroll --thing-name gw-0042 --region eu-west-1 --tcti swtpm:host=127.0.0.1,port=1 \
	--out-dir "$TEST_DIR/o20" --config "$TEST_DIR/number.json"
expect_failure 78 '"deadline": "0.5" is not a number of seconds' "a config number is checked as the option's value"
printf '{"deadline": 2}\n' >"$TEST_DIR/number.json"
run -- enroll --thing-name gw-0042 --region eu-west-1 --tcti swtpm:host=127.0.0.1,port=1 \
	--out-dir "$TEST_DIR/o21" --config "$TEST_DIR/number.json"
expect_failure 74 "TPM" "\"deadline\": 2 (a JSON number) is accepted"

check "nothing was created by any of these runs" \
	bash -c 'for d in "$1"/o1 "$1"/o2 "$1"/o4 "$1"/o5 "$1"/o6; do [ ! -e "$d/journal.json" ] || exit 1; done' _ "$TEST_DIR"
done_testing
