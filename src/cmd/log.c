/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/cmd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "src/base/cleanup.h"

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

void tp_log_escaped(FILE *f, const char *text)
{
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static void vlog(enum tp_priority p, const char *fmt, va_list ap)
{
	_cleanup_free_ char *line = NULL;

	if ((p == TP_PRIO_DEBUG && verbosity < 1) || (p > TP_PRIO_ERR && verbosity < 0))
		return;
	if (vasprintf(&line, fmt, ap) < 0)
		return;
	fprintf(stderr, "%stpm-provision: ", tp_prio(p));
	tp_log_escaped(stderr, line);
	fputc('\n', stderr);
}

void tp_log(enum tp_priority p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(p, fmt, ap);
	va_end(ap);
}

/* The unit's status line: escaped as the lines on stderr are, so a value
 * cannot add a newline and with it another assignment (READY=1,
 * MAINPID=...) to the message. */
static void notify_status(const char *line)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	FILE *f;

	if (!getenv("NOTIFY_SOCKET") || !(f = open_memstream(&text, &len)))
		return;
	tp_log_escaped(f, line);
	if (fclose(f) == 0)
		sd_notifyf(0, "STATUS=%s", text);
}

void tp_step(const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	tp_log(TP_PRIO_INFO, "%s", line);
	notify_status(line);
}
