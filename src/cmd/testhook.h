/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Crash points for the tests, compiled only into the test build of the
 * program (tests/tpm-provision-test, built by make check with
 * -DTP_TEST_HOOKS); the installed binary has none.
 */
#ifndef TP_TESTHOOK_H
#define TP_TESTHOOK_H

#ifdef TP_TEST_HOOKS
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* When $TPM_PROVISION_TEST_CRASH_AT names this step, die with SIGKILL
 * right here, as a power loss would stop the run.  When
 * $TPM_PROVISION_TEST_PAUSE_AT names it, create the file
 * $TPM_PROVISION_TEST_PAUSE_FILE and wait until it is gone (a test breaks
 * something meanwhile, such as the TPM). */
static inline void tp_test_crash_point(const char *step)
{
	const char *at = getenv("TPM_PROVISION_TEST_CRASH_AT");
	const char *pause_at = getenv("TPM_PROVISION_TEST_PAUSE_AT");
	const char *file = getenv("TPM_PROVISION_TEST_PAUSE_FILE");

	if (at && strcmp(at, step) == 0)
		kill(getpid(), SIGKILL);
	if (pause_at && file && strcmp(pause_at, step) == 0 && close(creat(file, 0600)) == 0)
		while (access(file, F_OK) == 0)
			usleep(20000);
}
#else
#define tp_test_crash_point(step) ((void)(step))
#endif

#endif
