#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: hostile and sloppy input is refused with one line, a
# documented exit code, and nothing done: FIFOs where files are expected
# (which would block forever; the CA bundle too), JSON with trailing text,
# hidden NULs or raw control characters, an octal-looking handle, empty
# names, options a command does not use or abbreviated, TCTIs hidden inside
# pcap:, values agent.env cannot hold; values with newlines stay on their
# line on stderr and in the sd_notify status.
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

# --- a service that does not speak HTTP ---------------------------------------------------

# It answers every connection with a line of another protocol: a bad
# answer (65), not a configuration error; nothing half-written.
port=$(free_port_pair)
"$PY" - "$port" <<'PYEOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        c.recv(65536)
        c.sendall(b"220 mail.example ESMTP ready\r\n")
    except OSError:
        pass
    c.close()
PYEOF
register_pid $!
wait_port "$port" $! || bail "the test server did not start"
run -- enroll "${base[@]}" --tcti "$TCTI" --key-handle 0x81000031 --out-dir "$TEST_DIR/o7b" --insecure-http-loopback \
	--endpoint-url "http://127.0.0.1:$port"
expect_failure 65 "http://127.0.0.1:$port/certificates?setAsActive=true: .*not an HTTP answer" \
	"an answer that is not HTTP is a bad answer (65), not a configuration error"
check "nothing installed after an answer that is not HTTP" nothing_installed "$TEST_DIR/o7b"

# --- TCTIs that wrap another: pcap:CHILD -------------------------------------------------

# A library that says when it is loaded, and a file a TCTI must never write.
cat >"$TEST_DIR/evil.c" <<EOS
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void)
{
	close(open("$TEST_DIR/evil-loaded", O_WRONLY | O_CREAT, 0600));
}
EOS
"${CC:-cc}" -shared -fPIC -o "$TEST_DIR/evil.so" "$TEST_DIR/evil.c" || bail "cannot build the test library"
printf 'keep\n' >"$TEST_DIR/regular"
pcap=(TCTI_PCAP_FILE="$TEST_DIR/capture.pcap")
run "${pcap[@]}" -- enroll "${base[@]}" --tcti "pcap:$TEST_DIR/evil.so" --out-dir "$TEST_DIR/o30"
expect_failure 64 "\"pcap:$TEST_DIR/evil.so\" wraps the TCTI \"$TEST_DIR/evil.so\", which does not name a TCTI module" \
	"pcap:LIBRARY is refused as any library path is"
check "the library was not loaded" [ ! -e "$TEST_DIR/evil-loaded" ]
run "${pcap[@]}" -- enroll "${base[@]}" --tcti "pcap:device:$TEST_DIR/regular" --out-dir "$TEST_DIR/o31"
expect_failure 64 "wraps the TCTI \"device:$TEST_DIR/regular\", which names a device that is not a character device" \
	"pcap:device:FILE is refused as device:FILE is"
check "the file was not written" [ "$(cat "$TEST_DIR/regular")" = keep ]
run "${pcap[@]}" -- enroll "${base[@]}" --tcti "pcap:pcap:cmd:touch $TEST_DIR/cmd-ran" --out-dir "$TEST_DIR/o32"
expect_failure 64 "wraps the TCTI \"cmd:touch $TEST_DIR/cmd-ran\", which does not name" \
	"a TCTI wrapped twice is checked all the way down (no cmd)"
check "nothing was opened or run for any of them" \
	bash -c '[ ! -e "$1/cmd-ran" ] && [ ! -e "$1/capture.pcap" ] && [ ! -e "$1/o30" ] && [ ! -e "$1/o31" ]' _ "$TEST_DIR"
run "${pcap[@]}" -- enroll "${base[@]}" --tcti "pcap:swtpm:host=127.0.0.1,port=1" --out-dir "$TEST_DIR/o33"
expect_failure 74 "TPM not reachable at TCTI \"pcap:swtpm:" "pcap wrapping an allowed TCTI is accepted"

# --- the CA bundle: an input file, checked before anything is done ------------------

# A handle of their own: a key made there would show.
svc=(--endpoint-url https://127.0.0.1:1 --key-handle 0x81000060)
no_key_made() { # OUT-DIR
	[ ! -e "$1/journal.json" ] && ! tpm2_readpublic -c 0x81000060 >/dev/null 2>&1
}
run -- enroll "${base[@]}" --tcti "$TCTI" "${svc[@]}" --out-dir "$TEST_DIR/o34" --ca-bundle "$TEST_DIR/fifo"
expect_failure 78 "CA bundle $TEST_DIR/fifo (from --ca-bundle) is not a regular file" "a FIFO as --ca-bundle is refused at once"
check "no key was made for it" no_key_made "$TEST_DIR/o34"
run AWS_CA_BUNDLE="$TEST_DIR/fifo" -- enroll "${base[@]}" --tcti "$TCTI" "${svc[@]}" --out-dir "$TEST_DIR/o35"
expect_failure 78 "fifo (from AWS_CA_BUNDLE) is not a regular file" "a FIFO as AWS_CA_BUNDLE is refused at once"
check "no key was made for it" no_key_made "$TEST_DIR/o35"
run -- enroll "${base[@]}" --tcti "$TCTI" "${svc[@]}" --out-dir "$TEST_DIR/o36" --ca-bundle "$TEST_DIR/no-such-bundle.pem"
expect_failure 78 "CA bundle $TEST_DIR/no-such-bundle.pem (from --ca-bundle) does not exist" \
	"a missing --ca-bundle is named before anything is done"
check "no key was made for it" no_key_made "$TEST_DIR/o36"
run -- enroll "${base[@]}" "${svc[@]}" --out-dir "$TEST_DIR/o37" --ca-bundle "$TEST_DIR"
expect_failure 78 "(from --ca-bundle) is a directory, not a file" "a directory as --ca-bundle is refused"
run AWS_CA_BUNDLE="$TEST_DIR/fifo" -- csr --thing-name gw-0042 --tcti swtpm:host=127.0.0.1,port=1 --deadline 2 \
	--out "$TEST_DIR/o38.csr"
expect_failure 74 "TPM" "AWS_CA_BUNDLE is not looked at by a command that does not use the service"

# --- raw control characters in the config file --------------------------------------

printf '{"thing-name": "gw\0,O=evil"}' >"$TEST_DIR/rawnul.json"
run -- enroll --region eu-west-1 --tcti swtpm:host=127.0.0.1,port=1 --deadline 2 --out-dir "$TEST_DIR/o39" \
	--config "$TEST_DIR/rawnul.json"
expect_failure 78 "config $TEST_DIR/rawnul.json: a NUL byte at byte 18" "a raw NUL in a config string is refused, not cut short"
printf '{"thing-name": "gw\n"}' >"$TEST_DIR/rawnl.json"
run -- enroll --region eu-west-1 --tcti swtpm:host=127.0.0.1,port=1 --deadline 2 --out-dir "$TEST_DIR/o39" \
	--config "$TEST_DIR/rawnl.json"
expect_failure 78 "rawnl.json: a control character (0x0a) at byte 18" "a raw newline in a config string is refused"
printf '{\001"thing-name": "gw"}' >"$TEST_DIR/rawctl.json"
run -- enroll --region eu-west-1 --tcti swtpm:host=127.0.0.1,port=1 --deadline 2 --out-dir "$TEST_DIR/o39" \
	--config "$TEST_DIR/rawctl.json"
expect_failure 78 "rawctl.json: a control character (0x01) at byte 1" "a control character between tokens is refused"

# --- values on the human lines and in the unit's status --------------------------------

# An output directory whose name holds a newline and an sd_notify assignment,
# its lock held, so that the step "waiting for the lock DIR/..." shows it.
odir="$TEST_DIR/o40"$'\n''READY=1'
mkdir -m 0755 "$odir"
flock "$odir/tpm-provision.lock" sleep 8 &
register_pid $!
lock_held() { ! flock -n "$odir/tpm-provision.lock" true; }
wait_until 60 "the lock held by another process" lock_held
"$PY" - "$TEST_DIR/notify.sock" "$TEST_DIR/notify.log" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\0")
PYEOF
register_pid $!
wait_until 60 "the notify socket" [ -S "$TEST_DIR/notify.sock" ]
run NOTIFY_SOCKET="$TEST_DIR/notify.sock" -- enroll "${base[@]}" --out-dir "$odir"
expect_failure 75 "lock" "a held lock: the run gives up at the deadline, with one error line"
check "the step line shows the newline escaped, on one line" grep -qF 'o40\nREADY=1/tpm-provision.lock' "$RUN_ERR"
check "no line of stderr was forged" not grep -q '^READY' "$RUN_ERR"
# A datagram of the test's own after the run's: once it is logged, every
# datagram the run sent is (a datagram socket keeps their order).
"$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"TEST_END=1", sys.argv[1])' \
	"$TEST_DIR/notify.sock"
wait_until 60 "the notify log" grep -qa TEST_END=1 "$TEST_DIR/notify.log"
notified() {
	"$PY" - "$TEST_DIR/notify.log" <<'PYEOF'
import sys
msgs = [m for m in open(sys.argv[1], "rb").read().split(b"\0") if m]
lines = [l for m in msgs for l in m.split(b"\n")]
sys.exit(0 if any(l.startswith(b"STATUS=waiting for the lock") and b"o40\\nREADY=1" in l for l in lines)
         and not any(l.startswith(b"READY=") for l in lines) else 1)
PYEOF
}
check "sd_notify: the status names the directory escaped, and sends no READY=1" notified

# --- agent.env holds UTF-8 only ---------------------------------------------------------

run -- enroll "${base[@]}" --agent env --out-dir "$TEST_DIR/o41"$'\xff'
# (grep -a: the error line quotes the value, byte for byte)
check "a value agent.env would hold that is not UTF-8 is refused (exit 64)" \
	bash -c '[ "$1" -eq 64 ] && [ "$(wc -l <"$2")" -eq 1 ] && LC_ALL=C grep -aq -- "--out-dir \".*\" is not valid UTF-8" "$2"' \
	_ "$RC" "$RUN_ERR"
run -- enroll "${base[@]}" --agent env --out-dir "$TEST_DIR/o41"$'\xc3\xa9'
expect_failure 74 "TPM" "a UTF-8 value is accepted"

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
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o20" --key x
expect_failure 64 'option "--key" is ambiguous (--key-handle, --key-alg, --key-file, --key-auth-file)' \
	"an abbreviation of several options lists them"
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/o20" -v -q
expect_failure 64 '-v (--verbose) and -q (--quiet) exclude each other' "-v and -q together are refused"
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

# --- the special files replaced by regular ones: the device provisions --------------

# The runs refused for a FIFO, a device or a directory left nothing behind
# (not even a key journal), nothing loaded in the TPM, and with regular
# files in their place the same output directories provision.
left_nothing() { # OUT-DIR...
	local d
	for d in "$@"; do
		[ -z "$(ls -A "$d" 2>/dev/null | grep -vx tpm-provision.lock)" ] || return 1
	done
}
check "the runs given a FIFO, a device or a directory wrote nothing" \
	left_nothing "$TEST_DIR"/o1 "$TEST_DIR"/o2 "$TEST_DIR"/o3 "$TEST_DIR"/o4 "$TEST_DIR"/o5 "$TEST_DIR"/o6 \
	"$TEST_DIR"/o34 "$TEST_DIR"/o35 "$TEST_DIR"/o36 "$TEST_DIR"/o37
check "nothing left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]
emulator_start --region eu-west-1
printf '{"thing-name": "gw-0042", "region": "eu-west-1"}\n' >"$TEST_DIR/regular.json"
printf 'correct horse\n' >"$TEST_DIR/regular-auth"
cp "$EMU_CA" "$TEST_DIR/regular-bundle.pem"
run -- enroll --config "$TEST_DIR/regular.json" --tcti "$TCTI" --key-handle 0x81000062 \
	--key-auth-file "$TEST_DIR/regular-auth" --endpoint-url "$EMU_URL" --ca-bundle "$TEST_DIR/regular-bundle.pem" \
	--out-dir "$TEST_DIR/o3"
check "with a regular config, key auth file and CA bundle, the rerun provisions the device" \
	provisioned_with_key "$TEST_DIR/o3" 0x81000062
check "... and leaves nothing loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]

# A key auth file: one rule with OpenSSL's -passin file: (the first line,
# its final LF dropped).  OpenSSL keeps a CR, so a CRLF file is refused.
printf 'secret\r\n' >"$TEST_DIR/auth-crlf"
printf 'secret\nmore\n' >"$TEST_DIR/auth-2lines"
pk() { openssl enc -aes-128-cbc -pbkdf2 -S 00 -P -pass "$1" 2>/dev/null | grep '^key'; }
check "openssl -pass file: reads a CRLF file as other than its text" [ "$(pk file:"$TEST_DIR/auth-crlf")" != "$(pk pass:secret)" ]
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/oa1" --key-auth-file "$TEST_DIR/auth-crlf"
expect_failure 78 "auth-crlf contains a carriage return" "a CRLF key auth file is refused, naming it"
check "nothing was made for it" [ ! -e "$TEST_DIR/oa1/journal.json" ]
run -- enroll "${base[@]}" --out-dir "$TEST_DIR/oa2" --key-auth-file "$TEST_DIR/auth-2lines"
expect_failure 78 "auth-2lines has more than one line" "a key auth file of two lines is refused, naming it"
check "nothing was made for it" [ ! -e "$TEST_DIR/oa2/journal.json" ]
done_testing
