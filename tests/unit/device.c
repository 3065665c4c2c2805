/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: what agent.env can hold; tpm2_ptool's process dies with this
 * program. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/device/agentfiles.h"
#include "src/device/pkcs11.h"
#include "tests/unit/tap.h"

static void test_env_values(void)
{
	static const struct {
		const char *value;
		const char *problem; /* a word of it, or NULL */
		const char *what;
	} cases[] = {
		{ "/var/lib/tpm-provision", NULL, "ASCII" },
		{ "/srv/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x94\x91", NULL, "two, three and four byte characters" },
		{ "/x\n/y", "control", "a newline" },
		{ "/x\x7f", "control", "DEL" },
		{ "/x\xff", "UTF-8", "a byte no UTF-8 has" },
		{ "/x\xc3", "UTF-8", "a character cut short at the end" },
		{ "/x\xc3/", "UTF-8", "a missing continuation byte" },
		{ "/x\x80", "UTF-8", "a stray continuation byte" },
		{ "/x\xc0\xaf", "UTF-8", "an overlong '/' (2 bytes)" },
		{ "/x\xe0\x80\xaf", "UTF-8", "an overlong '/' (3 bytes)" },
		{ "/x\xf0\x82\x82\xac", "UTF-8", "an overlong euro sign (4 bytes)" },
		{ "/x\xed\xa0\x80", "UTF-8", "a surrogate" },
		{ "/x\xf4\x90\x80\x80", "UTF-8", "beyond U+10FFFF" },
		{ "/x\xf8\x88\x80\x80\x80", "UTF-8", "a 5-byte form" },
	};
	const char *problem;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		problem = tp_env_value_problem(cases[i].value);
		tap_ok(cases[i].problem ? problem && strstr(problem, cases[i].problem) : !problem,
		       "agent.env value: %s: %s", cases[i].what, problem ? problem : "fine");
	}
}

/* Wait up to 5 s for pid (a child of this process) to end: its status, or
 * -1. */
static int reap(pid_t pid)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status, i;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		nanosleep(&tick, NULL);
	}
	return -1;
}

/* Whether pid runs comm, waiting up to 5 s for it to exec it. */
static int execd(pid_t pid, const char *comm)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char path[64], buf[64];
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	for (i = 0; i < 500; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (n > 0 && (buf[n] = '\0', strncmp(buf, comm, strlen(comm)) == 0))
			return 1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* A parent (this program) runs a child (tpm2_ptool; sleep here) and is
 * killed: the child is killed too.  This process is the subreaper, so it
 * inherits the orphan and sees how it ended. */
static void test_spawn_dies_with_parent(void)
{
	int fds[2], status;
	pid_t parent, child = 0;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe(fds) < 0) {
		tap_ok(0, "set up: %s", strerror(errno));
		return;
	}
	parent = fork();
	if (parent == 0) {
		char *argv[] = { "/bin/sleep", "30", NULL }, *env[] = { NULL };
		struct tp_error err = { 0 };
		pid_t pid;

		if (tp_pkcs11_spawn(argv, env, STDERR_FILENO, &pid, &err) < 0 ||
		    write(fds[1], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	if (parent < 0 || read(fds[0], &child, sizeof(child)) != (ssize_t)sizeof(child) || child <= 0) {
		tap_ok(0, "the child was started");
		return;
	}
	close(fds[0]);
	tap_ok(execd(child, "sleep"), "the child runs its program");
	kill(parent, SIGKILL);
	waitpid(parent, &status, 0);
	status = reap(child);
	tap_ok(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	       "the parent killed, the child is killed at once, not left running");
	if (status == -1) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
}

int main(void)
{
	test_env_values();
	test_spawn_dies_with_parent();
	return tap_done();
}
