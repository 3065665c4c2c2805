#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The first-boot service under a real systemd: the machine's own systemd
# boots as PID 1 of private PID, mount, UTS and cgroup namespaces, on a
# throwaway overlay of / (nothing of the host is written: the overlay's
# upper layer, /run and /tmp are tmpfs that vanish with the namespace), and
# runs the unit exactly as make install ships it, as the user
# systemd-sysusers creates, against swtpm and the emulator on loopback (the
# network namespace is the host's).  Shows the first boot, the condition
# that skips later boots, the restart policy from real failures, the start
# limit, the journal and the sandbox.
#
# Needs root, overlayfs and a writable cgroup hierarchy; without them the
# whole test is skipped, saying why.  Never boots systemd on the shared
# root: its tmpfiles setup would empty the host's /tmp.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# diag, for output of several lines: each line a TAP comment.
diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

# --- can systemd boot here? -------------------------------------------------------

# What booting needs; a machine without it skips, it does not pass.
[ "$(id -u)" -eq 0 ] || skip_all "needs root to boot systemd in namespaces"
for tool in unshare nsenter pivot_root setpriv systemctl journalctl systemd-analyze systemd-sysusers; do
	command -v "$tool" >/dev/null || skip_all "$tool not found"
done
SYSTEMD=/lib/systemd/systemd
[ -x "$SYSTEMD" ] || skip_all "$SYSTEMD not found (Debian package systemd)"
# overlayfs built in, loaded, or a module the mount will load.
grep -qw overlay /proc/filesystems || [ -n "$(find "/lib/modules/$(uname -r)" -name 'overlay.ko*' 2>/dev/null)" ] ||
	skip_all "no overlayfs in this kernel"

# The namespace gets a cgroup of its own, made its root with a cgroup
# namespace, so its systemd manages only that subtree: cgroup v2 where the
# host has it (also as the hybrid layout's unified hierarchy), else the v1
# name=systemd hierarchy.
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	CG_MODE=v2 CG_MNT=/sys/fs/cgroup
elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	CG_MODE=v2 CG_MNT=/sys/fs/cgroup/unified
elif grep -q '^[0-9]*:name=systemd:' /proc/self/cgroup && [ -d /sys/fs/cgroup/systemd ]; then
	CG_MODE=v1 CG_MNT=/sys/fs/cgroup/systemd
else
	skip_all "no cgroup v2 or v1 name=systemd hierarchy mounted"
fi
if [ "$CG_MODE" = v2 ]; then
	cg_self=$(sed -n 's/^0:://p' /proc/self/cgroup)
else
	cg_self=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
fi
CG="$CG_MNT${cg_self%/}/tpm-provision-boot.$$"
mkdir "$CG" 2>"$TEST_DIR/cgroup.err" || skip_all "cannot create a cgroup: $(cat "$TEST_DIR/cgroup.err")"

SD_PID=
NS_PID=
# Ends the namespace (all of it: its PID 1 is killed by PID) and removes
# its cgroups, also when the test fails half way; then lib.sh's cleanup.
boot_cleanup() {
	[ -n "$SD_PID" ] && kill -KILL "$SD_PID" 2>/dev/null
	if [ -n "$NS_PID" ]; then
		kill -KILL "$NS_PID" 2>/dev/null
		wait "$NS_PID" 2>/dev/null
	fi
	for _ in $(seq 1 50); do
		[ -d "$CG" ] || break
		find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
		sleep 0.1
	done
	[ -d "$CG" ] && echo "# cgroup $CG could not be removed"
	cleanup
}
trap boot_cleanup EXIT

# --- the namespace's files ---------------------------------------------------------

# Copied onto the overlay before systemd starts.  Masked: whatever would
# touch the host (udev, sysctl, binfmt, modules, the clock, pstore, audit,
# network configuration), wait for hardware or a console (gettys, logind,
# fsck, the TPM resource manager), or just cost time (timers); the
# generators are disabled (fstab would bring in the host's disks).  With no
# udev no device unit appears: DefaultDeviceTimeoutSec=1s, or the unit
# waits 90 s for dev-tpmrm0.device.
PREP="$TEST_DIR/prep"
mkdir -p "$PREP/etc/systemd/system" "$PREP/etc/systemd/system.conf.d" "$PREP/etc/systemd/system-generators"
for g in /lib/systemd/system-generators/* /usr/lib/systemd/system-generators/* \
	/usr/local/lib/systemd/system-generators/* /etc/systemd/system-generators/*; do
	[ -e "$g" ] && ln -sfn /dev/null "$PREP/etc/systemd/system-generators/$(basename "$g")"
done
for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
	systemd-udev-trigger.service systemd-udev-settle.service \
	getty.target getty@.service serial-getty@.service console-getty.service container-getty@.service \
	systemd-logind.service tpm2-abrmd.service timers.target \
	systemd-timesyncd.service systemd-time-wait-sync.service systemd-pstore.service \
	systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
	proc-sys-fs-binfmt_misc.mount systemd-modules-load.service kmod-static-nodes.service \
	systemd-journald-audit.socket systemd-remount-fs.service systemd-fsck-root.service \
	systemd-repart.service systemd-firstboot.service systemd-machine-id-commit.service \
	systemd-pcrphase.service systemd-pcrphase-sysinit.service systemd-hwdb-update.service \
	systemd-random-seed.service sys-kernel-debug.mount sys-kernel-tracing.mount \
	sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
	networking.service ifupdown-wait-online.service NetworkManager.service \
	NetworkManager-wait-online.service systemd-networkd.service systemd-networkd.socket \
	systemd-networkd-wait-online.service systemd-resolved.service; do
	ln -sfn /dev/null "$PREP/etc/systemd/system/$unit"
done
printf '[Manager]\nDefaultDeviceTimeoutSec=1s\n' >"$PREP/etc/systemd/system.conf.d/zz-tpm-provision-test.conf"

# PID 1 of the new namespaces until it becomes systemd: the overlay, fresh
# proc (its /proc/sys read-only: the kernel's tunables are the host's),
# sysfs read-only with the namespace's own cgroup hierarchy, a /dev with
# only the basic nodes, tmpfs /run and /tmp, then pivot_root.  / is made
# shared as systemd does on a real boot (inside a container it leaves the
# propagation as it finds it): LoadCredential= needs it, its mounts reach
# the unit through propagation.
cat >"$TEST_DIR/ns-init" <<'EOF'
#!/bin/bash
set -eu
NS=$1 PREP=$2 READY=$3 CG_MODE=$4 SYSTEMD=$5
mount -t tmpfs -o mode=0755 tpm-provision-boot "$NS"
mkdir "$NS/upper" "$NS/work" "$NS/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$NS/upper,workdir=$NS/work" "$NS/root"
R=$NS/root
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro sysfs "$R/sys"
if [ "$CG_MODE" = v2 ]; then
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
else
	mount -t tmpfs -o mode=0755 cgroup "$R/sys/fs/cgroup"
	mkdir "$R/sys/fs/cgroup/systemd"
	mount -t cgroup -o none,name=systemd,nosuid,nodev,noexec cgroup "$R/sys/fs/cgroup/systemd"
fi
mount -t tmpfs -o mode=0755 dev "$R/dev"
for n in null zero full random urandom tty; do
	touch "$R/dev/$n"
	mount --bind "/dev/$n" "$R/dev/$n"
done
touch "$R/dev/console"
mount --bind /dev/null "$R/dev/console"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mount -t tmpfs -o mode=0755 run "$R/run"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
cp -a "$PREP/." "$R/"
touch "$READY"
cd "$R"
mkdir .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
mount --make-rshared /
exec env -i container=tpm-provision-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	"$SYSTEMD" --system --unit=basic.target
EOF
chmod 0755 "$TEST_DIR/ns-init"

swtpm_start
emulator_start --region eu-west-1

# --- boot ----------------------------------------------------------------------------

mkdir "$TEST_DIR/ns"
(
	echo "$BASHPID" >"$CG/cgroup.procs" &&
		exec unshare --mount --pid --uts --cgroup --fork --kill-child --propagation private \
			"$TEST_DIR/ns-init" "$TEST_DIR/ns" "$PREP" "$TEST_DIR/ns-ready" "$CG_MODE" "$SYSTEMD"
) >"$TEST_DIR/ns.log" 2>&1 &
NS_PID=$!
for _ in $(seq 1 100); do
	[ -e "$TEST_DIR/ns-ready" ] && break
	kill -0 "$NS_PID" 2>/dev/null || break
	sleep 0.05
done
[ -e "$TEST_DIR/ns-ready" ] ||
	skip_all "cannot set up the namespaces and the overlay: $(tr '\n' ' ' <"$TEST_DIR/ns.log")"
for _ in $(seq 1 100); do
	SD_PID=$(tr -d ' ' <"/proc/$NS_PID/task/$NS_PID/children" 2>/dev/null)
	[ -n "$SD_PID" ] && break
	sleep 0.05
done
[ -n "$SD_PID" ] || bail "the namespace's PID 1 went away: $(cat "$TEST_DIR/ns.log")"
ROOTFS=/proc/$SD_PID/root

# sd COMMAND...: run COMMAND inside the booted system.
sd() {
	timeout 120 nsenter -t "$SD_PID" -m -p -- "$@"
}

# until_true SECONDS COMMAND...: poll COMMAND until it succeeds; fail after
# SECONDS.
until_true() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# has TEXT PATTERN: a line of TEXT matches the basic regular expression
# PATTERN; has_line TEXT LINE: a line of TEXT is LINE; like STRING GLOB.
has() {
	grep -q -- "$2" <<<"$1"
}
has_line() {
	grep -qxF -- "$2" <<<"$1"
}
like() {
	# shellcheck disable=SC2053 # a glob, on purpose
	[[ $1 == $2 ]]
}

booted() {
	[ "$(sd systemctl is-active basic.target 2>/dev/null)" = active ] &&
		[ -z "$(sd systemctl list-jobs --no-legend 2>/dev/null)" ]
}
if until_true 60 booted; then
	ok "systemd booted to basic.target in the namespace, no job left"
else
	not_ok "systemd booted to basic.target in the namespace, no job left"
	diag "$(sd systemctl list-jobs --no-pager 2>&1)" "$(sd journalctl -b --no-pager 2>&1 | tail -30)"
	bail "systemd did not boot"
fi
check "its / is the overlay, not the host's root" [ "$(sd findmnt -no FSTYPE /)" = overlay ]
failed_units=$(sd systemctl list-units --failed --plain --no-legend)
check "no unit failed during boot" [ -z "$failed_units" ]
[ -z "$failed_units" ] || diag "$failed_units"

# --- make install --------------------------------------------------------------------

# The unit and the user as make install ships them, copied onto the booted
# system's root (the overlay), as a package would install them.
mkvar() {
	sed -n "s/^$1 = //p" "$top_builddir/Makefile"
}
DEST="$TEST_DIR/dest"
unitdir=$(mkvar systemdsystemunitdir)
UNIT_PATH="$unitdir/tpm-provision.service"
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top_builddir" install DESTDIR="$DEST" >"$TEST_DIR/install.log" 2>&1; then
	ok "make install DESTDIR=... succeeds"
else
	not_ok "make install DESTDIR=... succeeds"
	diag "$(tail -20 "$TEST_DIR/install.log")"
	bail "nothing to test without an installation"
fi
tar -C "$DEST" -cf - . | tar -C "$ROOTFS" -xpf - --keep-directory-symlink --no-overwrite-dir
BIN=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$DEST$UNIT_PATH")
DOCDIR=$(dirname "$(sed -n 's|^Documentation=file://||p' "$DEST$UNIT_PATH")")
check "the installed binary runs in the booted system ($BIN)" has "$(sd "$BIN" --version)" "^tpm-provision "
# A prefix outside systemd's own directories (make distcheck installs under
# its own): the unit is linked in and the user file named, as an
# administrator would do with such a build.
UNIT_PATH=$(realpath -m "$UNIT_PATH")
SYSUSERS=()
case ${UNIT_PATH%/*} in
/etc/systemd/system | /lib/systemd/system | /usr/lib/systemd/system) ;;
*)
	sd systemctl link "$UNIT_PATH" >/dev/null 2>&1
	SYSUSERS=("$(realpath -m "$(mkvar sysusersdir)/tpm-provision.conf")")
	;;
esac
sd systemctl daemon-reload
fragment=$(sd systemctl show -p FragmentPath --value tpm-provision.service)
loaded_from_installed() {
	[ -n "$fragment" ] && [ "$(sd realpath -m "$fragment")" = "$UNIT_PATH" ]
}
check "systemd loads the unit from the installed file ($UNIT_PATH)" loaded_from_installed
[ -n "$fragment" ] || bail "systemd does not find tpm-provision.service"

# --- the user ------------------------------------------------------------------------

# doc/first-boot.md: "sudo systemd-sysusers" creates the user from the shipped file.
check "no user tpm-provision before systemd-sysusers" not sd getent passwd tpm-provision
sd systemd-sysusers "${SYSUSERS[@]}" >"$TEST_DIR/sysusers.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || diag "$(cat "$TEST_DIR/sysusers.log")"
check "systemd-sysusers succeeds" [ "$rc" -eq 0 ]
check "systemd-sysusers created tpm-provision: home /var/lib/tpm-provision, no login shell" \
	has "$(sd getent passwd tpm-provision)" \
	"^tpm-provision:x:[0-9]*:[0-9]*:AWS IoT provisioning from the TPM:/var/lib/tpm-provision:/usr/sbin/nologin$"
check "tpm-provision is in group tss (for /dev/tpmrm0)" has_line "$(sd id -nG tpm-provision | tr ' ' '\n')" tss

# --- the unit, as systemd sees it -----------------------------------------------------

# verify and security ask the running manager, with the binary and the
# user in place.
verify_out=$(sd systemd-analyze verify --man=no "$UNIT_PATH" 2>&1)
verify_rc=$?
[ -z "$verify_out" ] || diag "systemd-analyze verify: exit $verify_rc" "$verify_out"
check "systemd-analyze verify of the installed unit: exit 0, nothing said about it" \
	[ "$verify_rc" -eq 0 -a -z "$(grep tpm-provision <<<"$verify_out")" ]

security=$(sd systemd-analyze security --no-pager tpm-provision.service 2>&1)
score=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for tpm-provision.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || diag "systemd-analyze security:" "$security"
check "systemd-analyze security of the loaded unit: exposure at most 1.7 ($score)" \
	awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 1.7) }'

# --- the operator's files, as doc/first-boot.md's "Install and enable" says ---------

# The config is doc/first-boot.md's example with this machine's TPM (swtpm over TCP
# instead of /dev/tpmrm0), the emulator as endpoint and its CA; the
# credentials are root's 0600 files the unit's LoadCredential= reads.
sd install -d -m 0755 /etc/tpm-provision
sd install -m 0644 "$DOCDIR/config.example.json" /etc/tpm-provision/config.json
sd install -m 0644 /dev/stdin /etc/tpm-provision/emulator-ca.pem <"$EMU_CA"
sd install -d -m 0700 /etc/tpm-provision/credentials
printf '%s\n' "$EMU_ACCESS_KEY_ID" | sd install -m 0600 /dev/stdin /etc/tpm-provision/credentials/aws-access-key-id
printf '%s\n' "$EMU_SECRET_ACCESS_KEY" | sd install -m 0600 /dev/stdin /etc/tpm-provision/credentials/aws-secret-access-key
CONFIG="$ROOTFS/etc/tpm-provision/config.json"
cp "$CONFIG" "$TEST_DIR/config.example.json"

# config [KEY=VALUE | -KEY]...: write the example config with these keys
# set (a JSON value, else a string) or removed.
config() {
	"$PY" - "$TEST_DIR/config.example.json" "$CONFIG" "$@" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
for a in sys.argv[3:]:
    if a.startswith("-"):
        c.pop(a[1:], None)
        continue
    k, v = a.split("=", 1)
    try:
        c[k] = json.loads(v)
    except ValueError:
        c[k] = v
with open(sys.argv[2], "w") as f:
    json.dump(c, f, indent=2)
EOF
}
BASE_CONFIG=(tcti="$TCTI" endpoint-url="$EMU_URL" ca-bundle=/etc/tpm-provision/emulator-ca.pem)
config "${BASE_CONFIG[@]}"

sd systemctl daemon-reload
sd systemctl enable tpm-provision.service 2>/dev/null
check "systemctl enable links it into multi-user.target" \
	[ -L "$ROOTFS/etc/systemd/system/multi-user.target.wants/tpm-provision.service" ]

# A sanitizer build (configure --enable-sanitizers) runs too, with the one
# drop-in it needs: at exit LeakSanitizer stops the process's threads with
# ptrace, which the unit's SystemCallFilter= refuses (every run would end
# in exit 1).  AddressSanitizer and UBSan stay on.
if [ -n "$(mkvar SANITIZER_CFLAGS)" ]; then
	printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' |
		sd install -m 0644 -D /dev/stdin /etc/systemd/system/tpm-provision.service.d/sanitizers.conf
	sd systemctl daemon-reload
	diag "sanitizer build: LeakSanitizer off in the unit (it needs ptrace)"
fi

# --- helpers for runs ------------------------------------------------------------------

prop() {
	sd systemctl show -p "$1" --value tpm-provision.service
}

# props: the unit's state in one line, in this order.
props() {
	local out p
	out=$(sd systemctl show -p ActiveState,SubState,Result,ExecMainStatus,NRestarts,ConditionResult tpm-provision.service)
	for p in ActiveState SubState Result ExecMainStatus NRestarts ConditionResult; do
		printf '%s ' "$(grep "^$p=" <<<"$out")"
	done
}

# mark: where the journal is now (its last entry's sequence number).
# since MARK unit|program|first [json]: the unit's entries after MARK
# (unit: systemd's messages about it and the program's lines; program: only
# the program's; first: the program's lines of the first run after MARK),
# as messages or JSON lines.  Filtered here rather than with journalctl
# --after-cursor, which skips entries together with matches in systemd 252.
mark() {
	sd journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: .*;i=\([0-9a-f]*\);.*/\1/p'
}
cat >"$TEST_DIR/since.py" <<'EOF'
import json, sys
mark, which = int(sys.argv[1], 16), sys.argv[2]
as_json = len(sys.argv) > 3
unit = "tpm-provision.service"
first = None
for line in sys.stdin:
    e = json.loads(line)
    fields = dict(kv.split("=", 1) for kv in e["__CURSOR"].split(";"))
    if int(fields["i"], 16) <= mark:
        continue
    program = e.get("_SYSTEMD_UNIT") == unit and e.get("_PID") != "1"
    if not program and (which != "unit" or e.get("UNIT") != unit):
        continue
    # The first run: its process.  Not its invocation id, which journald
    # may not have learnt for a line of a run that exited at once.
    if which == "first":
        first = first or e.get("_PID")
        if e.get("_PID") != first:
            continue
    print(json.dumps(e) if as_json else e.get("MESSAGE"))
EOF
since() {
	sd journalctl -q --no-pager -o json | "$PY" "$TEST_DIR/since.py" "$@"
}

# kinds MARK: the kinds of line the first run after MARK wrote, each with
# the priority the journal filed it at (PRIORITY in journalctl -o json),
# sorted, each pair once: "error:3 result:5 step:6 warning:4".  The error
# line is "tpm-provision COMMAND: ..."; warnings are retry notes and
# "warning: ..."; results are "enrolled ..." and "already provisioned ...";
# any other "tpm-provision: ..." line is a step; anything else is stdout.
cat >"$TEST_DIR/kinds.py" <<'EOF'
import json, re, sys
seen = set()
for line in sys.stdin:
    e = json.loads(line)
    m = e.get("MESSAGE")
    m = m if isinstance(m, str) else ""
    if re.match(r"tpm-provision [a-z-]+: ", m):
        kind = "error"
    elif re.match(r"tpm-provision: (warning: |.*: attempt [0-9]+ failed .*; retrying in )", m):
        kind = "warning"
    elif re.match(r"tpm-provision: (enrolled|already provisioned) ", m):
        kind = "result"
    elif m.startswith("tpm-provision: "):
        kind = "step"
    else:
        kind = "stdout"
    seen.add(kind + ":" + e.get("PRIORITY", "none"))
print(" ".join(sorted(seen)))
EOF
kinds() {
	since "$1" first json | "$PY" "$TEST_DIR/kinds.py"
}

# exits MARK: the exit status of each run since MARK, one a line.
exits() {
	since "$1" unit | sed -n 's/.*Main process exited, code=exited, status=\([0-9]*\)\/.*/\1/p'
}

# ran MARK: a run since MARK has ended (systemd logged its exit).
ran() {
	[ -n "$(exits "$1")" ]
}

OUT=/var/lib/tpm-provision

# owned USER FILE...: each FILE in the output directory is USER's, mode 0644.
owned() {
	local user=$1 f
	shift
	for f in "$@"; do
		[ "$(sd stat -c '%a %U:%G' "$OUT/$f" 2>&1)" = "644 $user:$user" ] ||
			{ diag "$f: $(sd stat -c '%a %U:%G' "$OUT/$f" 2>&1)"; return 1; }
	done
}

# cert_is_tpm_key: the installed certificate's key is the persisted TPM key
# (openssl against tpm2-tools, outside the booted system) and the service's
# CA issued it.
cert_is_tpm_key() {
	tpm2_readpublic -c 0x81000002 -f pem -o "$TEST_DIR/tpm-key.pem" >/dev/null &&
		cmp -s <(openssl x509 -in "$ROOTFS$OUT/certificate.pem" -pubkey -noout | openssl pkey -pubin -outform der) \
			<(openssl pkey -pubin -in "$TEST_DIR/tpm-key.pem" -outform der) &&
		openssl verify -CAfile "$EMU_DIR/issuer-ca.pem" "$ROOTFS$OUT/certificate.pem" >/dev/null
}

# sandbox_clean MARK: no run since MARK hit the unit's sandbox: no system
# call refused (SIGSYS kills, SystemCallErrorNumber=EPERM), no path or
# device refused, no core dumped.  (A run the test stops ends with
# code=killed, status=15/TERM.)
sandbox_clean() {
	local hits
	hits=$(since "$1" unit | grep -i -E 'SIGSYS|status=31/SYS|signal=SYS|Bad system call|EPERM|Operation not permitted|Permission denied|EACCES|code=dumped')
	[ -z "$hits" ] || diag "$hits"
	[ -z "$hits" ]
}

# factory_reset: the device as it left the factory: no key in the TPM, no
# output directory, the unit stopped and its failures forgotten.
factory_reset() {
	sd systemctl stop tpm-provision.service
	sd systemctl reset-failed tpm-provision.service 2>/dev/null
	rm -rf "$ROOTFS$OUT"
	tpm2_evictcontrol -C o -c 0x81000002 >/dev/null 2>&1
	return 0
}

# --- a machine not set up ----------------------------------------------------------------

# Installing the package enables the unit everywhere (doc/package.md): until
# the config exists, ConditionPathExists= skips it before the program runs.
mv "$CONFIG" "$CONFIG.off"
requests=$(emulator_requests)
m=$(mark)
check "without the config: systemctl start tpm-provision succeeds" sd systemctl start tpm-provision.service
state=$(props)
check "skipped without the config: inactive, ConditionResult=no ($state)" \
	like "$state" "ActiveState=inactive SubState=dead *ConditionResult=no "
check "the journal says the config's condition skipped it" \
	has "$(since "$m" unit)" "unmet condition check (ConditionPathExists=/etc/tpm-provision/config.json)"
check "nothing ran: no request reached the service, no state.json" \
	[ "$(emulator_requests)" -eq "$requests" -a ! -e "$ROOTFS$OUT/state.json" ]
mv "$CONFIG.off" "$CONFIG"

# --- first boot ------------------------------------------------------------------------

# The unit as shipped, no drop-in (but a sanitizer build's): provisions
# the device under the full sandbox, as tpm-provision, with the example
# config's agents (env, openssl).
m0=$(mark)
check "first start: systemctl start tpm-provision succeeds" sd systemctl start tpm-provision.service
state=$(props)
diag "after the first start: $state"
check "the unit is active (exited), result success, exit status 0" \
	[ "$state" = "ActiveState=active SubState=exited Result=success ExecMainStatus=0 NRestarts=0 ConditionResult=yes " ]
uids=$(since "$m0" program json | "$PY" -c 'import json,sys; print(" ".join(sorted({json.loads(l)["_UID"] for l in sys.stdin})))')
check "the program ran as tpm-provision (uid $uids)" [ "$uids" = "$(sd id -u tpm-provision)" ]
check "its result line reaches the journal" \
	has "$(since "$m0" program)" "^tpm-provision: enrolled thing gw-0042: certificate [0-9a-f]\{64\} installed in /var/lib/tpm-provision"
k0=$(kinds "$m0")
check "the journal files its steps at priority 6 (info), its result line at 5 (notice) ($k0)" \
	[ "$k0" = "result:5 step:6" ]
check "the unit's status line is the run's last step (sd_notify STATUS=)" \
	has "$(sd systemctl show -p StatusText --value tpm-provision.service)" "^installing the certificate"
check "output directory is tpm-provision's, mode 0755" \
	[ "$(sd stat -c '%a %U:%G' "$OUT")" = "755 tpm-provision:tpm-provision" ]
check "certificate.pem, root-ca.pem, agent.env, openssl.cnf, state.json: 0644, tpm-provision's" \
	owned tpm-provision certificate.pem root-ca.pem agent.env openssl.cnf state.json
check "the certificate is for the TPM key (openssl against tpm2_readpublic) and from the service's CA" cert_is_tpm_key
check "one CreateCertificateFromCsr request" [ "$(emulator_requests CreateCertificateFromCsr)" -eq 1 ]
agent_env_names_key_and_cert() {
	has_line "$(cat "$ROOTFS$OUT/agent.env")" "IOT_KEY=\"handle:0x81000002\"" &&
		has_line "$(cat "$ROOTFS$OUT/agent.env")" "IOT_CERT=\"$OUT/certificate.pem\""
}
check "agent.env names the TPM key and the installed certificate" agent_env_names_key_and_cert
# No AWS_ variable in the unit's environment, no environment file, no
# ~/.aws: LoadCredential= is the only source (systemd keeps the
# credentials while the unit is active).
from_credentials() {
	[ -z "$(prop EnvironmentFiles)" ] && ! has "$(prop Environment)" AWS_ &&
		[ ! -e "$ROOTFS$OUT/.aws" ] &&
		[ "$(sd ls /run/credentials/tpm-provision.service | tr '\n' ' ')" = "aws-access-key-id aws-secret-access-key " ]
}
check "the credentials came through the unit's LoadCredential=" from_credentials
check "first boot: the sandbox held (no SIGSYS, EPERM or denied path in the journal)" sandbox_clean "$m0"

# --- later boots -----------------------------------------------------------------------

# state.json makes every later start a no-op: ConditionPathExists= skips
# the unit before the program runs (no request reaches the service).
requests=$(emulator_requests)
started=$(prop ExecMainStartTimestampMonotonic)
sd systemctl stop tpm-provision.service
m1=$(mark)
check "second start: systemctl start tpm-provision succeeds" sd systemctl start tpm-provision.service
state=$(props)
diag "after the second start: $state"
check "second start skipped: inactive, ConditionResult=no" \
	like "$state" "ActiveState=inactive SubState=dead *ConditionResult=no "
check "the journal says which condition skipped it" \
	has "$(since "$m1" unit)" "unmet condition check (ConditionPathExists=!/var/lib/tpm-provision/state.json)"
check "the program did not run" [ "$(prop ExecMainStartTimestampMonotonic)" = "$started" ]
check "no request reached the service" [ "$(emulator_requests)" -eq "$requests" ]

# --- files for the agent's account ------------------------------------------------------

# doc/first-boot.md: --owner (config key "owner") needs CAP_CHOWN, which the shipped
# sandbox does not grant; its drop-in there adds it.  Each on a fresh
# device (key evicted, output directory gone).
factory_reset
sd systemd-sysusers --inline 'u iot-agent - "IoT agent"' >/dev/null 2>&1
config "${BASE_CONFIG[@]}" owner=iot-agent:iot-agent

m2=$(mark)
sd systemctl start --no-block tpm-provision.service
until_true 60 ran "$m2"
state=$(props)
diag "owner without the drop-in: $state" "$(since "$m2" program | grep '^tpm-provision ')"
code=$(exits "$m2")
failed_on_chown() {
	[ -n "$code" ] && [ "$code" != 0 ] && [ ! -e "$ROOTFS$OUT/state.json" ] &&
		has "$(since "$m2" program)" "^tpm-provision enroll: .*Operation not permitted"
}
check "owner without the drop-in: the run fails on the chown (exit $code), nothing provisioned" failed_on_chown

# owner_run CAPS: a fresh device provisioned with a drop-in that grants
# CAPS (bounding and ambient); sets M, the journal mark before the start.
owner_run() {
	factory_reset
	printf '[Service]\nCapabilityBoundingSet=%s\nAmbientCapabilities=%s\n' "$1" "$1" |
		sd install -m 0644 -D /dev/stdin /etc/systemd/system/tpm-provision.service.d/owner.conf
	sd systemctl daemon-reload
	M=$(mark)
	sd systemctl start --no-block tpm-provision.service
	until_true 60 ran "$M"
}
succeeded() {
	like "$(props)" "ActiveState=active SubState=exited Result=success ExecMainStatus=0 *"
}
owner_run CAP_CHOWN
diag "owner with doc/first-boot.md's drop-in (CAP_CHOWN): $(props)" "$(since "$M" program | grep '^tpm-provision ')"
check "owner with doc/first-boot.md's drop-in (CAP_CHOWN): active (exited), exit status 0" succeeded
check "certificate.pem, root-ca.pem, agent.env, openssl.cnf, state.json: 0644, iot-agent's" \
	owned iot-agent certificate.pem root-ca.pem agent.env openssl.cnf state.json
check "the certificate is for the TPM key, from the service's CA" cert_is_tpm_key

# The agent's account loads the TPM key with only what was installed
# (agent.env, openssl.cnf and the tpm2 provider), and it is the
# certificate's key.
agent_loads_cert_key() {
	local agent cert
	# shellcheck disable=SC2016 # expanded by the agent's shell
	agent=$(sd setpriv --reuid=iot-agent --regid=iot-agent --clear-groups --reset-env \
		bash -c 'set -a; . /var/lib/tpm-provision/agent.env; set +a
			openssl pkey -in "$IOT_KEY" -pubout -outform der' | base64 -w0)
	cert=$(openssl x509 -in "$ROOTFS$OUT/certificate.pem" -pubkey -noout | openssl pkey -pubin -outform der | base64 -w0)
	[ -n "$agent" ] && [ "$agent" = "$cert" ]
}
check "iot-agent loads the TPM key through agent.env and openssl.cnf: the certificate's key" agent_loads_cert_key
check "with the owner drop-in: the sandbox held" sandbox_clean "$M"
sd rm -f /etc/systemd/system/tpm-provision.service.d/owner.conf
sd systemctl daemon-reload

# --- the restart policy, from real failures ---------------------------------------------

# Each exit code from a fault that really happens on a device.  69, 74 and
# 75 are worth another try (systemd restarts the unit, NRestarts grows);
# 64, 65, 77 and 78 need an operator (no restart).  RestartSec= is shortened
# in a test drop-in, nothing else.
factory_reset
printf '[Service]\nRestartSec=300ms\n' |
	sd install -m 0644 -D /dev/stdin /etc/systemd/system/tpm-provision.service.d/test.conf
sd systemctl daemon-reload
check "the test drop-in only shortens RestartSec" \
	[ "$(sd systemctl show -p RestartUSec --value tpm-provision.service)" = 300ms ]
m4=$(mark)

# start_failing: start the unit from a clean slate without waiting; sets M.
start_failing() {
	sd systemctl reset-failed tpm-provision.service 2>/dev/null
	M=$(mark)
	sd systemctl start --no-block tpm-provision.service
}

# final CODE WHY: the run fails with CODE and stays failed: no restart in
# the next 2 s (more than six RestartSec=).
final() {
	local code=$1 why=$2 state
	start_failing
	until_true 60 ran "$M"
	sleep 2
	state=$(props)
	diag "exit $code ($why): $state" "$(since "$M" program | grep '^tpm-provision ')"
	check "exit $code ($why): failed, not restarted" \
		[ "$state" = "ActiveState=failed SubState=failed Result=exit-code ExecMainStatus=$code NRestarts=0 ConditionResult=yes " -a \
		"$(exits "$M" | tr '\n' ' ')" = "$code " ]
}

# restarts_at_least N: systemd restarted the unit N times or more.
restarts_at_least() {
	[ "$(prop NRestarts)" -ge "$1" ]
}

# restarted CODE WHY: the run fails with CODE and systemd restarts it: at
# least two restarts, each run ending with CODE; then stopped.
restarted() {
	local code=$1 why=$2 n codes
	start_failing
	until_true 60 restarts_at_least 2
	n=$(prop NRestarts)
	sd systemctl stop tpm-provision.service
	codes=$(exits "$M" | sort -u | tr '\n' ' ')
	diag "exit $code ($why): NRestarts=$n; exit codes seen: $codes" "$(since "$M" program | grep '^tpm-provision ' | tail -1)"
	check "exit $code ($why): restarted (NRestarts=$n), each run exited $code" [ "$n" -ge 2 -a "$codes" = "$code " ]
}

# 64: the config names no region (and the environment has none).
config "${BASE_CONFIG[@]}" -region
final 64 "no region"
# 78: a config file that is not JSON.
echo '{"thing-name": "gw-0042",' >"$CONFIG"
final 78 "config not JSON"
by_hand=$(sd "$BIN" enroll --config /etc/tpm-provision/config.json 2>&1 >/dev/null)
m78=$M
# 77: a secret the service rejects (InvalidSignatureException).
config "${BASE_CONFIG[@]}"
printf 'wrong%s\n' "$EMU_SECRET_ACCESS_KEY" >"$ROOTFS/etc/tpm-provision/credentials/aws-secret-access-key"
final 77 "credentials rejected"
printf '%s\n' "$EMU_SECRET_ACCESS_KEY" >"$ROOTFS/etc/tpm-provision/credentials/aws-secret-access-key"
# 65: the service refuses: a quota reached (LimitExceededException).
emulator_fault '{"count": 1000, "operation": "CreateCertificateFromCsr", "mode": "error", "errorType": "LimitExceededException"}'
final 65 "quota reached"
emulator_clear_faults

# 69: the service unreachable (nothing listens on its port) until the
# deadline, 1 s here.
closed=$(free_port_pair)
config "${BASE_CONFIG[@]}" endpoint-url="https://127.0.0.1:$closed" deadline='"1"'
restarted 69 "service unreachable"
# 75: the service keeps answering 503 until the deadline.
config "${BASE_CONFIG[@]}" deadline='"2"'
emulator_fault '{"count": 100000, "mode": "error", "status": 503, "errorType": "ServiceUnavailableException"}'
restarted 75 "service unavailable (503)"
m75=$M
emulator_clear_faults

# 74: no TPM at the TCTI (nothing listens on its port).  Restarted, and a
# device that keeps failing stops at the start limit (StartLimitBurst=10
# in StartLimitIntervalSec=1h): failed, no further start.
config "${BASE_CONFIG[@]}" tcti="swtpm:host=127.0.0.1,port=$closed"
start_failing
m74=$M
failed() {
	[ "$(prop ActiveState)" = failed ]
}
until_true 60 failed
state=$(props)
runs=$(exits "$m74" | wc -l)
diag "exit 74 (no TPM): $state; exit codes seen: $(exits "$m74" | sort | uniq -c | tr -s '\n ' ' ')"
check "exit 74 (no TPM): restarted ($(prop NRestarts) times)" restarts_at_least 2
check "exit 74 (no TPM): each run exited 74" [ "$(exits "$m74" | sort -u)" = 74 ]
# systemd 252 keeps Result=exit-code here; the journal names the limit.
stopped_at_limit() {
	[ "$runs" -eq 10 ] && like "$state" "ActiveState=failed SubState=failed *"
}
check "the start limit stops it after StartLimitBurst=10 runs: failed ($runs runs)" stopped_at_limit
sleep 1
check "and it stays stopped (no further run)" [ "$(exits "$m74" | wc -l)" -eq 10 ]
check "the journal says the start limit was hit" has "$(since "$m74" unit)" "Start request repeated too quickly"
check "the failure runs: the sandbox held" sandbox_clean "$m4"

# --- the journal ---------------------------------------------------------------------------

# What the program writes reaches the journal as it wrote it: the one
# error line of the 78 run is the line the program prints by hand, and an
# operator finds it with journalctl -u.
logged=$(since "$m78" first)
diag "by hand: $by_hand" "journal: $logged"
check "the 78 run's error line is the line the program prints" [ -n "$by_hand" -a "$logged" = "$by_hand" ]
check "journalctl -u tpm-provision shows it" \
	has_line "$(sd journalctl -q --no-pager -u tpm-provision.service -o cat)" "$by_hand"

# In order: in the first 75 run, the retry notes ("tpm-provision: ...")
# come before the error line ("tpm-provision enroll: ..."), and what the
# program wrote to stdout before them (the key it uses) comes first.
since "$m75" first >"$TEST_DIR/run75"
diag "the first 75 run's lines:" "$(cat "$TEST_DIR/run75")"
notes_then_error() {
	grep '^tpm-provision' "$TEST_DIR/run75" >"$TEST_DIR/run75.stderr"
	[ "$(wc -l <"$TEST_DIR/run75.stderr")" -ge 2 ] &&
		! head -n -1 "$TEST_DIR/run75.stderr" | grep -qv '^tpm-provision: ' &&
		tail -n 1 "$TEST_DIR/run75.stderr" | grep -q '^tpm-provision enroll: '
}
check "a run's retry notes, then its error line, in order" notes_then_error
check "the error line is the run's last line (stdout's lines come before it)" \
	has "$(tail -n 1 "$TEST_DIR/run75")" "^tpm-provision enroll: "

# Priority: journald files a stderr line at the priority of its "<N>"
# prefix, info without one.  (The first boot's are checked above.)
k78=$(kinds "$m78")
check "the journal files the 78 run's one line, its error line, at priority 3 (err) ($k78)" \
	[ "$k78" = "error:3" ]
k75=$(kinds "$m75")
check "the journal files the 75 run's steps at 6 (info), retry notes at 4 (warning), error line at 3 (err) ($k75)" \
	[ "$k75" = "error:3 step:6 warning:4" ]
check "journalctl -u tpm-provision -p err shows the error line" \
	has_line "$(sd journalctl -q --no-pager -u tpm-provision.service -p err -o cat)" "$by_hand"

done_testing
