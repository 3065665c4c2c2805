# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the end-to-end tests (sourced by bash TAP scripts).
#
# Every test gets its own scratch directory, its own swtpm on a free loopback
# port pair and its own certificate service emulator.  Everything a test
# starts is registered here and stopped by the EXIT trap, also when the test
# fails half way.

set -u

# Debian's interpreter: the emulator needs Debian's python3-cryptography.
PY=/usr/bin/python3

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
TPM_PROVISION="${TPM_PROVISION:-$top_builddir/tpm-provision}"

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tpmprov-test.XXXXXX")
_pids=()
_tap_n=0
_tap_failed=0

cleanup() {
	local pid
	for pid in "${_pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${_pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [ "$_tap_failed" -ne 0 ] && [ -n "${KEEP_TEST_DIR:-}" ]; then
		echo "# test directory kept: $TEST_DIR"
	else
		rm -rf "$TEST_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# register_pid PID: stop PID when the test exits.
register_pid() {
	_pids+=("$1")
}

# --- TAP --------------------------------------------------------------------

plan() {
	echo "1..$1"
}

# done_testing: the plan, at the end (a test that dies early has none, which
# the TAP driver reports as an error).
done_testing() {
	echo "1..$_tap_n"
}

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
}

diag() {
	printf '# %s\n' "$@"
}

# check DESCRIPTION COMMAND...: one test point, passing when COMMAND exits 0.
check() {
	local desc=$1
	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
}

# skip REASON: a test point that cannot run here: counted, and reported as
# a skip, neither a pass nor a failure.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n # SKIP $1"
}

# not COMMAND...: succeeds when COMMAND fails (for check).
not() {
	! "$@"
}

# bail REASON: the test cannot go on (an environment problem, not a pass).
bail() {
	echo "Bail out! $1"
	exit 1
}

# --- free loopback ports ----------------------------------------------------

# free_port_pair: print a port P such that P and P+1 are both free on
# 127.0.0.1 (swtpm's TCTI uses P for commands and P+1 for control).
free_port_pair() {
	"$PY" - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 60000, 2)
    socks = []
    try:
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p)
    break
else:
    raise SystemExit("no free port pair")
EOF
}

# --- swtpm --------------------------------------------------------------------

# swtpm_start: start a fresh TPM; sets TCTI (for tpm-provision and
# tpm2-tools), SWTPM_PORT, SWTPM_PID.
swtpm_start() {
	local state="$TEST_DIR/swtpm" port i
	mkdir -p "$state"
	for i in 1 2 3 4 5; do
		port=$(free_port_pair) || bail "no free port for swtpm"
		swtpm socket --tpm2 --tpmstate dir="$state" \
			--server type=tcp,port="$port",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear \
			--log file="$state/swtpm.log" >/dev/null 2>&1 &
		SWTPM_PID=$!
		register_pid "$SWTPM_PID"
		if wait_port "$port" "$SWTPM_PID"; then
			SWTPM_PORT=$port
			TCTI="swtpm:host=127.0.0.1,port=$port"
			export TPM2TOOLS_TCTI="$TCTI"
			[ "${E2E_TPM_RM:-}" != tabrmd ] || abrmd_start
			return 0
		fi
	done
	bail "swtpm did not start"
}

swtpm_stop() {
	if [ -n "${ABRMD_PID:-}" ]; then
		kill "$ABRMD_PID" 2>/dev/null
		wait "$ABRMD_PID" 2>/dev/null
		ABRMD_PID=
	fi
	kill "$SWTPM_PID" 2>/dev/null
	wait "$SWTPM_PID" 2>/dev/null
}

# --- tpm2-abrmd -------------------------------------------------------------------

# abrmd_start: put tpm2-abrmd, on a private D-Bus session bus, in front of the
# swtpm swtpm_start started, as the kernel's resource manager is in front of a
# device's TPM; TCTI becomes tabrmd:bus_type=session.  With
# E2E_TPM_RM=tabrmd in the environment, swtpm_start does this for every test.
abrmd_start() {
	local root_flag=()
	export DBUS_SESSION_BUS_ADDRESS="unix:path=$TEST_DIR/dbus.socket"
	if [ -z "${DBUS_PID:-}" ]; then
		dbus-daemon --session --nofork --nopidfile --address="$DBUS_SESSION_BUS_ADDRESS" \
			>"$TEST_DIR/dbus.log" 2>&1 &
		DBUS_PID=$!
		register_pid "$DBUS_PID"
		wait_until 60 "dbus-daemon's socket" [ -S "$TEST_DIR/dbus.socket" ]
	fi
	# A test that stopped swtpm itself left the old one holding the bus name.
	[ -z "${ABRMD_PID:-}" ] || { kill "$ABRMD_PID" 2>/dev/null; wait "$ABRMD_PID" 2>/dev/null; }
	[ "$(id -u)" -ne 0 ] || root_flag=(--allow-root)
	tpm2-abrmd --session "${root_flag[@]}" --flush-all --tcti="$TCTI" >"$TEST_DIR/abrmd.log" 2>&1 &
	ABRMD_PID=$!
	register_pid "$ABRMD_PID"
	TCTI=tabrmd:bus_type=session
	export TPM2TOOLS_TCTI="$TCTI"
	local end=$((SECONDS + 60))
	until tpm2_getcap properties-fixed >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || bail "tpm2-abrmd did not start: $(cat "$TEST_DIR/abrmd.log")"
		sleep 0.05
	done
}

# wait_until SECONDS WHAT COMMAND...: poll COMMAND until it succeeds; bail
# out naming WHAT after SECONDS.  A test that must act at a moment (kill a
# run, break the TPM) waits for the state that defines the moment, never
# for a fixed time; the bound only catches a hang and is generous for
# valgrind.
wait_until() {
	local secs=$1 end=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || bail "timed out after ${secs}s waiting for $what"
		sleep 0.05
	done
}

# wait_port PORT PID: wait until PORT on 127.0.0.1 accepts connections while
# PID is alive.
wait_port() {
	local port=$1 pid=$2 end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# tpm_transient_count / tpm_session_count: what is left loaded in the TPM.
tpm_transient_count() {
	tpm2_getcap handles-transient | grep -c '0x'
}

tpm_session_count() {
	tpm2_getcap handles-loaded-session | grep -c '0x'
}

# --- running tpm-provision -----------------------------------------------------

RUN_OUT="$TEST_DIR/run.out"
RUN_ERR="$TEST_DIR/run.err"

# run [ENV=VALUE...] -- ARGS...: run tpm-provision with the emulator's
# credentials in an otherwise clean AWS environment; exit status in $RC,
# output in RUN_OUT and RUN_ERR, and all output kept in $TEST_DIR/all-output
# (checked for secrets).
run() {
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	env -u AWS_SESSION_TOKEN -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_CA_BUNDLE -u AWS_PROFILE \
		-u CREDENTIALS_DIRECTORY HOME="$TEST_DIR" \
		AWS_SHARED_CREDENTIALS_FILE="$TEST_DIR/no-credentials-file" \
		AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY" \
		"${envs[@]}" "$TPM_PROVISION" "$@" >"$RUN_OUT" 2>"$RUN_ERR"
	RC=$?
	cat "$RUN_OUT" "$RUN_ERR" >>"$TEST_DIR/all-output"
	return 0
}

# expect_failure CODE PATTERN DESCRIPTION: the last run failed with CODE and
# printed one error line ("tpm-provision COMMAND: ...", besides notes such
# as retries, "tpm-provision: ...") matching PATTERN.
expect_failure() {
	local errors
	errors=$(grep -v '^tpm-provision: ' "$RUN_ERR")
	if [ "$RC" -eq "$1" ] && [ "$(printf '%s\n' "$errors" | wc -l)" -eq 1 ] &&
		printf '%s\n' "$errors" | grep -q -- "$2"; then
		ok "$3 (exit $RC)"
	else
		not_ok "$3: exit $RC, want $1; stderr: $(cat "$RUN_ERR")"
	fi
}

# succeeded_with FILE: the last run exited 0 and FILE is not empty.
succeeded_with() {
	[ "$RC" -eq 0 ] && [ -s "$1" ]
}

# provisioned_with_key DIR HANDLE: the last run exited 0, DIR has its
# state.json, and DIR's certificate is for the key persisted at HANDLE
# (openssl against tpm2-tools).
provisioned_with_key() {
	[ "$RC" -eq 0 ] && [ -s "$1/state.json" ] || return 1
	tpm2_readpublic -c "$2" -f pem -o "$TEST_DIR/provisioned-key.pem" >/dev/null &&
		cmp -s <(openssl x509 -in "$1/certificate.pem" -pubkey -noout | openssl pkey -pubin -outform der) \
			<(openssl pkey -pubin -in "$TEST_DIR/provisioned-key.pem" -outform der)
}

# nothing_installed DIR: no certificate, no state and no temporary file in
# DIR (the lock file and the journals, see doc/faults.md, may be there).
nothing_installed() {
	[ ! -e "$1/certificate.pem" ] && [ ! -e "$1/state.json" ] &&
		[ -z "$(ls -A "$1" 2>/dev/null | grep -vx -e journal.json -e request.json -e tpm-provision.lock)" ]
}

# no_secret_in_output: no credential of the emulator's in anything printed.
no_secret_in_output() {
	! grep -qF -e "$EMU_SECRET_ACCESS_KEY" -e "$EMU_SESSION_SECRET_ACCESS_KEY" -e "$EMU_SESSION_TOKEN" \
		"$TEST_DIR/all-output"
}

# --- emulator -----------------------------------------------------------------

. "$top_srcdir/tests/emulator/emulator.sh"
