/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz harness: a certificate the service sends, checked as production
 * checks it (tp_accept_certificate): parsed as exactly one PEM certificate,
 * for the device's key, valid now, its id and ARN naming it.  The input is
 * the PEM, optionally after a first line holding the service's ARN
 * ("arn:..."); the ARN's cert/ID is the certificate id the service gave.
 * The key is a fixed EC P-256 public key, the one the seeds were issued
 * for.  The same bytes also go through the first-certificate parser that
 * reads CA and root CA files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "src/base/cleanup.h"
#include "src/cmd/accept.h"
#include "src/x509/cert.h"
#include "src/x509/ossl.h"

static const char device_key_pem[] = "-----BEGIN PUBLIC KEY-----\n"
				     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElunIdwpTMEiCAfjlo/eaDCJ2SGOe\n"
				     "8sP6wezJjg+h2/DzppWJan5Cp8dcOny2ok0wr/j1JOeoY0aCzRw9bRZrtA==\n"
				     "-----END PUBLIC KEY-----\n";

const char *const fuzz_seeds[] = {
	/* As AWS IoT issues it: RSA CA, the device's P-256 key, to 2049. */
	"arn:aws:iot:eu-west-1:123456789012:cert/735c7df06975010d244dc4f5b35dca6c0b7a72c05fd30e1bd64baa6d8096dbbd\n"
	"-----BEGIN CERTIFICATE-----\n"
	"MIICbTCCAVWgAwIBAgIUJ46LznEKudkmN75DNobK2/k5uR0wDQYJKoZIhvcNAQEL\n"
	"BQAwTTFLMEkGA1UECwxCQW1hem9uIFdlYiBTZXJ2aWNlcyBPPUFtYXpvbi5jb20g\n"
	"SW5jLiBMPVNlYXR0bGUgU1Q9V2FzaGluZ3RvbiBDPVVTMB4XDTI0MDEwMTAwMDAw\n"
	"MFoXDTQ5MTIzMTIzNTk1OVowHjEcMBoGA1UEAwwTQVdTIElvVCBDZXJ0aWZpY2F0\n"
	"ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABJbpyHcKUzBIggH45aP3mgwidkhj\n"
	"nvLD+sHsyY4Podvw86aViWp+QqfHXDp8tqJNMK/49STnqGNGgs0cPW0Wa7SjPzA9\n"
	"MAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMB0GA1UdDgQWBBQrlbQQdzWm\n"
	"+6eZnIP2sB2m77A76jANBgkqhkiG9w0BAQsFAAOCAQEAGbcgqnxF74ToosobCavY\n"
	"yRu1LKzv1ML+UAlsXccGQl7CT+yziTYnqgulx9GMNwVD2EzdTHV/A8jUIu9s2yWe\n"
	"PBbytYONm+J8Kioph6TZD2bQpWZFEl9Au+H4WPcnIIG/3LIEadAPLIB6agiLcYhZ\n"
	"w/RiXu+ox64EmwVB1SffekkkBmYOS26oK6FQzD9HrpWUpa1Dk0qKBQpKhFMhfO9C\n"
	"JfyQvFWxUJZGPiFre4JnANLMJzwnZ+73s1VMIOA6ikA42Zh7qLvmZkDIXNlTlaDw\n"
	"UCryP+UjIhGOlYQpGkzniOBWwqfrcroGR9fIHYB1qpZyPPXjtfN6VFv+FF73Bcxp\n"
	"Gg==\n"
	"-----END CERTIFICATE-----\n",
	/* Self-signed, ECDSA, a GeneralizedTime notAfter (2124). */
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBKTCB0KADAgECAhRchbbwLBnA9x00F4uSnghxKC1btDAKBggqhkjOPQQDAjAU\n"
	"MRIwEAYDVQQDDAlmdXp6LXNlZWQwIBcNMjQwMTAxMDAwMDAwWhgPMjEyNDAxMDEw\n"
	"MDAwMDBaMBQxEjAQBgNVBAMMCWZ1enotc2VlZDBZMBMGByqGSM49AgEGCCqGSM49\n"
	"AwEHA0IABJbpyHcKUzBIggH45aP3mgwidkhjnvLD+sHsyY4Podvw86aViWp+QqfH\n"
	"XDp8tqJNMK/49STnqGNGgs0cPW0Wa7QwCgYIKoZIzj0EAwIDSAAwRQIgORVl7UmR\n"
	"lMiFQ+mqCuHKnNNzg7HBUaEBgX0wNb6J8vICIQDQ203bNv7zj9OFyM1zh7rSg3Sd\n"
	"tpd0evycsyp5jJ38/g==\n"
	"-----END CERTIFICATE-----\n",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input was accepted (the driver checks the seeds are). */
int fuzz_accepted;

static EVP_PKEY *device_key(void)
{
	static EVP_PKEY *key;
	BIO *bio;

	if (key)
		return key;
	bio = BIO_new_mem_buf(device_key_pem, -1);
	key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!key)
		abort();
	return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The PEM reaches the check as a C string (from a JSON answer). */
	_cleanup_free_ char *text = strndup((const char *)data, size);
	_cleanup_x509_ X509 *cert = NULL, *first = NULL;
	struct tp_issued_cert c = { .id = (char *)"fuzz-certificate" };
	struct tp_error err = { 0 };
	char *nl, *id;

	fuzz_accepted = 0;
	if (!text)
		return 0;
	c.pem = text;
	if (strncmp(text, "arn:", 4) == 0 && (nl = strchr(text, '\n'))) {
		*nl = '\0';
		c.arn = text;
		c.pem = nl + 1;
		if ((id = strstr(c.arn, ":cert/")))
			c.id = id + 6;
	}
	fuzz_accepted = tp_accept_certificate(&c, device_key(), "ACTIVE", &cert, &err) == 0;
	memset(&err, 0, sizeof(err));
	tp_cert_parse_first_pem((const char *)data, size, "fuzz", &first, &err);
	/* OpenSSL keeps its error strings for the next error; freed here, a
	 * run frees what it allocates, and libFuzzer's leak check stays
	 * quiet (it would scan the heap after each run otherwise). */
	OPENSSL_thread_stop();
	return 0;
}
