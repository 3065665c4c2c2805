#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: a run killed (SIGKILL, like a power loss) after each journaled
# step, a request lost in flight, concurrent runs and a full disk: every
# time the device ends either untouched-and-retryable or fully provisioned,
# with one key, one installed certificate for it and no second certificate
# requested once one was received.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

# The crash points exist only in the test build of the program; the
# installed one has none (checked below).
SHIPPED="$TPM_PROVISION"
TPM_PROVISION="$top_builddir/tests/tpm-provision-test"
[ -x "$TPM_PROVISION" ] || bail "no test build at $TPM_PROVISION (make check builds it)"

swtpm_start
emulator_start --region eu-west-1

HANDLE=0x81000002
args() {
	echo --thing-name gw-0042 --region eu-west-1 --tcti "$TCTI" --key-handle "$HANDLE" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}

# provisioned_with_tpm_key DIR: the last run exited 0 and DIR's certificate
# is for the key at HANDLE (openssl against tpm2-tools).
provisioned_with_tpm_key() {
	provisioned_with_key "$1" "$HANDLE"
}

# killed_whole STEP DIR: a run killed right after STEP left nothing
# half-written in DIR: no temporary file, and nothing installed before the
# install step; after it, the certificate and state.json (written last).
killed_whole() {
	if [ "$1" = installed ]; then
		[ -s "$2/certificate.pem" ] && [ -s "$2/state.json" ] && [ -z "$(find "$2" -name '.*tmp*')" ]
	else
		nothing_installed "$2"
	fi
}

persistent_count() {
	tpm2_getcap handles-persistent | grep -c '0x'
}

# --- killed after each step ------------------------------------------------------

for step in key-created csr-built request-sent certificate-received installed; do
	out="$TEST_DIR/crash-$step"
	tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
	creates=$(emulator_requests CreateCertificateFromCsr)
	# shellcheck disable=SC2046
	run TPM_PROVISION_TEST_CRASH_AT="$step" -- enroll $(args) --out-dir "$out"
	check "killed right after $step" [ "$RC" -eq 137 ]
	check "killed right after $step: nothing half-written" killed_whole "$step" "$out"
	keys=$(persistent_count)
	# shellcheck disable=SC2046
	run -- enroll $(args) --out-dir "$out"
	check "after a kill at $step the rerun provisions the device" provisioned_with_tpm_key "$out"
	[ "$RC" -eq 0 ] || diag "$(cat "$RUN_ERR")"
	check "after a kill at $step one key, reused" [ "$(persistent_count)" -eq "$keys" ]
	check "after a kill at $step exactly one certificate was requested" \
		[ "$(emulator_requests CreateCertificateFromCsr)" -eq $((creates + 1)) ]
	# shellcheck disable=SC2046
	run -- enroll $(args) --out-dir "$out"
	check "after a kill at $step a further run is a no-op" grep -q "already provisioned" "$RUN_ERR"
	check "after a kill at $step no journal of the request is left" [ ! -e "$out/request.json" ]
	check "after a kill at $step nothing is left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]
done

# --- a request lost in flight ------------------------------------------------------

# The service issues the certificate but the run dies before the answer:
# the answer is held at the service until the run is killed.
out="$TEST_DIR/in-flight"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "hold"}'
creates=$(emulator_requests CreateCertificateFromCsr)
# shellcheck disable=SC2046
env AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY" \
	"$TPM_PROVISION" enroll $(args) --out-dir "$out" >"$TEST_DIR/in-flight.out" 2>&1 &
pid=$!
register_pid "$pid"
kill_when_held 1 "$pid"
check "the lost request reached the service" \
	[ "$(emulator_requests CreateCertificateFromCsr)" -eq $((creates + 1)) ]
check "a request lost in flight: nothing installed" nothing_installed "$out"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out"
check "after a request lost in flight the rerun provisions the device" provisioned_with_tpm_key "$out"
installed_id=$(openssl x509 -in "$out/certificate.pem" -outform der | sha256sum | cut -d' ' -f1)
check "the rerun warns of the unused certificate and names the one to keep" \
	grep -q "may have left an unused certificate.*other than $installed_id" "$RUN_ERR"
check "after a request lost in flight nothing is left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]

# --- concurrent runs -------------------------------------------------------------

out="$TEST_DIR/concurrent"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
creates=$(emulator_requests CreateCertificateFromCsr)
emulator_fault '{"count": 1, "operation": "CreateCertificateFromCsr", "mode": "slow", "delay": 1}'
for i in 1 2; do
	# shellcheck disable=SC2046
	env AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY" \
		"$TPM_PROVISION" enroll $(args) --out-dir "$out" >"$TEST_DIR/concurrent-$i.out" 2>&1 &
	pids[i]=$!
	register_pid "${pids[i]}"
done
wait "${pids[1]}"
rc1=$?
wait "${pids[2]}"
rc2=$?
check "two concurrent runs both succeed" [ "$rc1$rc2" = 00 ]
check "one of them waited and found the device provisioned" \
	grep -q "already provisioned" "$TEST_DIR/concurrent-1.out" "$TEST_DIR/concurrent-2.out"
check "two concurrent runs requested one certificate" \
	[ "$(emulator_requests CreateCertificateFromCsr)" -eq $((creates + 1)) ]
check "two concurrent runs left nothing loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]

# --- checks before it starts --------------------------------------------------------

out="$TEST_DIR/locked"
mkdir -p "$out"
flock "$out/tpm-provision.lock" sleep 5 &
lock_pid=$!
register_pid "$lock_pid"
lock_held() { ! flock -n "$out/tpm-provision.lock" true; }
wait_until 60 "the lock held by another process" lock_held
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out" --deadline 1
expect_failure 75 "another tpm-provision run (PID [0-9]*) holds $out/tpm-provision.lock" "a run that cannot get the lock in time"
check "the waiting run said for which PID it waits" grep -q "^tpm-provision: waiting for the lock $out/tpm-provision.lock (held by PID [0-9]*)" "$RUN_ERR"
check "the run that could not get the lock installed nothing" nothing_installed "$out"
wait "$lock_pid"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out"
check "with the lock released the rerun provisions the device" provisioned_with_tpm_key "$out"

out="$TEST_DIR/clock"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
creates=$(emulator_requests)
printf '#!/bin/sh\n# ASan wants to come first; faketime preloads itself before it.\nASAN_OPTIONS=verify_asan_link_order=0 exec faketime "2001-01-01 00:00:00" "%s" "$@"\n' "$TPM_PROVISION" >"$TEST_DIR/tp-in-2001"
chmod +x "$TEST_DIR/tp-in-2001"
# shellcheck disable=SC2046
TPM_PROVISION="$TEST_DIR/tp-in-2001" run -- enroll $(args) --out-dir "$out" --deadline 1
expect_failure 75 "the system clock (2001-01-01T00:00:0[0-9]Z) is before this program was built" \
	"a clock before the build date is a temporary failure"
check "nothing was sent with an unset clock" [ "$(emulator_requests)" -eq "$creates" ]
check "an unset clock: nothing installed" nothing_installed "$out"
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out"
check "with the clock set the rerun provisions the device" provisioned_with_tpm_key "$out"

# --- a full disk ---------------------------------------------------------------------

out="$TEST_DIR/full"
mkdir -p "$out"
if mount -t tmpfs -o size=64k,mode=0755 tmpfs "$out" 2>/dev/null; then
	_mounted=$out
	trap 'umount "$_mounted" 2>/dev/null; cleanup' EXIT
	dd if=/dev/zero of="$out/filler" bs=4k 2>/dev/null
	tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
	# shellcheck disable=SC2046
	run -- enroll $(args) --out-dir "$out"
	expect_failure 74 "No space left on device" "a full disk is an I/O failure"
	check "a full disk leaves no temporary file behind" [ -z "$(find "$out" -name '.*tmp*')" ]
	check "a full disk installs no certificate" [ ! -e "$out/certificate.pem" ]
	check "a full disk installs no state" [ ! -e "$out/state.json" ]
	check "a full disk: nothing left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]
	rm -f "$out/filler"
	# shellcheck disable=SC2046
	run -- enroll $(args) --out-dir "$out"
	check "with space again the rerun provisions the device" provisioned_with_tpm_key "$out"
	umount "$out"
else
	skip "cannot mount a tmpfs here (not root?)"
fi

# --- the TPM out of object memory ----------------------------------------------------

# Without a resource manager, objects others left loaded fill the TPM's
# transient slots; the run fails with TPM_RC_OBJECT_MEMORY, writes nothing,
# and provisions once they are flushed.
out="$TEST_DIR/object-memory"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
for i in 1 2 3 4 5; do
	tpm2_createprimary -C o -c "$TEST_DIR/filler$i.ctx" >/dev/null 2>&1 || break
done
loaded=$(tpm_transient_count)
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out"
expect_failure 74 "TPM .* failed: .*0x902" "a TPM out of object memory is a TPM failure with its code"
check "out of object memory: nothing installed" nothing_installed "$out"
check "out of object memory: the run left nothing more loaded" [ "$(tpm_transient_count)" -eq "$loaded" ]
tpm2_flushcontext -t
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out"
check "with the slots free again the rerun provisions the device" provisioned_with_tpm_key "$out"

# --- the TPM killed in the middle of a run ------------------------------------------

# The key is made, then the TPM dies (swtpm killed) before the CSR is
# signed in it: one line naming the lost TPM, nothing installed; with the
# TPM back (same state), the rerun reuses the key and provisions the device.
out="$TEST_DIR/tpm-killed"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
pause="$TEST_DIR/paused"
(
	# shellcheck disable=SC2046
	run TPM_PROVISION_TEST_PAUSE_AT=key-created TPM_PROVISION_TEST_PAUSE_FILE="$pause" -- enroll $(args) \
		--out-dir "$out"
	echo "$RC" >"$TEST_DIR/killed-rc"
) &
run_pid=$!
wait_until 300 "the run paused after creating the key" [ -e "$pause" ]
kill -KILL "$SWTPM_PID"
wait "$SWTPM_PID" 2>/dev/null
rm -f "$pause"
wait "$run_pid"
RC=$(cat "$TEST_DIR/killed-rc")
expect_failure 74 "TPM" "the TPM killed mid-run: one line naming the TPM"

check "the TPM killed mid-run: nothing installed" nothing_installed "$out"
swtpm_start
# shellcheck disable=SC2046
run -- enroll $(args) --out-dir "$out"
reused_and_provisioned() {
	grep -q "^tpm-provision: reusing" "$RUN_ERR" && provisioned_with_tpm_key "$out"
}
check "with the TPM back the rerun reuses the key and provisions the device" reused_and_provisioned
check "nothing left loaded in the restarted TPM" [ "$(tpm_transient_count)" -eq 0 ]

# --- a read-only output directory ------------------------------------------------------

out="$TEST_DIR/read-only"
mkdir -p "$out"
if mount -t tmpfs -o size=1m,mode=0755,ro tmpfs "$out" 2>/dev/null; then
	_mounted=$out
	trap 'umount "$_mounted" 2>/dev/null; cleanup' EXIT
	tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
	# shellcheck disable=SC2046
	run -- enroll $(args) --out-dir "$out"
	expect_failure 74 "Read-only file system" "a read-only out-dir is an I/O failure"
	check "a read-only out-dir: no key made" [ "$(tpm2_getcap handles-persistent | grep -c "$HANDLE")" -eq 0 ]
	mount -o remount,rw "$out"
	# shellcheck disable=SC2046
	run -- enroll $(args) --out-dir "$out"
	check "writable again, the rerun provisions the device" provisioned_with_tpm_key "$out"
	umount "$out"
else
	skip "cannot mount a tmpfs here (not root?)"
fi

# --- the installed program has no crash points ------------------------------------

out="$TEST_DIR/shipped"
tpm2_evictcontrol -C o -c "$HANDLE" >/dev/null 2>&1
TPM_PROVISION="$SHIPPED"
# shellcheck disable=SC2046
run TPM_PROVISION_TEST_CRASH_AT=key-created -- enroll $(args) --out-dir "$out"
check "the installed program ignores the test crash points" provisioned_with_tpm_key "$out"
check "the installed program does not carry the test hook" \
	bash -c '! grep -q TPM_PROVISION_TEST_CRASH_AT "$1"' _ "$SHIPPED"

check "nothing left loaded in the TPM" [ "$(tpm_transient_count)" -eq 0 ]
done_testing
