#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Benchmark: prints tables, asserts nothing (it is not a test).
#
#   tests/bench/bench.sh [N_BATCH] [N_LOOP_SAMPLE]
#
# 1. One device: `tpm-provision enroll` (ECC P-256, swtpm) against the same
#    job scripted the way users do it today (tpm2-tools for the key,
#    `openssl req -provider tpm2` for the CSR, `aws iot
#    create-certificate-from-csr` for the certificate), and a floor: the
#    TPM operations by themselves (tpm2-tools) plus one signed request by
#    curl; since those are separate processes, the tool's own wall time
#    minus its CPU time (what it spends waiting on the TPM and the service)
#    is printed too.
# 2. A factory batch: `tpm-provision batch` on N_BATCH CSRs (default 1000)
#    against `xargs -P 10 aws iot create-certificate-from-csr` (run on a
#    sample of N_LOOP_SAMPLE CSRs, default 50, and extrapolated), and the
#    service's ceiling: the same requests from tests/bench/ceiling.c, the
#    cheapest client there is (libcurl multi, nothing checked or written).
# All against the local certificate service (tests/emulator) on loopback.
# Run it from a built tree: TPM_PROVISION defaults to ./tpm-provision.
set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
export top_srcdir
TPM_PROVISION=${TPM_PROVISION:-$top_srcdir/tpm-provision}
N_BATCH=${1:-1000}
N_LOOP=${2:-50}
# shellcheck source=../e2e/lib.sh
. "$top_srcdir/tests/e2e/lib.sh" >/dev/null

swtpm_start
emulator_start --region eu-west-1 --workers "${BENCH_WORKERS:-2}"
export AWS_ACCESS_KEY_ID="$EMU_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$EMU_SECRET_ACCESS_KEY"
export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null AWS_CA_BUNDLE="$EMU_CA"
export AWS_REGION=eu-west-1 AWS_PAGER='' AWS_EC2_METADATA_DISABLED=true
AWS_ARGS=(--endpoint-url "$EMU_URL" --region eu-west-1 --output json)

# measure LABEL CMD...: wall s, CPU s (user + system, children included),
# peak RSS of the largest process in MiB, via GNU time.
measure() {
	local label=$1 out="$TEST_DIR/time.$RANDOM"
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$out" "$@" >/dev/null 2>"$TEST_DIR/bench.err" ||
		{ echo "bench: $label failed: $(tail -n 3 "$TEST_DIR/bench.err")" >&2; return 1; }
	read -r wall user sys rss <"$out"
	printf '%s %s %.2f %.1f\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)"
}

# --- 1. one device ------------------------------------------------------------

enroll_tool() {
	tpm2_evictcontrol -T "$TCTI" -C o -c 0x81000040 >/dev/null 2>&1
	rm -rf "$TEST_DIR/dev"
	measure tool "$TPM_PROVISION" enroll --thing-name bench-1 --tcti "$TCTI" --key-handle 0x81000040 \
		--out-dir "$TEST_DIR/dev" --region eu-west-1 --endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" \
		--iot-endpoint data.example --root-ca "$EMU_CA"
}

# The same job as users script it: key under the SRK, persisted; CSR by the
# tpm2 provider; the certificate by the aws CLI.
cat >"$TEST_DIR/script.sh" <<'EOF'
set -e
cd "$1"
export TPM2TOOLS_TCTI="$2" TPM2OPENSSL_TCTI="$2"
tpm2_evictcontrol -C o -c 0x81000041 >/dev/null 2>&1 || true
tpm2_create -C 0x81000001 -G ecc256:ecdsa -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
	-u key.pub -r key.priv >/dev/null
tpm2_load -C 0x81000001 -u key.pub -r key.priv -c key.ctx >/dev/null
tpm2_evictcontrol -C o -c key.ctx 0x81000041 >/dev/null
tpm2_flushcontext -t
openssl req -new -provider tpm2 -provider default -propquery '?provider=tpm2,tpm2.digest!=yes' \
	-key handle:0x81000041 -subj /CN=bench-2 -out device.csr
aws "${@:3}" iot create-certificate-from-csr --set-as-active \
	--certificate-signing-request file://device.csr --query certificatePem --output text >certificate.pem
EOF

enroll_script() {
	rm -rf "$TEST_DIR/script" && mkdir -p "$TEST_DIR/script"
	measure script bash "$TEST_DIR/script.sh" "$TEST_DIR/script" "$TCTI" "${AWS_ARGS[@]}"
}

# The floor: the TPM work (create, load, persist, one signature) through
# tpm2-tools, and one signed CreateCertificateFromCsr by curl.
cat >"$TEST_DIR/floor.sh" <<'EOF'
set -e
cd "$1"
export TPM2TOOLS_TCTI="$2"
tpm2_evictcontrol -C o -c 0x81000042 >/dev/null 2>&1 || true
tpm2_create -C 0x81000001 -G ecc256:ecdsa -u key.pub -r key.priv >/dev/null
tpm2_load -C 0x81000001 -u key.pub -r key.priv -c key.ctx >/dev/null
tpm2_evictcontrol -C o -c key.ctx 0x81000042 >/dev/null
tpm2_flushcontext -t
echo data | tpm2_sign -c 0x81000042 -g sha256 -o sig >/dev/null
curl -sS --fail --cacert "$3" --aws-sigv4 aws:amz:eu-west-1:iot --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
	-H 'Content-Type: application/json' --data-binary @"$5" "$4/certificates?setAsActive=true" >/dev/null
EOF

floor() {
	rm -rf "$TEST_DIR/floor" && mkdir -p "$TEST_DIR/floor"
	printf '{"certificateSigningRequest": %s}' "$(jq -Rs . <"$TEST_DIR/script/device.csr")" >"$TEST_DIR/floor/body.json"
	measure floor bash "$TEST_DIR/floor.sh" "$TEST_DIR/floor" "$TCTI" "$EMU_CA" "$EMU_URL" "$TEST_DIR/floor/body.json"
}

# median of 5 runs of each, by wall time
median() {
	local f=$1 i
	for i in 1 2 3 4 5; do "$f" || exit 1; done | sort -k2 -n | sed -n 3p
}

# The SRK the tool, the script and the floor use (the standard one, made
# by the tool); the script's tpm2-tools leave no transient object behind.
"$TPM_PROVISION" csr --thing-name warmup --tcti "$TCTI" --key-handle 0x81000043 --out-dir "$TEST_DIR/warm" \
	--out "$TEST_DIR/warm.csr" >/dev/null || bail "warm-up csr failed"
read -r _ t_wall t_cpu t_rss <<<"$(median enroll_tool)"
read -r _ s_wall s_cpu s_rss <<<"$(median enroll_script)"
read -r _ f_wall f_cpu f_rss <<<"$(median floor)"

echo "One device, ECC P-256, swtpm, median of 5 ($(nproc) cores, $(uname -m))"
echo
echo "| | wall s | CPU s | peak MiB |"
echo "|---|---|---|---|"
echo "| tpm-provision enroll | $t_wall | $t_cpu | $t_rss |"
echo "| tpm2-tools + openssl + aws CLI | $s_wall | $s_cpu | $s_rss |"
echo "| floor (TPM work + one curl request) | $f_wall | $f_cpu | $f_rss |"
printf '| script / tool | %.1fx | %.1fx | %.1fx |\n' "$(echo "$s_wall / $t_wall" | bc -l)" \
	"$(echo "$s_cpu / $t_cpu" | bc -l)" "$(echo "$s_rss / $t_rss" | bc -l)"
printf '| tool / floor, wall | %.2f | | |\n' "$(echo "$t_wall / $f_wall" | bc -l)"
printf '| tool: wall - CPU (waiting on the TPM and the service) | %.2f | | |\n' "$(echo "$t_wall - $t_cpu" | bc -l)"
echo

# --- 2. a batch ---------------------------------------------------------------

mkdir -p "$TEST_DIR/csrs"
# One key for every CSR (key generation is not what is measured), each CSR
# its own subject.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TEST_DIR/k.pem" 2>/dev/null
for i in $(seq -w 1 "$N_BATCH"); do
	openssl req -new -key "$TEST_DIR/k.pem" -subj "/CN=line-$i" -out "$TEST_DIR/csrs/line-$i.csr" 2>/dev/null
done

batch_tool() { # OUT_DIR CSR_DIR
	rm -rf "$1"
	measure batch "$TPM_PROVISION" batch --csr-dir "$2" --out-dir "$1" --region eu-west-1 \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA"
}
mkdir -p "$TEST_DIR/sample" "$TEST_DIR/csrs100"
ls "$TEST_DIR/csrs" | head -n "$N_LOOP" | while read -r f; do cp "$TEST_DIR/csrs/$f" "$TEST_DIR/sample/"; done
ls "$TEST_DIR/csrs" | head -n 100 | while read -r f; do cp "$TEST_DIR/csrs/$f" "$TEST_DIR/csrs100/"; done

# The loop from AWS's documentation.
cat >"$TEST_DIR/loop.sh" <<'EOF'
cd "$1" && ls | xargs -P 10 -I {} aws "${@:2}" iot create-certificate-from-csr \
	--certificate-signing-request file://{} --set-as-active >/dev/null
EOF

# The ceiling: the cheapest client (tests/bench/ceiling.c: libcurl multi,
# 10 in flight, nothing checked or written).
cc -O2 -o "$TEST_DIR/ceiling" "$top_srcdir/tests/bench/ceiling.c" -lcurl || bail "cannot build ceiling.c"

read -r _ b_wall b_cpu b_rss <<<"$(batch_tool "$TEST_DIR/out1" "$TEST_DIR/csrs")"
read -r _ b100_wall _ b100_rss <<<"$(batch_tool "$TEST_DIR/out100" "$TEST_DIR/csrs100")"
cp -r "$TEST_DIR/csrs" "$TEST_DIR/ceil"
for f in "$TEST_DIR"/ceil/*.csr; do
	printf '{"certificateSigningRequest": %s}' "$(jq -Rs . <"$f")" >"$f.json"
done
read -r _ c_wall c_cpu c_rss <<<"$(measure ceiling "$TEST_DIR/ceiling" "$EMU_URL/certificates?setAsActive=true" \
	"$EMU_CA" eu-west-1 "$TEST_DIR"/ceil/*.csr.json)"
read -r _ l_wall l_cpu l_rss <<<"$(measure loop bash "$TEST_DIR/loop.sh" "$TEST_DIR/sample" "${AWS_ARGS[@]}")"

rate() { echo "scale=1; $1 / $2" | bc; }
b_rate=$(rate "$N_BATCH" "$b_wall")
c_rate=$(rate "$N_BATCH" "$c_wall")
l_rate=$(rate "$N_LOOP" "$l_wall")
echo "A batch of $N_BATCH CSRs, 10 in flight; the CLI loop on a sample of $N_LOOP, extrapolated"
echo
echo "| | wall s | certificates/s | CPU s | peak MiB |"
echo "|---|---|---|---|---|"
echo "| tpm-provision batch, $N_BATCH CSRs | $b_wall | $b_rate | $b_cpu | $b_rss |"
echo "| tpm-provision batch, 100 CSRs | $b100_wall | $(rate 100 "$b100_wall") | | $b100_rss |"
echo "| xargs -P 10 aws iot ..., $N_LOOP CSRs | $l_wall | $l_rate | $l_cpu | $l_rss |"
printf '| xargs -P 10 aws iot ..., %s CSRs (extrapolated) | %.1f | %s | | |\n' "$N_BATCH" \
	"$(echo "$l_wall * $N_BATCH / $N_LOOP" | bc -l)" "$l_rate"
echo "| service ceiling (tests/bench/ceiling.c, 10 in flight) | $c_wall | $c_rate | $c_cpu | $c_rss |"
printf '| batch / CLI loop | | %.0fx | | |\n' "$(echo "$b_rate / $l_rate" | bc -l)"
printf '| batch / ceiling | | %.0f%% | | |\n' "$(echo "100 * $b_rate / $c_rate" | bc -l)"
