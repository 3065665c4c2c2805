#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# TAP: the layout README.md's "Architecture" describes holds: tpm/ stands
# alone, each src/ layer includes only the layers below it (src/cmd, the
# top, any of them; nothing below includes src/cmd), no two modules include
# each other however indirectly, one external library per module, and no
# function is 60 lines or longer.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tap.sh
. "$top_srcdir/tests/unit/tap.sh"
cd "$top_srcdir" || exit 1

# includes FILES...: the quoted and bracketed includes, one per line.
includes() {
	sed -n 's/^#include [<"]\([^>"]*\)[>"].*/\1/p' "$@" | sort -u
}

# --- tpm/ stands alone ---------------------------------------------------------

tpm_foreign() {
	includes tpm/*.c tpm/*.h | grep -v -e '^tpm/' -e '^tss2/' |
		grep -v -x -e 'errno.h' -e 'stdarg.h' -e 'stdbool.h' -e 'stddef.h' -e 'stdint.h' -e 'stdio.h' \
			-e 'stdlib.h' -e 'string.h' -e 'time.h' -e 'unistd.h'
}
check "tpm/ includes only its own headers, tss2 and libc" [ -z "$(tpm_foreign)" ]

alone=$(mktemp -d)
trap 'rm -rf "$alone"' EXIT
cp -r tpm "$alone/"
compiles_alone() {
	local f
	for f in "$alone"/tpm/*.c; do
		${CC:-cc} -std=gnu11 -D_GNU_SOURCE -fsyntax-only -I"$alone" $(pkg-config --cflags tss2-esys) "$f" ||
			return 1
	done
}
check "tpm/ compiles with nothing of src/ in reach" compiles_alone

# --- one external library per module ---------------------------------------------

check "only tpm/ includes tss2" [ -z "$(grep -rl '#include <tss2/' src)" ]
check "only the service client (src/aws) includes curl" [ -z "$(grep -rl '#include <curl/' src tpm | grep -v '^src/aws/')" ]

# --- the layers of src/ ----------------------------------------------------------

# layer_uses LAYER ALLOWED...: LAYER includes headers of ALLOWED layers only.
layer_uses() {
	local layer=$1 used
	shift
	used=$(includes src/"$layer"/* | sed -n 's|^src/\([a-z0-9]*\)/.*|\1|p' | sort -u)
	for l in $used; do
		case " $layer $* " in *" $l "*) ;; *) echo "src/$layer includes src/$l" >&2; return 1 ;; esac
	done
}
check "src/base uses nothing above it" layer_uses base
check "src/store uses only base" layer_uses store base
check "src/aws uses only base and store" layer_uses aws base store
check "src/x509 uses only base and store" layer_uses x509 base store
check "src/device uses only base, store and x509" layer_uses device base store x509
check "src/cli uses only base, store and device" layer_uses cli base store device
check "src/cmd uses only the layers below it" layer_uses cmd base store aws x509 device cli
check "nothing below src/cmd includes src/cmd" [ -z "$(grep -l '^#include "src/cmd/' src/*/* tpm/* | grep -v '^src/cmd/')" ]

# --- no include cycles -------------------------------------------------------------

# module_edges: "A B" when module A includes module B's header; a .c and
# its .h are one module (src/cmd/run for run.c and run.h).
module_edges() {
	local f
	for f in src/*/*.[ch] tpm/*.[ch]; do
		sed -n 's|^#include "\([a-z0-9/_-]*\)\.h".*|\1|p' "$f" | sed "s|^|${f%.[ch]} |"
	done | awk '$1 != $2' | sort -u
}
# include_cycles: the modules of each cycle, as tsort finds them.
include_cycles() {
	module_edges | tsort 2>&1 >/dev/null | sed -n 's/^tsort: \([a-z].*\)/\1/p' | grep -v 'input contains a loop'
}
check "no include cycle between modules" [ -z "$(include_cycles)" ]
include_cycles | sed 's/^/# in a cycle: /'

# --- short functions ---------------------------------------------------------------

# A function starts with "{" alone in column 0 and ends with "}" in column 0.
long_functions() {
	awk -v max="${1:-59}" 'FNR == 1 { inside = 0 }
	     /^\{$/ { inside = 1; start = FNR; next }
	     /^\}/ && inside { if (FNR - start + 1 > max) printf "%s:%d (%d lines)\n", FILENAME, start, FNR - start + 1; inside = 0 }' \
		src/*/*.c tpm/*.c
}
check "no function is 60 lines or longer" [ -z "$(long_functions)" ]
long_functions | sed 's/^/# /'

done_testing
