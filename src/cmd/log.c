#include "src/cmd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

static int verbosity;

void tp_log_set_verbosity(int v)
{
	verbosity = v;
}

static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

const char *tp_prio(enum tp_priority p)
{
	static const char *const prefixes[] = { "<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>" };

	return stderr_is_journal() ? prefixes[p] : "";
}

static void vlog(enum tp_priority p, const char *fmt, va_list ap)
{
	if ((p == TP_PRIO_DEBUG && verbosity < 1) || (p > TP_PRIO_ERR && verbosity < 0))
		return;
	fprintf(stderr, "%stpm-provision: ", tp_prio(p));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tp_log(enum tp_priority p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(p, fmt, ap);
	va_end(ap);
}

void tp_step(const char *fmt, ...)
{
	char *line;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	tp_log(TP_PRIO_INFO, "%s", line);
	sd_notifyf(0, "STATUS=%s", line);
	free(line);
}
