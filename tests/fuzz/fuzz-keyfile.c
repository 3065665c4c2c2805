/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz harness: TSS2 key files ("TSS2 PRIVATE KEY" PEM, --key-file), read
 * the way production reads them (tp_keyfile_read, from a file), then the
 * two parts unmarshalled as TPM2B_PUBLIC and TPM2B_PRIVATE, as they are
 * before the key is loaded into the TPM.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>

#include "src/x509/keyfile.h"

const char *const fuzz_seeds[] = {
	/* ecc-p256 with the empty authorization, made by tpm-provision csr --key-file */
	"-----BEGIN TSS2 PRIVATE KEY-----\n"
	"MIHxBgZngQUKAQOgAwEB/wIFAIEAAAEEWABWACMACwAEAHIAAAAQABAAAwAQACCF\n"
	"8Mc2o5Hm0FppLJl10EIXvBGUWDBMvvigg70a/Dl5rgAgpwIzwW87Ci3K2aqbO1AV\n"
	"8XMSfJilHQe8eWPNm2XfehsEgYAAfgAguZ4u13l1uuhOGk/reJ+cx4dAPu/AbGhn\n"
	"8mRZHwuLRS4AEP8tZ22zQFIoln5fc2h9GuUq7oFDZpgU2tz55WSAK17yeQQ1q2Uo\n"
	"MNr/hJwdthdYWzvgtk3KoQfNe0wToYWKNGLhjBvTq2yC+vl+d/vkmld2Bc5Acc/v\n"
	"PZl5qA==\n"
	"-----END TSS2 PRIVATE KEY-----\n",
	/* the same with an authorization value (emptyAuth FALSE) */
	"-----BEGIN TSS2 PRIVATE KEY-----\n"
	"MIHxBgZngQUKAQOgAwEBAAIFAIEAAAEEWABWACMACwAEAHIAAAAQABAAAwAQACBl\n"
	"O0QARjFxPA43uvhSccISd4X0he7I84Y52bTI3kSEpwAgwEwPS4Zy0k8nS50H/ybO\n"
	"EGTKk0JJkzu/R0Gb6sjYnQsEgYAAfgAglJ4ZPnF7lDCDIN4TMjgAbc9Sb1BZdV/Z\n"
	"ntpZcHRUKKIAELn7fZ8C8SeSO7vMS5xnfHbFsODWS31ReqXBcJleSyc9ZO/zKxmp\n"
	"4ukz3JNYAdOyS+VciawoSAc/jTyJYLVa9t+5dbjwAdcFDCHxZzEhVIIxM36Bjdw6\n"
	"bIE7qg==\n"
	"-----END TSS2 PRIVATE KEY-----\n",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input was a key file with both parts TPM structures
 * (the driver checks the seeds are). */
int fuzz_accepted;

/* The file the input is written to: in memory, nothing left behind,
 * read by its /proc path. */
static char path[64];
static int fd = -1;

static void open_file(void)
{
	fd = memfd_create("fuzz-keyfile", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_blob blob = { 0 };
	struct tp_error err = { 0 };
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };

	if (fd < 0)
		open_file();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
		perror(path);
		abort();
	}
	fuzz_accepted = tp_keyfile_read(path, &blob, &err) == 0 &&
			Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob.pub, blob.pub_len, NULL, &pub) == TSS2_RC_SUCCESS &&
			Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob.priv, blob.priv_len, NULL, &priv) == TSS2_RC_SUCCESS;
	return 0;
}
