#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Demo: provision a simulated device.  Starts a software TPM (swtpm) and the
# local AWS IoT certificate service emulator, enrolls the device, shows what
# was installed and what the TPM holds, reruns, and stops everything.
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$top_srcdir/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1
OUT="$TEST_DIR/var/lib/tpm-provision"

export AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY"
args=(--thing-name gw-0042 --region eu-west-1 --tcti "$TCTI"
	--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" --out-dir "$OUT")

echo "== tpm-provision enroll ${args[*]}"
"$TPM_PROVISION" enroll "${args[@]}" || exit $?

echo
echo "== installed in $OUT"
ls -l "$OUT"
echo
echo "== state.json"
cat "$OUT/state.json"
echo
echo "== certificate.pem"
openssl x509 -in "$OUT/certificate.pem" -noout -subject -issuer -dates -fingerprint -sha256
echo
echo "== the key in the TPM (tpm2_readpublic -c 0x81000002)"
tpm2_readpublic -c 0x81000002 | sed -n '1,14p'
echo
echo "== certificate key = TPM key?"
tpm2_readpublic -c 0x81000002 -f pem -o "$TEST_DIR/tpm-key.pem" >/dev/null
if cmp -s <(openssl x509 -in "$OUT/certificate.pem" -pubkey -noout | openssl pkey -pubin -outform der) \
	<(openssl pkey -pubin -in "$TEST_DIR/tpm-key.pem" -outform der); then
	echo "yes"
else
	echo "NO"
	exit 1
fi
echo
echo "== rerun (a provisioned device is left alone)"
"$TPM_PROVISION" enroll "${args[@]}"
