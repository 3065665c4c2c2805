/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz harness: the CSR files of a batch (tpm-provision batch --csr-dir),
 * parsed and their self-signature verified as production does
 * (tp_csr_parse).
 */
#include <stdint.h>

#include <openssl/crypto.h>

#include "src/x509/pkcs10.h"

const char *const fuzz_seeds[] = {
	/* ecc-p256, signed in the TPM by tpm-provision csr */
	"-----BEGIN CERTIFICATE REQUEST-----\n"
	"MIHPMHYCAQAwFDESMBAGA1UEAwwJZnV6ei1zZWVkMFkwEwYHKoZIzj0CAQYIKoZI\n"
	"zj0DAQcDQgAEhfDHNqOR5tBaaSyZddBCF7wRlFgwTL74oIO9Gvw5ea6nAjPBbzsK\n"
	"LcrZqps7UBXxcxJ8mKUdB7x5Y82bZd96G6AAMAwGCCqGSM49BAMCBQADRwAwRAIg\n"
	"K9BcDeOjQ3SfwH7KUQF07i3usYZjc1+hh55MMeam7S4CIAvEIgK/P4pvFGHny3AZ\n"
	"GTEkiyqQdboBtOhdX0COtbKz\n"
	"-----END CERTIFICATE REQUEST-----\n",
	/* made by openssl req, a subject with CN and O */
	"-----BEGIN CERTIFICATE REQUEST-----\n"
	"MIHjMIGLAgEAMCkxFTATBgNVBAMMDGZhY3RvcnktMDAwMTEQMA4GA1UECgwHRXhh\n"
	"bXBsZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABJbpyHcKUzBIggH45aP3mgwi\n"
	"dkhjnvLD+sHsyY4Podvw86aViWp+QqfHXDp8tqJNMK/49STnqGNGgs0cPW0Wa7Sg\n"
	"ADAKBggqhkjOPQQDAgNHADBEAiAJyaQL8q/RgWZAEoQPnuBjFit0frP1PILqvryn\n"
	"Sm8vtAIgWmxgD7ii/TNHz5JNf7iOPJbK/4XjReLLcc8avIoltL4=\n"
	"-----END CERTIFICATE REQUEST-----\n",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input was a CSR whose signature verifies (the driver
 * checks the seeds are). */
int fuzz_accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_csr_info c = { 0 };
	struct tp_error err = { 0 };

	fuzz_accepted = tp_csr_parse((const char *)data, size, &c, &err) == 0;
	tp_csr_info_free(&c);
	/* OpenSSL keeps its error strings for the next error; freed here, a
	 * run frees what it allocates, and libFuzzer's leak check stays
	 * quiet (it would scan the heap after each run otherwise). */
	OPENSSL_thread_stop();
	return 0;
}
