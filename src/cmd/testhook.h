/*
 * Crash points for the tests, compiled only into the test build of the
 * program (tests/tpm-provision-test, built by make check with
 * -DTP_TEST_HOOKS); the installed binary has none.
 */
#ifndef TP_TESTHOOK_H
#define TP_TESTHOOK_H

#ifdef TP_TEST_HOOKS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* When $TPM_PROVISION_TEST_CRASH_AT names this step, die with SIGKILL
 * right here, as a power loss would stop the run. */
static inline void tp_test_crash_point(const char *step)
{
	const char *at = getenv("TPM_PROVISION_TEST_CRASH_AT");

	if (at && strcmp(at, step) == 0)
		kill(getpid(), SIGKILL);
}
#else
#define tp_test_crash_point(step) ((void)(step))
#endif

#endif
