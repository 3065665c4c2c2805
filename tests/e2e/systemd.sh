#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The first-boot service: systemd-analyze verify passes on the generated unit
# (and catches a broken one), the unit has the properties doc/first-boot.md promises,
# make install puts the unit, the sysusers.d file and the docs where
# configure said, the sysusers.d file creates the user in group tss, and the
# example config is one the program accepts.  Needs no running systemd.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

command -v systemd-analyze >/dev/null || bail "systemd-analyze not found (Debian package systemd)"

UNIT_BUILT="$top_builddir/systemd/tpm-provision.service"
[ -f "$UNIT_BUILT" ] || bail "$UNIT_BUILT not built (run make first)"

# --- systemd-analyze verify -----------------------------------------------------

# verify prints nothing about a good unit; it checks that ExecStart's binary
# exists and is executable, so the copy verified runs the built one.
mkdir -p "$TEST_DIR/units"
UNIT="$TEST_DIR/units/tpm-provision.service"
sed -e "s|^ExecStart=[^ ]*/tpm-provision |ExecStart=$top_builddir/tpm-provision |" "$UNIT_BUILT" >"$UNIT"

# verify_clean FILE: systemd-analyze verify exits 0 and says nothing about
# the unit (lines about other units on this host are only shown).
verify_clean() {
	local out rc
	out=$(systemd-analyze verify --man=no "$1" 2>&1)
	rc=$?
	if [ -n "$out" ]; then
		diag "systemd-analyze verify $(basename "$1"): exit $rc" "$out"
	fi
	[ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q "$(basename "$1")"
}

check "the verified copy runs the built binary" grep -qx "ExecStart=$top_builddir/tpm-provision enroll .*" "$UNIT"
check "systemd-analyze verify passes on tpm-provision.service, with no message about it" verify_clean "$UNIT"

# The same check fails on broken units: a typo in a key, a bad value, a
# Restart= that oneshot services refuse, a missing binary.
broken() {
	mkdir -p "$TEST_DIR/broken"
	sed -e "$1" "$UNIT" >"$TEST_DIR/broken/tpm-provision.service"
	! verify_clean "$TEST_DIR/broken/tpm-provision.service" >/dev/null
}
check "verify check catches an unknown key" broken 's/^NoNewPrivileges=/NoNewPrivilege=/'
check "verify check catches a bad value" broken 's/^Type=oneshot/Type=oneshoot/'
check "verify check catches Restart=always on a oneshot service" broken 's/^Restart=on-failure/Restart=always/'
check "verify check catches a missing binary" broken "s|^ExecStart=[^ ]*|ExecStart=$TEST_DIR/no-such-binary|"

# --- the unit's properties ------------------------------------------------------

# values KEY: the values of KEY= in the unit, one a line, in order.
values() {
	sed -n "s/^$1=//p" "$UNIT_BUILT"
}

# has KEY VALUE: some KEY= line is exactly VALUE.
has() {
	values "$1" | grep -qxF -- "$2"
}

# words KEY: all space-separated words of all KEY= lines.
words() {
	values "$1" | tr ' ' '\n' | grep -v '^$'
}

# has_words KEY WORD...: each WORD is among KEY='s words.
has_words() {
	local key=$1 w
	shift
	for w in "$@"; do
		words "$key" | grep -qxF -- "$w" || { diag "$key= lacks $w"; return 1; }
	done
}

check "Type=oneshot" has Type oneshot
check "RemainAfterExit=yes" has RemainAfterExit yes
check "runs once: ConditionPathExists=!/var/lib/tpm-provision/state.json" \
	has ConditionPathExists '!/var/lib/tpm-provision/state.json'
check "only once configured: ConditionPathExists=/etc/tpm-provision/config.json (the path ExecStart= reads)" \
	has ConditionPathExists /etc/tpm-provision/config.json
check "After= network-online.target, time-sync.target and the TPM device" \
	has_words After network-online.target time-sync.target dev-tpmrm0.device
check "Wants= network-online.target and the TPM device" has_words Wants network-online.target dev-tpmrm0.device
check "Documentation= points at README.md in the doc directory" \
	grep -qx "Documentation=file:///.*/doc/tpm-provision/README.md" "$UNIT_BUILT"
check "ExecStart= runs enroll with /etc/tpm-provision/config.json" \
	grep -qx 'ExecStart=/.*/tpm-provision enroll --config /etc/tpm-provision/config.json' "$UNIT_BUILT"
check "no @variable@ left unsubstituted" bash -c '! grep -q "@[a-z]*@" "$1"' _ "$UNIT_BUILT"

check "Restart=on-failure" has Restart on-failure
check "RestartSec= set" [ -n "$(values RestartSec)" ]
check "RestartPreventExitStatus= lists 64 65 77 78" has_words RestartPreventExitStatus 64 65 77 78
for code in 69 74 75; do
	check "exit $code is retried (not in RestartPreventExitStatus=)" bash -c '! grep -qw "$1" <<<"$2"' _ "$code" "$(values RestartPreventExitStatus)"
done
check "restarts bounded: StartLimitIntervalSec= and StartLimitBurst= set" \
	[ -n "$(values StartLimitIntervalSec)" -a -n "$(values StartLimitBurst)" ]

check "LoadCredential= aws-access-key-id" \
	has LoadCredential aws-access-key-id:/etc/tpm-provision/credentials/aws-access-key-id
check "LoadCredential= aws-secret-access-key" \
	has LoadCredential aws-secret-access-key:/etc/tpm-provision/credentials/aws-secret-access-key

check "User=tpm-provision" has User tpm-provision
check "SupplementaryGroups=tss" has SupplementaryGroups tss
check "StateDirectory=tpm-provision" has StateDirectory tpm-provision
check "ProtectSystem=strict" has ProtectSystem strict
check "ReadWritePaths= is only /var/lib/tpm-provision" [ "$(values ReadWritePaths)" = /var/lib/tpm-provision ]
check "DevicePolicy=closed" has DevicePolicy closed
check "DeviceAllow= is only /dev/tpmrm0 rw" [ "$(values DeviceAllow)" = "/dev/tpmrm0 rw" ]
check "PrivateDevices= not set (it would hide the TPM)" [ -z "$(values PrivateDevices)" ]
check "NoNewPrivileges=yes" has NoNewPrivileges yes
check "PrivateTmp=yes" has PrivateTmp yes
check "ProtectHome=yes" has ProtectHome yes
check "CapabilityBoundingSet= empty (and only that)" [ "$(grep -c '^CapabilityBoundingSet=' "$UNIT_BUILT")" -eq 1 -a -z "$(values CapabilityBoundingSet)" ]
check "SystemCallFilter=@system-service" has SystemCallFilter @system-service
check "RestrictAddressFamilies= AF_INET AF_INET6 AF_UNIX (network allowed)" \
	has RestrictAddressFamilies "AF_INET AF_INET6 AF_UNIX"
check "PrivateNetwork= not set" [ -z "$(values PrivateNetwork)" ]
for kv in MemoryDenyWriteExecute=yes LockPersonality=yes RestrictNamespaces=yes RestrictRealtime=yes \
	RestrictSUIDSGID=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectControlGroups=yes \
	ProtectClock=yes ProtectHostname=yes SystemCallArchitectures=native UMask=0077; do
	check "$kv" has "${kv%%=*}" "${kv#*=}"
done
check "WantedBy=multi-user.target" has WantedBy multi-user.target
check "NotifyAccess=main (the current step as the unit's status)" has NotifyAccess main

# The system calls a run makes, traced (strace -f) on a real enroll with
# the agent files (TLS, TPM, lock, atomic installs with mode, a backoff
# sleep after a 503), must all pass the unit's SystemCallFilter= lines,
# taken in order.
swtpm_start
emulator_start --region eu-west-1
emulator_fault '{"operation": "CreateCertificateFromCsr", "status": 503, "errorType": "ServiceUnavailableException"}'
# (LeakSanitizer, in a sanitizer build, needs ptrace, which strace holds.)
cat >"$TEST_DIR/traced" <<EOS
#!/bin/sh
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
exec strace -f -qq -o "$TEST_DIR/strace.out" "$TPM_PROVISION" "\$@"
EOS
chmod +x "$TEST_DIR/traced"
real_tpm_provision=$TPM_PROVISION
TPM_PROVISION="$TEST_DIR/traced"
run -- enroll --thing-name gw-trace --region eu-west-1 --tcti "$TCTI" --endpoint-url "$EMU_URL" \
	--ca-bundle "$EMU_CA" --out-dir "$TEST_DIR/traced-out" --iot-endpoint data.example --root-ca "$EMU_CA" \
	--agent env --agent openssl
TPM_PROVISION=$real_tpm_provision
USED_SYSCALLS=$(sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$TEST_DIR/strace.out" | sort -u | tr '\n' ' ')
diag "system calls of a traced run: $USED_SYSCALLS"
check "the traced run provisioned the device, retrying once" \
	bash -c '[ "$1" -eq 0 ] && [ "$2" -eq 2 ] && [ -s "$3" ]' _ \
	"$RC" "$(emulator_requests CreateCertificateFromCsr)" "$TEST_DIR/traced-out/state.json"
check "the trace holds the calls of TLS, the TPM socket, locking and atomic writes" \
	bash -c 'for c in connect flock fsync renameat clock_nanosleep; do case " $1 " in *" $c "*) ;; *) exit 1;; esac; done' _ "$USED_SYSCALLS"
filter_allows() {
	systemd-analyze syscall-filter 2>/dev/null >"$TEST_DIR/syscall-groups"
	cat >"$TEST_DIR/filter.py" <<'EOF'
import sys
groups, cur = {}, None
for line in open(sys.argv[1]):
    w = line.strip()
    if line.startswith("@"):
        cur = groups.setdefault(w, [])
    elif cur is not None and w and not w.startswith("#"):
        cur.append(w)
def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    out = set()
    for m in groups.get(name, []):
        if m not in seen:
            out |= expand(m, seen + (name,))
    return out
allowed = set()
for line in sys.stdin:
    line = line.strip()
    deny = line.startswith("~")
    names = set()
    for n in line.lstrip("~").split():
        names |= expand(n)
    allowed = allowed - names if deny else allowed | names
missing = [c for c in sys.argv[2:] if c not in allowed]
if missing:
    sys.exit("denied by SystemCallFilter=: " + " ".join(missing))
EOF
	# shellcheck disable=SC2086
	values SystemCallFilter | "$PY" "$TEST_DIR/filter.py" "$TEST_DIR/syscall-groups" $USED_SYSCALLS
}
check "SystemCallFilter= allows every system call a run makes" filter_allows

# The exposure score of systemd's own assessment (lower is better).  Only
# a systemd too old for --offline (before 250) skips it; any other failure
# of the assessment fails the test point.
if systemd-analyze --help 2>&1 | grep -q -- '--offline'; then
	security=$(systemd-analyze security --offline=true --man=no "$UNIT" 2>&1)
	score=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
	[ -n "$score" ] || printf '%s\n' "systemd-analyze security --offline=true:" "$security" | sed 's/^/# /'
	check "systemd-analyze security: exposure below 3.0 ($score)" \
		awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 < 3.0) }'
else
	skip "systemd-analyze security: this systemd-analyze has no --offline"
fi

# --- make install -----------------------------------------------------------------

mkvar() {
	sed -n "s/^$1 = //p" "$top_builddir/Makefile"
}
ROOT="$TEST_DIR/root"
unitdir=$(mkvar systemdsystemunitdir)
sysusersdir=$(mkvar sysusersdir)
diag "configured systemdsystemunitdir=$unitdir sysusersdir=$sysusersdir"
check "configure set absolute unit directories" [ "${unitdir#/}" != "$unitdir" -a "${sysusersdir#/}" != "$sysusersdir" ]
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top_builddir" install DESTDIR="$ROOT" >"$TEST_DIR/install.log" 2>&1; then
	ok "make install DESTDIR=... succeeds"
else
	not_ok "make install DESTDIR=... succeeds"
	diag "$(tail -20 "$TEST_DIR/install.log")"
fi
check "unit installed in the configured systemdsystemunitdir" cmp -s "$UNIT_BUILT" "$ROOT$unitdir/tpm-provision.service"
check "sysusers.d file installed as $sysusersdir/tpm-provision.conf" \
	cmp -s "$top_srcdir/systemd/tpm-provision.sysusers.conf" "$ROOT$sysusersdir/tpm-provision.conf"
installed_bin=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT_BUILT")
check "ExecStart= binary installed ($installed_bin)" [ -x "$ROOT$installed_bin" ]
doc=$(sed -n 's|^Documentation=file://||p' "$UNIT_BUILT")
check "Documentation= README installed ($doc)" [ -f "$ROOT$doc" ]
check "example config installed next to the README" [ -f "$(dirname "$ROOT$doc")/config.example.json" ]
check "doc/first-boot.md installed next to the README, where its link points" [ -f "$(dirname "$ROOT$doc")/doc/first-boot.md" ]

# --- the user ------------------------------------------------------------------------

# systemd-sysusers into a scratch root that already has Debian's tss group.
SYSROOT="$TEST_DIR/sysroot"
mkdir -p "$SYSROOT/etc"
echo 'tss:x:109:' >"$SYSROOT/etc/group"
: >"$SYSROOT/etc/passwd"
if command -v systemd-sysusers >/dev/null; then
	check "systemd-sysusers accepts the sysusers.d file" \
		bash -c 'systemd-sysusers --root="$1" "$2" >"$3" 2>&1 || { cat "$3"; false; }' _ \
		"$SYSROOT" "$top_srcdir/systemd/tpm-provision.sysusers.conf" "$TEST_DIR/sysusers.log"
	check "user tpm-provision created, home /var/lib/tpm-provision, no login shell" \
		grep -q '^tpm-provision:x:[0-9]*:[0-9]*:[^:]*:/var/lib/tpm-provision:/usr/sbin/nologin$' "$SYSROOT/etc/passwd"
	check "tpm-provision is a member of the existing group tss" grep -qx 'tss:x:109:tpm-provision' "$SYSROOT/etc/group"
else
	for what in "accepts the sysusers.d file" "creates the user" "adds it to group tss"; do
		skip "systemd-sysusers $what: systemd-sysusers not found (Debian package systemd)"
	done
fi

# --- the example config --------------------------------------------------------------

EXAMPLE="$top_srcdir/systemd/config.example.json"
# The program accepts it: it goes on to look for credentials (exit 77), it
# does not stop at the config (78) or the command line (64).
env -i HOME="$TEST_DIR" PATH="$PATH" "$TPM_PROVISION" enroll --config "$EXAMPLE" \
	--tcti "swtpm:host=127.0.0.1,port=1" --out-dir "$TEST_DIR/out" >"$RUN_OUT" 2>"$RUN_ERR"
RC=$?
[ "$RC" -eq 77 ] || diag "$(cat "$RUN_ERR")"
check "tpm-provision accepts config.example.json (exit $RC)" \
	bash -c '[ "$1" -ne 64 ] && [ "$1" -ne 78 ] && ! grep -q "config" "$2"' _ "$RC" "$RUN_ERR"

# doc/first-boot.md's commented example is config.example.json with comments.
doc_example() {
	"$PY" - "$top_srcdir/doc/first-boot.md" "$EXAMPLE" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^# First-boot service$.*?^```jsonc\n(.*?)^```$", text, re.S | re.M)
if not m:
    sys.exit("no ```jsonc block in doc/first-boot.md")
body = "\n".join(l for l in m.group(1).splitlines() if not l.strip().startswith("//"))
if json.loads(body) != json.load(open(sys.argv[2])):
    sys.exit("doc/first-boot.md's example differs from config.example.json")
EOF
}
check "doc/first-boot.md's commented example is config.example.json" doc_example

done_testing
