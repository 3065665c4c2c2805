#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# TAP: completion/tpm-provision.bash, sourced in bash and called as bash
# calls it: commands, options, values; and it offers exactly the options
# each command's --help lists, so it cannot go stale.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${TPM_PROVISION:=$top_builddir/tpm-provision}"

# shellcheck source=tap.sh
. "$top_srcdir/tests/unit/tap.sh"

[ -x "$TPM_PROVISION" ] || bail "no $TPM_PROVISION (make first)"
# shellcheck source=/dev/null
. "$top_srcdir/completion/tpm-provision.bash" || bail "cannot source the completion"

# complete WORD...: what <TAB> after the words offers (the last word is the
# one being completed), one per line, sorted.
complete_words() {
	COMP_WORDS=(tpm-provision "$@")
	COMP_CWORD=$#
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_tpm_provision 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | sort
}
# offers EXPECTED WORD...: the completion is exactly EXPECTED (lines).
offers() {
	local expected=$1 got
	shift
	got=$(complete_words "$@")
	[ "$got" = "$expected" ] || { printf '# got: %s\n' $got; return 1; }
}

registered() { [[ "$(complete -p tpm-provision 2>/dev/null)" == *"-F _tpm_provision"* ]]; }
check "it registers _tpm_provision for tpm-provision" registered
check "enr<TAB> -> enroll" offers enroll enr
check "st<TAB> -> status" offers status st
check "c<TAB> -> check csr" offers "$(printf 'check\ncsr')" c
check "enroll --thing<TAB> -> --thing-name" offers --thing-name enroll --thing
check "-v enroll --thing<TAB> -> --thing-name" offers --thing-name -v enroll --thing
check "enroll --key-alg <TAB> -> the four algorithms" offers "$(printf 'ecc-p256\necc-p384\nrsa-2048\nrsa-3072')" enroll --key-alg ""
check "enroll --agent a<TAB> -> aws-iot-device-client" offers aws-iot-device-client enroll --agent a
check "enroll --agent <TAB> -> the four agents" \
	offers "$(printf 'aws-iot-device-client\nenv\nopenssl\npkcs11')" enroll --agent ""
# help_values OPTION: the values enroll --help lists for OPTION, one per
# line, sorted (they are made from the program's tables).
help_values() {
	"$TPM_PROVISION" enroll --help | sed -n "s/^  --$1 [A-Z]* *//p" |
		sed -e 's/^configure //' -e 's/ (repeatable)$//' -e 's/ (default)//g' | tr ',' '\n' | tr -d ' ' | sort
}
check "enroll --key-alg <TAB> -> the algorithms of --help" offers "$(help_values key-alg)" enroll --key-alg ""
check "enroll --agent <TAB> -> the agents of --help" offers "$(help_values agent)" enroll --agent ""
check "enroll --signing-name <TAB> -> iot execute-api" offers "$(printf 'execute-api\niot')" enroll --signing-name ""
check "register --status <TAB> -> ACTIVE INACTIVE" offers "$(printf 'ACTIVE\nINACTIVE')" register --status ""
check "help e<TAB> -> enroll" offers enroll help e

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/certs.d"
: >"$scratch/cert.pem"
check "--cert <TAB> completes files" offers "$(printf '%s\n' "$scratch/cert.pem" "$scratch/certs.d")" install --cert "$scratch/cert"
check "--out-dir <TAB> completes directories only" offers "$scratch/certs.d" enroll --out-dir "$scratch/cert"
check "--thing-name <TAB> offers nothing" offers "" enroll --thing-name ""

# Each command's options are exactly those of its --help.
commands=$("$TPM_PROVISION" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
check "tpm-provision --help lists commands" [ -n "$commands" ]
check "the commands are those of --help" offers "$(printf '%s\n' $commands help | sort)" ""
for c in $commands; do
	want=$( ("$TPM_PROVISION" "$c" --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p'; echo --help) | sort)
	check "$c --<TAB> offers exactly the options of its --help" offers "$want" "$c" --
done

done_testing
