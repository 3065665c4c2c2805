/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The program's human lines: all on stderr, line by line, in the order
 * they happen; stdout carries only what was asked for (--json, status).
 * Under systemd, when stderr is the journal ($JOURNAL_STREAM names its
 * device and inode, as sd-daemon(3) documents), each line starts with its
 * syslog priority, so `journalctl -p err` finds the error line, and the
 * current step is also the unit's status (sd_notify STATUS=).  -v adds
 * debug lines, -q keeps only errors.  The only code that prints, besides
 * main()'s one error line and the requested output.
 */
#ifndef TP_LOG_H
#define TP_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum tp_priority { TP_PRIO_ERR = 3, TP_PRIO_WARNING = 4, TP_PRIO_NOTICE = 5, TP_PRIO_INFO = 6, TP_PRIO_DEBUG = 7 };

/* -1 quiet (-q), 0 normal, 1 verbose (-v). */
void tp_log_set_verbosity(int verbosity);

/* "<N>" when stderr is the journal, "" elsewhere. */
const char *tp_prio(enum tp_priority p);

/* text on f with its control characters escaped (\n, \t, \xNN, DEL
 * too), so a line stays one line: a value cannot forge another line (with
 * its own priority, under the journal) nor drive a terminal.  The one
 * escape of every human line, the status line and the error line. */
void tp_log_escaped(FILE *f, const char *text);

/* "tpm-provision: MESSAGE" on stderr at priority p (if not filtered),
 * MESSAGE escaped. */
void tp_log(enum tp_priority p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A step as it starts: logged (info) and, under systemd, the unit's
 * status line (escaped the same way). */
void tp_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
