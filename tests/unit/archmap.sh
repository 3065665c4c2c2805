#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# TAP: README.md stays a front door (under 250 lines), and its architecture
# map is true: one line per file, "- `PATH` — role", for every source file
# under src/ and tpm/, and for nothing that is not there.
set -u
export LC_ALL=C
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tap.sh
. "$top_srcdir/tests/unit/tap.sh"
cd "$top_srcdir" || exit 1

README=README.md
[ -f "$README" ] || bail "no $README"

lines=$(wc -l <"$README")
check "README.md is under 250 lines ($lines)" [ "$lines" -lt 250 ]

# The source files: in a checkout, git's (tracked, and new ones not yet
# added; not those deleted); in an unpacked tarball (make distcheck), where
# git knows none, the directory's.
sources() {
	local files f
	files=$(git ls-files --cached --others --exclude-standard -- src tpm 2>/dev/null)
	[ -n "$files" ] || files=$(find src tpm -type f)
	printf '%s\n' "$files" | grep -E '\.[ch]$' | sort -u | while read -r f; do
		[ ! -f "$f" ] || echo "$f"
	done
}

# The map: the "- `PATH`" lines of the Architecture section.
mapped() {
	# shellcheck disable=SC2016 # the backquotes are the Markdown's
	sed -n '/^## Architecture$/,/^## /p' "$README" | sed -n 's/^- `\([^`]*\)`.*/\1/p'
}

src=$(sources)
map=$(mapped | sort)
[ -n "$src" ] || bail "no source files under src/ and tpm/"
[ -n "$map" ] || bail "no architecture map in $README (\"- \`PATH\` — role\" lines under \"## Architecture\")"

missing=$(comm -23 <(printf '%s\n' "$src") <(printf '%s\n' "$map" | sort -u))
check "the architecture map lists every file under src/ and tpm/" [ -z "$missing" ]
[ -z "$missing" ] || printf '%s\n' "$missing" | sed 's/^/# not in the map: /'

gone=$(printf '%s\n' "$map" | sort -u | while read -r f; do [ -f "$f" ] || echo "$f"; done)
check "the architecture map names only files that exist" [ -z "$gone" ]
[ -z "$gone" ] || printf '%s\n' "$gone" | sed 's/^/# no such file: /'

twice=$(printf '%s\n' "$map" | uniq -d)
check "the architecture map names each file once" [ -z "$twice" ]
[ -z "$twice" ] || printf '%s\n' "$twice" | sed 's/^/# named twice: /'

done_testing
