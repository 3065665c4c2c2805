#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# TAP: doc/tpm-provision.8 renders without a warning, and it cannot go
# stale: every command of `tpm-provision --help` has its subsection, and
# every option of each command's --help is listed there and described under
# OPTIONS; an option the page lists for a command is one it has.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${TPM_PROVISION:=$top_builddir/tpm-provision}"
PAGE=$top_srcdir/doc/tpm-provision.8

if ! command -v man >/dev/null; then
	echo "ok 1 # SKIP man not installed (Debian packages man-db, groff-base)"
	echo "1..1"
	exit 0
fi

# shellcheck source=tap.sh
. "$top_srcdir/tests/unit/tap.sh"

[ -f "$PAGE" ] || bail "no $PAGE"
[ -x "$TPM_PROVISION" ] || bail "no $TPM_PROVISION (make first)"

# --- it renders without a warning --------------------------------------------------

for loc in C C.UTF-8; do
	warnings=$(LC_ALL=$loc MANWIDTH=80 man --warnings -l "$PAGE" 2>&1 >/dev/null)
	check "man --warnings -l renders it without a warning ($loc)" [ -z "$warnings" ]
	[ -z "$warnings" ] || printf '%s\n' "$warnings" | sed 's/^/# /'
done
if command -v groff >/dev/null; then
	warnings=$(groff -man -ww -z "$PAGE" 2>&1)
	check "groff -man -ww -z finds nothing to warn about" [ -z "$warnings" ]
	[ -z "$warnings" ] || printf '%s\n' "$warnings" | sed 's/^/# /'
fi

# The text as a reader sees it, without hyphenation and with long lines, so
# that an option is never broken across two lines.
text=$(LC_ALL=C MANWIDTH=200 MANROFFOPT=-rHY=0 man -l "$PAGE" 2>/dev/null)
check "it renders to text" [ -n "$text" ]
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
	check "section $s" grep -qx "$s" <<<"$text"
done

# --- it says what --help says -----------------------------------------------------

commands=$("$TPM_PROVISION" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
check "tpm-provision --help lists commands" [ -n "$commands" ]

# subsection CMD: the rendered text of the page's subsection for CMD.
subsection() {
	awk -v cmd="   $1" '$0 == cmd { inside = 1; next }
	     inside && (/^   [^ ]/ || /^[^ ]/) { exit }
	     inside { print }' <<<"$text"
}

# described OPT: OPT is a tag under OPTIONS (a line of its own, maybe after
# its short form), with or without its argument.
described() {
	sed -n '/^OPTIONS$/,/^[A-Z]/p' <<<"$text" | grep -Eq -- "^       (-[a-z], )?$1(,| |\$)"
}

for c in $commands; do
	sub=$(subsection "$c")
	check "$c: has its subsection under COMMANDS" [ -n "$sub" ]
	help=$("$TPM_PROVISION" "$c" --help 2>&1) || true
	opts=$(sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p' <<<"$help")
	check "$c: its --help lists options" [ -n "$opts" ]
	# The "Options" paragraph of the subsection, as words.
	listed=$(sed -n '/^       Options/,/^$/p' <<<"$sub" | grep -o -- '--[a-z0-9-]*' | sort -u)
	missing= extra= undescribed=
	for o in $opts; do
		grep -qx -- "$o" <<<"$listed" || missing="$missing $o"
		described "$o" || undescribed="$undescribed $o"
	done
	for o in $listed; do
		grep -qx -- "$o" <<<"$opts" || extra="$extra $o"
	done
	check "$c: every option of its --help is listed in its subsection${missing:+ (missing:$missing)}" \
		[ -z "$missing" ]
	check "$c: every option of its --help is described under OPTIONS${undescribed:+ (missing:$undescribed)}" \
		[ -z "$undescribed" ]
	check "$c: every option its subsection lists is in its --help${extra:+ (not there:$extra)}" [ -z "$extra" ]
done
for o in -v -q -h --help --version; do
	check "$o is described under OPTIONS" described "$o"
done
check "the synopsis names every command" \
	bash -c 'for c in $2; do grep -q "^       tpm-provision $c\( \|\$\)" <<<"$1" || exit 1; done' _ \
	"$(sed -n '/^SYNOPSIS$/,/^[A-Z]/p' <<<"$text")" "$commands"

# --- it is installed ---------------------------------------------------------------

check "Makefile.am installs it" grep -Eq '^(dist_)?man8_MANS *[+]?= *doc/tpm-provision\.8' "$top_srcdir/Makefile.am"
check "the unit points to it" grep -qx 'Documentation=man:tpm-provision(8)' "$top_srcdir/systemd/tpm-provision.service.in"

done_testing
