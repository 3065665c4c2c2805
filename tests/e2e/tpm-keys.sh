#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The device key: every algorithm AWS IoT accepts, persisted or in a key
# file, with and without an authorization value; reuse only of our own key,
# collisions, non-exportability, TPM errors, and nothing left loaded in the
# TPM after any run.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

swtpm_start
emulator_start --region eu-west-1

# enroll ARGS...: run enroll against swtpm and the emulator.
enroll() {
	run -- enroll --thing-name gw-keys --region eu-west-1 --tcti "$TCTI" \
		--endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" "$@"
}

expect_success() {
	if [ "$RC" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1: exit $RC; stderr: $(cat "$RUN_ERR")"
	fi
}

# no_leaks WHEN: nothing left loaded in the TPM (no resource manager here).
no_leaks() {
	local t s
	t=$(tpm_transient_count)
	s=$(tpm_session_count)
	if [ "$t" -eq 0 ] && [ "$s" -eq 0 ]; then
		ok "nothing left loaded in the TPM after $1"
	else
		not_ok "TPM has $t transient objects and $s sessions loaded after $1"
	fi
}

tpm_name() {
	tpm2_readpublic -c "$1" 2>/dev/null | sed -n 's/^name: //p'
}

csr_sigalg() {
	openssl req -in "$1" -noout -text | sed -n 's/^ *Signature Algorithm: //p' | head -n 1
}

# same_pubkey PEM1 PEM2: both public keys are the same key.
same_pubkey() {
	cmp -s <(openssl pkey -pubin -in "$1" -outform der) <(openssl pkey -pubin -in "$2" -outform der)
}

csr_n=0

# --- every algorithm, persisted ------------------------------------------------

# alg handle expected-CSR-signature-algorithm expected-readpublic-text [extra]
for spec in "ecc-p256 0x81000002 ecdsa-with-SHA256 NIST p256" \
	"ecc-p384 0x81000003 ecdsa-with-SHA384 NIST p384" \
	"rsa-2048 0x81000004 sha256WithRSAEncryption bits: 2048" \
	"rsa-3072 0x81000005 sha256WithRSAEncryption bits: 3072" \
	"rsa-2048 0x81000006 rsassaPss bits: 2048 --rsa-pss"; do
	read -r alg handle sigalg want1 want2 extra <<<"$spec"
	out="$TEST_DIR/out-$handle"
	enroll --key-alg "$alg" --key-handle "$handle" --out-dir "$out" ${extra:+"$extra"}
	expect_success "enroll with --key-alg $alg ${extra:-} at $handle"
	csr_n=$((csr_n + 1))
	tpm2_readpublic -c "$handle" -f pem -o "$TEST_DIR/tpm-$handle.pem" >"$TEST_DIR/rp-$handle.txt"
	openssl x509 -in "$out/certificate.pem" -pubkey -noout >"$TEST_DIR/cert-$handle.pem"
	check "$alg: certificate public key equals the TPM key (openssl vs tpm2_readpublic)" \
		same_pubkey "$TEST_DIR/tpm-$handle.pem" "$TEST_DIR/cert-$handle.pem"
	check "$alg: the TPM key is $want1 $want2" grep -q "$want1 $want2" "$TEST_DIR/rp-$handle.txt"
	got=$(csr_sigalg "$EMU_DIR/csr/$csr_n.pem")
	check "$alg ${extra:-}: the CSR is signed with $sigalg ($got)" [ "$got" = "$sigalg" ]
	check "$alg: the CSR's self-signature verifies" \
		bash -c 'openssl req -in "$1" -verify -noout >/dev/null 2>&1' _ "$EMU_DIR/csr/$csr_n.pem"
	attrs=$(sed -n '/^attributes:/,/raw:/p' "$TEST_DIR/rp-$handle.txt" | sed -n 's/^ *value: //p')
	check "$alg: key attributes fixedtpm|fixedparent|sensitivedataorigin, sign, no decrypt ($attrs)" \
		[ "$attrs" = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" ]
	no_leaks "enrolling $alg"
done
check "RSA-PSS CSR salt length is the hash length" \
	bash -c 'openssl req -in "$1" -noout -text | grep -q "Salt Length: 0x20"' _ "$EMU_DIR/csr/$csr_n.pem"

# --- non-exportable -------------------------------------------------------------

tpm2_startauthsession --policy-session -S "$TEST_DIR/dup.session" >/dev/null
tpm2_policycommandcode -S "$TEST_DIR/dup.session" TPM2_CC_Duplicate >/dev/null
if tpm2_duplicate -C null -c 0x81000002 -G null -p "session:$TEST_DIR/dup.session" \
	-r "$TEST_DIR/dup.priv" -s "$TEST_DIR/dup.seed" >"$TEST_DIR/dup.out" 2>&1; then
	not_ok "tpm2_duplicate of the device key was refused by the TPM"
else
	ok "tpm2_duplicate of the device key was refused by the TPM ($(grep -o 'ErrorCode (0x[0-9a-f]*)' "$TEST_DIR/dup.out" | head -n 1))"
fi
tpm2_flushcontext "$TEST_DIR/dup.session" >/dev/null 2>&1
check "no duplicate was produced" [ ! -s "$TEST_DIR/dup.priv" ]

# --- reuse only our own key, journaled ----------------------------------------

OUT="$TEST_DIR/out-resume"
emulator_fault '{"count": 1, "errorType": "InvalidRequestException", "message": "injected"}'
enroll --key-handle 0x81000010 --out-dir "$OUT"
check "an interrupted run (service refused) fails" [ "$RC" -ne 0 ]
no_leaks "an interrupted run"
name1=$(tpm_name 0x81000010)
check "the journal records the key's TPM name" grep -q "\"key-name\":[[:space:]]*\"$name1\"" "$OUT/journal.json"
enroll --key-handle 0x81000010 --out-dir "$OUT"
expect_success "the rerun completes"
check "the rerun reuses the key it created" grep -q "reusing ecc-p256 TPM key at handle 0x81000010" "$RUN_ERR"
check "the rerun's key is the same key" [ "$(tpm_name 0x81000010)" = "$name1" ]

# A crash between persisting the key and recording its name: the journal
# holds only the intent; the rerun claims the key it finds there.
OUT="$TEST_DIR/out-crash"
emulator_fault '{"count": 1, "errorType": "InvalidRequestException", "message": "injected"}'
enroll --key-handle 0x81000011 --out-dir "$OUT"
name2=$(tpm_name 0x81000011)
printf '{"phase": "creating-key", "key-handle": "0x81000011", "key-alg": "ecc-p256"}\n' >"$OUT/journal.json"
enroll --key-handle 0x81000011 --out-dir "$OUT"
expect_success "a run after a crash before the key's name was recorded completes"
reused_key() {
	[ "$(tpm_name 0x81000011)" = "$name2" ] && grep -q reusing "$RUN_ERR"
}
check "... reusing the key it had created" reused_key

# --force-new-key replaces our own key, on a provisioned device too.
enroll --key-handle 0x81000010 --out-dir "$TEST_DIR/out-resume" --force-new-key
expect_success "--force-new-key replaces the key this program created"
check "... with a new key at the same handle" [ "$(tpm_name 0x81000010)" != "$name1" ]
check "... and records it" grep -q "$(tpm_name 0x81000010)" "$TEST_DIR/out-resume/state.json"
no_leaks "replacing a key"

# A foreign key at the handle: refused, untouched, with or without --force-new-key.
tpm2_createprimary -C o -G ecc256 -c "$TEST_DIR/foreign.ctx" >/dev/null
tpm2_evictcontrol -C o -c "$TEST_DIR/foreign.ctx" 0x81000020 >/dev/null
tpm2_flushcontext -t
foreign=$(tpm_name 0x81000020)
enroll --key-handle 0x81000020 --out-dir "$TEST_DIR/out-foreign"
expect_failure 78 'handle 0x81000020 already holds a key that tpm-provision did not create.*--key-handle' \
	"a foreign key at the handle is refused"
enroll --key-handle 0x81000020 --out-dir "$TEST_DIR/out-foreign" --force-new-key
expect_failure 78 'handle 0x81000020 already holds a key that tpm-provision did not create' \
	"--force-new-key does not replace a foreign key"
check "the foreign key is untouched" [ "$(tpm_name 0x81000020)" = "$foreign" ]
no_leaks "a collision"
check "a foreign key at the handle: nothing installed" nothing_installed "$TEST_DIR/out-foreign"
# The operator evicts the foreign key: the handle is free for ours.
tpm2_evictcontrol -C o -c 0x81000020 >/dev/null
enroll --key-handle 0x81000020 --out-dir "$TEST_DIR/out-foreign"
check "with the foreign key evicted the rerun provisions the device" \
	provisioned_with_key "$TEST_DIR/out-foreign" 0x81000020
# Our key at another out-dir's handle is foreign to that out-dir's journal.
enroll --key-handle 0x81000002 --out-dir "$TEST_DIR/out-other"
expect_failure 78 'handle 0x81000002 already holds a key' "a key recorded in another journal is not reused"

# --- key file ----------------------------------------------------------------------

KEYFILE="$TEST_DIR/keys/device.pem"
mkdir -p "$TEST_DIR/keys"
OUT="$TEST_DIR/out-file"
persistent_before=$(tpm2_getcap handles-persistent | sort)
enroll --key-file "$KEYFILE" --key-alg ecc-p384 --out-dir "$OUT"
expect_success "enroll with --key-file"
check "the key file has mode 0600" [ "$(stat -c %a "$KEYFILE")" = 600 ]
check "the key file is a TSS2 PRIVATE KEY PEM" grep -q "^-----BEGIN TSS2 PRIVATE KEY-----" "$KEYFILE"
check "no key was persisted in key-file mode" [ "$(tpm2_getcap handles-persistent | sort)" = "$persistent_before" ]
check "state.json records the key file" grep -q "\"key-file\":[[:space:]]*\"$KEYFILE\"" "$OUT/state.json"
no_leaks "enrolling with a key file"
openssl x509 -in "$OUT/certificate.pem" -pubkey -noout >"$TEST_DIR/cert-file.pem"
TPM2OPENSSL_TCTI=$TCTI openssl pkey -provider tpm2 -provider default -in "$KEYFILE" -pubout \
	-out "$TEST_DIR/file-pub.pem" 2>"$TEST_DIR/pkey.err"
check "stock openssl with the tpm2 provider reads the key file; its key is the certificate's" \
	same_pubkey "$TEST_DIR/file-pub.pem" "$TEST_DIR/cert-file.pem"
echo "data signed by the device key" >"$TEST_DIR/data"
# The signature in the TPM, the digest in the default provider.
TPM2OPENSSL_TCTI=$TCTI openssl dgst -sha384 -provider tpm2 -provider default \
	-propquery '?provider=tpm2,tpm2.digest!=yes' -sign "$KEYFILE" \
	-out "$TEST_DIR/data.sig" "$TEST_DIR/data" 2>"$TEST_DIR/dgst.err"
check "stock openssl signs with the key file" [ -s "$TEST_DIR/data.sig" ]
check "the signature verifies with the certificate's public key" \
	bash -c 'openssl dgst -sha384 -verify "$1" -signature "$2" "$3" >/dev/null' _ \
	"$TEST_DIR/cert-file.pem" "$TEST_DIR/data.sig" "$TEST_DIR/data"
TPM2OPENSSL_TCTI=$TCTI openssl req -new -provider tpm2 -provider default -key "$KEYFILE" -subj /CN=x \
	-out "$TEST_DIR/req.pem" 2>/dev/null
check "stock openssl req uses the key file" bash -c 'openssl req -in "$1" -verify -noout 2>/dev/null' _ "$TEST_DIR/req.pem"
no_leaks "openssl used the key file"
enroll --key-file "$KEYFILE" --key-alg ecc-p384 --out-dir "$OUT"
check "a rerun with the key file is already provisioned" grep -q "already provisioned" "$RUN_ERR"
cp "$KEYFILE" "$TEST_DIR/keys/copy.pem"
enroll --key-file "$TEST_DIR/keys/copy.pem" --out-dir "$TEST_DIR/out-file-other"
expect_failure 78 "key file $TEST_DIR/keys/copy.pem already holds a key that tpm-provision did not create" \
	"a key file this out-dir's journal does not name is refused"
check "... and left untouched" cmp -s "$KEYFILE" "$TEST_DIR/keys/copy.pem"

# --- key authorization value -------------------------------------------------------

printf 'correct horse battery\n' >"$TEST_DIR/auth"
printf 'wrong value\n' >"$TEST_DIR/wrong-auth"
enroll --key-file "$TEST_DIR/keys/auth.pem" --key-auth-file "$TEST_DIR/auth" --out-dir "$TEST_DIR/out-authfile"
expect_success "enroll with a key file and --key-auth-file"
TPM2OPENSSL_TCTI=$TCTI openssl pkey -provider tpm2 -provider default -in "$TEST_DIR/keys/auth.pem" \
	-passin "file:$TEST_DIR/auth" -pubout -out "$TEST_DIR/auth-pub.pem" 2>/dev/null
check "openssl opens the key file with the auth value" \
	same_pubkey "$TEST_DIR/auth-pub.pem" <(openssl x509 -in "$TEST_DIR/out-authfile/certificate.pem" -pubkey -noout)

OUT="$TEST_DIR/out-auth"
emulator_fault '{"count": 1, "errorType": "InvalidRequestException", "message": "injected"}'
enroll --key-handle 0x81000030 --key-auth-file "$TEST_DIR/auth" --out-dir "$OUT"
tpm2_readpublic -c 0x81000030 >/dev/null
check "a key with an auth value was created at 0x81000030" [ $? -eq 0 ]
tpm2_dictionarylockout -s -n 1 -t 60 -l 60 >/dev/null
enroll --key-handle 0x81000030 --key-auth-file "$TEST_DIR/wrong-auth" --out-dir "$OUT"
expect_failure 77 'wrong authorization value for the key' "a wrong key auth value is refused"
no_leaks "an auth failure"
check "a wrong key auth value: nothing installed" nothing_installed "$OUT"
enroll --key-handle 0x81000030 --key-auth-file "$TEST_DIR/auth" --out-dir "$OUT"
expect_failure 75 'dictionary-attack lockout' "a TPM in lockout is a temporary failure"
no_leaks "a lockout"
check "a lockout: nothing installed" nothing_installed "$OUT"
# A fresh key, made while the TPM is locked out (making it needs no
# authorization), fails at its first use, the CSR's signature by the tpm2
# provider: the same temporary failure, not an I/O error.
enroll --key-handle 0x81000032 --out-dir "$TEST_DIR/out-lock2"
expect_failure 75 'Sign refused: the TPM is in dictionary-attack lockout' \
	"locked out when the CSR is signed: a temporary failure, named"
no_leaks "a lockout at the signature"
tpm2_dictionarylockout -c >/dev/null
enroll --key-handle 0x81000030 --key-auth-file "$TEST_DIR/auth" --out-dir "$OUT"
expect_success "with the right auth value after the lockout is cleared, the run completes (handle mode)"
check "... and provisions the device with the key at 0x81000030" provisioned_with_key "$OUT" 0x81000030
enroll --key-handle 0x81000032 --out-dir "$TEST_DIR/out-lock2"
check "after the lockout, the key made during it provisions the device" \
	provisioned_with_key "$TEST_DIR/out-lock2" 0x81000032
tpm2_evictcontrol -C o -c 0x81000032 >/dev/null 2>&1
check "no auth value in any output" bash -c '! grep -q -e "correct horse" -e "wrong value" "$1"' _ "$TEST_DIR/all-output"

# The auth value never travels to the TPM in clear: every command of the
# key step, captured with tpm2-tss's pcap TCTI (the test build stops the
# run before the CSR, whose signature is the tpm2 provider's business).
pcap_run() { # PCAPFILE ARGS...
	local file=$1 saved=$TPM_PROVISION
	shift
	TPM_PROVISION="$top_builddir/tests/tpm-provision-test"
	run TCTI_PCAP_FILE="$file" TPM_PROVISION_TEST_CRASH_AT=key-created -- enroll --thing-name gw-keys \
		--region eu-west-1 --tcti "pcap:$TCTI" --endpoint-url "$EMU_URL" --ca-bundle "$EMU_CA" "$@"
	TPM_PROVISION=$saved
}
pcap_run "$TEST_DIR/create.pcap" --key-handle 0x81000031 --key-auth-file "$TEST_DIR/auth" --out-dir "$TEST_DIR/out-pcap"
check "the key was created under the pcap TCTI" bash -c '[ "$1" -eq 137 ] && [ -s "$2" ]' _ "$RC" "$TEST_DIR/create.pcap"
pcap_run "$TEST_DIR/reuse.pcap" --key-handle 0x81000031 --key-auth-file "$TEST_DIR/auth" --out-dir "$TEST_DIR/out-pcap"
check "the key's auth value was checked and accepted under the pcap TCTI" [ "$RC" -eq 137 ]
pcap_run "$TEST_DIR/wrong.pcap" --key-handle 0x81000031 --key-auth-file "$TEST_DIR/wrong-auth" --out-dir "$TEST_DIR/out-pcap"
check "a wrong auth value is refused under the pcap TCTI" [ "$RC" -eq 77 ]
check "creating the key sends the auth value only encrypted" not grep -qa "correct horse" "$TEST_DIR/create.pcap"
check "checking the auth value sends it only as an HMAC" \
	bash -c '! grep -qa "correct horse" "$1" && ! grep -qa "wrong value" "$2"' _ "$TEST_DIR/reuse.pcap" "$TEST_DIR/wrong.pcap"
# The same capture does see a password session in clear (tpm2-tools' default).
TCTI_PCAP_FILE="$TEST_DIR/control.pcap" tpm2_create -T "pcap:$TCTI" -C 0x81000001 -G ecc256 -p 'correct horse battery' \
	-u "$TEST_DIR/c.pub" -r "$TEST_DIR/c.priv" >/dev/null 2>&1
tpm2_flushcontext -t >/dev/null 2>&1
check "(control: a password session's value is visible in the same kind of capture)" \
	grep -qa "correct horse" "$TEST_DIR/control.pcap"
tpm2_evictcontrol -C o -c 0x81000031 >/dev/null 2>&1
# The wrong value under the pcap TCTI locked the TPM out again (one try,
# set above): clear it, or every later use of a key fails.
tpm2_dictionarylockout -c >/dev/null
# Back to swtpm's own parameters (3 tries): a TPM stopped without an
# orderly shutdown counts one failed try when it starts again, which with
# one try allowed would lock it out (the stopped TPM below).
tpm2_dictionarylockout -s -n 3 -t 1000 -l 1000 >/dev/null

# --- TPM errors -------------------------------------------------------------------

# Fill the TPM's persistent object memory.
# (Without a resource manager each tpm2-tools run leaves what it loaded, so
# flush after each.)
fillers=()
for i in $(seq 0 63); do
	h=$(printf '0x%08x' $((0x81000100 + i)))
	tpm2_createprimary -C o -G ecc256 -c "$TEST_DIR/filler.ctx" >/dev/null
	tpm2_evictcontrol -C o -c "$TEST_DIR/filler.ctx" "$h" >"$TEST_DIR/filler.out" 2>&1
	rc=$?
	tpm2_flushcontext -t
	[ "$rc" -eq 0 ] || break
	fillers+=("$h")
done
check "filling the TPM's NV stopped at NV_SPACE" grep -q "0x14b\|NV_SPACE\|space" "$TEST_DIR/filler.out"
diag "${#fillers[@]} filler objects until the TPM's NV was full"
enroll --key-handle 0x81000040 --out-dir "$TEST_DIR/out-nv"
expect_failure 74 'no room for another persistent object' "a full TPM NV is its own error"
no_leaks "NV full"
nv_full_left_nothing() {
	nothing_installed "$TEST_DIR/out-nv" && [ -z "$(tpm_name 0x81000040)" ]
}
check "NV full: nothing installed, no key at the handle" nv_full_left_nothing
for h in "${fillers[@]}"; do
	tpm2_evictcontrol -C o -c "$h" >/dev/null
done
enroll --key-handle 0x81000040 --out-dir "$TEST_DIR/out-nv"
check "with NV freed the rerun provisions the device" provisioned_with_key "$TEST_DIR/out-nv" 0x81000040

enroll --key-handle 0x81000041 --tcti device:/dev/no-such-tpm --out-dir "$TEST_DIR/out-nodev"
expect_failure 74 'no TPM device /dev/no-such-tpm' "a missing TPM device"
check "a missing TPM device: nothing installed" nothing_installed "$TEST_DIR/out-nodev"
enroll --key-handle 0x81000041 --out-dir "$TEST_DIR/out-nodev"
check "with the TPM's TCTI the rerun provisions the device" provisioned_with_key "$TEST_DIR/out-nodev" 0x81000041

# A regular file as the TPM device: tpm2-tss would write a TPM command
# into it.
printf 'precious\n' >"$TEST_DIR/not-a-tpm"
enroll --tcti "device:$TEST_DIR/not-a-tpm" --out-dir "$TEST_DIR/out-notatpm"
expect_failure 64 'names a device that is not a character device' "a regular file as --tcti device: is a usage error"
check "the file is left as it was" grep -qx precious "$TEST_DIR/not-a-tpm"
check "nothing was made for it" [ ! -e "$TEST_DIR/out-notatpm" ]

# A TCTI is a shared library the program loads: only tpm2-tss's own.
printf 'not a library\n' >"$TEST_DIR/evil.so"
for tcti in "$TEST_DIR/evil.so" "libtss2-tcti-$TEST_DIR/evil.so" "cmd:touch $TEST_DIR/pwned" "nosuch:x"; do
	enroll --tcti "$tcti" --out-dir "$TEST_DIR/out-tcti"
	expect_failure 64 "--tcti \"$tcti\" \(does not name a\|names a\) TCTI" "--tcti $tcti is refused"
done
check "no TCTI command ran" [ ! -e "$TEST_DIR/pwned" ]

# The SRK handle holding something that is not a storage key.
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null
tpm2_createprimary -C o -G ecc256:ecdsa-sha256 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
	-c "$TEST_DIR/notsrk.ctx" >/dev/null
tpm2_evictcontrol -C o -c "$TEST_DIR/notsrk.ctx" 0x81000001 >/dev/null
tpm2_flushcontext -t
enroll --key-handle 0x81000050 --out-dir "$TEST_DIR/out-srk"
expect_failure 78 'the object at 0x81000001 is not a storage root key' "a signing key at the SRK handle is refused"
no_leaks "refusing a wrong SRK"
# The operator clears the SRK handle: the next run makes a storage root key
# there again.
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null
enroll --key-handle 0x81000050 --out-dir "$TEST_DIR/out-srk"
check "with the SRK handle cleared the rerun provisions the device" provisioned_with_key "$TEST_DIR/out-srk" 0x81000050

swtpm_stop
enroll --key-handle 0x81000051 --out-dir "$TEST_DIR/out-down"
expect_failure 74 'TPM not reachable at TCTI' "a stopped TPM is not reachable"
check "a stopped TPM: nothing installed" nothing_installed "$TEST_DIR/out-down"
# The same TPM (its state kept) running again.
swtpm_start
enroll --key-handle 0x81000051 --out-dir "$TEST_DIR/out-down"
check "with the TPM running again the rerun provisions the device" provisioned_with_key "$TEST_DIR/out-down" 0x81000051
no_leaks "the rerun with the TPM back"

done_testing
