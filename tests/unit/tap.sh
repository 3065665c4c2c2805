# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# TAP for the shell unit tests (sourced): check DESC COMMAND... is one
# test point, passing when COMMAND succeeds; ok/not_ok DESC record one
# directly; bail stops the test; done_testing prints the plan and fails
# when a point failed.
n=0 failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
bail() {
	echo "Bail out! $*"
	exit 99
}
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
