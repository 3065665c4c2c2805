/*
 * Human lines on stderr: under systemd, when stderr is the journal
 * ($JOURNAL_STREAM names its device and inode, as sd-daemon(3) documents),
 * each starts with its syslog priority, so `journalctl -p err` finds the
 * error line; elsewhere nothing is added.
 */
#ifndef TP_LOG_H
#define TP_LOG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum tp_priority { TP_PRIO_ERR = 3, TP_PRIO_WARNING = 4, TP_PRIO_NOTICE = 5, TP_PRIO_INFO = 6 };

static inline bool tp_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* "<N>" for the journal, "" anywhere else. */
static inline const char *tp_prio(enum tp_priority p)
{
	static const char *const prefixes[] = { "<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>" };

	return tp_stderr_is_journal() ? prefixes[p] : "";
}

#endif
