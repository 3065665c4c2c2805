#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The Debian package (doc/package.md), built as a maintainer would: from a
# clean copy of the tree (the files git tracks or would track, as they are
# in the work tree), with dpkg-buildpackage -b -us -uc and nocheck (the
# suites run on their own), then lintian on the .changes (the .deb, its
# -dbgsym and the .buildinfo): no error and no warning that
# debian/*.lintian-overrides does not justify.  Then what the package holds
# (dpkg-deb -c, -I): the files where Debian wants them, Depends with the
# tools loaded at run time, a postinst that creates the user and enables the
# unit but never starts it; and the unit as unpacked (dpkg-deb -x): its
# conditions, systemd-analyze verify, systemctl enable in the unpacked root.
# Run by make check-deb (.ci/run), not by make check: it compiles the tree
# once more (about a minute).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

for tool in git dpkg-buildpackage dpkg-deb dpkg-parsechangelog dh lintian systemd-analyze systemctl; do
	command -v "$tool" >/dev/null || bail "$tool not found (.ci/install-deps installs what the package build needs)"
done
git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	bail "$top_srcdir is not a git work tree: the package is built from the files git tracks"

VERSION=$(sed -n 's/^AC_INIT(\[[^]]*\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
[ -n "$VERSION" ] || bail "no version in configure.ac's AC_INIT"
ARCH=$(dpkg --print-architecture)

# --- the changelog ------------------------------------------------------------------

DEB_VERSION=$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version)
check "debian/changelog's version $DEB_VERSION is configure.ac's $VERSION with a Debian revision" \
	[ "${DEB_VERSION%-*}" = "$VERSION" -a "${DEB_VERSION%-*}" != "$DEB_VERSION" ]
DEB_VERSION=$VERSION-${DEB_VERSION##*-}

# --- the build ----------------------------------------------------------------------

# A clean copy: what a fresh clone (CI's) has, plus the work tree's new and
# changed files, none of its build products.
SRC="$TEST_DIR/build/tpm-provision-$VERSION"
mkdir -p "$SRC"
(cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
	tar --null -T - -cf -) | tar -xf - -C "$SRC" || bail "cannot copy the tree to $SRC"

# make check's environment stays out of the package build: the jobserver
# of the make that runs this test, and the test harness's variables.
start=$(date +%s)
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u top_srcdir -u top_builddir \
	DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -b -us -uc -Pnocheck) >"$TEST_DIR/build.log" 2>&1
rc=$?
diag "dpkg-buildpackage -b -us -uc -Pnocheck: exit $rc in $(($(date +%s) - start)) s"
[ "$rc" -eq 0 ] || {
	tail -n 40 "$TEST_DIR/build.log" | sed 's/^/# /'
	bail "the package did not build"
}
DEB="$TEST_DIR/build/tpm-provision_${DEB_VERSION}_$ARCH.deb"
CHANGES="$TEST_DIR/build/tpm-provision_${DEB_VERSION}_$ARCH.changes"
check "dpkg-buildpackage made $(basename "$DEB")" [ -s "$DEB" ]
check "and the .changes and .buildinfo" [ -s "$CHANGES" -a -s "${CHANGES%.changes}.buildinfo" ]

# --- lintian -------------------------------------------------------------------------

# Info and pedantic tags are shown, and overridden ones as O: (the override
# says why); errors and warnings fail.
start=$(date +%s)
lintian_out=$(lintian --display-info --pedantic --show-overrides "$CHANGES" 2>&1)
diag "lintian $(lintian --version | sed 's/^Lintian v//') on $(basename "$CHANGES") in $(($(date +%s) - start)) s:"
printf '%s\n' "$lintian_out" | grep -v 'running with root privileges' | sed 's/^/#   /'
check "lintian: no error" not grep -q '^E: ' <<<"$lintian_out"
check "lintian: no warning that is not overridden with a reason" not grep -q '^W: ' <<<"$lintian_out"
check "every lintian override is used" not grep -q 'unused-override\|mismatched-override' <<<"$lintian_out"

# --- what the package holds -------------------------------------------------------------

UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
: "${UNITDIR:=/lib/systemd/system}"
dpkg-deb -c "$DEB" | awk '{ print $NF }' | sed 's|^\./|/|' >"$TEST_DIR/files"
diag "files:" $(grep -v '/$' "$TEST_DIR/files")
for f in /usr/bin/tpm-provision "$UNITDIR/tpm-provision.service" /usr/lib/sysusers.d/tpm-provision.conf \
	/usr/share/bash-completion/completions/tpm-provision /usr/share/man/man8/tpm-provision.8.gz \
	/usr/share/doc/tpm-provision/README.md /usr/share/doc/tpm-provision/config.example.json \
	/usr/share/doc/tpm-provision/doc/first-boot.md /usr/share/doc/tpm-provision/copyright; do
	check "the package has $f" grep -qxF "$f" "$TEST_DIR/files"
done
check "nothing under /etc: the config is the device's, not the package's" not grep -q '^/etc/' "$TEST_DIR/files"
check "nothing under /usr/local" not grep -q '^/usr/local/' "$TEST_DIR/files"

field() {
	dpkg-deb -f "$DEB" "$1"
}
diag "Depends: $(field Depends)" "Recommends: $(field Recommends)" "Suggests: $(field Suggests)"
check "Package tpm-provision, Version $DEB_VERSION, Architecture $ARCH" \
	[ "$(field Package) $(field Version) $(field Architecture)" = "tpm-provision $DEB_VERSION $ARCH" ]

# has_dep FIELD PACKAGE: FIELD names PACKAGE (with or without a version).
has_dep() {
	field "$1" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qxF "$2"
}
for p in libc6 libssl3 libcurl4 libcjson1 libsystemd0 libtss2-esys-3.0.2-0 libtss2-tctildr0; do
	check "Depends: $p (from \${shlibs:Depends})" has_dep Depends "$p"
done
check "Depends: tpm2-openssl (the OpenSSL provider every key operation loads)" has_dep Depends tpm2-openssl
check "Depends: libtss2-tcti-device0 (the default TCTI, loaded by tctildr)" has_dep Depends libtss2-tcti-device0
check "Depends: tpm-udev (/dev/tpmrm0 for group tss)" has_dep Depends tpm-udev
check "Depends: systemd-sysusers (from \${misc:Depends})" bash -c 'dpkg-deb -f "$1" Depends | grep -q "systemd | systemd-standalone-sysusers"' _ "$DEB"
for p in libtpm2-pkcs11-tools libtpm2-pkcs11-1; do
	check "Recommends: $p (only the pkcs11 agent runs it)" has_dep Recommends "$p"
	check "and $p is not in Depends" not has_dep Depends "$p"
done

mkdir -p "$TEST_DIR/control"
dpkg-deb -e "$DEB" "$TEST_DIR/control"
POSTINST="$TEST_DIR/control/postinst"
check "postinst creates the user: systemd-sysusers tpm-provision.conf" grep -q 'systemd-sysusers .*tpm-provision.conf' "$POSTINST"
check "postinst enables the unit" grep -q "deb-systemd-helper enable 'tpm-provision.service'" "$POSTINST"
check "postinst never starts it" not grep -q 'deb-systemd-invoke\|systemctl.* start\|invoke-rc.d' "$POSTINST"

# --- the unit as installed ----------------------------------------------------------------

ROOT="$TEST_DIR/root"
dpkg-deb -x "$DEB" "$ROOT"
UNIT="$ROOT$UNITDIR/tpm-provision.service"
config_path=$(sed -n 's/^ExecStart=.* --config \([^ ]*\).*/\1/p' "$UNIT")
check "ExecStart= runs the packaged binary with --config /etc/tpm-provision/config.json" \
	grep -qx 'ExecStart=/usr/bin/tpm-provision enroll --config /etc/tpm-provision/config.json' "$UNIT"
check "skipped until the config ExecStart= reads exists: ConditionPathExists=$config_path" \
	grep -qxF "ConditionPathExists=$config_path" "$UNIT"
check "and once provisioned: ConditionPathExists=!/var/lib/tpm-provision/state.json" \
	grep -qxF 'ConditionPathExists=!/var/lib/tpm-provision/state.json' "$UNIT"
doc=$(sed -n 's|^Documentation=file://||p' "$UNIT")
check "Documentation= names a file the package has, uncompressed ($doc)" [ -n "$doc" -a -f "$ROOT$doc" ]
check "the packaged binary runs: --version says $VERSION" \
	grep -qx "tpm-provision $VERSION" <<<"$("$ROOT/usr/bin/tpm-provision" --version 2>&1)"

# verify checks that ExecStart='s binary exists: the copy runs the unpacked one.
mkdir -p "$TEST_DIR/units"
sed -e "s|^ExecStart=/usr/bin/tpm-provision |ExecStart=$ROOT/usr/bin/tpm-provision |" "$UNIT" >"$TEST_DIR/units/tpm-provision.service"
verify_out=$(systemd-analyze verify --man=no "$TEST_DIR/units/tpm-provision.service" 2>&1)
verify_rc=$?
[ -z "$verify_out" ] || diag "systemd-analyze verify: exit $verify_rc" "$verify_out"
check "systemd-analyze verify of the packaged unit: exit 0, nothing said about it" \
	[ "$verify_rc" -eq 0 -a -z "$(grep tpm-provision <<<"$verify_out")" ]

# What deb-systemd-helper enable does on a real system, in the unpacked root.
systemctl --root="$ROOT" enable tpm-provision.service >"$TEST_DIR/enable.log" 2>&1
check "systemctl enable in the unpacked root: wanted by multi-user.target" \
	[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/tpm-provision.service" ]

# The postinst's systemd-sysusers, in the unpacked root (it writes
# $ROOT/etc/passwd and group; root only, for the files' owners).
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$ROOT/etc"
	systemd-sysusers --root="$ROOT" tpm-provision.conf >"$TEST_DIR/sysusers.log" 2>&1
	check "systemd-sysusers tpm-provision.conf: user tpm-provision, in group tss" \
		bash -c 'grep -q "^tpm-provision:" "$1/etc/passwd" && grep -q "^tss:.*[:,]tpm-provision\(,\|$\)" "$1/etc/group"' _ "$ROOT"
else
	skip "systemd-sysusers in the unpacked root needs root"
fi

done_testing
